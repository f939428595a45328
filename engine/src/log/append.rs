//! Appending: validate, assign offsets, stage; group commit writes and syncs everything staged
//! while the previous sync was in flight, and an append resolves once its bytes are durable.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use arrow_buffer::Buffer;
use tracing::warn;

use super::entry::{encode_index, BatchEntry};
use super::segment::{index_name, log_name, Segment};
use super::state::{PendingStats, Staged, State};
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

    /// Validates and stages a batch; returns its offsets without waiting for durability (the
    /// log order is fixed here). [`Log::wait_durable`] then waits for them; [`Log::append`] is both.
    pub fn stage(&self, mut bytes: Vec<u8>) -> Result<AppendInfo> {
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
        drop(state);
        self.flush_wake.notify_all();
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
        let stats = match (self.config.validate_payload, view.stats_bytes()) {
            (true, raw) => {
                let batch = decode_payload(&view, schema).map_err(mismatch)?;
                match raw {
                    [] => Some(stats::compute(schema, &batch)?),
                    raw => Some(stats::decode(schema, raw, h.record_count as u32).map_err(in_bucket)?),
                }
            }
            // Computed by the writer while the batch's write is in flight (`write_group`).
            (false, []) => None,
            (false, raw) => Some(stats::decode(schema, raw, h.record_count as u32).map_err(in_bucket)?),
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
    pub async fn wait_durable(&self, ticket: i64) -> Result<()> {
        // Background steps make way while the group commit's write and sync are in flight.
        let _foreground = crate::kv::step::foreground_wait();
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
                let result = self.flush(ticket).await;
                guard.finish(result.err());
            } else {
                self.committed.wait().await;
            }
        }
    }

    /// Writes and syncs everything staged, rolling segments as needed, until nothing is staged
    /// and everything written is durable.
    ///
    /// Two loops share the leader's future: the writer moves staged batches into the tail and
    /// writes them (one write at a time: consecutive writes share the partial last page), and
    /// the syncer fdatasyncs whatever has been written and then publishes it (durable, readable,
    /// appends acknowledged). So the next group is written while the previous one syncs, and an
    /// appender is acknowledged as soon as its own sync is done. A sync covers only the writes
    /// completed before it was issued, which are exactly the groups the syncer took.
    ///
    /// The leader's own append (`ticket`) resolves only when the flush returns, so once it is
    /// durable the leader starts at most [`LEAD_EXTRA_GROUPS`] more groups and then hands over:
    /// a waiting appender becomes the next leader. That bounds how long leading can delay an
    /// append while keeping most group commits pipelined under steady load.
    async fn flush(&self, ticket: i64) -> Result<()> {
        let pipeline = Pipeline { written: RefCell::new(Vec::new()), writer_done: Cell::new(false) };
        futures_lite::future::try_zip(self.writer_loop(&pipeline, ticket), self.syncer_loop(&pipeline)).await?;
        Ok(())
    }

    async fn writer_loop(&self, pipeline: &Pipeline<S::File>, ticket: i64) -> Result<()> {
        let result = self.write_staged(pipeline, ticket).await;
        pipeline.writer_done.set(true);
        self.flush_wake.notify_all();
        result
    }

    async fn write_staged(&self, pipeline: &Pipeline<S::File>, ticket: i64) -> Result<()> {
        let mut extra_groups = 0;
        loop {
            let unsynced = self.state.borrow().unpublished_groups > 0;
            if self.state.borrow().durable_offset >= ticket {
                if extra_groups == LEAD_EXTRA_GROUPS {
                    return Ok(());
                }
                extra_groups += 1;
            }
            let (group, roll) = self.fill_group(unsynced);
            if !group.entries.is_empty() {
                let written = self.write_group(group).await?;
                pipeline.written.borrow_mut().push(written);
                self.flush_wake.notify_all();
                continue;
            }
            if roll {
                // The old segment's groups must be durable before its index is sealed.
                while self.state.borrow().unpublished_groups > 0 {
                    self.flush_wake.wait().await;
                }
                self.roll().await?;
                continue;
            }
            if !unsynced {
                return Ok(());
            }
            // Nothing staged yet: wait for an append or for the syncer to finish.
            self.flush_wake.wait().await;
        }
    }

    async fn syncer_loop(&self, pipeline: &Pipeline<S::File>) -> Result<()> {
        loop {
            let groups = std::mem::take(&mut *pipeline.written.borrow_mut());
            let Some(file) = groups.first().map(|g| Rc::clone(&g.file)) else {
                if pipeline.writer_done.get() {
                    return Ok(());
                }
                self.flush_wake.wait().await;
                continue;
            };
            debug_assert!(groups.iter().all(|g| Rc::ptr_eq(&g.file, &file)), "a roll waits for the syncer");
            file.sync().await?;
            for group in groups {
                self.publish(group);
            }
            self.flush_wake.notify_all();
        }
    }

    /// Takes staged batches into a group, stopping before the first one that needs a new
    /// segment. Returns the group and whether a roll must come before the rest.
    fn fill_group(&self, segment_has_unsynced: bool) -> (Group, bool) {
        let mut group = Group { entries: Vec::new(), batches: Vec::new(), bytes: 0 };
        loop {
            let Some(len) = self.state.borrow().staged.front().map(|s| s.bytes.len()) else {
                return (group, false);
            };
            let segment_empty =
                group.entries.is_empty() && !segment_has_unsynced && self.state.borrow().active().entries.is_empty();
            if self.needs_roll(group.bytes + len) && !segment_empty {
                return (group, true);
            }
            let mut state = self.state.borrow_mut();
            let Some(Staged { bytes, mut entry }) = state.staged.pop_front() else {
                return (group, false);
            };
            entry.position = state.tail_start + (state.tail.len() + group.bytes) as u64;
            group.bytes += bytes.len();
            group.entries.push(entry);
            group.batches.push(Buffer::from_vec(bytes));
        }
    }

    /// Whether `incoming` more bytes after what is written or grouped need a new segment.
    fn needs_roll(&self, incoming: usize) -> bool {
        let state = self.state.borrow();
        let active = state.active();
        let written = state.tail_start + state.tail.len() as u64;
        let too_big = written + incoming as u64 > self.config.segment_bytes_max;
        let too_old = active.first_timestamp.is_some_and(|t| (self.clock)() - t > self.config.segment_age_ms_max);
        too_big || too_old
    }

    /// Writes `group` after the tail (the partial last page already written) with one
    /// vectored write straight from the batches' own buffers. Afterwards the tail holds the
    /// group's last partial page, which the next group's write starts with.
    async fn write_group(&self, group: Group) -> Result<Written<S::File>> {
        let end = {
            let state = self.state.borrow();
            state.tail_start + (state.tail.len() + group.bytes) as u64
        };
        self.wait_for_zero_fill(end).await?;
        let (file, allocated_end) = {
            let mut state = self.state.borrow_mut();
            state.writing_end = end;
            state.last_group_bytes = group.bytes;
            (Rc::clone(&state.active().file), state.allocated_end)
        };
        if end > allocated_end {
            // Never past what the segment may hold (unless one batch alone is larger).
            let allocate_to = (end + PREALLOCATE_BYTES)
                .min(self.config.segment_bytes_max.max(end))
                .next_multiple_of(WRITE_ALIGNMENT as u64);
            file.allocate(allocate_to).await?;
            self.state.borrow_mut().allocated_end = allocate_to;
        }
        // Only the writer touches the tail, so it can be taken out while the write is in flight.
        let (start, tail) = {
            let mut state = self.state.borrow_mut();
            (state.tail_start, std::mem::take(&mut state.tail))
        };
        let data_len = tail.len() + group.bytes;
        debug_assert_eq!(start + data_len as u64, end);
        let padding = data_len.next_multiple_of(WRITE_ALIGNMENT) - data_len;
        let Group { mut entries, batches, .. } = group;
        let mut parts: Vec<&[u8]> = Vec::with_capacity(batches.len() + 2);
        parts.push(&tail);
        parts.extend(batches.iter().map(Buffer::as_slice));
        parts.push(&ZERO_PAGE[..padding]);
        // Batches without statistics are queued for `fill_pending_stats` once published; past
        // the queue's limit they are computed now, while the write (submitted when first
        // polled) is in flight.
        let missing: usize =
            entries.iter().zip(&batches).filter(|(e, _)| e.stats.is_none()).map(|(_, b)| b.len()).sum();
        let defer = {
            let state = self.state.borrow();
            state.stats_backlog_bytes + missing <= self.config.stats_backlog_bytes_max
        };
        let fill_stats = async {
            if !defer {
                self.fill_statistics(&mut entries, &batches);
            }
        };
        let (written, ()) = futures_lite::future::zip(file.write_vectored_at(start, &parts), fill_stats).await;
        let pending: Vec<PendingStats> = entries
            .iter()
            .zip(&batches)
            .filter(|(e, _)| e.stats.is_none() && defer)
            .map(|(e, b)| PendingStats { base_offset: e.base_offset, bytes: b.clone() })
            .collect();
        let keep_from = end / WRITE_ALIGNMENT as u64 * WRITE_ALIGNMENT as u64;
        let next_tail = last_bytes(&parts[..parts.len() - 1], (end - keep_from) as usize);
        debug_assert_eq!(entries.last().map(BatchEntry::end), Some(end), "the group ends the data");
        let mut state = self.state.borrow_mut();
        if written.is_err() {
            state.tail = tail;
        }
        written?;
        state.tail = next_tail;
        state.tail_start = keep_from;
        state.unpublished_groups += 1;
        Ok(Written { file, entries, pending })
    }

    /// Computes the statistics of batches that arrived without them (so a predicate can skip
    /// them). A payload that does not decode (possible when `validate_payload` is off) only
    /// leaves its batch without statistics: it was accepted as Fluss accepts it.
    fn fill_statistics(&self, entries: &mut [BatchEntry], batches: &[Buffer]) {
        for (entry, bytes) in entries.iter_mut().zip(batches) {
            if entry.stats.is_none() {
                entry.stats = self.compute_stats(entry.schema_id, entry.base_offset, bytes);
            }
        }
    }

    /// The statistics of one stored batch, computed from its payload; `None` (logged) when
    /// the payload does not decode or its schema is unknown.
    fn compute_stats(&self, schema_id: i16, base_offset: i64, bytes: &Buffer) -> Option<Arc<stats::BatchStats>> {
        let schema = self.config.schemas.get(&schema_id)?;
        let computed = BatchView::parse(bytes).and_then(|view| {
            let at = view.ipc_bytes().as_ptr() as usize - bytes.as_ptr() as usize;
            let message = bytes.slice_with_length(at, view.ipc_bytes().len());
            let batch = decode_message(&message, &view, schema)?;
            stats::compute(schema, &batch)
        });
        match computed {
            Ok(stats) => Some(Arc::new(stats)),
            Err(e) => {
                warn!(bucket = %self.config.bucket, offset = base_offset, error = %e, "no statistics for a batch whose payload does not decode");
                None
            }
        }
    }

    /// Makes a synced group durable and readable, and wakes its appenders.
    fn publish(&self, written: Written<S::File>) {
        let mut state = self.state.borrow_mut();
        let pending = written.entries;
        let durable = pending.last().map_or(state.durable_offset, |e| e.next_offset);
        state.unpublished_groups -= 1;
        let active = state.active_mut();
        debug_assert!(Rc::ptr_eq(&active.file, &written.file), "groups are published before a roll");
        active.first_timestamp = active.first_timestamp.or(pending.first().map(|e| e.commit_timestamp));
        active.size = pending.last().map_or(active.size, BatchEntry::end);
        active.entries.extend(pending);
        state.durable_offset = durable;
        state.stats_backlog_bytes += written.pending.iter().map(|p| p.bytes.len()).sum::<usize>();
        state.stats_backlog.extend(written.pending);
        drop_state_and_notify(state, &self.committed);
    }

    /// Computes queued statistics (see `LogConfig::stats_backlog_bytes_max`), oldest first,
    /// until about `bytes_max` bytes of batches were looked at or the queue is empty. Returns
    /// the bytes looked at (0 = nothing was queued). Meant for the owner's background work;
    /// synchronous, so keep `bytes_max` small (~1 MiB costs well under a millisecond).
    pub fn fill_pending_stats(&self, bytes_max: usize) -> usize {
        let mut done = 0;
        while done < bytes_max {
            let item = {
                let mut state = self.state.borrow_mut();
                let Some(item) = state.stats_backlog.pop_front() else { break };
                state.stats_backlog_bytes -= item.bytes.len();
                item
            };
            done += item.bytes.len();
            // Retention may have removed the batch meanwhile: then there is nothing to fill.
            self.with_entry(item.base_offset, |e| {
                e.stats = self.compute_stats(e.schema_id, e.base_offset, &item.bytes)
            });
        }
        done
    }

    /// Runs `f` on the index entry of the batch at `base_offset`, if it is still stored.
    fn with_entry<T>(&self, base_offset: i64, f: impl FnOnce(&mut BatchEntry) -> T) -> Option<T> {
        let mut state = self.state.borrow_mut();
        let segment = state.segments.iter_mut().rev().find(|s| s.base_offset <= base_offset)?;
        let at = segment.entries.binary_search_by_key(&base_offset, |e| e.base_offset).ok()?;
        segment.entries.get_mut(at).map(f)
    }

    /// Bytes of batches whose statistics are queued.
    pub fn pending_stats_bytes(&self) -> usize {
        self.state.borrow().stats_backlog_bytes
    }

    /// Seals the active segment (writes its index) and starts a new one at the next offset.
    async fn roll(&self) -> Result<()> {
        // A zero fill of the segment must land before it is cut to its data.
        self.wait_for_zero_fill(u64::MAX).await?;
        // The sealed index keeps statistics for good: compute every queued one first.
        self.fill_pending_stats(usize::MAX);
        let (base, size, index) = {
            let state = self.state.borrow();
            let active = state.active();
            let index = encode_index(&self.config, active.base_offset, active.size, &active.entries)?;
            (active.base_offset, active.size, index)
        };
        // Give back the space reserved past the data (a crash before this only leaves zeros,
        // which the index's data length already excludes).
        let sealed = Rc::clone(&self.state.borrow().active().file);
        sealed.truncate(size).await?;
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
        state.allocated_end = 0;
        state.zeroed_end = 0;
        state.writing_end = 0;
        tracing::debug!(bucket = %self.config.bucket, sealed = base, bytes = size, next, "rolled segment");
        Ok(())
    }
}

