//! The LSM of one primary-key bucket: a memtable, levels of SSTs, a manifest.
//!
//! Reads go memtable -> the memtable being flushed -> L0 (newest first) -> L1.. (one SST per
//! level by key range), using each SST's bloom filter and block index, so a miss costs at most
//! one block read per level. A flush writes the memtable as one L0 SST and records in the
//! manifest the log offset the LSM now covers; compaction (see `compaction.rs`) merges levels.
//! The version (the set of SSTs) is swapped as a whole; SSTs a snapshot still reads are
//! deleted only when the last reader lets go.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use tracing::{debug, info};

use super::cache::BlockCache;
use super::compaction_job::CacheFill;
use super::manifest::{Edit, Manifest, SstEntry, LEVELS_MAX};
use super::memtable::{MemValue, Memtable};
use super::merge::{MergeIter, RunSource};
use super::sst::{
    hash64, parse_sst_name, sst_arrow_schema, sst_name, ReadAhead, SstOptions, SstReader, SstWriter, SYSTEM_COLUMNS,
};
use super::sst_ids::SstIds;
use crate::error::{Error, Result};
use crate::log::notify::Notify;
use crate::log::Storage;
use crate::schema::Schema;

/// Shape and budgets of an LSM.
#[derive(Clone, Debug)]
pub struct LsmConfig {
    /// Flush the memtable beyond this many bytes.
    pub memtable_bytes_max: usize,
    /// Compact L0 into L1 once it holds this many SSTs.
    pub l0_compaction_trigger: usize,
    /// Target size of L1; each deeper level is `level_size_multiplier` times larger.
    /// Larger multipliers mean less space amplification and more write amplification.
    pub l1_bytes_target: u64,
    pub level_size_multiplier: u64,
    /// Split compaction output into SSTs of about this size.
    pub sst_bytes_target: u64,
    /// Rows per merged chunk in compaction and snapshots.
    pub merge_chunk_rows: usize,
    /// Bytes of blocks one read of a compaction or snapshot scan takes from an input SST
    /// (whole blocks, at least one). Larger reads mean fewer I/Os for the same bytes; smaller
    /// ones hold up less the foreground I/O queued behind them on the disk.
    pub scan_read_bytes: u64,
    pub sst: SstOptions,
    /// Which written SSTs' blocks enter the block cache as they are written, while it has
    /// room (never evicting), so lookups after a flush or compaction do not start cold.
    pub cache_written_blocks: CacheWritten,
    /// After a compaction, read the output blocks whose key ranges the cache held of its
    /// inputs back into the room the inputs leave (never evicting), so lookups in a
    /// compacted range do not all miss once (`kv/warm.rs`).
    pub warm_compacted_blocks: bool,
}

/// Which SSTs' blocks enter the block cache as they are written ([`LsmConfig::cache_written_blocks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheWritten {
    /// None: blocks are cached when first read.
    Never,
    /// Flushed SSTs (the newest rows, the likeliest to be read next): the default. A bulk
    /// load caches at most the few L0 SSTs that wait for compaction.
    Flushes,
    /// Flushed and compacted SSTs: a rewritten key range stays warm, at the price of
    /// filling the cache during a bulk load.
    FlushesAndCompactions,
}

impl Default for LsmConfig {
    fn default() -> Self {
        Self {
            memtable_bytes_max: 64 << 20,
            l0_compaction_trigger: 4,
            l1_bytes_target: 256 << 20,
            level_size_multiplier: 10,
            sst_bytes_target: 64 << 20,
            merge_chunk_rows: 1024,
            scan_read_bytes: 128 << 10,
            sst: SstOptions::default(),
            cache_written_blocks: CacheWritten::Flushes,
            warm_compacted_blocks: true,
        }
    }
}

/// The live SSTs: L0 newest first; deeper levels sorted by key, disjoint.
pub struct Version<F: crate::log::StorageFile> {
    pub levels: Vec<Vec<Rc<SstReader<F>>>>,
}

impl<F: crate::log::StorageFile> Version<F> {
    fn empty() -> Self {
        Self { levels: (0..LEVELS_MAX).map(|_| Vec::new()).collect() }
    }

    /// Total file bytes of a level.
    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels.get(level).map_or(0, |l| l.iter().map(|r| r.meta().file_bytes).sum())
    }
}

