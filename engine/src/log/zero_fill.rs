//! Zero fill: background work that writes zeros ahead of the active segment's data, so small
//! durable writes overwrite written blocks (see `LogConfig::zero_fill_bytes`).
//!
//! A sync after an O_DIRECT write into preallocated but never written space must commit the
//! file system's journal (the write turned the blocks from "unwritten" to "written"); a write
//! over written blocks syncs with the disk's cache flush alone. Doing that conversion ahead,
//! in steps the owner runs as background work, keeps it off the appenders' path: a step
//! writes and syncs its zeros itself, so their journal commit and cache flush are paid by the
//! step (a group synced while a step is in flight may share the flush).
//!
//! A step claims its range first; a group that would reach into a claimed range waits for
//! the step (the two writes would race on the same blocks). Steps start at least
//! [`ZERO_FILL_GAP_BYTES`] past the data and any group being written, so groups rarely wait.

use std::ops::Range;
use std::rc::Rc;

use tracing::warn;

use super::storage::{Storage, StorageFile, WRITE_ALIGNMENT};
use super::Log;
use crate::error::{Error, Result};

/// Zeros one step writes (and syncs).
pub const ZERO_FILL_STEP_BYTES: u64 = 256 << 10;
/// Groups larger than this are not helped: for them the journal commit is a small part of
/// the sync, and zeroing ahead would double the bytes they write.
pub const ZERO_FILL_GROUP_BYTES_MAX: usize = 64 << 10;
/// A step starts at least this far past the data, so the groups that follow rarely reach it.
pub const ZERO_FILL_GAP_BYTES: u64 = 256 << 10;

const ALIGN: u64 = WRITE_ALIGNMENT as u64;

impl<S: Storage> Log<S> {
    /// One step of zero fill: when the last group written was small (at most
    /// [`ZERO_FILL_GROUP_BYTES_MAX`]) and less than `LogConfig::zero_fill_bytes` is zeroed
    /// ahead of the active segment's data, writes up to [`ZERO_FILL_STEP_BYTES`] of zeros
    /// after what is zeroed (never past `segment_bytes_max`) and syncs them. Returns the bytes
    /// zeroed; 0 when there is nothing to do. The owner runs it as background work, again
    /// while it returns more than 0. A step dropped before it resolves closes the log, as an
    /// abandoned group commit does: its write may still land.
    pub async fn zero_fill_step(&self) -> Result<u64> {
        let Some((file, range)) = self.claim_zero_range() else {
            return Ok(0);
        };
        let guard = ZeroFillGuard { log: self, armed: true };
        let result = async {
            crate::kv::step::before_background_io().await;
            file.write_zeros(range.start, range.end - range.start).await?;
            crate::kv::step::before_background_io().await;
            file.sync().await
        }
        .await;
        guard.finish(&range, result.as_ref().err());
        result.map(|()| range.end - range.start)
    }

    /// The range the next step zeroes, claimed (`state.zeroing`); `None` when no step is due.
    fn claim_zero_range(&self) -> Option<(Rc<S::File>, Range<u64>)> {
        let ahead = self.config.zero_fill_bytes.next_multiple_of(ALIGN);
        let mut state = self.state.borrow_mut();
        let small = (1..=ZERO_FILL_GROUP_BYTES_MAX).contains(&state.last_group_bytes);
        if ahead == 0 || !small || state.zeroing.is_some() || state.poisoned.is_some() {
            return None;
        }
        let written = state.tail_start + state.tail.len() as u64;
        let data_end = written.max(state.writing_end).next_multiple_of(ALIGN);
        if state.zeroed_end >= data_end + ahead {
            return None;
        }
        let start = state.zeroed_end.max(data_end + ZERO_FILL_GAP_BYTES);
        let stop = (start + ZERO_FILL_STEP_BYTES).min(self.config.segment_bytes_max.next_multiple_of(ALIGN));
        if stop <= start {
            return None;
        }
        state.zeroing = Some(start..stop);
        Some((Rc::clone(&state.active().file), start..stop))
    }

    /// Waits until no zero fill in flight starts before `end` (`u64::MAX`: none at all).
    pub(super) async fn wait_for_zero_fill(&self, end: u64) -> Result<()> {
        loop {
            {
                let state = self.state.borrow();
                if let Some(reason) = &state.poisoned {
                    return Err(Error::LogClosed { bucket: self.config.bucket.clone(), reason: reason.clone() });
                }
                if state.zeroing.as_ref().is_none_or(|z| z.start >= end) {
                    return Ok(());
                }
            }
            self.zero_wake.wait().await;
        }
    }
}

/// Releases the claimed range however the step ends; a failed step, or one abandoned
/// half-way, closes the log.
struct ZeroFillGuard<'a, S: Storage> {
    log: &'a Log<S>,
    armed: bool,
}

impl<S: Storage> ZeroFillGuard<'_, S> {
    fn finish(mut self, range: &Range<u64>, error: Option<&Error>) {
        self.armed = false;
        {
            let mut state = self.log.state.borrow_mut();
            state.zeroing = None;
            match error {
                None => state.zeroed_end = state.zeroed_end.max(range.end),
                Some(e) => {
                    warn!(bucket = %self.log.config.bucket, error = %e, "zero fill failed; the log is closed until reopened");
                    state.poisoned = Some(e.to_string());
                }
            }
        }
        self.log.zero_wake.notify_all();
        if error.is_some() {
            self.log.committed.notify_all();
        }
    }
}

impl<S: Storage> Drop for ZeroFillGuard<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            self.log.close_abandoned("a zero fill was abandoned half-way", |state| state.zeroing = None);
        }
    }
}
