//! [`SstReader`]: opens an SST (footer, index, bloom and statistics verified and kept in
//! memory), answers point lookups with one block read, and scans blocks in order.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{new_null_array, Array, RecordBatch};
use arrow_buffer::Buffer;
use arrow_schema::SchemaRef;
use zerocopy::FromBytes;

use super::bloom::Bloom;
use super::format::{decode_index, schema_crc, BlockInfo, Footer, FOOTER_LEN};
use super::key_prefixes::{key_prefix, run_from, KeyPrefixes};
use super::{key_column, sst_arrow_schema, sst_name, SstMeta, SstRow};
use crate::batch::crc::crc32c;
use crate::batch::ipc;
use crate::batch::stats::{self, BatchStats, ColumnStats};
use crate::error::{Error, Result};
use crate::kv::cache::BlockCache;
use crate::log::{Storage, StorageFile};
use crate::schema::Schema;

/// Bytes a scan reads at once (whole blocks, at least one).
pub const SCAN_READ_BYTES: u64 = 1 << 20;

/// An open SST. Index, bloom filter and block statistics live in memory; blocks are read on
/// demand. Single-threaded, like the shard that owns it.
pub struct SstReader<F: StorageFile> {
    file: F,
    /// The file as error messages name it.
    name: String,
    meta: SstMeta,
    pub(super) blocks: Vec<BlockInfo>,
    /// The first 8 bytes of each block's last key as a big-endian number, contiguous: the
    /// block search runs over these and compares whole keys only among equal prefixes.
    last_key_prefixes: KeyPrefixes,
    /// The same of each block's first key: most lookups decide `first_key <= key` from these,
    /// without reaching for the key bytes (two more cache misses).
    first_key_prefixes: Vec<u64>,
    bloom: Bloom,
    stats: Vec<BatchStats>,
    /// Arrow schema of the stored columns (named as the reader's schema names them).
    stored: SchemaRef,
    /// Arrow schema blocks are returned in: the reader's schema, newer columns null.
    arrow: SchemaRef,
    /// The key of this SST's blocks in a shared block cache (see `cache::cache_key`).
    cache_key: u64,
}

/// What [`SstReader::open`] reads besides the file.
struct Loaded {
    meta: SstMeta,
    pub(super) blocks: Vec<BlockInfo>,
    bloom: Bloom,
    stats: Vec<BatchStats>,
    stored: SchemaRef,
}

impl<F: StorageFile> SstReader<F> {
    /// Opens `<id>.sst` for rows of `schema`: the schema it was written with, or a newer one
    /// that only added columns at the end (they read as null). Reads and verifies the footer,
    /// index, bloom filter and statistics; a damaged file is an [`Error::Corruption`] naming
    /// the file, the byte position and what is wrong; an incompatible schema is an
    /// [`Error::SchemaMismatch`].
    pub async fn open<S: Storage<File = F>>(storage: &S, id: u64, schema: &Schema) -> Result<Self> {
        let name = storage.describe(&sst_name(id));
        let file = storage.open(&sst_name(id), false).await?;
        match load(&file, &name, id, schema).await {
            Ok(loaded) => Ok(Self {
                file,
                name,
                meta: loaded.meta,
                last_key_prefixes: KeyPrefixes::new(loaded.blocks.iter().map(|b| b.last_key.as_slice())),
                first_key_prefixes: loaded.blocks.iter().map(|b| key_prefix(&b.first_key)).collect(),
                blocks: loaded.blocks,
                bloom: loaded.bloom,
                stats: loaded.stats,
                stored: loaded.stored,
                arrow: sst_arrow_schema(schema),
                cache_key: id,
            }),
            Err(e) => {
                // The open error matters more than a failure to close.
                let _ = file.close().await;
                Err(e)
            }
        }
    }

    /// Keys this SST's blocks in a block cache shared by several LSMs under `namespace`
    /// (from `BlockCache::new_namespace`).
    pub fn with_cache_namespace(mut self, namespace: u64) -> Self {
        self.cache_key = super::super::cache::cache_key(namespace, self.meta.id);
        self
    }

    /// Decodes blocks into `arrow` (an `Arc` shared with the other readers and writers of the
    /// LSM, so a cached block is recognised by pointer) when it equals this reader's schema.
    pub fn with_arrow_schema(mut self, arrow: SchemaRef) -> Self {
        if arrow == self.arrow {
            self.arrow = arrow;
        }
        self
    }

    /// The key of this SST's blocks in the block cache.
    pub fn cache_key(&self) -> u64 {
        self.cache_key
    }

