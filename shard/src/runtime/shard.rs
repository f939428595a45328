//! The life of one shard thread: set up task queues and buckets, serve requests from the
//! mailbox until shutdown, then finish running requests and close every bucket.

use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::Arc;

use futures_channel::oneshot;
use futures_lite::AsyncReadExt;
use glommio::{Latency, Shares, TaskQueueHandle};
use tracing::warn;

use super::budget::MemtableBudget;
use super::context::ShardContext;
use super::mailbox::Mailbox;
use super::maintenance::{Maintenance, MaintenanceConfig};
use crate::bucket::BucketSettings;
use crate::catalog::{Catalog, CatalogSnapshot};
use crate::config::RillConfig;
use crate::error::Result;

/// Shares of the foreground queue (produce, fetch, lookup, DDL).
pub const FOREGROUND_SHARES: usize = 1000;
/// Shares of the background queue (maintenance: flush, compaction, garbage collection,
/// retention; closing and dropping buckets).
pub const BACKGROUND_SHARES: usize = 100;

/// Everything a shard thread starts from (all `Send`).
pub(crate) struct ShardSetup {
    pub(crate) index: usize,
    pub(crate) shards: usize,
    pub(crate) mailbox: Arc<Mailbox>,
    /// The shard end of the wake-up socket pair (non-blocking).
    pub(crate) wake: std::os::unix::net::UnixStream,
    pub(crate) snapshot: Arc<CatalogSnapshot>,
    /// The mutable catalog, for shard 0.
    pub(crate) owner: Option<Catalog>,
    pub(crate) config: RillConfig,
    /// Told whether the shard opened its buckets.
    pub(crate) ready: oneshot::Sender<Result<()>>,
}

/// The shard's main task.
pub(crate) async fn run(setup: ShardSetup) {
    let executor = glommio::executor();
    let foreground =
        executor.create_task_queue(Shares::Static(FOREGROUND_SHARES), Latency::NotImportant, "rill-foreground");
    let background =
        executor.create_task_queue(Shares::Static(BACKGROUND_SHARES), Latency::NotImportant, "rill-background");
    let config = &setup.config;
    let settings = BucketSettings {
        data_dir: config.data_dir.clone(),
        memtable_bytes_max: config.memtable_bytes_max,
        block_cache: Rc::new(rill_engine::kv::cache::BlockCache::new(config.block_cache_bytes_per_shard)),
    };
    let budget = MemtableBudget::new(
        config.memtable_bytes_max_per_shard,
        std::time::Duration::from_millis(config.write_stall_ms_max),
    );
    let ctx = Rc::new(ShardContext::new(setup.index, setup.shards, settings, budget, setup.owner, background));
    let opened = ctx.install(setup.snapshot).await;
    let serving = opened.is_ok();
    let _ = setup.ready.send(opened);
    if serving {
        // SAFETY: `into_raw_fd` hands over sole ownership of a valid, open socket descriptor;
        // glommio's stream becomes its only owner and closes it on drop.
        let socket = unsafe { glommio::net::UnixStream::from_raw_fd(setup.wake.into_raw_fd()) };
        let maintenance = Maintenance::start(&ctx, MaintenanceConfig::from_config(config));
        serve(&ctx, &setup.mailbox, socket, foreground).await;
        maintenance.stop().await;
    }
    setup.mailbox.close();
    setup.mailbox.drain();
    ctx.wait_idle().await;
    if setup.mailbox.is_poisoned() {
        // A task panicked mid-way: in-memory state (memtables, pending writes) may be torn.
        // Nothing is flushed from it; acknowledged writes are durable in the logs, and the
        // next open recovers the buckets from them (as after a crash).
        warn!(shard = setup.index, "a task panicked: buckets are dropped without a final flush");
        return;
    }
    let closing = Rc::clone(&ctx);
    let closed = match glommio::spawn_local_into(async move { closing.close_all().await }, ctx.background()) {
        Ok(task) => task.await,
        Err(e) => Err(crate::error::Error::Runtime { reason: e.to_string() }),
    };
    if let Err(e) = closed {
        warn!(shard = setup.index, error = %e, "shutdown did not close every bucket cleanly");
    }
}

/// Runs requests as foreground tasks until the mailbox is closed.
async fn serve(ctx: &Rc<ShardContext>, mailbox: &Mailbox, mut socket: glommio::net::UnixStream, fg: TaskQueueHandle) {
    let mut buf = [0u8; 256];
    loop {
        while let Some(job) = mailbox.pop() {
            let guard = ctx.begin();
            let work = job(Rc::clone(ctx));
            let spawned = glommio::spawn_local_into(
                async move {
                    work.await;
                    drop(guard);
                },
                fg,
            );
            match spawned {
                Ok(task) => task.detach(),
                Err(e) => {
                    warn!(shard = ctx.index(), error = %e, "could not spawn a request; its caller sees ShardGone");
                    continue;
                }
            };
        }
        if mailbox.is_closed() {
            return;
        }
        if !mailbox.prepare_sleep() || mailbox.is_closed() {
            continue;
        }
        match socket.read(&mut buf).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted || e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                warn!(shard = mailbox.shard(), error = %e, "wake-up socket failed; shard stops");
                return;
            }
        }
    }
}