/// A found row: a table-schema batch and the row in it.
pub type RowRef = (RecordBatch, usize);

/// An LSM.
pub struct Lsm<S: Storage> {
    pub(super) storage: S,
    pub(super) bucket: String,
    pub(super) schema: Arc<Schema>,
    pub(super) sst_schema: SchemaRef,
    /// The SST schema without the system columns (table columns, all nullable: a tombstone
    /// row holds nulls), built once.
    table_arrow: SchemaRef,
    pub(super) config: LsmConfig,
    pub(super) cache: Rc<BlockCache>,
    memtable: RefCell<Memtable>,
    flushing: RefCell<Option<Rc<Memtable>>>,
    pub(super) version: RefCell<Rc<Version<S::File>>>,
    pub(super) manifest: RefCell<Option<Manifest<S>>>,
    /// Files replaced by compaction, deleted once no snapshot reads them.
    pub(super) obsolete: RefCell<Vec<Rc<SstReader<S::File>>>>,
    /// The log offset the memtable has applied up to (exclusive).
    applied_offset: Cell<i64>,
    /// The log offset the SSTs cover (exclusive).
    covered_offset: Cell<i64>,
    /// A flush is running (flushes run one at a time, beside compaction).
    flush_busy: Cell<bool>,
    flush_done: Notify,
    /// The next SST id to hand out (persisted with each manifest edit).
    next_sst_id: SstIds,
    /// A compaction step is running (one at a time).
    pub(super) compaction_busy: Cell<bool>,
    /// The manifest is being appended to (flush and compaction take turns).
    manifest_busy: Cell<bool>,
    manifest_free: Notify,
    /// This LSM's namespace in the (shared) block cache.
    pub(super) cache_namespace: u64,
}

impl<S: Storage + Clone> Lsm<S> {
    /// Opens the LSM in `storage` (manifest + SSTs), deleting SST files the manifest does not list.
    pub async fn open(
        storage: S,
        bucket: &str,
        schema: Arc<Schema>,
        config: LsmConfig,
        cache: Rc<BlockCache>,
    ) -> Result<Self> {
        let manifest = Manifest::open(storage.clone(), bucket).await?;
        let namespace = cache.new_namespace();
        let mut version = Version::empty();
        for entry in manifest.state.ssts.values() {
            let reader = SstReader::open(&storage, entry.id, &schema).await?.with_cache_namespace(namespace);
            version.levels[usize::from(entry.level)].push(Rc::new(reader));
        }
        version.levels[0].sort_by_key(|r| std::cmp::Reverse(r.meta().id));
        for level in version.levels.iter_mut().skip(1) {
            level.sort_by(|a, b| a.meta().first_key.cmp(&b.meta().first_key));
        }
        for name in storage.list().await? {
            if let Some(id) = parse_sst_name(&name) {
                if !manifest.state.ssts.contains_key(&id) {
                    info!(bucket, file = %name, "removing an SST left over from a crash");
                    storage.remove(&name).await?;
                }
            }
        }
        let covered = manifest.state.covers_log_offset;
        let next_sst_id = manifest.state.next_sst_id;
        Ok(Self {
            sst_schema: sst_arrow_schema(&schema),
            table_arrow: table_part(&sst_arrow_schema(&schema))?,
            memtable: RefCell::new(Memtable::new(schema.to_arrow())),
            storage,
            bucket: bucket.to_string(),
            schema,
            config,
            cache,
            flushing: RefCell::new(None),
            version: RefCell::new(Rc::new(version)),
            manifest: RefCell::new(Some(manifest)),
            obsolete: RefCell::new(Vec::new()),
            applied_offset: Cell::new(covered),
            covered_offset: Cell::new(covered),
            flush_busy: Cell::new(false),
            flush_done: Notify::default(),
            next_sst_id: SstIds::starting_at(next_sst_id),
            compaction_busy: Cell::new(false),
            manifest_busy: Cell::new(false),
            manifest_free: Notify::default(),
            cache_namespace: namespace,
        })
    }

    /// The log offset below which every change is in the SSTs: recovery replays from here.
    pub fn covered_offset(&self) -> i64 {
        self.covered_offset.get()
    }

    /// The log offset the LSM (memtable included) has applied up to.
    pub fn applied_offset(&self) -> i64 {
        self.applied_offset.get()
    }

