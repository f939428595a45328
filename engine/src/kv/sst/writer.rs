//! [`SstWriter`]: streams key-ordered rows into data blocks and writes the SST file.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;

use super::bloom::{hash64, Bloom};
use super::format::{block_alignment, compression_code, encode_index, schema_crc, BlockInfo, Footer, FOOTER_LEN};
use super::format::{SST_MAGIC, SST_VERSION};
use super::{key_column, sst_arrow_schema, sst_name, tombstone_column, SstMeta, SstOptions, SYSTEM_COLUMNS};
use crate::batch::builder::encode_ipc_aligned;
use crate::batch::crc::crc32c;
use crate::batch::ipc;
use crate::batch::stats;
use crate::error::{Error, Result};
use crate::kv::cache::BlockCache;
use crate::log::{Storage, StorageFile, WRITE_ALIGNMENT};
use crate::schema::Schema;

/// Encoded bytes buffered before they are written (in 4 KiB-aligned chunks). Small enough
/// that a write issued between two of the foreground's durable writes has mostly left the
/// disk when the next one comes (`kv::step::before_background_io`).
pub const WRITE_BUFFER_BYTES: usize = 128 << 10;
/// Most rows in one data block (bounds a block of tiny rows).
pub const BLOCK_ROWS_MAX: usize = 1 << 16;
/// Rows encoded to estimate the encoded size of a row before the first block.
const PROBE_ROWS: usize = 128;
/// Key hashes inserted into the bloom between two yields to the executor (each insert is a
/// few cache misses: about half a millisecond per step).
const BLOOM_KEYS_PER_YIELD: usize = 1 << 12;

/// Streams rows sorted by key into an SST: [`add`](Self::add) any number of batches in the
/// SST Arrow schema ([`sst_arrow_schema`]), then [`finish`](Self::finish). After an error the
/// writer must be dropped and the file removed.
pub struct SstWriter<F: StorageFile> {
    file: F,
    /// The file as error messages name it.
    name: String,
    id: u64,
    schema: Schema,
    arrow: SchemaRef,
    options: SstOptions,
    covers_log_offset: i64,
    /// Encoded bytes not yet written; `out[0]` is at file position `out_at` (4 KiB-aligned).
    out: Vec<u8>,
    out_at: u64,
    /// Rows added but not yet in a block, oldest first.
    pending: VecDeque<RecordBatch>,
    pending_rows: usize,
    sizing: BlockSizing,
    blocks: Vec<BlockInfo>,
    /// The statistics section so far: one blob per block.
    stats: Vec<u8>,
    key_hashes: Vec<u64>,
    last_key: Option<Vec<u8>>,
    rows: u64,
    tombstones: u64,
    /// Where written blocks also go while the cache has room.
    fill: Option<CacheFill>,
    /// IPC padding of the blocks, and the multiple they start at (`format::block_alignment`).
    alignment: usize,
}

/// A block cache that the blocks of a new SST enter as they are written (decoded from the
/// bytes written, exactly as a read would decode them), while it has room: the first
/// lookups after a flush or compaction then find them without a disk read.
struct CacheFill {
    cache: Rc<BlockCache>,
    /// The SST's key in the cache (`cache::cache_key` of the LSM's namespace and the id).
    key: u64,
    /// The schema its readers decode into (the same `Arc`).
    arrow: SchemaRef,
}

/// Chooses rows per block from the encoded size of the blocks so far.
#[derive(Clone, Copy, Debug)]
struct BlockSizing {
    target_bytes: usize,
    /// Bytes of an encoded block with no rows (IPC framing and metadata).
    overhead_bytes: usize,
    /// Estimated encoded bytes per row.
    row_bytes: Option<f64>,
}

impl BlockSizing {
    fn rows(&self) -> Option<usize> {
        let room = self.target_bytes.saturating_sub(self.overhead_bytes).max(1) as f64;
        self.row_bytes.map(|b| ((room / b) as usize).clamp(1, BLOCK_ROWS_MAX))
    }

