//! Opening a log: find the segments, load sealed segments' indexes (or rescan them), scan the
//! active segment, truncate a torn tail, rebuild the writer table.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use tracing::{debug, warn};

use super::config::LogConfig;
use super::entry::{decode_index, BatchEntry};
use super::notify::Notify;
use super::segment::{index_name, log_name, parse_name, scan, ScanEnd, Segment};
use super::state::State;
use super::storage::{Storage, StorageFile, WRITE_ALIGNMENT};
use super::writers::{BatchRange, WriterTable};
use super::{Clock, Log};
use crate::batch::header::NO_WRITER_ID;
use crate::batch::view::BatchView;
use crate::batch::{ipc, stats};
use crate::error::{Error, Result};

impl<S: Storage> Log<S> {
    /// Opens (or creates) the log in `storage`, recovering it after a crash.
    pub async fn open(storage: S, config: LogConfig, clock: Clock) -> Result<Self> {
        let names = storage.list().await?;
        let mut logs = Vec::new();
        let mut indexes = BTreeMap::new();
        for name in names {
            match parse_name(&name) {
                Some((base, true)) => logs.push(base),
                Some((base, false)) => {
                    indexes.insert(base, name);
                }
                None => debug!(bucket = %config.bucket, file = %name, "ignoring unknown file"),
            }
        }
        logs.sort_unstable();
        for (base, name) in &indexes {
            if logs.binary_search(base).is_err() {
                storage.remove(name).await?;
            }
        }
        if logs.is_empty() {
            storage.open(&log_name(0), true).await?.close().await?;
            storage.sync_dir().await?;
            logs.push(0);
        }
        let mut segments = Vec::with_capacity(logs.len());
        for (i, &base) in logs.iter().enumerate() {
            let sealed = i + 1 < logs.len();
            let segment = open_segment(&storage, &config, base, sealed, indexes.contains_key(&base)).await?;
            if let Some(prev) = segments.last() {
                check_contiguous(&config, prev, &segment)?;
            }
            segments.push(segment);
        }
        let (tail_start, tail) = prepare_tail(&storage, &config, segments.last()).await?;
        Ok(Self::from_segments(storage, config, clock, segments, tail_start, tail))
    }

    fn from_segments(
        storage: S,
        config: LogConfig,
        clock: Clock,
        segments: Vec<Segment<S::File>>,
        tail_start: u64,
        tail: Vec<u8>,
    ) -> Self {
        let start_offset = segments.first().map_or(0, |s| s.base_offset);
        let end = segments.last().map_or(0, Segment::next_offset);
        let last_timestamp = segments.iter().filter_map(Segment::max_timestamp).max().unwrap_or(i64::MIN);
        let now = clock();
        let mut writers = WriterTable::default();
        for entry in segments.iter().flat_map(|s| s.entries.iter()) {
            if entry.writer_id != NO_WRITER_ID {
                let range = BatchRange {
                    sequence: entry.batch_sequence,
                    base_offset: entry.base_offset,
                    next_offset: entry.next_offset,
                    commit_timestamp: entry.commit_timestamp,
                };
                writers.record(entry.writer_id, range, entry.commit_timestamp);
            }
        }
        writers.expire(now, config.writer_idle_expiry_ms, config.writers_max);
        let state = State {
            segments,
            start_offset,
            staged_offset: end,
            durable_offset: end,
            staged: VecDeque::new(),
            flushing: false,
            poisoned: None,
            writers,
            last_timestamp,
            tail,
            tail_start,
            allocated_end: 0,
            zeroed_end: 0,
            zeroing: None,
            writing_end: 0,
            last_group_bytes: 0,
            unpublished_groups: 0,
            stats_backlog: VecDeque::new(),
            stats_backlog_bytes: 0,
        };
        Self {
            storage,
            config,
            clock,
            state: RefCell::new(state),
            committed: Notify::default(),
            flush_wake: Notify::default(),
            zero_wake: Notify::default(),
        }
    }
}

async fn open_segment<S: Storage>(
    storage: &S,
    config: &LogConfig,
    base: i64,
    sealed: bool,
    has_index: bool,
) -> Result<Segment<S::File>> {
    let name = log_name(base);
    let file = storage.open(&name, false).await?;
    if sealed && has_index {
        match load_index(storage, config, base).await {
            Ok((size, entries)) if file.size().await? >= size => {
                return Ok(segment(base, file, entries, size));
            }
            Ok(_) => warn!(bucket = %config.bucket, segment = %name, "index longer than its segment; rescanning"),
            Err(e) => warn!(bucket = %config.bucket, segment = %name, error = %e, "unusable index; rescanning"),
        }
    }
    let len = file.size().await?;
    let bytes = file.read_at(0, len as usize).await?;
    let (scanned, end) = scan(&bytes, base, &config.bucket, &storage.describe(&name))?;
    let mut entries = Vec::with_capacity(scanned.len());
    for s in &scanned {
        entries.push(entry_for(config, &s.view, s.position)?);
    }
    let size = entries.last().map_or(0, BatchEntry::end);
    if let ScanEnd::TornTail { position, reason } = end {
        if sealed {
            return Err(Error::Corruption {
                bucket: config.bucket.clone(),
                segment: storage.describe(&name),
                offset: entries.last().map_or(base, |e| e.next_offset),
                position,
                reason: format!("{reason} in a sealed segment"),
            });
        }
        warn!(bucket = %config.bucket, segment = %name, position, %reason, "truncating a torn tail");
    }
    Ok(segment(base, file, entries, size))
}