/// Zeros to pad a write to [`WRITE_ALIGNMENT`].
static ZERO_PAGE: [u8; WRITE_ALIGNMENT] = [0; WRITE_ALIGNMENT];

/// Batches taken from the staging queue for one write.
struct Group {
    entries: Vec<BatchEntry>,
    /// The batches' bytes, moved (not copied) into Arrow buffers so the writer can decode
    /// them in place for statistics.
    batches: Vec<Buffer>,
    /// Total bytes of `batches`.
    bytes: usize,
}

/// The last `len` bytes of the concatenation of `parts`.
fn last_bytes(parts: &[&[u8]], len: usize) -> Vec<u8> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut skip = total - len;
    let mut out = Vec::with_capacity(WRITE_ALIGNMENT);
    for part in parts {
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        out.extend_from_slice(&part[skip..]);
        skip = 0;
    }
    debug_assert_eq!(out.len(), len);
    out
}

/// How far ahead of the data a segment's disk space is reserved (see [`StorageFile::allocate`]).
const PREALLOCATE_BYTES: u64 = 16 << 20;

/// Groups a flush leader starts after its own append is durable, before handing over.
const LEAD_EXTRA_GROUPS: usize = 4;

/// A group of batches written to the active segment, waiting for its sync.
struct Written<F> {
    file: Rc<F>,
    entries: Vec<BatchEntry>,
    /// Batches of `entries` whose statistics are queued for `fill_pending_stats`.
    pending: Vec<PendingStats>,
}

