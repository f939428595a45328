//! Columnar SSTs of a primary-key bucket's LSM: `<id, 20 digits>.sst`.
//!
//! An SST holds rows sorted by key (unique keys) as Arrow: `_key` (the encoded primary key,
//! compared as bytes), `_tombstone` (true = the key was deleted; value columns null), then the
//! table's columns, all nullable. The file, byte by byte, is described in `docs/format-sst.md`:
//!
//! ```text
//! data blocks (Arrow IPC RecordBatch messages, ~4 KiB each, 8-byte aligned, 16 with a DECIMAL column)
//! block index (per block: offset, length, rows, tombstones, CRC32C, first and last key)
//! bloom filter (over every key, tombstones included)
//! block statistics (Fluss statistics encoding, one blob per block)
//! zero padding
//! footer (128 bytes, the last bytes of the file)
//! ```
//!
//! - [`SstWriter`] streams sorted rows into blocks and writes the file in 4 KiB-aligned
//!   chunks, then syncs it.
//! - [`SstReader`] verifies the footer, index, bloom and statistics at open and keeps them in
//!   memory; point lookups read one block (through the [`BlockCache`](super::cache::BlockCache)),
//!   scans read blocks in order with read-ahead ([`SstScan`]).
//!
//! An SST always holds at least one row: [`SstWriter::finish`] rejects an empty one (a flush
//! or compaction with nothing to write writes no file).

mod bloom;
mod format;
pub(crate) mod key_prefixes;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use arrow_array::{Array, BinaryArray, BooleanArray, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, SchemaRef};

pub use bloom::{hash64, Bloom};
pub use format::{FOOTER_LEN, SST_MAGIC, SST_VERSION};
pub use reader::{ReadAhead, SstReader, SstScan};
pub use writer::SstWriter;

use crate::batch::Compression;
use crate::schema::Schema;

/// Name of the key column (position 0).
pub const KEY_COLUMN: &str = "_key";
/// Name of the tombstone column (position 1).
pub const TOMBSTONE_COLUMN: &str = "_tombstone";
/// Columns before the table's columns: `_key` and `_tombstone`.
pub const SYSTEM_COLUMNS: usize = 2;

/// The Arrow schema of an SST of `schema`: `_key: Binary NOT NULL`, `_tombstone: Boolean NOT
/// NULL`, then the table's columns, all nullable (a tombstone has no values).
pub fn sst_arrow_schema(schema: &Schema) -> SchemaRef {
    let mut fields = Vec::with_capacity(schema.columns.len() + SYSTEM_COLUMNS);
    fields.push(Field::new(KEY_COLUMN, ArrowType::Binary, false));
    fields.push(Field::new(TOMBSTONE_COLUMN, ArrowType::Boolean, false));
    fields.extend(schema.columns.iter().map(|c| c.to_arrow().with_nullable(true)));
    Arc::new(ArrowSchema::new(fields))
}

/// File name of SST `id`: `<id, 20 digits>.sst`.
pub fn sst_name(id: u64) -> String {
    format!("{id:020}.sst")
}

/// Parses `<20 digits>.sst` into the SST id.
pub fn parse_sst_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".sst")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// How an SST is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SstOptions {
    /// Target size of one encoded data block, in bytes (rows per block are chosen from the
    /// encoded size of the rows so far; a single row larger than this makes its own block).
    /// 4 KiB by default, for point gets on data larger than the cache. A block carries ~0.5
    /// KiB of Arrow framing on disk and about as much again in the cache (the decoded arrays),
    /// so 16 KiB blocks fit ~20% more rows in the same cache: upserts, which read every old
    /// row, are ~25% faster over 30 s once the LSM outgrows the cache, and uncached gets
    /// 8-19% slower (session 14, bench-results/README.md).
    pub block_bytes_target: usize,
    /// Bloom filter bits per key; 0 = no filter (every lookup reads a block).
    pub bloom_bits_per_key: u32,
    /// Arrow body compression of the data blocks. `None` by default: lookups decode blocks.
    pub compression: Compression,
}

impl Default for SstOptions {
    fn default() -> Self {
        Self { block_bytes_target: 4 << 10, bloom_bits_per_key: 10, compression: Compression::None }
    }
}

/// What an SST holds (returned by [`SstWriter::finish`], read back by [`SstReader::open`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstMeta {
    pub id: u64,
    /// File size, padding and footer included.
    pub file_bytes: u64,
    /// Rows, tombstones included.
    pub rows: u64,
    pub tombstones: u64,
    /// Smallest key.
    pub first_key: Vec<u8>,
    /// Largest key.
    pub last_key: Vec<u8>,
    /// Every change below this log offset is in the LSM (this SST or older ones).
    pub covers_log_offset: i64,
    /// Schema the SST was written with.
    pub schema_id: i16,
}

/// One row found by [`SstReader::get`]: a row of a decoded (cached) block.
#[derive(Clone, Debug)]
pub struct SstRow {
    pub block: Arc<RecordBatch>,
    pub row: usize,
}

impl SstRow {
    /// The row's key.
    pub fn key(&self) -> &[u8] {
        key_column(&self.block).map_or(&[][..], |keys| keys.value(self.row))
    }

    /// True when the row is a tombstone (the key was deleted).
    pub fn is_tombstone(&self) -> bool {
        tombstone_column(&self.block).is_some_and(|t| t.value(self.row))
    }
}

/// The `_key` column of an SST batch.
pub fn key_column(batch: &RecordBatch) -> Option<&BinaryArray> {
    batch.columns().first()?.as_any().downcast_ref::<BinaryArray>()
}

/// The `_tombstone` column of an SST batch.
pub fn tombstone_column(batch: &RecordBatch) -> Option<&BooleanArray> {
    batch.columns().get(1)?.as_any().downcast_ref::<BooleanArray>()
}