    /// What the SST holds.
    pub fn meta(&self) -> &SstMeta {
        &self.meta
    }

    /// The Arrow schema of the blocks this reader returns.
    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.arrow
    }

    /// Number of data blocks (at least 1).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Where block `i` starts and ends in the file.
    pub fn block_span(&self, i: usize) -> Option<Range<u64>> {
        self.blocks.get(i).map(|b| b.offset..b.end())
    }

    /// Rows in block `i`.
    pub fn block_rows(&self, i: usize) -> Option<usize> {
        self.blocks.get(i).map(|b| b.rows as usize)
    }

    /// First and last key of block `i`.
    pub fn block_keys(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.blocks.get(i).map(|b| (b.first_key.as_slice(), b.last_key.as_slice()))
    }

    /// Statistics of block `i`'s table columns (tombstones count as nulls; columns added
    /// after the SST was written are all null).
    pub fn block_stats(&self, i: usize) -> Option<&BatchStats> {
        self.stats.get(i)
    }

    /// Bytes of memory the index, bloom filter and statistics take (roughly).
    pub fn resident_bytes(&self) -> usize {
        let keys: usize = self.blocks.iter().map(|b| b.first_key.len() + b.last_key.len()).sum();
        let stats = self.stats.len() * size_of::<BatchStats>()
            + self.stats.iter().map(|s| s.columns.len() * size_of::<ColumnStats>()).sum::<usize>();
        let prefixes = self.last_key_prefixes.resident_bytes() + self.first_key_prefixes.len() * size_of::<u64>();
        keys + self.blocks.len() * size_of::<BlockInfo>() + (self.bloom.bits() / 8) as usize + stats + prefixes
    }

    /// False only when `key` is certainly not in the SST (bloom filter).
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.bloom.may_contain(key)
    }

    /// The block whose key range holds `key`, if any.
    pub fn block_for(&self, key: &[u8]) -> Option<usize> {
        // Blocks are sorted by last key, so by its prefix too: those with a smaller prefix end
        // below `key`, those with a larger one end above it; only equal prefixes need keys.
        let prefix = key_prefix(key);
        let equal = self.last_key_prefixes.equal_range(prefix);
        let from = equal.start;
        let i = from + self.blocks.get(equal).unwrap_or_default().partition_point(|b| b.last_key.as_slice() < key);
        debug_assert_eq!(i, self.blocks.partition_point(|b| b.last_key.as_slice() < key));
        // A smaller first-key prefix means a smaller first key; only equal ones need the bytes.
        if self.first_key_prefixes.get(i).is_some_and(|&p| p < prefix) {
            return Some(i);
        }
        self.blocks.get(i).filter(|b| b.first_key.as_slice() <= key).map(|_| i)
    }

    /// Asks the CPU for the parts of the block index [`Self::block_for`] of `key` reads: a
    /// batched lookup hints all its keys first, so their cache misses overlap.
    pub fn prefetch_block_index(&self, key: &[u8]) {
        let low = self.last_key_prefixes.prefetch(key_prefix(key));
        crate::kv::prefetch::prefetch_slice(run_from(&self.first_key_prefixes, low));
    }

    /// The blocks that may hold keys starting with `prefix` (all blocks for an empty prefix;
    /// an empty range when none can).
    pub fn blocks_for_prefix(&self, prefix: &[u8]) -> Range<usize> {
        let start = self.blocks.partition_point(|b| b.last_key.as_slice() < prefix);
        // A block's first key is below every key after the prefix range exactly when it is
        // below the prefix or starts with it.
        let end = self.blocks.partition_point(|b| b.first_key.as_slice() < prefix || b.first_key.starts_with(prefix));
        start..end.max(start)
    }

    /// Looks `key` up: bloom filter, index, one block read (through `cache`), binary search.
    /// A found tombstone is returned as a row ([`SstRow::is_tombstone`]): it hides older SSTs.
    pub async fn get(&self, key: &[u8], cache: &BlockCache) -> Result<Option<SstRow>> {
        if !self.may_contain(key) {
            return Ok(None);
        }
        self.get_unfiltered(key, cache).await
    }

    /// False only when the key whose [`hash64`](super::hash64) is `hash` is certainly not in
    /// the SST: a caller probing several SSTs hashes the key once and checks each filter
    /// before it builds a lookup future.
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        self.bloom.may_contain_hash(hash)
    }

    /// Asks the CPU for the bloom filter words [`Self::may_contain_hash`] of `hash` reads: a
    /// batched lookup hints all its keys first, so their cache misses overlap.
    pub fn prefetch_bloom(&self, hash: u64) {
        self.bloom.prefetch_hash(hash);
    }

    /// [`Self::get`] without the bloom filter (the caller checked it): index, one block read
    /// (through `cache`), binary search.
    pub async fn get_unfiltered(&self, key: &[u8], cache: &BlockCache) -> Result<Option<SstRow>> {
        let Some(i) = self.block_for(key) else { return Ok(None) };
        let block = self.read_block(i, cache).await?;
        self.find_in_block(i, block, key)
    }

    /// `key`'s row in `block` (block `i` of this SST), by binary search.
    pub fn find_in_block(&self, i: usize, block: Arc<RecordBatch>, key: &[u8]) -> Result<Option<SstRow>> {
        let keys = key_column(&block).ok_or_else(|| self.corrupt(0, format!("block {i} has no _key column")))?;
        let (mut low, mut high) = (0usize, keys.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match keys.value(mid).cmp(key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(Some(SstRow { block, row: mid })),
            }
        }
        Ok(None)
    }

    /// Block `i`, from `cache` or read, verified and decoded (then cached).
    pub async fn read_block(&self, i: usize, cache: &BlockCache) -> Result<Arc<RecordBatch>> {
        if let Some(block) = self.cached_block(i, cache) {
            return Ok(block);
        }
        let block = Arc::new(self.load_block(i).await?);
        cache.insert(self.cache_key, i, Arc::clone(&block));
        Ok(block)
    }

    /// Block `i` if `cache` holds it (decoded in this reader's schema).
    pub fn cached_block(&self, i: usize, cache: &BlockCache) -> Option<Arc<RecordBatch>> {
        let block = cache.get(self.cache_key, i)?;
        // A reader opened with another schema version may have cached it differently.
        (Arc::ptr_eq(block.schema_ref(), &self.arrow) || block.schema_ref() == &self.arrow).then_some(block)
    }

    /// Block `i`, read, verified and decoded, bypassing any cache. Its arrays hold only the
    /// block's body (no IPC metadata): it is fit to be cached.
    pub async fn load_block(&self, i: usize) -> Result<RecordBatch> {
        let b = self.blocks.get(i).ok_or_else(|| self.corrupt(0, format!("no block {i} of {}", self.blocks.len())))?;
        let bytes = self.file.read_at(b.offset, b.len as usize).await?;
        self.decode_block(i, Buffer::from_vec(bytes), Decode::Detached)
    }

    /// Scans every block in key order (for compaction and snapshots), reading ahead.
    pub fn scan(&self) -> SstScan<'_, F> {
        self.scan_blocks(0..self.blocks.len())
    }

    /// Scans the blocks `range` in key order (e.g. [`Self::blocks_for_prefix`]).
    pub fn scan_blocks(&self, range: Range<usize>) -> SstScan<'_, F> {
        let end = range.end.min(self.blocks.len());
        SstScan { reader: self, next: range.start.min(end), end, ahead: ReadAhead::new(SCAN_READ_BYTES) }
    }

    /// Every block, in key order (a convenience over [`Self::scan`] for small SSTs).
    pub async fn read_all_blocks(&self) -> Result<Vec<RecordBatch>> {
        let mut scan = self.scan();
        let mut blocks = Vec::with_capacity(self.blocks.len());
        while let Some(block) = scan.next().await? {
            blocks.push(block);
        }
        Ok(blocks)
    }

    /// Closes the file.
    pub async fn close(self) -> Result<()> {
        self.file.close().await
    }

    /// Checks the block's CRC and decodes it, padding columns newer than the SST with nulls.
    fn decode_block(&self, i: usize, bytes: Buffer, how: Decode) -> Result<RecordBatch> {
        let b = self.blocks.get(i).ok_or_else(|| self.corrupt(0, format!("no block {i}")))?;
        if bytes.len() != b.len as usize {
            return Err(self.corrupt(b.offset, format!("block {i} of {} bytes is cut off at {}", b.len, bytes.len())));
        }
        let actual = crc32c(bytes.as_slice());
        if actual != b.crc {
            let reason = format!("block {i} CRC32C mismatch: stored {:#010x}, computed {actual:#010x}", b.crc);
            return Err(self.corrupt(b.offset, reason));
        }
        // Without added columns the blocks decode straight into the reader's schema (same
        // types, maybe other names): no second batch to rename them.
        let same_columns = self.stored.fields().len() == self.arrow.fields().len();
        let schema = Arc::clone(if same_columns { &self.arrow } else { &self.stored });
        let batch = match how {
            Decode::InPlace => ipc::decode(&bytes, schema, false),
            Decode::Detached => ipc::decode_detached(bytes.as_slice(), schema),
        }
        .map_err(|e| self.corrupt(b.offset, format!("block {i} does not decode: {e}")))?;
        let keys = key_column(&batch);
        let rows = batch.num_rows();
        let keys_match = keys.is_some_and(|k| {
            rows == b.rows as usize
                && k.value(0) == b.first_key.as_slice()
                && k.value(rows - 1) == b.last_key.as_slice()
        });
        if !keys_match {
            return Err(self.corrupt(b.offset, format!("block {i} disagrees with the index (rows or key range)")));
        }
        if same_columns {
            return Ok(batch);
        }
        let mut columns = batch.columns().to_vec();
        columns.extend(self.arrow.fields().iter().skip(columns.len()).map(|f| new_null_array(f.data_type(), rows)));
        RecordBatch::try_new(Arc::clone(&self.arrow), columns)
            .map_err(|e| Error::arrow(format!("padding block {i} of {} with new columns", self.name), e))
    }

    fn corrupt(&self, position: u64, reason: String) -> Error {
        corruption(&self.name, position, reason)
    }
}

