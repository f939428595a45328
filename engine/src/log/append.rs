//! Appending: validate, assign offsets, stage; group commit writes and syncs everything staged
//! while the previous sync was in flight, and an append resolves once its bytes are durable.

use std::rc::Rc;
use std::sync::Arc;

use tracing::warn;

use super::entry::{encode_index, BatchEntry};
use super::segment::{index_name, log_name, Segment};
use super::state::Staged;
use super::storage::{Storage, StorageFile, WRITE_ALIGNMENT};
use super::writers::{BatchRange, SequenceCheck};
use super::{AppendInfo, Log};
use crate::batch::header::{stamp, NO_WRITER_ID};
use crate::batch::view::BatchView;
use crate::batch::{ipc, projection, stats};
use crate::error::{Error, Result};

impl<S: Storage> Log<S> {
    /// Appends one batch (Fluss LogRecordBatch bytes, any magic). Resolves when it is durable,
    /// with the offsets it got (or, for a retried idempotent batch, the offsets it got before).
    pub async fn append(&self, bytes: Vec<u8>) -> Result<AppendInfo> {
        let info = self.stage(bytes)?;
        self.wait_durable(info.next_offset).await?;
        Ok(info)
    }

    /// Validates and stages a batch; returns its offsets without waiting for durability.
    fn stage(&self, mut bytes: Vec<u8>) -> Result<AppendInfo> {
        let bucket = &self.config.bucket;
        if let Some(reason) = &self.state.borrow().poisoned {
            return Err(Error::LogClosed { bucket: bucket.clone(), reason: reason.clone() });
        }
        if bytes.len() > self.config.batch_bytes_max {
            return Err(Error::BatchTooLarge {
                bucket: bucket.clone(),
                bytes: bytes.len(),
                limit_bytes: self.config.batch_bytes_max,
            });
        }
        let mut entry = self.validate(&bytes)?;
        let mut state = self.state.borrow_mut();
        if entry.writer_id != NO_WRITER_ID {
            match state.writers.check(entry.writer_id, entry.batch_sequence) {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate(r) => {
                    return Ok(AppendInfo {
                        base_offset: r.base_offset,
                        next_offset: r.next_offset,
                        commit_timestamp: r.commit_timestamp,
                        duplicate: true,
                    });
                }
                SequenceCheck::TooOld { last_sequence } => {
                    return Err(Error::DuplicateSequence {
                        bucket: bucket.clone(),
                        writer_id: entry.writer_id,
                        sequence: entry.batch_sequence,
                        last_sequence,
                    });
                }
                SequenceCheck::Gap { expected } => {
                    return Err(Error::OutOfOrderSequence {
                        bucket: bucket.clone(),
                        writer_id: entry.writer_id,
                        expected,
                        received: entry.batch_sequence,
                    });
                }
            }
        }
        let now = (self.clock)();
        let timestamp = now.max(state.last_timestamp);
        let count = entry.next_offset - entry.base_offset;
        entry.base_offset = state.staged_offset;
        entry.next_offset = state.staged_offset + count;
        entry.commit_timestamp = timestamp;
        stamp(&mut bytes, entry.base_offset, timestamp)?;
        state.staged_offset = entry.next_offset;
        state.last_timestamp = timestamp;
        if entry.writer_id != NO_WRITER_ID {
            let range = BatchRange {
                sequence: entry.batch_sequence,
                base_offset: entry.base_offset,
                next_offset: entry.next_offset,
                commit_timestamp: timestamp,
            };
            state.writers.record(entry.writer_id, range, now);
            state.writers.expire(now, self.config.writer_idle_expiry_ms, self.config.writers_max);
        }
        let info = AppendInfo {
            base_offset: entry.base_offset,
            next_offset: entry.next_offset,
            commit_timestamp: timestamp,
            duplicate: false,
        };
        state.staged.push_back(Staged { bytes, entry });
        Ok(info)
    }

