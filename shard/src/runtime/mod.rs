//! The thread-per-core runtime: `N` shard threads, each a glommio `LocalExecutor` with a
//! foreground and a background task queue, fed through a [`mailbox::Mailbox`] from any thread.
//! Replies come back on a `futures_channel::oneshot`, so callers can block or await from any
//! async runtime (tokio included).

mod budget;
pub mod context;
pub(crate) mod coordinator;
mod doorbell;
pub(crate) mod mailbox;
mod maintenance;
pub mod memlock;
mod merge_peer;
pub(crate) mod placement;

pub use placement::allowed_cpus;
pub(crate) mod point;
mod point_rows;
mod shard;
pub mod snapshots;
mod wait;

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

use futures_channel::oneshot;
use futures_lite::future::BoxedLocal;
use futures_lite::FutureExt;
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

pub use context::ShardContext;
use coordinator::{Coordinator, Published};
use mailbox::Mailbox;
pub use shard::{BACKGROUND_SHARES, FOREGROUND_SHARES};
pub(crate) use wait::spin_until;
pub use wait::{block_on, lost_wakes, REPLY_SPIN_US};

use crate::catalog::{Catalog, CatalogSnapshot};
use crate::config::RillConfig;
use crate::error::{Error, Result};

/// A request: a closure run on the shard, producing the future that does the work (and
/// sends the reply).
pub(crate) type Request = Box<dyn FnOnce(Rc<ShardContext>) -> BoxedLocal<()> + Send>;

/// Every shard's mailbox, set once all shards are started.
pub(crate) type Peers = Arc<OnceLock<Vec<Arc<Mailbox>>>>;

/// The running shards.
pub(crate) struct Runtime {
    mailboxes: Vec<Arc<Mailbox>>,
    threads: Mutex<Vec<ExecutorJoinHandle<()>>>,
    /// The same mailboxes, as the shards see them (set once all are started).
    peers: Peers,
}

fn runtime_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Runtime { reason: format!("{what}: {e}") }
}

impl Runtime {
    /// Starts `config.shards` shards on `snapshot`; shard 0 gets the mutable catalog (and
    /// updates `published` when it changes the catalog on its own). Returns once every shard
    /// has opened its buckets.
    /// `placements` ([`Self::placements`]) has one entry per shard.
    pub(crate) fn start(
        config: &RillConfig,
        placements: Vec<Placement>,
        catalog: Catalog,
        published: Published,
    ) -> Result<Self> {
        let shards = placements.len();
        let snapshot = catalog.snapshot();
        let peers = Arc::new(OnceLock::new());
        let coordinator = Coordinator {
            peers: Arc::clone(&peers),
            published,
            clock: config.clock.clone(),
            data_dir: config.data_dir.clone(),
        };
        let mut owner = Some((catalog, coordinator));
        let mut runtime =
            Self { mailboxes: Vec::with_capacity(shards), threads: Mutex::new(Vec::new()), peers: Arc::clone(&peers) };
        let mut readies = Vec::with_capacity(shards);
        for (index, placement) in placements.into_iter().enumerate() {
            match runtime.spawn_shard(config, index, shards, placement, &snapshot, owner.take()) {
                Ok(ready) => readies.push(ready),
                Err(e) => {
                    runtime.shutdown();
                    return Err(e);
                }
            }
        }
        // Before waiting: shard 0 may publish (auto-partitioning) once it serves.
        let _ = peers.set(runtime.mailboxes.clone());
        for (index, ready) in readies.into_iter().enumerate() {
            let outcome = block_on(ready).unwrap_or(Err(Error::ShardGone { shard: index }));
            if let Err(e) = outcome {
                runtime.shutdown();
                return Err(e);
            }
        }
        runtime.mailboxes.shrink_to_fit();
        Ok(runtime)
    }