/// Where a decoded block's arrays point.
#[derive(Clone, Copy)]
enum Decode {
    /// Into the bytes read (a scan's chunk: short-lived, shared by its blocks).
    InPlace,
    /// Into a copy of the block's body alone (a block the cache may keep).
    Detached,
}

fn corruption(name: &str, position: u64, reason: String) -> Error {
    Error::Corruption { bucket: String::from("-"), segment: name.to_string(), offset: -1, position, reason }
}

/// Reads and verifies the footer and the index, bloom and statistics sections.
async fn load<F: StorageFile>(file: &F, name: &str, id: u64, schema: &Schema) -> Result<Loaded> {
    let size = file.size().await?;
    let corrupt = |position: u64, reason: String| corruption(name, position, reason);
    let footer_at = size
        .checked_sub(FOOTER_LEN as u64)
        .ok_or_else(|| corrupt(0, format!("file of {size} bytes is shorter than the {FOOTER_LEN}-byte footer")))?;
    let raw = file.read_at(footer_at, FOOTER_LEN).await?;
    let footer = Footer::read_from_bytes(&raw).map_err(|_| corrupt(footer_at, "footer cut short".into()))?;
    footer.check().map_err(|reason| corrupt(footer_at, reason))?;
    check_footer(&footer, id, footer_at).map_err(|reason| corrupt(footer_at, reason))?;
    let stored = stored_schema(&footer, schema, name)?;
    let start = footer.index_offset.get();
    let len = (footer.stats_offset.get() + footer.stats_len.get() - start) as usize;
    let sections = file.read_at(start, len).await?;
    if sections.len() != len {
        return Err(corrupt(start, format!("sections of {len} bytes are cut off at {}", sections.len())));
    }
    let (index, rest) = sections
        .split_at_checked(footer.index_len.get() as usize)
        .ok_or_else(|| corrupt(start, "index overruns the sections".into()))?;
    let (bloom, stats_bytes) = rest
        .split_at_checked(footer.bloom_len.get() as usize)
        .ok_or_else(|| corrupt(start, "bloom overruns the sections".into()))?;
    for (what, bytes, at, stored_crc) in [
        ("index", index, start, footer.index_crc.get()),
        ("bloom", bloom, footer.bloom_offset.get(), footer.bloom_crc.get()),
        ("statistics", stats_bytes, footer.stats_offset.get(), footer.stats_crc.get()),
    ] {
        let actual = crc32c(bytes);
        if actual != stored_crc {
            return Err(corrupt(
                at,
                format!("{what} CRC32C mismatch: stored {stored_crc:#010x}, computed {actual:#010x}"),
            ));
        }
    }
    let blocks = decode_index(index, footer.block_count.get() as usize, footer.data_len.get())
        .map_err(|reason| corrupt(start, format!("index: {reason}")))?;
    check_totals(&footer, &blocks).map_err(|reason| corrupt(start, reason))?;
    let bloom = Bloom::decode(bloom).map_err(|reason| corrupt(footer.bloom_offset.get(), reason))?;
    let stats = decode_stats(&blocks, stats_bytes, &stored, schema)
        .await
        .map_err(|reason| corrupt(footer.stats_offset.get(), reason))?;
    let meta = SstMeta {
        id,
        file_bytes: size,
        rows: footer.rows.get(),
        tombstones: footer.tombstones.get(),
        first_key: blocks.first().map(|b| b.first_key.clone()).unwrap_or_default(),
        last_key: blocks.last().map(|b| b.last_key.clone()).unwrap_or_default(),
        covers_log_offset: footer.covers_log_offset.get(),
        schema_id: footer.schema_id.get(),
    };
    Ok(Loaded { meta, blocks, bloom, stats, stored: sst_arrow_schema(&stored) })
}