    /// Checks a batch against its bytes and the table schema; returns its entry (offsets relative).
    fn validate(&self, bytes: &[u8]) -> Result<BatchEntry> {
        let bucket = &self.config.bucket;
        let in_bucket = |e: Error| match e {
            Error::InvalidBatch { reason } => Error::InvalidBatch { reason: format!("bucket {bucket}: {reason}") },
            Error::ChecksumMismatch { expected, actual, .. } => {
                Error::ChecksumMismatch { location: format!("incoming batch for bucket {bucket}"), expected, actual }
            }
            other => other,
        };
        let view = BatchView::parse(bytes).map_err(in_bucket)?;
        view.verify_crc().map_err(in_bucket)?;
        let h = view.header;
        if h.record_count == 0 {
            return Err(Error::EmptyBatch { bucket: bucket.clone() });
        }
        let schema = self.config.schemas.get(&h.schema_id).ok_or_else(|| Error::SchemaMismatch {
            bucket: bucket.clone(),
            expected: format!("one of the schema ids {:?}", self.config.schemas.keys().collect::<Vec<_>>()),
            actual: format!("schema id {}", h.schema_id),
        })?;
        let mismatch = |e: Error| Error::SchemaMismatch {
            bucket: bucket.clone(),
            expected: format!("schema {}", schema.id),
            actual: e.to_string(),
        };
        self.check_structure(&view, schema).map_err(mismatch)?;
        let decoded = if self.config.validate_payload || view.stats_bytes().is_empty() {
            let message = arrow_buffer::Buffer::from(view.ipc_bytes());
            let batch = ipc::decode(&message, schema.to_arrow(), false).map_err(mismatch)?;
            if batch.num_rows() != h.record_count as usize {
                let e = Error::invalid_batch(format!("{} rows for {} records", batch.num_rows(), h.record_count));
                return Err(mismatch(e));
            }
            Some(batch)
        } else {
            None
        };
        let stats = match (&decoded, view.stats_bytes()) {
            (Some(batch), []) => Some(stats::compute(schema, batch)?),
            (_, []) => None,
            (_, raw) => Some(stats::decode(schema, raw, h.record_count as u32).map_err(in_bucket)?),
        };
        Ok(entry_for_parsed(&view, stats.map(Arc::new)))
    }

    fn check_structure(&self, view: &BatchView<'_>, schema: &crate::schema::Schema) -> Result<()> {
        let message = view.ipc_bytes();
        let layout = ipc::layout(message)?;
        let fb =
            arrow_ipc::root_as_message(layout.metadata(message)).map_err(|e| Error::invalid_batch(e.to_string()))?;
        let rb = fb.header_as_record_batch().ok_or_else(|| Error::invalid_batch("not a RecordBatch"))?;
        let (mut nodes, mut buffers) = (0, 0);
        for column in &schema.columns {
            let (n, b) = projection::ipc_counts(&column.data_type.to_arrow())?;
            nodes += n;
            buffers += b;
        }
        let have = (rb.nodes().map_or(0, |v| v.len()), rb.buffers().map_or(0, |v| v.len()));
        if have != (nodes, buffers) || rb.length() != i64::from(view.header.record_count) {
            return Err(Error::invalid_batch(format!(
                "{} columns need {nodes} field nodes and {buffers} buffers for {} rows; the batch has {} and {} for {} rows",
                schema.columns.len(), view.header.record_count, have.0, have.1, rb.length()
            )));
        }
        Ok(())
    }

    /// Waits until offsets below `ticket` are durable, leading a group commit when none runs.
    pub(super) async fn wait_durable(&self, ticket: i64) -> Result<()> {
        loop {
            let lead = {
                let mut state = self.state.borrow_mut();
                if state.durable_offset >= ticket {
                    return Ok(());
                }
                if let Some(reason) = &state.poisoned {
                    return Err(Error::LogClosed { bucket: self.config.bucket.clone(), reason: reason.clone() });
                }
                !std::mem::replace(&mut state.flushing, true)
            };
            if lead {
                let guard = FlushGuard { log: self, armed: true };
                let result = self.flush().await;
                guard.finish(result.err());
            } else {
                self.committed.wait().await;
            }
        }
    }

