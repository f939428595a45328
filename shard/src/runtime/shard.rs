//! The life of one shard thread: set up task queues and buckets, serve requests from the
//! mailbox until shutdown, then finish running requests and close every bucket.

use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use glommio::{Latency, Shares, TaskQueueHandle};
use tracing::warn;

use super::budget::MemtableBudget;
use super::context::{MergePeer, ShardContext};
use super::coordinator::Coordinator;
use super::mailbox::{Job, Mailbox};
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
    pub(crate) snapshot: Arc<CatalogSnapshot>,
    /// The mutable catalog and the means to publish changes, for shard 0.
    pub(crate) owner: Option<(Catalog, Coordinator)>,
    /// Every shard's mailbox (set once all have started).
    pub(crate) peers: super::Peers,
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
        log_zero_fill_bytes: config.log_zero_fill_bytes,
        block_cache: Rc::new(rill_engine::kv::cache::BlockCache::new(config.block_cache_bytes_per_shard)),
    };
    let budget = MemtableBudget::new(
        config.memtable_bytes_max_per_shard,
        std::time::Duration::from_millis(config.write_stall_ms_max),
    );
    let merge_peer = (config.compaction_merges_on_peer && setup.shards > 1)
        .then(|| MergePeer { peers: Arc::clone(&setup.peers), shard: (setup.index + 1) % setup.shards });
    let ctx =
        Rc::new(ShardContext::new(setup.index, setup.shards, settings, budget, setup.owner, background, merge_peer));
    let opened = ctx.install(setup.snapshot).await;
    let serving = opened.is_ok();
    let _ = setup.ready.send(opened);
    if serving {
        let maintenance = Maintenance::start(&ctx, MaintenanceConfig::from_config(config), Arc::clone(&setup.mailbox));
        serve(&ctx, &setup.mailbox, foreground, Duration::from_micros(config.shard_spin_us)).await;
        maintenance.stop().await;
    }
    setup.mailbox.close();
    setup.mailbox.drain();
    ctx.wait_idle().await;
    setup.mailbox.points().sweep();
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

/// An idle shard looks at its mailbox at least this often, wake-up or not.
const MAILBOX_RECHECK: Duration = Duration::from_millis(50);

/// How often (at most) the serving task, about to park, makes the free call slots drop the
/// columns they keep from their last answers (`PointSlots::sweep`).
const SLOT_SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// Looks at the mailbox between two clock reads of the serving task's spin.
const SPIN_CHECKS_PER_CLOCK: u32 = 16;

/// Longest the serving task keeps requests to itself (answering them inline while it polls
/// the queue) before it lets the executor reap I/O completions and run other tasks.
const INLINE_SERVE_MAX: Duration = Duration::from_micros(500);

/// Runs requests until the mailbox is closed. With `spin` > 0, a request's first step runs
/// inline and, while every request finished that way, the task polls the queue itself for up
/// to `spin` before it parks: a request arriving meanwhile is answered without a pass through
/// the executor (which re-arms its preemption timer with system calls each time tasks run).
/// A request that has to wait becomes a task of its own in the foreground queue; then, and
/// every `INLINE_SERVE_MAX`, the serving task gives way to the executor.
async fn serve(ctx: &Rc<ShardContext>, mailbox: &Arc<Mailbox>, fg: TaskQueueHandle, spin: Duration) {
    let mut served_since = Instant::now();
    let mut swept = Instant::now();
    loop {
        let mut waiting = false;
        while let Some(job) = mailbox.pop() {
            let guard = ctx.begin();
            let mut work = match job {
                Job::Call(request) => request(Rc::clone(ctx)),
                Job::Point(index) => super::point::job(Rc::clone(ctx), Arc::clone(mailbox), index),
            };
            if !spin.is_zero() {
                // Its next poll, as a task, registers the task's waker wherever it waits.
                if work.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready() {
                    drop(guard);
                    if served_since.elapsed() >= INLINE_SERVE_MAX {
                        break;
                    }
                    continue;
                }
            }
            waiting = true;
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
        if !spin.is_zero() && !waiting && served_since.elapsed() < INLINE_SERVE_MAX {
            let until = Instant::now() + spin;
            // The clock is read every `SPIN_CHECKS_PER_CLOCK` looks at the mailbox (a read costs
            // as much as several looks here, and a request waits for the look in progress).
            'spin: while Instant::now() < until {
                for _ in 0..SPIN_CHECKS_PER_CLOCK {
                    if !mailbox.is_empty() || mailbox.is_closed() {
                        break 'spin;
                    }
                    std::hint::spin_loop();
                }
            }
            if !mailbox.is_empty() {
                continue;
            }
        }
        if swept.elapsed() >= SLOT_SWEEP_INTERVAL {
            // Before parking: free call slots let go of their last answers' columns.
            mailbox.points().sweep();
            swept = Instant::now();
        }
        if mailbox.prepare_sleep() {
            // Bounded: should a wake-up ever be lost, a request waits at most this long.
            futures_lite::future::or(mailbox.wait(), glommio::timer::sleep(MAILBOX_RECHECK)).await;
        } else if !spin.is_zero() {
            // Work is queued but the executor's turn is due: a timer hands it over.
            glommio::timer::sleep(Duration::from_micros(1)).await;
        }
        served_since = Instant::now();
    }
}
