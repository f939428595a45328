//! Idempotent-writer state: per writer id, the newest batch sequences and their offsets.
//!
//! A batch whose (writer id, sequence) was seen among the writer's last
//! [`WRITER_BATCHES_KEPT`] batches is a retry: it is acknowledged with the original offsets
//! and not appended again. A sequence that skips ahead is an error; one older than the kept
//! window is reported as a duplicate (Fluss clients treat that as success). A writer id not
//! seen before (or expired) may start at any sequence.

use std::collections::{BTreeMap, VecDeque};

/// How many recent batches are kept per writer (Fluss clients keep up to 5 in flight).
pub const WRITER_BATCHES_KEPT: usize = 5;

/// Offsets given to one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchRange {
    pub sequence: i32,
    pub base_offset: i64,
    /// Offset after the batch's last record.
    pub next_offset: i64,
    pub commit_timestamp: i64,
}

#[derive(Clone, Debug, Default)]
struct WriterState {
    recent: VecDeque<BatchRange>,
    last_write_ms: i64,
}

/// What to do with an incoming batch of an idempotent writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already appended: answer with these offsets.
    Duplicate(BatchRange),
    /// Older than the kept window.
    TooOld { last_sequence: i32 },
    /// Skips ahead of the next expected sequence.
    Gap { expected: i32 },
}

/// All writers of one bucket.
#[derive(Clone, Debug, Default)]
pub struct WriterTable {
    writers: BTreeMap<i64, WriterState>,
}

/// The sequence after `sequence` (wrapping like Fluss at i32::MAX).
pub fn next_sequence(sequence: i32) -> i32 {
    if sequence == i32::MAX {
        0
    } else {
        sequence + 1
    }
}

impl WriterTable {
    /// Classifies `sequence` from `writer_id`.
    pub fn check(&self, writer_id: i64, sequence: i32) -> SequenceCheck {
        let Some(state) = self.writers.get(&writer_id) else {
            return SequenceCheck::Append;
        };
        let Some(last) = state.recent.back() else {
            return SequenceCheck::Append;
        };
        if let Some(found) = state.recent.iter().find(|r| r.sequence == sequence) {
            return SequenceCheck::Duplicate(*found);
        }
        let expected = next_sequence(last.sequence);
        if sequence == expected {
            return SequenceCheck::Append;
        }
        // Distance forward from the last sequence, modulo the wrap.
        let ahead = (i64::from(sequence) - i64::from(last.sequence)).rem_euclid(i64::from(i32::MAX) + 1);
        if ahead > 0 && ahead < (1 << 30) {
            SequenceCheck::Gap { expected }
        } else {
            SequenceCheck::TooOld { last_sequence: last.sequence }
        }
    }

    /// Records an appended batch.
    pub fn record(&mut self, writer_id: i64, range: BatchRange, now_ms: i64) {
        let state = self.writers.entry(writer_id).or_default();
        state.recent.push_back(range);
        while state.recent.len() > WRITER_BATCHES_KEPT {
            state.recent.pop_front();
        }
        state.last_write_ms = state.last_write_ms.max(now_ms);
    }

    /// Forgets writers idle since before `now_ms - idle_ms`, then the least recently active
    /// ones beyond `writers_max`.
    pub fn expire(&mut self, now_ms: i64, idle_ms: i64, writers_max: usize) {
        self.writers.retain(|_, s| now_ms.saturating_sub(s.last_write_ms) <= idle_ms);
        if self.writers.len() > writers_max {
            let mut by_age: Vec<(i64, i64)> = self.writers.iter().map(|(id, s)| (s.last_write_ms, *id)).collect();
            by_age.sort_unstable();
            let excess = self.writers.len() - writers_max;
            for (_, id) in by_age.into_iter().take(excess) {
                self.writers.remove(&id);
            }
        }
    }

    /// Number of writers remembered.
    pub fn len(&self) -> usize {
        self.writers.len()
    }

    /// True when no writer is remembered.
    pub fn is_empty(&self) -> bool {
        self.writers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(sequence: i32, base: i64) -> BatchRange {
        BatchRange { sequence, base_offset: base, next_offset: base + 10, commit_timestamp: 0 }
    }

    #[test]
    fn classifies_sequences() {
        let mut t = WriterTable::default();
        assert_eq!(t.check(7, 3), SequenceCheck::Append);
        for s in 0..8 {
            t.record(7, range(s, i64::from(s) * 10), 0);
        }
        assert_eq!(t.check(7, 8), SequenceCheck::Append);
        assert_eq!(t.check(7, 6), SequenceCheck::Duplicate(range(6, 60)));
        assert_eq!(t.check(7, 9), SequenceCheck::Gap { expected: 8 });
        assert_eq!(t.check(7, 1), SequenceCheck::TooOld { last_sequence: 7 });
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut t = WriterTable::default();
        t.record(1, range(i32::MAX, 0), 0);
        assert_eq!(t.check(1, 0), SequenceCheck::Append);
        assert_eq!(t.check(1, 1), SequenceCheck::Gap { expected: 0 });
    }

    #[test]
    fn expires_idle_and_excess_writers() {
        let mut t = WriterTable::default();
        t.record(1, range(0, 0), 100);
        t.record(2, range(0, 10), 200);
        t.record(3, range(0, 20), 300);
        t.expire(1_000, 850, 10);
        assert_eq!(t.len(), 2);
        t.expire(1_000, 850, 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.check(3, 0), SequenceCheck::Duplicate(range(0, 20)));
    }
}