    /// Writes and syncs everything staged, rolling segments as needed, until nothing is staged.
    ///
    /// Pipelined: while the fdatasync of one group is in flight, the next group (the batches
    /// staged meanwhile) is already being written, so the disk is never idle between a write
    /// and a sync. A sync only covers writes that completed before it was issued, so each
    /// group is published (made durable and readable, its appends acknowledged) only after
    /// its own sync; groups are published in order.
    async fn flush(&self) -> Result<()> {
        let mut unsynced: Option<Written<S::File>> = None;
        loop {
            let (group, roll) = self.fill_tail(unsynced.is_some());
            let write = async {
                if group.is_empty() {
                    Ok(None)
                } else {
                    self.write_group(group).await.map(Some)
                }
            };
            unsynced = match unsynced.take() {
                Some(previous) => {
                    let (synced, written) = futures_lite::future::zip(previous.file.sync(), write).await;
                    synced?;
                    self.publish(previous);
                    written?
                }
                None => write.await?,
            };
            if roll {
                if let Some(previous) = unsynced.take() {
                    previous.file.sync().await?;
                    self.publish(previous);
                }
                self.roll().await?;
            } else if unsynced.is_none() && self.state.borrow().staged.is_empty() {
                return Ok(());
            }
        }
    }

    /// Moves staged batches into the tail buffer, stopping before the first one that needs a
    /// new segment. Returns their entries and whether a roll must come before the rest.
    fn fill_tail(&self, segment_has_unsynced: bool) -> (Vec<BatchEntry>, bool) {
        let mut group = Vec::new();
        loop {
            let Some(len) = self.state.borrow().staged.front().map(|s| s.bytes.len()) else {
                return (group, false);
            };
            let segment_empty =
                group.is_empty() && !segment_has_unsynced && self.state.borrow().active().entries.is_empty();
            if self.needs_roll(len) && !segment_empty {
                return (group, true);
            }
            let mut state = self.state.borrow_mut();
            let Some(Staged { bytes, mut entry }) = state.staged.pop_front() else {
                return (group, false);
            };
            entry.position = state.tail_start + state.tail.len() as u64;
            state.tail.extend_from_slice(&bytes);
            group.push(entry);
        }
    }

    fn needs_roll(&self, incoming: usize) -> bool {
        let state = self.state.borrow();
        let active = state.active();
        let written = state.tail_start + state.tail.len() as u64;
        let too_big = written + incoming as u64 > self.config.segment_bytes_max;
        let too_old = active.first_timestamp.is_some_and(|t| (self.clock)() - t > self.config.segment_age_ms_max);
        too_big || too_old
    }

    /// Writes the tail page(s) of the active segment holding `group`. Afterwards the tail
    /// keeps only the last partial page, which the next group's write starts with.
    async fn write_group(&self, group: Vec<BatchEntry>) -> Result<Written<S::File>> {
        // Only the flush leader touches the tail, so it can be taken out (no copy) while the
        // write is in flight and put back after.
        let (file, start, mut page) = {
            let mut state = self.state.borrow_mut();
            (Rc::clone(&state.active().file), state.tail_start, std::mem::take(&mut state.tail))
        };
        let data_len = page.len();
        page.resize(data_len.next_multiple_of(WRITE_ALIGNMENT), 0);
        let written = file.write_at(start, &page).await;
        page.truncate(data_len);
        let mut state = self.state.borrow_mut();
        state.tail = page;
        written?;
        let end = group.last().map_or(start + data_len as u64, BatchEntry::end);
        debug_assert_eq!(end, start + data_len as u64, "the tail ends with the group's last batch");
        let keep_from = end / WRITE_ALIGNMENT as u64 * WRITE_ALIGNMENT as u64;
        let drop = (keep_from - state.tail_start) as usize;
        state.tail.drain(..drop);
        state.tail_start = keep_from;
        Ok(Written { file, entries: group })
    }