    /// Applies one durable write (the rows of log offsets up to `next_log_offset`).
    pub fn apply(&self, keys: &[Vec<u8>], deleted: &[bool], rows: &RecordBatch, next_log_offset: i64) -> Result<()> {
        self.memtable.borrow_mut().apply(keys, deleted, rows)?;
        self.applied_offset.set(self.applied_offset.get().max(next_log_offset));
        Ok(())
    }

    /// This thread's handle on the bucket's storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The configuration.
    pub fn config(&self) -> &LsmConfig {
        &self.config
    }

    /// Bytes held by the memtable.
    pub fn memtable_bytes(&self) -> usize {
        self.memtable.borrow().bytes()
    }

    /// True when the memtable is over its budget.
    pub fn needs_flush(&self) -> bool {
        self.memtable_bytes() > self.config.memtable_bytes_max
    }

    /// The newest version of `key`: `Some((batch, row))`, or `None` if absent or deleted.
    pub async fn get(&self, key: &[u8]) -> Result<Option<RowRef>> {
        let _foreground = super::step::foreground_wait();
        let hash = hash64(key);
        if let Some(found) = self.get_in_memory(key, hash) {
            return Ok(found);
        }
        let version = Rc::clone(&self.version.borrow());
        for (level, readers) in version.levels.iter().enumerate() {
            for reader in level_candidates(readers, level, key).iter().filter(|r| r.may_contain_hash(hash)) {
                if let Some(row) = reader.get_unfiltered(key, &self.cache).await? {
                    return self.answer(row);
                }
            }
        }
        Ok(None)
    }

    /// The table columns of an SST block, under the table schema built once (what
    /// [`table_rows`] does, without building a projected schema per call).
    pub(super) fn table_rows(&self, block: &RecordBatch) -> Result<RecordBatch> {
        let columns = block.columns().get(SYSTEM_COLUMNS..).unwrap_or_default().to_vec();
        RecordBatch::try_new(Arc::clone(&self.table_arrow), columns)
            .map_err(|e| Error::arrow("table rows of an SST block", e))
    }

    /// Asks the CPU for what [`Self::get_in_memory`] of `hash` reads first (the memtables'
    /// index buckets).
    pub(super) fn prefetch_in_memory(&self, hash: u64) {
        self.memtable.borrow().prefetch_hash(hash);
        if let Some(m) = self.flushing.borrow().as_ref() {
            m.prefetch_hash(hash);
        }
    }

    /// `Some(answer)` when the memtables decide the key (`hash` is its [`hash64`]).
    pub(super) fn get_in_memory(&self, key: &[u8], hash: u64) -> Option<Option<RowRef>> {
        let decide = |m: &Memtable| {
            m.get_hashed(key, hash).map(|v| match v {
                MemValue::Row(batch, row) => Some((batch.clone(), row)),
                MemValue::Deleted => None,
            })
        };
        if let Some(answer) = decide(&self.memtable.borrow()) {
            return Some(answer);
        }
        self.flushing.borrow().as_ref().and_then(|m| decide(m))
    }

