//! Reading: batches by offset with a byte limit (optionally skipping batches a predicate
//! cannot match, by their statistics, without reading them), and listing offsets.

use std::rc::Rc;

use arrow_buffer::Buffer;

use super::entry::BatchEntry;
use super::segment::log_name;
use super::storage::{Storage, StorageFile};
use super::Log;
use crate::batch::stats::BatchStats;
use crate::batch::view::BatchView;
use crate::error::{Error, Result};

/// One stored batch as read.
#[derive(Clone, Debug)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub next_offset: i64,
    pub commit_timestamp: i64,
    /// The whole batch (a slice of the read buffer).
    pub bytes: Buffer,
}

/// What a read returns.
#[derive(Clone, Debug, Default)]
pub struct ReadResult {
    pub batches: Vec<StoredBatch>,
    /// Where the next read continues (past skipped batches too).
    pub next_offset: i64,
    /// The durable end of the log when the read started.
    pub high_watermark: i64,
    /// The first offset still stored.
    pub log_start_offset: i64,
}

/// Decides from a batch's statistics alone whether any of its rows can match.
pub trait BatchFilter {
    /// False only when no row of a batch with these statistics can match.
    fn can_match(&self, stats: &BatchStats) -> bool;
}

/// Which offset to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    /// The first batch committed at or after this time (epoch ms); Latest if none.
    Timestamp(i64),
}

impl<S: Storage> Log<S> {
    /// Reads whole batches from the one containing `offset`, up to `bytes_max` (at least one
    /// batch). Only durable batches are visible. With a predicate, batches whose statistics
    /// rule it out are skipped unread.
    pub async fn read(&self, offset: i64, bytes_max: usize, predicate: Option<&dyn BatchFilter>) -> Result<ReadResult> {
        let (file, run, result) = {
            let state = self.state.borrow();
            let mut result = ReadResult {
                batches: Vec::new(),
                next_offset: offset,
                high_watermark: state.durable_offset,
                log_start_offset: state.start_offset,
            };
            if offset < state.start_offset || offset > state.durable_offset {
                return Err(Error::OffsetOutOfRange {
                    bucket: self.config.bucket.clone(),
                    offset,
                    start: state.start_offset,
                    end: state.durable_offset,
                });
            }
            if offset == state.durable_offset {
                return Ok(result);
            }
            let seg_at = state.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
            let segment = &state.segments[seg_at];
            let first = segment.entries.partition_point(|e| e.next_offset <= offset);
            let run = pick_run(&segment.entries[first..], bytes_max, predicate);
            result.next_offset = run.scanned_to.unwrap_or(segment.next_offset());
            (Rc::clone(&segment.file), run, result)
        };
        self.read_run(file, run, result).await
    }

    async fn read_run(&self, file: Rc<S::File>, run: Run, mut result: ReadResult) -> Result<ReadResult> {
        let Some((first, last)) = run.entries.first().zip(run.entries.last()) else {
            return Ok(result);
        };
        let from = first.position;
        let bytes = file.read_at(from, (last.end() - from) as usize).await?;
        let buffer = Buffer::from_vec(bytes);
        for entry in &run.entries {
            let at = (entry.position - from) as usize;
            let slice = buffer.slice_with_length(at, entry.len as usize);
            self.check_stored(entry, slice.as_slice())?;
            result.batches.push(StoredBatch {
                base_offset: entry.base_offset,
                next_offset: entry.next_offset,
                commit_timestamp: entry.commit_timestamp,
                bytes: slice,
            });
        }
        Ok(result)
    }

    /// Verifies a batch read back from disk (length, CRC, offset) before handing it out.
    fn check_stored(&self, entry: &BatchEntry, bytes: &[u8]) -> Result<()> {
        let corrupt = |reason: String| Error::Corruption {
            bucket: self.config.bucket.clone(),
            segment: log_name(self.segment_base_of(entry.base_offset)),
            offset: entry.base_offset,
            position: entry.position,
            reason,
        };
        if bytes.len() != entry.len as usize {
            return Err(corrupt(format!("read {} of {} bytes", bytes.len(), entry.len)));
        }
        let view = BatchView::parse(bytes).map_err(|e| corrupt(e.to_string()))?;
        view.verify_crc().map_err(|e| corrupt(e.to_string()))?;
        if view.header.base_offset != entry.base_offset || view.header.next_offset() != entry.next_offset {
            return Err(corrupt(format!(
                "stored offsets {}..{} do not match",
                view.header.base_offset,
                view.header.next_offset()
            )));
        }
        Ok(())
    }

