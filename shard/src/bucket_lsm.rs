//! The LSM work of a primary-key bucket, scheduled by its shard.
//!
//! The engine's flush on the write path is switched off (`ENGINE_MEMTABLE_BYTES_MAX`): a write
//! that fills its memtable queues a flush task instead, so a writer never waits for a flush,
//! and the shard's memtable budget bounds what memtables grow to meanwhile. Compaction steps
//! take turns per bucket ([`LsmTurn`]); a flush runs beside a compaction step (the engine
//! supports that since it hands out SST ids outside the manifest cell), so a long compaction
//! step never holds the memtable over its budget.

use std::cell::Cell;
use std::rc::Rc;

use glommio::sync::Semaphore;
use rill_engine::kv::compaction_job::{CompactionDone, CompactionJob};
use tracing::warn;

use crate::bucket::OpenBucket;
use crate::error::{Error, Result};

/// The memtable limit handed to the engine: never reached, so the engine never flushes on
/// the write path (kept well below `usize::MAX / 2`: the engine doubles it).
pub(crate) const ENGINE_MEMTABLE_BYTES_MAX: usize = usize::MAX / 8;

/// One compaction step at a time on a bucket's LSM, and the bytes of a flush in progress.
pub(crate) struct LsmTurn {
    turn: Semaphore,
    /// One flush at a time (so `flushing_bytes` names the one in progress).
    flush: Semaphore,
    /// Bytes of the memtable being flushed (frozen: no longer in `Lsm::memtable_bytes`).
    flushing_bytes: Cell<usize>,
}

impl Default for LsmTurn {
    fn default() -> Self {
        Self { turn: Semaphore::new(1), flush: Semaphore::new(1), flushing_bytes: Cell::new(0) }
    }
}

fn turn_error(bucket: &OpenBucket, e: impl std::fmt::Display) -> Error {
    Error::Runtime { reason: format!("LSM turn of a bucket of '{}': {e}", bucket.table.name()) }
}

impl OpenBucket {
    /// Memtable bytes of a primary-key bucket, the one being flushed included (0 for a log).
    pub(crate) fn memtable_bytes(&self) -> usize {
        self.pk().map_or(0, |t| t.lsm().memtable_bytes() + self.lsm_turn.flushing_bytes.get())
    }

    /// True when no compaction step holds the LSM.
    pub(crate) fn lsm_idle(&self) -> bool {
        self.lsm_turn.turn.available() > 0
    }

    /// True when the memtable is over `memtable_bytes_max`.
    pub(crate) fn needs_flush(&self) -> bool {
        self.pk().is_ok_and(|t| t.lsm().memtable_bytes() > self.memtable_bytes_max)
    }

    /// Flushes the memtable (beside any compaction step; the engine runs one flush at a
    /// time). Never cancel it half-way: the frozen memtable's rows would be unreadable until
    /// the next restart (run it in its own task when the caller may be dropped).
    pub(crate) async fn flush_in_turn(&self) -> Result<()> {
        let table = self.pk()?;
        let _flush = self.lsm_turn.flush.acquire_permit(1).await.map_err(|e| turn_error(self, e))?;
        let frozen = table.lsm().memtable_bytes();
        self.lsm_turn.flushing_bytes.set(frozen);
        let flushed = table.flush().await;
        self.lsm_turn.flushing_bytes.set(0);
        Ok(flushed?)
    }

    /// Runs one compaction step in its turn; returns whether it did anything.
    pub(crate) async fn compact_in_turn(&self) -> Result<bool> {
        let table = self.pk()?;
        let _turn = self.lsm_turn.turn.acquire_permit(1).await.map_err(|e| turn_error(self, e))?;
        Ok(table.lsm().compact_once().await?)
    }

    /// Runs one compaction step in its turn, its merge carried out by `run` (on a peer
    /// shard: `runtime/merge_peer.rs`); returns whether it did anything.
    pub(crate) async fn compact_in_turn_with<R, Fut>(&self, run: R) -> Result<bool>
    where
        R: FnOnce(CompactionJob) -> Fut,
        Fut: std::future::Future<Output = rill_engine::error::Result<CompactionDone>>,
    {
        let table = self.pk()?;
        let _turn = self.lsm_turn.turn.acquire_permit(1).await.map_err(|e| turn_error(self, e))?;
        Ok(table.lsm().compact_once_with(run).await?)
    }
}

/// Queues a flush of `bucket` in a task of its own (in the caller's task queue), unless one
/// is queued already. Failures are logged; the next write or maintenance round retries.
pub(crate) fn queue_flush(shard: usize, bucket: &Rc<OpenBucket>) {
    if bucket.flush_queued.replace(true) {
        return;
    }
    let bucket = Rc::clone(bucket);
    glommio::spawn_local(async move {
        if let Err(e) = bucket.flush_in_turn().await {
            warn!(shard, table = %bucket.table.name(), bucket = bucket.bucket, error = %e, "memtable flush failed; retrying later");
        }
        bucket.flush_queued.set(false);
    })
    .detach();
}
