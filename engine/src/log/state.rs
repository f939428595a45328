//! The mutable state of an open log (kept behind one `RefCell`, never borrowed across an await).

use std::collections::VecDeque;

use super::entry::BatchEntry;
use super::segment::Segment;
use super::writers::WriterTable;

/// A batch accepted by `append` that is not yet durable.
pub struct Staged {
    pub bytes: Vec<u8>,
    pub entry: BatchEntry,
}

/// A durable batch of the active segment whose statistics are still to be computed.
pub struct PendingStats {
    pub base_offset: i64,
    pub bytes: arrow_buffer::Buffer,
}

/// Everything that changes while the log is open.
pub struct State<F> {
    /// Sorted by base offset; the last one is active (takes appends).
    pub segments: Vec<Segment<F>>,
    /// First offset still stored (retention moves it).
    pub start_offset: i64,
    /// Next offset `append` assigns.
    pub staged_offset: i64,
    /// Offsets below this are durable and readable (the high watermark).
    pub durable_offset: i64,
    pub staged: VecDeque<Staged>,
    pub flushing: bool,
    /// Set after a failed write or sync: the log must be reopened (recovery decides what is durable).
    pub poisoned: Option<String>,
    pub writers: WriterTable,
    pub last_timestamp: i64,
    /// Bytes of the active segment from `tail_start` (aligned) to its logical end, not yet
    /// known to be durable or needed again for the next aligned write.
    pub tail: Vec<u8>,
    pub tail_start: u64,
    /// Bytes of the active segment's file reserved with `allocate` (0 = not known).
    pub allocated_end: u64,
    /// End of the active segment's last zero fill (`Log::zero_fill_step`; 0 = none since it
    /// became active). Only decides where the next fill starts; nothing read depends on it.
    pub zeroed_end: u64,
    /// A zero fill in flight: groups that would reach into it wait.
    pub zeroing: Option<std::ops::Range<u64>>,
    /// End of the group being written, or of the last one, in the active segment.
    pub writing_end: u64,
    /// Bytes of the last group written (0 = none since open): zero fill only helps small ones.
    pub last_group_bytes: usize,
    /// Groups written by the running flush and not yet synced and published.
    pub unpublished_groups: usize,
    /// Published batches that arrived without statistics, oldest first (see
    /// `LogConfig::stats_backlog_bytes_max`), and their total bytes.
    pub stats_backlog: VecDeque<PendingStats>,
    pub stats_backlog_bytes: usize,
}

impl<F> State<F> {
    /// The active segment. The log always has one.
    pub fn active(&self) -> &Segment<F> {
        self.segments.last().expect("invariant: a log always has an active segment")
    }

    /// The active segment, mutably.
    pub fn active_mut(&mut self) -> &mut Segment<F> {
        self.segments.last_mut().expect("invariant: a log always has an active segment")
    }

    /// Total logical bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }
}