    fn observe(&mut self, bytes: usize, rows: usize) {
        let measured = (bytes.saturating_sub(self.overhead_bytes) as f64 / rows.max(1) as f64).max(1.0);
        self.row_bytes = Some(self.row_bytes.map_or(measured, |old| (old + measured) / 2.0));
    }
}

impl<F: StorageFile> SstWriter<F> {
    /// Creates (or empties) `<id>.sst` in `storage` for rows of `schema`. `covers_log_offset`
    /// goes into the footer: every change below it is in the LSM once this SST is installed.
    pub async fn create<S: Storage<File = F>>(
        storage: &S,
        id: u64,
        schema: &Schema,
        options: SstOptions,
        covers_log_offset: i64,
    ) -> Result<Self> {
        let file_name = sst_name(id);
        let name = storage.describe(&file_name);
        if schema.columns.len() > usize::from(u16::MAX) - SYSTEM_COLUMNS {
            return Err(Error::invalid_batch(format!("SST {name}: {} columns are too many", schema.columns.len())));
        }
        let arrow = sst_arrow_schema(schema);
        let alignment = block_alignment(&arrow);
        let mut empty = Vec::new();
        encode_ipc_aligned(&RecordBatch::new_empty(arrow.clone()), options.compression, alignment, &mut empty)?;
        let file = storage.open(&file_name, true).await?;
        if file.size().await? > 0 {
            // Left over from a write that crashed before the SST was installed.
            file.truncate(0).await?;
        }
        Ok(Self {
            file,
            name,
            id,
            schema: schema.clone(),
            arrow,
            options,
            covers_log_offset,
            out: Vec::with_capacity(WRITE_BUFFER_BYTES + options.block_bytes_target * 2),
            out_at: 0,
            pending: VecDeque::new(),
            pending_rows: 0,
            sizing: BlockSizing {
                target_bytes: options.block_bytes_target,
                overhead_bytes: empty.len(),
                row_bytes: None,
            },
            blocks: Vec::new(),
            stats: Vec::new(),
            key_hashes: Vec::new(),
            last_key: None,
            rows: 0,
            tombstones: 0,
            fill: None,
            alignment,
        })
    }

    /// Also puts each block written into `cache` under `key` (decoded into `arrow`, which
    /// must be the schema this SST's readers decode into) while the cache has room for it.
    pub fn with_cache_fill(mut self, cache: Rc<BlockCache>, key: u64, arrow: SchemaRef) -> Self {
        self.fill = Some(CacheFill { cache, key, arrow });
        self
    }

    /// Rows added so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes of data blocks encoded so far (rows still pending are not counted): lets a
    /// compaction cut its output into files of a target size.
    pub fn data_bytes(&self) -> u64 {
        self.out_at + self.out.len() as u64
    }