    /// Checks what starting the shards needs of the machine (locked memory) and where each
    /// shard runs (`shard_cpus`), before anything touches the data directory.
    pub(crate) fn placements(config: &RillConfig) -> Result<Vec<Placement>> {
        let shards = config.shards.max(1);
        memlock::check(shards, config.io_memory_bytes)?;
        placement::placements(shards, &config.shard_cpus, &placement::allowed_cpus())
    }

    fn spawn_shard(
        &mut self,
        config: &RillConfig,
        index: usize,
        shards: usize,
        placement: Placement,
        snapshot: &Arc<CatalogSnapshot>,
        owner: Option<(Catalog, Coordinator)>,
    ) -> Result<oneshot::Receiver<Result<()>>> {
        let mailbox = Arc::new(Mailbox::new(index, config.queue_depth_max));
        let (ready, ready_rx) = oneshot::channel();
        let setup = shard::ShardSetup {
            index,
            shards,
            mailbox: Arc::clone(&mailbox),
            snapshot: Arc::clone(snapshot),
            owner,
            peers: Arc::clone(&self.peers),
            config: config.clone(),
            ready,
        };
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("rill-shard-{index}"))
            .io_memory(config.io_memory_bytes)
            .spin_before_park(std::time::Duration::from_micros(config.shard_spin_us))
            .spawn(move || shard::run(setup))
            .map_err(|e| runtime_err(&format!("starting shard {index}"), e))?;
        self.mailboxes.push(mailbox);
        self.threads.lock().map_err(|e| runtime_err("shard thread list", e))?.push(handle);
        Ok(ready_rx)
    }

    /// The call slots of one-key lookups of `shard`, with the means to queue one.
    pub(crate) fn mailbox(&self, shard: usize) -> Result<&Mailbox> {
        self.mailboxes.get(shard).map(|m| m.as_ref()).ok_or(Error::ShardGone { shard })
    }

    /// Number of shards.
    pub(crate) fn shards(&self) -> usize {
        self.mailboxes.len()
    }

    /// Sends `f` to run on `shard` now; the returned future resolves to its result.
    ///
    /// A panic in `f` or its future is caught on the shard: it is logged, the shard stops
    /// serving (see [`Mailbox::poison`]) and this caller gets `ShardPanicked`.
    pub(crate) fn call<T, F, Fut>(&self, shard: usize, f: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(Rc<ShardContext>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let mailbox = self.mailboxes.get(shard).map(Arc::clone);
        let sent = match &mailbox {
            Some(mailbox) => {
                let on_shard = Arc::clone(mailbox);
                let request: Request = Box::new(move |ctx| {
                    Box::pin(async move {
                        let outcome = AssertUnwindSafe(async move { f(ctx).await }).catch_unwind().await;
                        let reply = outcome.unwrap_or_else(|payload| Err(panicked(&on_shard, payload.as_ref())));
                        let _ = tx.send(reply);
                    })
                });
                mailbox.push(request)
            }
            None => Err(Error::ShardGone { shard }),
        };
        async move {
            sent?;
            match rx.await {
                Ok(reply) => reply,
                Err(_) => Err(mailbox.map_or(Error::ShardGone { shard }, |m| m.gone())),
            }
        }
    }

    /// Closes every mailbox and joins the shard threads (each flushes and closes its
    /// buckets first). Idempotent.
    pub(crate) fn shutdown(&self) {
        for mailbox in &self.mailboxes {
            mailbox.close();
        }
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for (index, handle) in threads.into_iter().enumerate() {
            if let Err(e) = handle.join() {
                tracing::warn!(shard = index, error = %e, "shard thread ended abnormally");
            }
        }
    }
}

/// Logs a caught panic, stops the shard from serving and returns the caller's error.
pub(crate) fn panicked(mailbox: &Mailbox, payload: &(dyn Any + Send)) -> Error {
    let message = match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (None, Some(s)) => s.clone(),
        (None, None) => "a panic without a message".to_string(),
    };
    tracing::error!(shard = mailbox.shard(), panic = %message, "a task panicked on the shard; it stops serving");
    mailbox.poison(message);
    mailbox.gone()
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