/// Checks the footer's id, counts and that the sections follow each other before it.
fn check_footer(footer: &Footer, id: u64, footer_at: u64) -> std::result::Result<(), String> {
    if footer.id.get() != id {
        return Err(format!("footer names SST {}, the file name {id}", footer.id.get()));
    }
    if footer.rows.get() == 0 || footer.block_count.get() == 0 || footer.tombstones.get() > footer.rows.get() {
        return Err(format!(
            "{} rows, {} tombstones in {} blocks",
            footer.rows.get(),
            footer.tombstones.get(),
            footer.block_count.get()
        ));
    }
    let index_end = footer.index_offset.get().checked_add(footer.index_len.get());
    let bloom_end = footer.bloom_offset.get().checked_add(footer.bloom_len.get());
    let stats_end = footer.stats_offset.get().checked_add(footer.stats_len.get());
    let in_order = footer.index_offset.get() == footer.data_len.get()
        && index_end == Some(footer.bloom_offset.get())
        && bloom_end == Some(footer.stats_offset.get())
        && stats_end.is_some_and(|end| end <= footer_at);
    if !in_order {
        return Err(format!(
            "sections out of place: data ends at {}, index {}+{}, bloom {}+{}, statistics {}+{}, footer at {footer_at}",
            footer.data_len.get(),
            footer.index_offset.get(),
            footer.index_len.get(),
            footer.bloom_offset.get(),
            footer.bloom_len.get(),
            footer.stats_offset.get(),
            footer.stats_len.get()
        ));
    }
    Ok(())
}