    fn segment_base_of(&self, offset: i64) -> i64 {
        let state = self.state.borrow();
        let at = state.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
        state.segments.get(at).map_or(0, |s| s.base_offset)
    }

    /// Earliest, latest (high watermark) or the first offset committed at or after a time.
    pub fn list_offset(&self, spec: OffsetSpec) -> i64 {
        let state = self.state.borrow();
        match spec {
            OffsetSpec::Earliest => state.start_offset,
            OffsetSpec::Latest => state.durable_offset,
            OffsetSpec::Timestamp(ts) => {
                // Commit timestamps never decrease, so both searches are binary.
                let seg = state.segments.partition_point(|s| s.max_timestamp().is_some_and(|m| m < ts));
                state
                    .segments
                    .get(seg)
                    .and_then(|s| {
                        let at = s.entries.partition_point(|e| e.commit_timestamp < ts);
                        s.entries.get(at).map(|e| e.base_offset)
                    })
                    .unwrap_or(state.durable_offset)
            }
        }
    }
}

struct Run {
    /// Contiguous matching entries to read.
    entries: Vec<BatchEntry>,
    /// Set when the run stopped early: the offset to continue from.
    scanned_to: Option<i64>,
}

/// Picks the contiguous run of entries to read: skips leading batches the predicate rules
/// out, then takes matching batches up to `bytes_max` (at least one), stopping at the next
/// batch that does not match (the following read skips it without I/O).
fn pick_run(entries: &[BatchEntry], bytes_max: usize, predicate: Option<&dyn BatchFilter>) -> Run {
    let matches = |e: &BatchEntry| match (predicate, &e.stats) {
        (Some(p), Some(stats)) => p.can_match(stats),
        _ => true,
    };
    let skip = entries.iter().take_while(|e| !matches(e)).count();
    let mut taken = Vec::new();
    let mut bytes = 0usize;
    for entry in &entries[skip..] {
        if !matches(entry) || (!taken.is_empty() && bytes + entry.len as usize > bytes_max) {
            return Run { scanned_to: Some(entry.base_offset), entries: taken };
        }
        bytes += entry.len as usize;
        taken.push(entry.clone());
    }
    Run { entries: taken, scanned_to: None }
}

impl BatchFilter for crate::predicate::Predicate {
    fn can_match(&self, stats: &BatchStats) -> bool {
        crate::predicate::Predicate::can_match(self, stats)
    }
}

impl<S: Storage> Log<S> {
    /// How an idempotent writer's batch with `sequence` would be treated by `append` now
    /// (lets a caller skip work for a retried batch before building it).
    pub fn check_writer(&self, writer_id: i64, sequence: i32) -> super::writers::SequenceCheck {
        self.state.borrow().writers.check(writer_id, sequence)
    }

    /// Records that an idempotent writer's batch `sequence` was accepted without appending
    /// anything (a primary-key write that changed nothing), at the log end `offset`, so
    /// its retry is a duplicate and the next sequence follows it. Held in memory only: it
    /// is not in the log, so a restart forgets it (the writer's next sequence then reads as
    /// a gap; a new writer id starts over).
    pub fn record_unchanged(&self, writer_id: i64, sequence: i32, offset: i64) {
        let now = (self.clock)();
        let mut state = self.state.borrow_mut();
        let range =
            super::writers::BatchRange { sequence, base_offset: offset, next_offset: offset, commit_timestamp: now };
        state.writers.record(writer_id, range, now);
        state.writers.expire(now, self.config.writer_idle_expiry_ms, self.config.writers_max);
    }
}