fn segment<F>(base: i64, file: F, entries: Vec<BatchEntry>, size: u64) -> Segment<F> {
    let first_timestamp = entries.first().map(|e| e.commit_timestamp);
    Segment { base_offset: base, file: Rc::new(file), entries, size, first_timestamp }
}

async fn load_index<S: Storage>(storage: &S, config: &LogConfig, base: i64) -> Result<(u64, Vec<BatchEntry>)> {
    let file = storage.open(&index_name(base), false).await?;
    let len = file.size().await?;
    let bytes = file.read_at(0, len as usize).await;
    file.close().await?;
    let bytes = bytes?;
    let content_len = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| Error::invalid_batch("index file too short"))? as usize;
    let content = bytes.get(4..4 + content_len).ok_or_else(|| Error::invalid_batch("index file truncated"))?;
    let (size, entries) = decode_index(config, content, base)?;
    let contiguous = entries.windows(2).all(|w| w[0].next_offset == w[1].base_offset && w[0].end() == w[1].position);
    if !contiguous || entries.first().is_some_and(|e| e.base_offset != base || e.position != 0) {
        return Err(Error::invalid_batch("index entries are not contiguous"));
    }
    Ok((size, entries))
}

/// Builds the index entry of a stored batch, with statistics read from it or computed.
pub(super) fn entry_for(config: &LogConfig, view: &BatchView<'_>, position: u64) -> Result<BatchEntry> {
    let h = &view.header;
    let stats = match config.schemas.get(&h.schema_id) {
        Some(schema) if !view.stats_bytes().is_empty() => {
            Some(Arc::new(stats::decode(schema, view.stats_bytes(), h.record_count as u32)?))
        }
        Some(schema) => {
            let message = arrow_buffer::Buffer::from(view.ipc_bytes());
            let batch = ipc::decode(&message, schema.to_arrow(), false)?;
            Some(Arc::new(stats::compute(schema, &batch)?))
        }
        None => None,
    };
    Ok(BatchEntry {
        base_offset: h.base_offset,
        next_offset: h.next_offset(),
        position,
        len: view.bytes().len() as u32,
        commit_timestamp: h.commit_timestamp,
        writer_id: h.writer_id,
        batch_sequence: h.batch_sequence,
        schema_id: h.schema_id,
        stats,
    })
}

fn check_contiguous<F>(config: &LogConfig, prev: &Segment<F>, next: &Segment<F>) -> Result<()> {
    if prev.next_offset() != next.base_offset {
        return Err(Error::Corruption {
            bucket: config.bucket.clone(),
            segment: log_name(next.base_offset),
            offset: prev.next_offset(),
            position: 0,
            reason: format!(
                "the previous segment ends at offset {} but this one starts at {}",
                prev.next_offset(),
                next.base_offset
            ),
        });
    }
    Ok(())
}

/// Loads the active segment's last partial page and rewrites it so no torn bytes remain
/// past the logical end; returns (tail start, tail bytes).
async fn prepare_tail<S: Storage>(
    storage: &S,
    config: &LogConfig,
    active: Option<&Segment<S::File>>,
) -> Result<(u64, Vec<u8>)> {
    let Some(active) = active else { return Ok((0, Vec::new())) };
    let align = WRITE_ALIGNMENT as u64;
    let tail_start = active.size / align * align;
    let mut tail = active.file.read_at(tail_start, (active.size - tail_start) as usize).await?;
    tail.truncate((active.size - tail_start) as usize);
    let physical = active.file.size().await?;
    let aligned_end = active.size.next_multiple_of(align);
    if physical > active.size {
        let mut page = tail.clone();
        page.resize((aligned_end - tail_start) as usize, 0);
        if !page.is_empty() {
            active.file.write_at(tail_start, &page).await?;
        }
        active.file.truncate(aligned_end).await?;
        active.file.sync().await?;
        debug!(bucket = %config.bucket, segment = %storage.describe(&log_name(active.base_offset)),
            from = physical, to = aligned_end, "cut the active segment to its data");
    }
    Ok((tail_start, tail))
}