    /// Every live row whose key starts with `prefix`, newest versions, in key order.
    pub async fn prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, RowRef)>> {
        let _foreground = super::step::foreground_wait();
        let mut found: std::collections::BTreeMap<Vec<u8>, Option<RowRef>> = std::collections::BTreeMap::new();
        let mut collect = |m: &Memtable| {
            for (key, value) in m.prefix(prefix) {
                found.entry(key.to_vec()).or_insert(match value {
                    MemValue::Row(batch, row) => Some((batch.clone(), row)),
                    MemValue::Deleted => None,
                });
            }
        };
        collect(&self.memtable.borrow());
        if let Some(m) = self.flushing.borrow().as_ref() {
            collect(m);
        }
        let version = Rc::clone(&self.version.borrow());
        for readers in &version.levels {
            for reader in readers {
                let meta = reader.meta();
                if meta.last_key.as_slice() < prefix
                    || (!meta.first_key.starts_with(prefix) && meta.first_key.as_slice() > prefix)
                {
                    continue;
                }
                for block in reader.blocks_for_prefix(prefix) {
                    let batch = reader.read_block(block, &self.cache).await?;
                    collect_prefix_rows(&batch, prefix, &mut found)?;
                }
            }
        }
        Ok(found.into_iter().filter_map(|(k, v)| v.map(|r| (k, r))).collect())
    }

    /// Writes the memtable as an L0 SST and records the covered log offset.
    ///
    /// Runs beside a compaction step (they meet only at the manifest, where they take turns,
    /// and at the version swap, which each makes from the newest version). A flush that finds
    /// another one running waits for it and then flushes what has accumulated since, so
    /// writers that call it are held back while flushing lags, and the memtable stays bounded.
    pub async fn flush(&self) -> Result<()> {
        while self.flush_busy.get() {
            self.flush_done.wait().await;
        }
        let _turn = Turn::take(&self.flush_busy, Some(&self.flush_done));
        self.flush_inner().await
    }

    async fn flush_inner(&self) -> Result<()> {
        let covers = self.applied_offset.get();
        // The next memtable's index is sized for as many keys as this one took.
        let keys = self.memtable.borrow().len();
        let next = Memtable::with_expected_keys(self.schema.to_arrow(), keys);
        let frozen = Rc::new(std::mem::replace(&mut *self.memtable.borrow_mut(), next));
        *self.flushing.borrow_mut() = Some(Rc::clone(&frozen));
        let result = self.write_l0(&frozen, covers).await;
        *self.flushing.borrow_mut() = None;
        if result.is_ok() {
            // Nobody else holds it once it is no longer `flushing` (lookups copy what they
            // take out); should somebody, it is freed when they let go.
            if let Ok(frozen) = Rc::try_unwrap(frozen) {
                frozen.release_in_steps().await;
            }
            return result;
        }
        // Keep the rows readable; the next flush retries them (they are also in the log).
        let mut current = self.memtable.borrow_mut();
        let newer = std::mem::replace(&mut *current, Memtable::new(self.schema.to_arrow()));
        *current = Rc::try_unwrap(frozen).map_err(|_| Error::LogClosed {
            bucket: self.bucket.clone(),
            reason: "a failed flush left its memtable shared".into(),
        })?;
        current.absorb(newer)?;
        result
    }

    async fn write_l0(&self, frozen: &Memtable, covers: i64) -> Result<()> {
        let mut edit = Edit { covers_log_offset: covers, ..Edit::default() };
        let mut reader = None;
        if !frozen.is_empty() {
            let id = self.next_sst_id();
            let mut writer = self.create_flush_sst(id, covers).await?;
            for chunk in frozen.sorted_chunks(Arc::clone(&self.sst_schema), self.config.merge_chunk_rows) {
                writer.add(&chunk?).await?;
                // Adding a chunk need not suspend (the writer buffers): give the executor
                // back between chunks, so foreground work waits for one chunk at most.
                crate::kv::step::end_of_step().await;
            }
            let meta = writer.finish().await?;
            self.storage.sync_dir().await?;
            edit.added.push(entry_of(&meta, 0));
            reader = Some(Rc::new(self.open_sst(id).await?));
            debug!(bucket = %self.bucket, sst = id, rows = meta.rows, covers, "flushed memtable");
        }
        edit.next_sst_id = self.peek_next_sst_id();
        self.append_edit(&edit).await?;
        if let Some(reader) = reader {
            let mut next = clone_version(&self.version.borrow());
            next.levels[0].insert(0, reader);
            *self.version.borrow_mut() = Rc::new(next);
        }
        self.covered_offset.set(covers);
        Ok(())
    }

    /// Opens one of this LSM's SSTs, keyed in the block cache under its namespace.
    pub(super) async fn open_sst(&self, id: u64) -> Result<SstReader<S::File>> {
        Ok(SstReader::open(&self.storage, id, &self.schema)
            .await?
            .with_cache_namespace(self.cache_namespace)
            .with_arrow_schema(Arc::clone(&self.sst_schema)))
    }

    /// Where the blocks of an SST a flush (`compaction` false) or a compaction writes go:
    /// into the block cache while it has room if [`LsmConfig::cache_written_blocks`] says so.
    pub(super) fn written_blocks_fill(&self, compaction: bool) -> Option<CacheFill> {
        let fill = match self.config.cache_written_blocks {
            CacheWritten::Never => false,
            CacheWritten::Flushes => !compaction,
            CacheWritten::FlushesAndCompactions => true,
        };
        fill.then(|| CacheFill { cache: Rc::clone(&self.cache), namespace: self.cache_namespace })
    }

    /// Creates SST `id` for a flush.
    async fn create_flush_sst(&self, id: u64, covers: i64) -> Result<SstWriter<S::File>> {
        let writer = SstWriter::create(&self.storage, id, &self.schema, self.config.sst, covers).await?;
        Ok(match self.written_blocks_fill(false) {
            Some(fill) => fill.attach(writer, id, &self.sst_schema),
            None => writer,
        })
    }

    /// Allocates an SST id (persisted with the next manifest edit).
    pub(super) fn next_sst_id(&self) -> u64 {
        // Kept beside the manifest, not in its state: the manifest is taken out of its cell
        // while an edit is being appended, and a flush and a compaction step run side by side.
        self.next_sst_id.allocate()
    }

    /// The SST id counter, for a compaction job that may run on another thread.
    pub(super) fn sst_ids(&self) -> SstIds {
        self.next_sst_id.clone()
    }

    pub(super) fn peek_next_sst_id(&self) -> u64 {
        self.next_sst_id.peek()
    }

    /// Appends an edit to the manifest (taken out of its cell across the await).
    pub(super) async fn append_edit(&self, edit: &Edit) -> Result<()> {
        while self.manifest_busy.get() {
            self.manifest_free.wait().await;
        }
        let _turn = Turn::take(&self.manifest_busy, Some(&self.manifest_free));
        let mut manifest = self.manifest.borrow_mut().take().ok_or_else(|| Error::LogClosed {
            bucket: self.bucket.clone(),
            reason: "the LSM manifest is unavailable after an earlier failure".into(),
        })?;
        let result = manifest.append(edit).await;
        *self.manifest.borrow_mut() = Some(manifest);
        result
    }

    /// A merge over everything the LSM holds (memtables first), for snapshots.
    pub fn merge_all(&self, drop_tombstones: bool) -> Result<MergeIter<S::File>> {
        let mut runs = Vec::new();
        runs.push(RunSource::Memory(
            vec![self.memtable.borrow().sorted_rows(Arc::clone(&self.sst_schema))?].into_iter(),
        ));
        if let Some(m) = self.flushing.borrow().as_ref() {
            runs.push(RunSource::Memory(vec![m.sorted_rows(Arc::clone(&self.sst_schema))?].into_iter()));
        }
        let version = Rc::clone(&self.version.borrow());
        for reader in &version.levels[0] {
            runs.push(RunSource::ssts(vec![Rc::clone(reader)], ReadAhead::new(self.config.scan_read_bytes)));
        }
        for level in version.levels.iter().skip(1).filter(|l| !l.is_empty()) {
            runs.push(RunSource::ssts(level.clone(), ReadAhead::new(self.config.scan_read_bytes)));
        }
        Ok(MergeIter::new(runs, Arc::clone(&self.sst_schema), drop_tombstones, self.config.merge_chunk_rows))
    }

    /// Deletes replaced SST files no reader holds any more.
    pub async fn collect_garbage(&self) -> Result<usize> {
        let free = {
            let mut obsolete = self.obsolete.borrow_mut();
            let (free, held): (Vec<_>, Vec<_>) = obsolete.drain(..).partition(|r| Rc::strong_count(r) == 1);
            *obsolete = held;
            free
        };
        let ready: Vec<(u64, u64)> = free.iter().map(|r| (r.meta().id, r.cache_key())).collect();
        for reader in free {
            // A reader is tens of thousands of allocations (block index keys, statistics):
            // one at a time, yielding between them.
            drop(reader);
            crate::kv::step::end_of_step().await;
        }
        for (id, key) in &ready {
            self.cache.remove_sst(*key);
            self.storage.remove(&sst_name(*id)).await?;
        }
        if !ready.is_empty() {
            self.storage.sync_dir().await?;
        }
        Ok(ready.len())
    }

    /// Flushes nothing; closes the manifest.
    pub async fn close(self) -> Result<()> {
        let manifest = self.manifest.borrow_mut().take();
        if let Some(manifest) = manifest {
            manifest.close().await?;
        }
        Ok(())
    }
}