    /// Adds rows in the SST Arrow schema. Keys must be non-null and strictly ascending, also
    /// across calls; tombstone rows must have null values.
    pub async fn add(&mut self, rows: &RecordBatch) -> Result<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        self.check_rows(rows)?;
        let rows = RecordBatch::try_new(self.arrow.clone(), rows.columns().to_vec())
            .map_err(|e| Error::arrow(format!("adding rows to SST {}", self.name), e))?;
        let (keys, tombstones) = system_columns(&rows, &self.name)?;
        self.key_hashes.extend(keys.iter().flatten().map(hash64));
        self.last_key = Some(keys.value(keys.len() - 1).to_vec());
        self.tombstones += tombstones.true_count() as u64;
        self.rows += rows.num_rows() as u64;
        self.pending_rows += rows.num_rows();
        self.pending.push_back(rows);
        loop {
            let block_rows = self.block_rows()?;
            if self.pending_rows < block_rows {
                return Ok(());
            }
            self.cut_block(block_rows).await?;
            // A chunk can hold many blocks: make way for a foreground wait between them.
            crate::kv::step::checkpoint().await;
        }
    }

    /// Writes the remaining rows, the index, bloom filter, statistics and footer, syncs and
    /// closes the file. An SST with no rows is an error (and the empty file is left to the
    /// caller to remove).
    pub async fn finish(mut self) -> Result<SstMeta> {
        let Some(last_key) = self.last_key.take() else {
            return Err(Error::invalid_batch(format!("SST {}: an SST needs at least one row", self.name)));
        };
        while self.pending_rows > 0 {
            let block_rows = self.block_rows()?.min(self.pending_rows);
            self.cut_block(block_rows).await?;
        }
        let footer = self.write_sections().await?;
        let file_bytes = self.out_at + self.out.len() as u64;
        debug_assert!(file_bytes % WRITE_ALIGNMENT as u64 == 0, "the footer ends on a 4 KiB boundary");
        self.flush().await?;
        debug_assert!(self.out.is_empty());
        crate::kv::step::before_background_io().await;
        self.file.sync().await?;
        self.file.close().await?;
        Ok(SstMeta {
            id: self.id,
            file_bytes,
            rows: self.rows,
            tombstones: self.tombstones,
            first_key: self.blocks.first().map(|b| b.first_key.clone()).unwrap_or_default(),
            last_key,
            covers_log_offset: self.covers_log_offset,
            schema_id: footer.schema_id.get(),
        })
    }

    /// Checks `rows` against the SST schema, key order and tombstone values.
    fn check_rows(&self, rows: &RecordBatch) -> Result<()> {
        let fields = rows.schema_ref().fields().iter().map(|f| f.data_type().clone()).collect::<Vec<_>>();
        let expected = self.arrow.fields().iter().map(|f| f.data_type().clone()).collect::<Vec<_>>();
        if fields != expected {
            return Err(Error::SchemaMismatch {
                bucket: String::from("-"),
                expected: format!("SST rows of schema {}: {expected:?}", self.schema.id),
                actual: format!("{fields:?}"),
            });
        }
        let (keys, tombstones) = system_columns(rows, &self.name)?;
        if keys.null_count() > 0 || tombstones.null_count() > 0 {
            return Err(self.invalid("_key and _tombstone must not be null".into()));
        }
        let mut previous = self.last_key.as_deref();
        for (row, key) in keys.iter().flatten().enumerate() {
            if let Some(p) = previous.filter(|p| *p >= key) {
                return Err(self.invalid(format!(
                    "keys must be strictly ascending: key {} at row {row} follows {}",
                    show_key(key),
                    show_key(p)
                )));
            }
            previous = Some(key);
        }
        if tombstones.true_count() > 0 {
            for column in rows.columns().iter().skip(SYSTEM_COLUMNS).filter(|c| c.null_count() < c.len()) {
                if let Some(row) = tombstones.values().set_indices().find(|&row| column.is_valid(row)) {
                    return Err(self.invalid(format!("the tombstone at row {row} has a non-null value")));
                }
            }
        }
        Ok(())
    }

    fn invalid(&self, reason: String) -> Error {
        Error::invalid_batch(format!("SST {}: {reason}", self.name))
    }

    /// Rows for the next block (estimating the row size from a probe before the first block).
    fn block_rows(&mut self) -> Result<usize> {
        if let Some(rows) = self.sizing.rows() {
            return Ok(rows);
        }
        let Some(front) = self.pending.front() else { return Ok(BLOCK_ROWS_MAX) };
        let probe = front.slice(0, front.num_rows().min(PROBE_ROWS));
        let mut bytes = Vec::new();
        encode_ipc_aligned(&probe, self.options.compression, self.alignment, &mut bytes)?;
        self.sizing.observe(bytes.len(), probe.num_rows());
        Ok(self.sizing.rows().unwrap_or(1))
    }

    /// Encodes the next `rows` pending rows as one block.
    async fn cut_block(&mut self, rows: usize) -> Result<()> {
        let block = self.take_pending(rows)?;
        let start = self.out.len();
        let offset = self.out_at + start as u64;
        encode_ipc_aligned(&block, self.options.compression, self.alignment, &mut self.out)?;
        let len = self.out.len() - start;
        let crc = self.out.get(start..).map(crc32c).unwrap_or_default();
        self.fill_cache(start, len)?;
        self.out.resize(self.out.len().next_multiple_of(self.alignment), 0);
        self.sizing.observe(len, rows);
        let stats_len = self.block_stats(&block)?;
        let (keys, tombstones) = system_columns(&block, &self.name)?;
        self.blocks.push(BlockInfo {
            offset,
            len: u32::try_from(len).map_err(|_| self.invalid(format!("a block of {len} bytes is too large")))?,
            rows: rows as u32,
            tombstones: tombstones.true_count() as u32,
            crc,
            first_key: keys.value(0).to_vec(),
            last_key: keys.value(rows - 1).to_vec(),
            stats_len,
        });
        if self.out.len() >= WRITE_BUFFER_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Puts the block just encoded at `out[start..start + len]` (the next block index) into
    /// the fill cache when it has room.
    fn fill_cache(&self, start: usize, len: usize) -> Result<()> {
        let Some(fill) = &self.fill else { return Ok(()) };
        if !fill.cache.has_room(len) {
            return Ok(());
        }
        let bytes = self.out.get(start..start + len).unwrap_or_default();
        let block = ipc::decode_detached(bytes, Arc::clone(&fill.arrow))
            .map_err(|e| self.invalid(format!("block {} does not decode after encoding: {e}", self.blocks.len())))?;
        fill.cache.insert_if_room(fill.key, self.blocks.len(), Arc::new(block));
        Ok(())
    }

    /// Removes the first `rows` pending rows and returns them as one batch.
    fn take_pending(&mut self, rows: usize) -> Result<RecordBatch> {
        debug_assert!(rows > 0 && rows <= self.pending_rows);
        let mut parts = Vec::new();
        let mut needed = rows;
        while needed > 0 {
            let Some(front) = self.pending.pop_front() else {
                return Err(self.invalid(format!("{rows} rows wanted, {} pending", self.pending_rows)));
            };
            let len = front.num_rows();
            if len <= needed {
                needed -= len;
                parts.push(front);
            } else {
                parts.push(front.slice(0, needed));
                self.pending.push_front(front.slice(needed, len - needed));
                needed = 0;
            }
        }
        self.pending_rows -= rows;
        match parts.len() {
            1 => parts.pop().ok_or_else(|| self.invalid("no rows".into())),
            _ => arrow_select::concat::concat_batches(&self.arrow, &parts)
                .map_err(|e| Error::arrow(format!("gathering a block of SST {}", self.name), e)),
        }
    }

    /// Appends the statistics of a block's table columns to the statistics section.
    fn block_stats(&mut self, block: &RecordBatch) -> Result<u32> {
        let columns: Vec<usize> = (SYSTEM_COLUMNS..block.num_columns()).collect();
        let values = block.project(&columns).map_err(|e| Error::arrow("projecting block values", e))?;
        let before = self.stats.len();
        stats::encode(&self.schema, &stats::compute(&self.schema, &values)?, &mut self.stats)?;
        Ok((self.stats.len() - before) as u32)
    }

    /// Appends index, bloom, statistics, padding and footer to the buffer; returns the footer.
    async fn write_sections(&mut self) -> Result<Footer> {
        let data_len = self.out_at + self.out.len() as u64;
        let mut at = self.out.len();
        encode_index(&self.blocks, &mut self.out);
        let index = self.out.get(at..).unwrap_or_default();
        let (index_len, index_crc) = (index.len() as u64, crc32c(index));
        at = self.out.len();
        self.bloom().await.encode(&mut self.out);
        let bloom = self.out.get(at..).unwrap_or_default();
        let (bloom_len, bloom_crc) = (bloom.len() as u64, crc32c(bloom));
        let stats_len = self.stats.len() as u64;
        let stats_crc = crc32c(&self.stats);
        self.out.append(&mut self.stats);
        let end = self.out_at + self.out.len() as u64;
        let file_bytes = (end + FOOTER_LEN as u64).next_multiple_of(WRITE_ALIGNMENT as u64);
        self.out.resize((file_bytes - FOOTER_LEN as u64 - self.out_at) as usize, 0);
        let footer = Footer {
            magic: SST_MAGIC,
            version: SST_VERSION.into(),
            column_count: (self.schema.columns.len() as u16).into(),
            schema_id: self.schema.id.into(),
            compression: compression_code(self.options.compression),
            reserved: 0,
            schema_crc: schema_crc(&self.schema.columns).into(),
            id: self.id.into(),
            covers_log_offset: self.covers_log_offset.into(),
            rows: self.rows.into(),
            tombstones: self.tombstones.into(),
            block_count: u32::try_from(self.blocks.len()).map_err(|_| self.invalid("too many blocks".into()))?.into(),
            index_crc: index_crc.into(),
            data_len: data_len.into(),
            index_offset: data_len.into(),
            index_len: index_len.into(),
            bloom_offset: (data_len + index_len).into(),
            bloom_len: bloom_len.into(),
            stats_offset: (data_len + index_len + bloom_len).into(),
            stats_len: stats_len.into(),
            bloom_crc: bloom_crc.into(),
            stats_crc: stats_crc.into(),
            reserved2: 0.into(),
            footer_crc: 0.into(),
        }
        .seal();
        self.out.extend_from_slice(zerocopy::IntoBytes::as_bytes(&footer));
        Ok(footer)
    }

    /// The bloom filter over every key added, yielding to the executor now and then.
    async fn bloom(&self) -> Bloom {
        let mut bloom = Bloom::new(self.key_hashes.len(), self.options.bloom_bits_per_key);
        for chunk in self.key_hashes.chunks(BLOOM_KEYS_PER_YIELD) {
            bloom.insert_all(chunk);
            crate::kv::step::end_of_step().await;
        }
        bloom
    }

    /// Writes the 4 KiB-aligned prefix of the buffer.
    async fn flush(&mut self) -> Result<()> {
        let aligned = self.out.len() / WRITE_ALIGNMENT * WRITE_ALIGNMENT;
        if aligned == 0 {
            return Ok(());
        }
        debug_assert!(self.out_at % WRITE_ALIGNMENT as u64 == 0);
        crate::kv::step::before_background_io().await;
        self.file.write_at(self.out_at, self.out.get(..aligned).unwrap_or_default()).await?;
        self.out.drain(..aligned);
        self.out_at += aligned as u64;
        Ok(())
    }
}

/// The `_key` and `_tombstone` columns of SST rows.
fn system_columns<'a>(
    rows: &'a RecordBatch,
    name: &str,
) -> Result<(&'a arrow_array::BinaryArray, &'a arrow_array::BooleanArray)> {
    match (key_column(rows), tombstone_column(rows)) {
        (Some(keys), Some(tombstones)) => Ok((keys, tombstones)),
        _ => Err(Error::invalid_batch(format!("SST {name}: rows lack the _key and _tombstone columns"))),
    }
}

/// A key for error messages: hex, cut after 32 bytes.
pub(super) fn show_key(key: &[u8]) -> String {
    let hex: String = key.iter().take(32).map(|b| format!("{b:02x}")).collect();
    if key.len() > 32 {
        format!("0x{hex}.. ({} bytes)", key.len())
    } else {
        format!("0x{hex}")
    }
}