    /// Makes a synced group durable and readable, and wakes its appenders.
    fn publish(&self, written: Written<S::File>) {
        let mut state = self.state.borrow_mut();
        let pending = written.entries;
        let durable = pending.last().map_or(state.durable_offset, |e| e.next_offset);
        let active = state.active_mut();
        debug_assert!(Rc::ptr_eq(&active.file, &written.file), "groups are published before a roll");
        active.first_timestamp = active.first_timestamp.or(pending.first().map(|e| e.commit_timestamp));
        active.size = pending.last().map_or(active.size, BatchEntry::end);
        active.entries.extend(pending);
        state.durable_offset = durable;
        drop_state_and_notify(state, &self.committed);
    }

    /// Seals the active segment (writes its index) and starts a new one at the next offset.
    async fn roll(&self) -> Result<()> {
        let (base, size, index) = {
            let state = self.state.borrow();
            let active = state.active();
            let index = encode_index(&self.config, active.base_offset, active.size, &active.entries)?;
            (active.base_offset, active.size, index)
        };
        let mut content = (index.len() as u32).to_le_bytes().to_vec();
        content.extend_from_slice(&index);
        content.resize(content.len().next_multiple_of(WRITE_ALIGNMENT), 0);
        let index_file = self.storage.open(&index_name(base), true).await?;
        index_file.write_at(0, &content).await?;
        index_file.sync().await?;
        index_file.close().await?;
        let next = self.state.borrow().active().next_offset();
        let file = self.storage.open(&log_name(next), true).await?;
        self.storage.sync_dir().await?;
        let mut state = self.state.borrow_mut();
        state.segments.push(Segment {
            base_offset: next,
            file: Rc::new(file),
            entries: Vec::new(),
            size: 0,
            first_timestamp: None,
        });
        state.tail.clear();
        state.tail_start = 0;
        tracing::debug!(bucket = %self.config.bucket, sealed = base, bytes = size, next, "rolled segment");
        Ok(())
    }
}

/// A group of batches written to the active segment, waiting for its sync.
struct Written<F> {
    file: Rc<F>,
    entries: Vec<BatchEntry>,
}

fn drop_state_and_notify<T>(state: std::cell::RefMut<'_, T>, notify: &super::notify::Notify) {
    drop(state);
    notify.notify_all();
}

fn entry_for_parsed(view: &BatchView<'_>, stats: Option<Arc<stats::BatchStats>>) -> BatchEntry {
    let h = &view.header;
    BatchEntry {
        base_offset: 0,
        next_offset: i64::from(h.record_count),
        position: 0,
        len: view.bytes().len() as u32,
        commit_timestamp: 0,
        writer_id: h.writer_id,
        batch_sequence: h.batch_sequence,
        schema_id: h.schema_id,
        stats,
    }
}

/// Clears `flushing` and wakes waiters however the flush ends; a flush abandoned half-way
/// (its future dropped) poisons the log, since staged batches may be lost.
struct FlushGuard<'a, S: Storage> {
    log: &'a Log<S>,
    armed: bool,
}

impl<S: Storage> FlushGuard<'_, S> {
    fn finish(mut self, error: Option<Error>) {
        self.armed = false;
        let mut state = self.log.state.borrow_mut();
        state.flushing = false;
        if let Some(e) = error {
            warn!(bucket = %self.log.config.bucket, error = %e, "write failed; the log is closed until reopened");
            state.poisoned = Some(e.to_string());
        }
        drop_state_and_notify(state, &self.log.committed);
    }
}

impl<S: Storage> Drop for FlushGuard<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            if let Ok(mut state) = self.log.state.try_borrow_mut() {
                state.flushing = false;
                state.poisoned = Some("a group commit was abandoned half-way".into());
            }
            self.log.committed.notify_all();
        }
    }
}