/// Holds a busy flag for one task; clears it and wakes the waiters however the task ends
/// (also when its future is dropped).
pub(super) struct Turn<'a> {
    busy: &'a Cell<bool>,
    done: Option<&'a Notify>,
}

impl<'a> Turn<'a> {
    /// Sets `busy` (the caller saw it clear); `done` is notified when the turn ends.
    pub(super) fn take(busy: &'a Cell<bool>, done: Option<&'a Notify>) -> Self {
        debug_assert!(!busy.get(), "a turn is taken only when free");
        busy.set(true);
        Self { busy, done }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.busy.set(false);
        if let Some(done) = self.done {
            done.notify_all();
        }
    }
}

/// The SSTs of `level` (its `readers`) whose key range may hold `key`, in the order to probe
/// them: every L0 SST, newest first (they overlap); in deeper levels the one whose range holds it.
pub(super) fn level_candidates<'v, F: crate::log::StorageFile>(
    readers: &'v [Rc<SstReader<F>>],
    level: usize,
    key: &[u8],
) -> &'v [Rc<SstReader<F>>] {
    if level == 0 {
        return readers;
    }
    let at = readers.partition_point(|r| r.meta().last_key.as_slice() < key);
    match readers.get(at) {
        Some(r) if r.meta().first_key.as_slice() <= key => std::slice::from_ref(r),
        _ => &[],
    }
}

