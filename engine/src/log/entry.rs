//! The per-batch index of a segment, and its on-disk form (`<base>.index`).
//!
//! In memory every durable batch has a [`BatchEntry`]: this is the segment's offset index
//! (binary search by offset), its time index (commit timestamps never decrease within a log),
//! and its statistics index (so a predicate can skip a batch without reading it, also for
//! batches that arrived without statistics). The file is written when a segment is sealed and
//! read back at start-up instead of rescanning the segment. Layout, all little-endian:
//!
//! `IndexHeader` (32 bytes) | `IndexEntry` x count (56 bytes each) | statistics blobs (Fluss
//! statistics encoding, `stats_len` bytes per entry, in entry order) | u32 CRC32C of all
//! bytes before it.

use std::sync::Arc;

use zerocopy::little_endian::{I16, I32, I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::config::LogConfig;
use crate::batch::crc::crc32c;
use crate::batch::stats::{self, BatchStats};
use crate::error::{Error, Result};

/// Magic of an index file.
pub const INDEX_MAGIC: [u8; 4] = *b"RLIX";
/// Version of the index file format.
pub const INDEX_VERSION: u16 = 1;

/// What the log knows about one durable batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchEntry {
    pub base_offset: i64,
    /// Offset after the batch's last record.
    pub next_offset: i64,
    /// Byte position in the segment file.
    pub position: u64,
    pub len: u32,
    pub commit_timestamp: i64,
    pub writer_id: i64,
    pub batch_sequence: i32,
    pub schema_id: i16,
    /// Column statistics (from the batch or computed at append); `None` = unknown.
    pub stats: Option<Arc<BatchStats>>,
}

impl BatchEntry {
    /// The byte position after the batch.
    pub fn end(&self) -> u64 {
        self.position + u64::from(self.len)
    }
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
struct IndexHeader {
    magic: [u8; 4],
    version: U16,
    reserved: U16,
    count: U32,
    base_offset: I64,
    data_len: U64,
    reserved2: U32,
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
struct IndexEntry {
    base_offset: I64,
    next_offset: I64,
    position: U64,
    commit_timestamp: I64,
    writer_id: I64,
    len: U32,
    batch_sequence: I32,
    stats_len: U32,
    schema_id: I16,
    reserved: [u8; 2],
}

const _: () = assert!(size_of::<IndexHeader>() == 32);
const _: () = assert!(size_of::<IndexEntry>() == 56);

/// Encodes the index of a sealed segment of `data_len` bytes starting at `base_offset`.
pub fn encode_index(config: &LogConfig, base_offset: i64, data_len: u64, entries: &[BatchEntry]) -> Result<Vec<u8>> {
    let header = IndexHeader {
        magic: INDEX_MAGIC,
        version: INDEX_VERSION.into(),
        reserved: 0.into(),
        count: (entries.len() as u32).into(),
        base_offset: base_offset.into(),
        data_len: data_len.into(),
        reserved2: 0.into(),
    };
    let mut out = header.as_bytes().to_vec();
    let mut blobs = Vec::new();
    for e in entries {
        let before = blobs.len();
        if let (Some(s), Some(schema)) = (&e.stats, config.schemas.get(&e.schema_id)) {
            stats::encode(schema, s, &mut blobs)?;
        }
        let entry = IndexEntry {
            base_offset: e.base_offset.into(),
            next_offset: e.next_offset.into(),
            position: e.position.into(),
            commit_timestamp: e.commit_timestamp.into(),
            writer_id: e.writer_id.into(),
            len: e.len.into(),
            batch_sequence: e.batch_sequence.into(),
            stats_len: ((blobs.len() - before) as u32).into(),
            schema_id: e.schema_id.into(),
            reserved: [0; 2],
        };
        out.extend_from_slice(entry.as_bytes());
    }
    out.extend_from_slice(&blobs);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decodes an index file; any inconsistency is an error (the caller then rescans the segment).
pub fn decode_index(config: &LogConfig, bytes: &[u8], base_offset: i64) -> Result<(u64, Vec<BatchEntry>)> {
    let bad = |reason: &str| Error::invalid_batch(format!("index of segment {base_offset}: {reason}"));
    let (body, crc) = bytes.split_at_checked(bytes.len().saturating_sub(4)).ok_or_else(|| bad("too short"))?;
    let stored = u32::from_le_bytes(crc.try_into().map_err(|_| bad("too short"))?);
    if crc32c(body) != stored {
        return Err(bad("CRC mismatch"));
    }
    let (header, rest) = IndexHeader::read_from_prefix(body).map_err(|_| bad("short header"))?;
    if header.magic != INDEX_MAGIC || header.version.get() != INDEX_VERSION || header.base_offset.get() != base_offset {
        return Err(bad("wrong magic, version or base offset"));
    }
    let count = header.count.get() as usize;
    let table_len = count.checked_mul(size_of::<IndexEntry>()).ok_or_else(|| bad("count overflow"))?;
    let (table, mut blobs) = rest.split_at_checked(table_len).ok_or_else(|| bad("truncated entries"))?;
    let mut entries = Vec::with_capacity(count);
    for raw in table.chunks_exact(size_of::<IndexEntry>()) {
        let e = IndexEntry::read_from_bytes(raw).map_err(|_| bad("entry"))?;
        let stats_len = e.stats_len.get() as usize;
        let (blob, after) = blobs.split_at_checked(stats_len).ok_or_else(|| bad("truncated statistics"))?;
        blobs = after;
        let rows = (e.next_offset.get() - e.base_offset.get()) as u32;
        let stats = match config.schemas.get(&e.schema_id.get()) {
            Some(schema) if stats_len > 0 => Some(Arc::new(stats::decode(schema, blob, rows)?)),
            _ => None,
        };
        entries.push(BatchEntry {
            base_offset: e.base_offset.get(),
            next_offset: e.next_offset.get(),
            position: e.position.get(),
            len: e.len.get(),
            commit_timestamp: e.commit_timestamp.get(),
            writer_id: e.writer_id.get(),
            batch_sequence: e.batch_sequence.get(),
            schema_id: e.schema_id.get(),
            stats,
        });
    }
    Ok((header.data_len.get(), entries))
}
