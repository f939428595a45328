//! The memtable budget of one shard: the memtables of all its primary-key buckets together
//! stay under `memtable_bytes_max_per_shard`. A write that finds the shard over budget starts a
//! relief task (flush the largest memtables until under budget) and waits for it, at most
//! `write_stall_ms_max`; then it fails with `Error::WriteStalled`. A write under budget never
//! waits. A flush is never cancelled half-way (it runs in its own detached task): a dropped
//! flush would lose the rows of its frozen memtable until the next restart.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tracing::warn;

use super::context::{BucketId, ShardContext};
use crate::bucket::OpenBucket;
use crate::error::{Error, Result};

/// How often a stalled writer looks at the budget again.
const STALL_POLL: Duration = Duration::from_millis(1);
/// After a failed relief, the next one starts no sooner than this (no flush storm on a
/// broken disk).
const RELIEF_RETRY_AFTER_FAILURE: Duration = Duration::from_millis(50);

/// The budget and the state of its relief task.
pub(crate) struct MemtableBudget {
    bytes_max: usize,
    stall_max: Duration,
    /// A relief task is running.
    relieving: Cell<bool>,
    /// When the last relief task ended with a failure.
    failed_at: Cell<Option<Instant>>,
    /// The error of the last failed relief flush (cleared by a successful one).
    last_error: RefCell<Option<String>>,
}

impl MemtableBudget {
    pub(crate) fn new(bytes_max: usize, stall_max: Duration) -> Self {
        Self {
            bytes_max,
            stall_max,
            relieving: Cell::new(false),
            failed_at: Cell::new(None),
            last_error: RefCell::new(None),
        }
    }

    /// The budget in bytes.
    pub(crate) fn bytes_max(&self) -> usize {
        self.bytes_max
    }
}

/// Clears the `relieving` flag however the relief task ends.
struct Relieving<'a>(&'a Cell<bool>);

impl Drop for Relieving<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl ShardContext {
    /// Bytes held by the memtables of this shard's primary-key buckets, those being flushed
    /// included.
    pub(crate) fn memtable_bytes(&self) -> usize {
        self.sum_over_buckets(OpenBucket::memtable_bytes)
    }

    /// True when the shard's memtables are over budget.
    pub(crate) fn over_memtable_budget(&self) -> bool {
        self.memtable_bytes() > self.budget().bytes_max
    }

    /// Returns at once while the shard is under its memtable budget; otherwise has the largest
    /// memtables flushed and waits until it is under budget again, at most
    /// `write_stall_ms_max` (then `WriteStalled`).
    pub(crate) async fn admit_write(self: &Rc<Self>) -> Result<()> {
        if !self.over_memtable_budget() {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            self.start_relief();
            glommio::timer::sleep(STALL_POLL).await;
            let bytes = self.memtable_bytes();
            if bytes <= self.budget().bytes_max {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= self.budget().stall_max {
                return Err(Error::WriteStalled {
                    shard: self.index(),
                    memtable_bytes: bytes,
                    budget_bytes: self.budget().bytes_max,
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    flush_error: self.budget().last_error.borrow().clone(),
                });
            }
        }
    }

    /// Starts a relief task in the calling task queue unless one is running (or the last one
    /// failed very recently).
    pub(crate) fn start_relief(self: &Rc<Self>) {
        let budget = self.budget();
        let failed_recently = budget.failed_at.get().is_some_and(|t| t.elapsed() < RELIEF_RETRY_AFTER_FAILURE);
        if budget.relieving.get() || failed_recently {
            return;
        }
        budget.relieving.set(true);
        let ctx = Rc::clone(self);
        glommio::spawn_local(async move { ctx.relieve().await }).detach();
    }

    /// Flushes the largest memtables until the shard is under budget or a flush fails.
    async fn relieve(&self) {
        let budget = self.budget();
        let _running = Relieving(&budget.relieving);
        while self.over_memtable_budget() {
            let Some((id, bucket)) = self.largest_memtable() else { return };
            match bucket.flush_in_turn().await {
                Ok(()) => {
                    budget.failed_at.set(None);
                    budget.last_error.borrow_mut().take();
                }
                Err(e) => {
                    warn!(shard = self.index(), table = %bucket.table.name(), partition = ?id.1, bucket = id.2, error = %e,
                        "flushing a memtable to get under the shard's memtable budget failed");
                    budget.failed_at.set(Some(Instant::now()));
                    *budget.last_error.borrow_mut() = Some(e.to_string());
                    return;
                }
            }
        }
    }

    /// The primary-key bucket with the largest non-empty memtable, preferring buckets whose
    /// LSM is idle (a compaction step would make the flush wait).
    fn largest_memtable(&self) -> Option<(BucketId, Rc<OpenBucket>)> {
        self.bucket_handles()
            .into_iter()
            .filter_map(|(id, b)| {
                let bytes = b.pk().ok()?.lsm().memtable_bytes();
                (bytes > 0).then_some(((b.lsm_idle(), bytes, std::cmp::Reverse(id)), id, b))
            })
            .max_by_key(|(rank, _, _)| *rank)
            .map(|(_, id, b)| (id, b))
    }
}