/// The manifest entry of a freshly written SST.
pub(super) fn entry_of(meta: &super::sst::SstMeta, level: u8) -> SstEntry {
    SstEntry {
        id: meta.id,
        level,
        covers_log_offset: meta.covers_log_offset,
        file_bytes: meta.file_bytes,
        rows: meta.rows,
        first_key: meta.first_key.clone(),
        last_key: meta.last_key.clone(),
    }
}

pub(super) fn clone_version<F: crate::log::StorageFile>(v: &Version<F>) -> Version<F> {
    Version { levels: v.levels.clone() }
}

/// The SST schema without `_key` and `_tombstone`.
fn table_part(sst_schema: &SchemaRef) -> Result<SchemaRef> {
    let keep: Vec<usize> = (SYSTEM_COLUMNS..sst_schema.fields().len()).collect();
    sst_schema.project(&keep).map(Arc::new).map_err(|e| Error::arrow("projecting the SST schema", e))
}

/// The table columns of an SST-schema batch (drops `_key` and `_tombstone`).
pub fn table_rows(batch: &RecordBatch) -> Result<RecordBatch> {
    let keep: Vec<usize> = (SYSTEM_COLUMNS..batch.num_columns()).collect();
    batch.project(&keep).map_err(|e| Error::arrow("projecting SST rows", e))
}

fn collect_prefix_rows(
    batch: &Arc<RecordBatch>,
    prefix: &[u8],
    found: &mut std::collections::BTreeMap<Vec<u8>, Option<RowRef>>,
) -> Result<()> {
    let (Some(keys), Some(tombs)) = (super::sst::key_column(batch), super::sst::tombstone_column(batch)) else {
        return Err(Error::invalid_batch("SST block without key or tombstone column"));
    };
    let rows = table_rows(batch)?;
    for i in 0..keys.len() {
        let key = keys.value(i);
        if key.starts_with(prefix) {
            found.entry(key.to_vec()).or_insert_with(|| (!tombs.value(i)).then(|| (rows.clone(), i)));
        }
    }
    Ok(())
}

impl<S: Storage + Clone> Lsm<S> {
    /// The block cache this LSM reads through.
    pub fn cache(&self) -> Rc<BlockCache> {
        Rc::clone(&self.cache)
    }
}

impl<S: Storage + Clone> Lsm<S> {
    /// Number of SSTs per level (L0 first).
    pub fn level_sizes(&self) -> Vec<usize> {
        self.version.borrow().levels.iter().map(Vec::len).collect()
    }

    /// SST ids per level (L0 first, newest first; deeper levels in key order).
    pub fn sst_ids_by_level(&self) -> Vec<Vec<u64>> {
        self.version.borrow().levels.iter().map(|l| l.iter().map(|r| r.meta().id).collect()).collect()
    }

    /// File bytes per level (L0 first).
    pub fn level_bytes(&self) -> Vec<u64> {
        let version = self.version.borrow();
        (0..version.levels.len()).map(|l| version.level_bytes(l)).collect()
    }
}