/// What the writer and syncer loops of one flush share.
struct Pipeline<F> {
    /// Groups whose writes completed, oldest first, not yet taken by the syncer.
    written: RefCell<Vec<Written<F>>>,
    /// The writer has stopped (nothing staged and nothing left to sync, or an error).
    writer_done: Cell<bool>,
}

fn drop_state_and_notify<T>(state: std::cell::RefMut<'_, T>, notify: &super::notify::Notify) {
    drop(state);
    notify.notify_all();
}

/// Decodes a batch's Arrow payload (copying it into an Arrow buffer) and checks its rows.
fn decode_payload(view: &BatchView<'_>, schema: &crate::schema::Schema) -> Result<arrow_array::RecordBatch> {
    decode_message(&Buffer::from(view.ipc_bytes()), view, schema)
}

/// Decodes `message` (the IPC message of `view`, in an Arrow buffer) and checks its rows.
fn decode_message(
    message: &Buffer,
    view: &BatchView<'_>,
    schema: &crate::schema::Schema,
) -> Result<arrow_array::RecordBatch> {
    let batch = ipc::decode(message, schema.to_arrow(), false)?;
    let records = view.header.record_count as usize;
    if batch.num_rows() != records {
        return Err(Error::invalid_batch(format!("{} rows for {records} records", batch.num_rows())));
    }
    Ok(batch)
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
            self.log.close_abandoned("a group commit was abandoned half-way", |state| state.flushing = false);
        }
    }
}

impl<S: Storage> Log<S> {
    /// Closes the log when a write or sync future was dropped half-way (its I/O may still
    /// land, and what it was writing may be lost): `release` gives back what the future held,
    /// and every waiter (appenders, writes waiting for a zero fill) wakes to find the log
    /// closed. Called from `Drop`, so a state already borrowed is left as it is.
    pub(super) fn close_abandoned(&self, reason: &str, release: impl FnOnce(&mut State<S::File>)) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            release(&mut state);
            state.poisoned = Some(reason.into());
        }
        self.committed.notify_all();
        self.zero_wake.notify_all();
    }
}