/// The schema the SST was written with: the first `column_count` columns of `schema`, whose
/// types must be the stored ones.
fn stored_schema(footer: &Footer, schema: &Schema, name: &str) -> Result<Schema> {
    let count = usize::from(footer.column_count.get());
    let mismatch = |actual: String| Error::SchemaMismatch {
        bucket: String::from("-"),
        expected: format!("SST {name}: schema {} with {count} columns", footer.schema_id.get()),
        actual,
    };
    let columns = schema
        .columns
        .get(..count)
        .ok_or_else(|| mismatch(format!("reader schema {} has only {} columns", schema.id, schema.columns.len())))?;
    if schema_crc(columns) != footer.schema_crc.get() {
        return Err(mismatch(format!("reader schema {} changed the type of a stored column", schema.id)));
    }
    Ok(Schema { id: footer.schema_id.get(), columns: columns.to_vec() })
}

/// Checks that the blocks add up to the footer's counts.
fn check_totals(footer: &Footer, blocks: &[BlockInfo]) -> std::result::Result<(), String> {
    let rows: u64 = blocks.iter().map(|b| u64::from(b.rows)).sum();
    let tombstones: u64 = blocks.iter().map(|b| u64::from(b.tombstones)).sum();
    let stats: u64 = blocks.iter().map(|b| u64::from(b.stats_len)).sum();
    if rows != footer.rows.get() || tombstones != footer.tombstones.get() || stats != footer.stats_len.get() {
        return Err(format!(
            "blocks hold {rows} rows, {tombstones} tombstones, {stats} statistics bytes; the footer says {}, {}, {}",
            footer.rows.get(),
            footer.tombstones.get(),
            footer.stats_len.get()
        ));
    }
    Ok(())
}

/// Blocks whose statistics are decoded between two yields to the executor (a 64 MiB SST has
/// about 16 000 blocks: decoding them all was a step of several milliseconds).
const STATS_BLOCKS_PER_YIELD: usize = 1024;

/// Decodes each block's statistics with the stored schema, then adds the columns the reader's
/// schema added as all-null.
async fn decode_stats(
    blocks: &[BlockInfo],
    mut bytes: &[u8],
    stored: &Schema,
    schema: &Schema,
) -> std::result::Result<Vec<BatchStats>, String> {
    let mut all = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let (blob, rest) =
            bytes.split_at_checked(b.stats_len as usize).ok_or_else(|| format!("statistics of block {i} overrun"))?;
        bytes = rest;
        let mut block_stats = match blob.is_empty() {
            true => BatchStats { row_count: b.rows, columns: Vec::new() },
            false => stats::decode(stored, blob, b.rows).map_err(|e| format!("statistics of block {i}: {e}"))?,
        };
        for (column, c) in schema.columns.iter().enumerate().skip(stored.columns.len()) {
            if stats::is_stats_type(&c.data_type) {
                block_stats.columns.push(ColumnStats {
                    column: column as u16,
                    null_count: b.rows,
                    min: None,
                    max: None,
                });
            }
        }
        all.push(block_stats);
        if (i + 1) % STATS_BLOCKS_PER_YIELD == 0 {
            crate::kv::step::end_of_step().await;
        }
    }
    Ok(all)
}

/// Reads blocks of an SST in key order, [`SCAN_READ_BYTES`] at a time. Blocks it returns
/// share the memory of one read: keep them only as long as the scan needs them (or copy).
pub struct SstScan<'a, F: StorageFile> {
    reader: &'a SstReader<F>,
    next: usize,
    end: usize,
    ahead: ReadAhead,
}

impl<F: StorageFile> SstScan<'_, F> {
    /// The index of the block the next call returns.
    pub fn position(&self) -> usize {
        self.next
    }

    /// The next block, or `None` after the last.
    pub async fn next(&mut self) -> Result<Option<RecordBatch>> {
        if self.next >= self.end {
            return Ok(None);
        }
        let block = self.ahead.block(self.reader, self.next, self.end).await?;
        self.next += 1;
        Ok(Some(block))
    }
}

/// The read-ahead of a scan over one SST: one read of whole blocks, up to `read_bytes` (at
/// least one block), serves the blocks after it until the scan passes its end. Blocks share
/// the memory of their read.
pub struct ReadAhead {
    read_bytes: u64,
    /// Whether the reads are background work ([`crate::kv::step::before_background_io`]).
    background: bool,
    /// Where the blocks' arrays point: into the bytes read, or copies fit to be cached.
    decode: Decode,
    /// Bytes read ahead, starting at file position `chunk_at`.
    chunk: Buffer,
    chunk_at: u64,
}

impl ReadAhead {
    /// A read-ahead reading `read_bytes` at a time.
    pub fn new(read_bytes: u64) -> Self {
        Self {
            read_bytes,
            background: false,
            decode: Decode::InPlace,
            chunk: Buffer::from_vec(Vec::<u8>::new()),
            chunk_at: 0,
        }
    }

    /// Decodes each block into a copy of its body alone, fit to be cached (by default the
    /// blocks share the memory of their read).
    pub fn detached(mut self) -> Self {
        self.decode = Decode::Detached;
        self
    }

    /// Marks the reads as background work: each waits for the foreground's I/O waits first.
    pub fn background(mut self) -> Self {
        self.background = true;
        self
    }

    /// Forgets what was read (call it before reading another SST with the same read-ahead).
    pub fn reset(&mut self) {
        self.chunk = Buffer::from_vec(Vec::<u8>::new());
        self.chunk_at = 0;
    }

    /// Block `i` of `reader`, reading ahead up to block `end` (exclusive) when it is not in
    /// the bytes already read.
    pub async fn block<F: StorageFile>(&mut self, reader: &SstReader<F>, i: usize, end: usize) -> Result<RecordBatch> {
        let blocks = &reader.blocks;
        let b = blocks.get(i).ok_or_else(|| reader.corrupt(0, format!("no block {i} of {}", blocks.len())))?;
        let chunk_end = self.chunk_at + self.chunk.len() as u64;
        if b.offset < self.chunk_at || b.end() > chunk_end {
            let last = blocks
                .iter()
                .take(end)
                .skip(i + 1)
                .take_while(|next| next.end() - b.offset <= self.read_bytes)
                .last()
                .unwrap_or(b);
            let len = (last.end() - b.offset) as usize;
            if self.background {
                crate::kv::step::before_background_io().await;
            }
            self.chunk = Buffer::from_vec(reader.file.read_at(b.offset, len).await?);
            self.chunk_at = b.offset;
        }
        let from = (b.offset - self.chunk_at) as usize;
        let len = (b.len as usize).min(self.chunk.len().saturating_sub(from));
        reader.decode_block(i, self.chunk.slice_with_length(from, len), self.decode)
    }
}
