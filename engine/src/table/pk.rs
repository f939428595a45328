//! Primary-key tables: upsert, delete and partial update through a merge engine, a changelog
//! appended to the bucket's log (the WAL), an LSM holding the state, lookups, prefix lookups
//! and snapshots.
//!
//! Write order: read the old rows (pre-write buffer -> LSM) -> merge -> append the changelog
//! batch -> group commit -> apply to the memtable -> acknowledge. A write that follows a
//! not-yet-durable write to the same key merges on top of it (the pre-write buffer), while
//! lookups, prefix lookups and snapshots see only durable data (the LSM). Durable writes are
//! applied to the memtable in log order, whatever order their futures resume in.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use tracing::warn;

use super::changelog::{ChangeRow, ChangelogImage, Planned};
use super::lww::{self, LwwPlan};
use super::merge::{row_datums, Datum, MergeEngine, Outcome};
use super::prewrite::{Buffered, PreWrite};
use super::write_turn::WriteTurn;
use crate::batch::adaptive::AdaptiveCompression;
use crate::batch::{BuildOptions, ChangeType, Compression};
use crate::error::{Error, Result};
use crate::kv::cache::BlockCache;
use crate::kv::tree::{Lsm, LsmConfig, RowRef};
use crate::log::writers::SequenceCheck;
use crate::log::{Clock, Log, LogConfig, Storage};
use crate::schema::{Schema, TableDescriptor};

/// Largest encoded primary key accepted.
pub const KEY_BYTES_MAX: usize = 64 << 10;
/// Most records in one write.
pub const WRITE_RECORDS_MAX: usize = 1 << 20;

/// Configuration of one primary-key bucket.
#[derive(Clone, Debug)]
pub struct PkConfig {
    pub log: LogConfig,
    pub lsm: LsmConfig,
}

/// One write request: per record a key and either a row (upsert) or a delete.
#[derive(Clone, Debug)]
pub struct KvWrite {
    /// Encoded primary keys (Fluss's compacted key encoding), one per record.
    pub keys: Vec<Vec<u8>>,
    /// Full-width rows in the table schema; a delete's row is ignored (may be all null).
    pub rows: RecordBatch,
    /// `deleted[i]` = record i deletes its key.
    pub deleted: Vec<bool>,
    /// `Some(columns)` = partial update of these columns (must include the primary key).
    pub target_columns: Option<Vec<usize>>,
    pub writer_id: i64,
    pub batch_sequence: i32,
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// Log offsets of the changelog records (equal when nothing changed).
    pub base_offset: i64,
    pub next_offset: i64,
    /// Changelog records appended.
    pub changes: usize,
    /// A retried batch already applied: nothing was done.
    pub duplicate: bool,
}

/// Rows found by a batched lookup.
#[derive(Clone, Debug)]
pub struct LookupResult {
    /// The found rows, in request order (table schema).
    pub rows: RecordBatch,
    /// `found[i]` = key i was found (its row is the next one in `rows`).
    pub found: Vec<bool>,
}

/// A primary-key table bucket.
pub struct PkTable<S: Storage + Clone> {
    desc: TableDescriptor,
    schema: Arc<Schema>,
    /// `schema` as Arrow, built once (lookups answer in it).
    arrow: arrow_schema::SchemaRef,
    key_columns: Vec<usize>,
    merge: MergeEngine,
    image: ChangelogImage,
    /// The table's `table.log.arrow.compression.type`, skipped while the changelog does not
    /// compress.
    compression: AdaptiveCompression,
    log: Log<S>,
    lsm: Lsm<S>,
    prewrite: RefCell<PreWrite>,
    /// Planning and staging of writes, one at a time in arrival order.
    turn: WriteTurn,
    poisoned: RefCell<Option<String>>,
}

impl<S: Storage + Clone> PkTable<S> {
    /// Opens the bucket: the log, the LSM, then replays the changelog the SSTs do not cover.
    pub async fn open(
        storage: S,
        desc: TableDescriptor,
        config: PkConfig,
        cache: Rc<BlockCache>,
        clock: Clock,
    ) -> Result<Self> {
        desc.validate()?;
        if !desc.has_primary_key() {
            return Err(Error::InvalidSchema { table: desc.name.clone(), reason: "not a primary key table".into() });
        }
        let schema = Arc::new(desc.schema.clone());
        let key_columns = physical_key(&desc)?;
        let merge = MergeEngine::from_table(&desc)?;
        let image = ChangelogImage::from_properties(&desc)?;
        let compression = match desc.properties.get("table.log.arrow.compression.type") {
            Some(v) => Compression::from_property(v)?,
            None => Compression::Zstd,
        };
        let mut log_config = config.log;
        log_config.schemas.insert(schema.id, Arc::clone(&schema));
        let log = Log::open(storage.clone(), log_config, clock).await?;
        let lsm = Lsm::open(storage, &log.config().bucket.clone(), Arc::clone(&schema), config.lsm, cache).await?;
        let table = Self {
            desc,
            arrow: schema.to_arrow(),
            schema,
            key_columns,
            merge,
            image,
            compression: AdaptiveCompression::new(compression),
            log,
            lsm,
            prewrite: RefCell::new(PreWrite::default()),
            turn: WriteTurn::default(),
            poisoned: RefCell::new(None),
        };
        super::replay::replay(&table.log, &table.lsm, &table.schema, &table.key_columns).await?;
        Ok(table)
    }

    /// The table descriptor.
    pub fn descriptor(&self) -> &TableDescriptor {
        &self.desc
    }

    /// The bucket's log (its `$changelog`).
    pub fn log(&self) -> &Log<S> {
        &self.log
    }

    /// The bucket's LSM.
    pub fn lsm(&self) -> &Lsm<S> {
        &self.lsm
    }

    /// Positions of the physical primary key columns, in key order.
    pub fn key_columns(&self) -> &[usize] {
        &self.key_columns
    }

    /// Applies a write; resolves when its changelog is durable and applied.
    pub async fn write(&self, write: KvWrite) -> Result<WriteResult> {
        self.check_write(&write)?;
        // Planning reads old rows (and may suspend on an SST read): one write plans and stages
        // at a time, in arrival order; the sync below is shared by a group of writes.
        let turn = self.turn.acquire().await;
        if let Some(reason) = self.poisoned.borrow().as_ref() {
            return Err(Error::LogClosed { bucket: self.log.config().bucket.clone(), reason: reason.clone() });
        }
        let (writer_id, batch_sequence) = (write.writer_id, write.batch_sequence);
        let idempotent = writer_id != crate::batch::header::NO_WRITER_ID;
        if idempotent {
            if let Some(answer) = self.check_sequence(&write)? {
                return Ok(answer);
            }
        }
        let plan = self.plan(write).await?;
        if plan.kinds.is_empty() {
            let end = self.log.list_offset(crate::log::OffsetSpec::Latest);
            if idempotent {
                // Nothing to append, but the sequence is used: the writer's next one follows it.
                self.log.record_unchanged(writer_id, batch_sequence, end);
            }
            return Ok(WriteResult { base_offset: end, next_offset: end, changes: 0, duplicate: false });
        }
        let compression = self.compression.choose();
        let options = BuildOptions { compression, writer_id, batch_sequence, statistics: true };
        let bytes = plan.encode(&self.schema, &options)?;
        self.compression.observe(compression, &plan.changelog, bytes.len());
        let applied = plan.keys.len();
        let id = self.prewrite.borrow_mut().stage(plan.keys, plan.deleted, plan.rows);
        let staged = self.log.stage(bytes);
        drop(turn);
        let appended = match staged {
            Ok(info) => self.log.wait_durable(info.next_offset).await.map(|()| info),
            Err(e) => Err(e),
        };
        let info = match appended {
            Ok(info) => info,
            Err(e) => {
                self.poison(&e);
                return Err(e);
            }
        };
        self.complete(id, info.next_offset)?;
        self.flush_if_full().await?;
        Ok(WriteResult {
            base_offset: info.base_offset,
            next_offset: info.next_offset,
            changes: applied,
            duplicate: info.duplicate,
        })
    }

    /// Reads the old rows and merges: columnar for last-write-wins full-row upserts, row by
    /// row through the merge engine otherwise.
    async fn plan(&self, write: KvWrite) -> Result<Planned> {
        let targets = write.target_columns.as_deref();
        if !self.merge.is_last_write_wins_full_row(targets) || write.deleted.iter().any(|&d| d) {
            let changes = self.merge_write(&write).await?;
            return Planned::from_changes(&self.schema, &changes);
        }
        lww::check_values(&self.desc.name, &self.schema, &write.rows)?;
        let wal = self.image == ChangelogImage::Wal;
        // Per record: `Err(j)` = an earlier record j of this write holds the old row,
        // `Ok(Some(r))` = old row r of the reads below, `Ok(None)` = not read (WAL image).
        let mut last: HashMap<&[u8], usize> = HashMap::with_capacity(write.keys.len());
        let mut reads: Vec<&[u8]> = Vec::new();
        let sources: Vec<std::result::Result<Option<usize>, usize>> = write
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| match last.insert(key.as_slice(), i) {
                Some(j) => Err(j),
                None if wal => Ok(None),
                None => {
                    reads.push(key);
                    Ok(Some(reads.len() - 1))
                }
            })
            .collect();
        let mut old_rows = self.current_many(&reads).await?;
        drop(last);
        let mut plan = LwwPlan::new(&write.rows);
        for (i, source) in sources.into_iter().enumerate() {
            let old = match source {
                Err(j) => Some(Err(j)),
                Ok(None) => None,
                Ok(Some(r)) => old_rows.get_mut(r).and_then(Option::take).map(Ok),
            };
            plan.upsert(i, old, wal);
        }
        plan.finish(&self.arrow, write.keys)
    }

    /// Flushes a full memtable. The write is already durable, so a failed flush is only
    /// logged (the next write retries it) until the memtable is twice its budget: then
    /// writers get the error, which bounds memory.
    async fn flush_if_full(&self) -> Result<()> {
        if !self.lsm.needs_flush() {
            return Ok(());
        }
        match self.lsm.flush().await {
            Ok(()) => Ok(()),
            Err(e) if self.lsm.memtable_bytes() <= 2 * self.lsm.config().memtable_bytes_max => {
                warn!(table = %self.desc.name, error = %e, "memtable flush failed; retrying on the next write");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// An idempotent writer's sequence, checked before anything is staged (a sequence error
    /// from the append itself would come after the write changed the pre-write state, and
    /// close the table): a retry is answered with its first result, a gap or a sequence
    /// older than the kept window is an error.
    fn check_sequence(&self, write: &KvWrite) -> Result<Option<WriteResult>> {
        let bucket = || self.log.config().bucket.clone();
        match self.log.check_writer(write.writer_id, write.batch_sequence) {
            SequenceCheck::Append => Ok(None),
            SequenceCheck::Duplicate(r) => Ok(Some(WriteResult {
                base_offset: r.base_offset,
                next_offset: r.next_offset,
                changes: 0,
                duplicate: true,
            })),
            SequenceCheck::TooOld { last_sequence } => Err(Error::DuplicateSequence {
                bucket: bucket(),
                writer_id: write.writer_id,
                sequence: write.batch_sequence,
                last_sequence,
            }),
            SequenceCheck::Gap { expected } => Err(Error::OutOfOrderSequence {
                bucket: bucket(),
                writer_id: write.writer_id,
                expected,
                received: write.batch_sequence,
            }),
        }
    }

    fn check_write(&self, write: &KvWrite) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidWrite { table: self.desc.name.clone(), reason });
        let n = write.keys.len();
        if n == 0 || n > WRITE_RECORDS_MAX {
            return bad(format!("{n} records (1..={WRITE_RECORDS_MAX} allowed)"));
        }
        if write.rows.num_rows() != n || write.deleted.len() != n {
            return bad(format!("{n} keys, {} rows and {} delete flags", write.rows.num_rows(), write.deleted.len()));
        }
        self.check_rows(write)?;
        if let Some(key) = write.keys.iter().find(|k| k.len() > KEY_BYTES_MAX || k.is_empty()) {
            return bad(format!("a key of {} bytes (1..={KEY_BYTES_MAX} allowed)", key.len()));
        }
        if let Some(targets) = &write.target_columns {
            if let Some(c) = targets.iter().find(|&&c| c >= self.schema.columns.len()) {
                return bad(format!("target column {c} does not exist"));
            }
            if let Some(&k) = self.key_columns.iter().find(|k| !targets.contains(k)) {
                return bad(format!(
                    "a partial update must include primary key column '{}'",
                    self.schema.columns[k].name
                ));
            }
        }
        Ok(())
    }

    /// The rows must have the table's column types; a NOT NULL column may hold a null only in
    /// a deleted record (a delete carries no values).
    fn check_rows(&self, write: &KvWrite) -> Result<()> {
        let expected = self.schema.to_arrow();
        let actual = write.rows.schema();
        let types_match = expected.fields().len() == actual.fields().len()
            && expected.fields().iter().zip(actual.fields().iter()).all(|(e, a)| e.data_type() == a.data_type());
        if !types_match {
            let describe = |s: &arrow_schema::Schema| {
                s.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", ")
            };
            return Err(Error::InvalidWrite {
                table: self.desc.name.clone(),
                reason: format!(
                    "rows do not match the table schema: expected [{}], got [{}]",
                    describe(&expected),
                    describe(&actual)
                ),
            });
        }
        for (column, field) in self.schema.columns.iter().zip(write.rows.columns()) {
            if column.nullable || field.null_count() == 0 {
                continue;
            }
            if let Some(row) = (0..field.len()).find(|&r| field.is_null(r) && !write.deleted[r]) {
                return Err(Error::InvalidWrite {
                    table: self.desc.name.clone(),
                    reason: format!("NOT NULL column '{}' is null in record {row}", column.name),
                });
            }
        }
        Ok(())
    }

    /// Reads the old rows and merges each record; returns the changelog records.
    async fn merge_write(&self, write: &KvWrite) -> Result<Vec<ChangeRow>> {
        let targets = write.target_columns.as_deref();
        let fast = self.merge.is_last_write_wins_full_row(targets);
        let skip_old = fast && self.image == ChangelogImage::Wal;
        // The old rows of first occurrences, read together (later ones merge on `local`).
        let mut first: HashMap<&[u8], Option<usize>> = HashMap::new();
        let mut reads: Vec<&[u8]> = Vec::new();
        for (i, key) in write.keys.iter().enumerate() {
            first.entry(key.as_slice()).or_insert_with(|| {
                let read = !skip_old || write.deleted[i];
                read.then(|| {
                    reads.push(key);
                    reads.len() - 1
                })
            });
        }
        let mut old_rows = self.current_many(&reads).await?;
        let mut local: HashMap<&[u8], Option<Rc<Vec<Datum>>>> = HashMap::new();
        let mut changes = Vec::new();
        for (i, key) in write.keys.iter().enumerate() {
            let old: Option<Rc<Vec<Datum>>> = match local.get(key.as_slice()) {
                Some(v) => v.clone(),
                None => match first
                    .get(key.as_slice())
                    .copied()
                    .flatten()
                    .and_then(|r| old_rows.get_mut(r))
                    .and_then(Option::take)
                {
                    Some((b, r)) => Some(Rc::new(row_datums(&b, r)?)),
                    None => None,
                },
            };
            let outcome = if write.deleted[i] {
                self.merge.delete(old.as_deref().map(Vec::as_slice), targets)?
            } else {
                let new = row_datums(&write.rows, i)?;
                self.merge.upsert(old.as_deref().map(Vec::as_slice), &new, targets)?
            };
            let (after, records) = self.changes_for(key, old, outcome, skip_old);
            changes.extend(records);
            local.insert(key.as_slice(), after);
        }
        Ok(changes)
    }

    fn changes_for(
        &self,
        key: &[u8],
        old: Option<Rc<Vec<Datum>>>,
        outcome: Outcome,
        wal: bool,
    ) -> (Option<Rc<Vec<Datum>>>, Vec<ChangeRow>) {
        let row = |kind, values: Rc<Vec<Datum>>| ChangeRow { key: key.to_vec(), kind, values };
        match (outcome, old) {
            (Outcome::Unchanged, old) => (old, Vec::new()),
            (Outcome::Put(new), _) if wal => {
                let new = Rc::new(new);
                (Some(Rc::clone(&new)), vec![row(ChangeType::UpdateAfter, new)])
            }
            (Outcome::Put(new), Some(old)) => {
                let new = Rc::new(new);
                (Some(Rc::clone(&new)), vec![row(ChangeType::UpdateBefore, old), row(ChangeType::UpdateAfter, new)])
            }
            (Outcome::Put(new), None) => {
                let new = Rc::new(new);
                (Some(Rc::clone(&new)), vec![row(ChangeType::Insert, new)])
            }
            (Outcome::Delete, Some(old)) => (None, vec![row(ChangeType::Delete, old)]),
            (Outcome::Delete, None) => (None, Vec::new()),
        }
    }

    /// The newest value of each key including not-yet-durable writes; the LSM's share is read
    /// in one batch (its missing blocks concurrently).
    async fn current_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<RowRef>>> {
        let mut values = Vec::with_capacity(keys.len());
        let mut stored: Vec<&[u8]> = Vec::new();
        let mut stored_at = Vec::new();
        {
            let mut prewrite = self.prewrite.borrow_mut();
            for (i, key) in keys.iter().enumerate() {
                match prewrite.get(key) {
                    Buffered::Value(value) => values.push(value),
                    Buffered::Absent => {
                        values.push(None);
                        stored.push(key);
                        stored_at.push(i);
                    }
                }
            }
        }
        let found = self.lsm.get_many(&stored).await?;
        for (i, value) in stored_at.into_iter().zip(found) {
            values[i] = value;
        }
        Ok(values)
    }

    /// Marks write `id` durable and applies every durable write at the queue's head, in order.
    fn complete(&self, id: u64, next_offset: i64) -> Result<()> {
        let mut pre = self.prewrite.borrow_mut();
        pre.mark_durable(id, next_offset);
        while let Some(p) = pre.pop_durable() {
            self.lsm.apply(&p.keys, &p.deleted, &p.rows, p.next_offset.unwrap_or_default())?;
        }
        Ok(())
    }

    fn poison(&self, e: &Error) {
        warn!(table = %self.desc.name, error = %e, "changelog append failed; the table is closed until reopened");
        *self.poisoned.borrow_mut() = Some(e.to_string());
        self.prewrite.borrow_mut().clear();
    }

    /// Batched point lookup over durable data.
    pub async fn lookup(&self, keys: &[Vec<u8>]) -> Result<LookupResult> {
        let answers = self.lsm.get_many(keys).await?;
        let found = answers.iter().map(Option::is_some).collect();
        let hits: Vec<RowRef> = answers.into_iter().flatten().collect();
        Ok(LookupResult { rows: super::changelog::gather_rows(&self.arrow, &hits)?, found })
    }

    /// Rows whose key starts with `prefix` (a bucket-key prefix of the primary key), in key order.
    pub async fn prefix_lookup(&self, prefix: &[u8]) -> Result<RecordBatch> {
        let hits: Vec<RowRef> = self.lsm.prefix(prefix).await?.into_iter().map(|(_, r)| r).collect();
        super::changelog::gather_rows(&self.arrow, &hits)
    }

    /// A consistent snapshot of the bucket and the log offset to continue from.
    pub fn snapshot(&self) -> Result<super::snapshot::KvSnapshot<S::File>> {
        super::snapshot::KvSnapshot::new(&self.lsm, Rc::clone(&self.lsm_cache()))
    }

    fn lsm_cache(&self) -> Rc<BlockCache> {
        self.lsm.cache()
    }

    /// Flushes the memtable (e.g. before shutdown, or from a background task).
    pub async fn flush(&self) -> Result<()> {
        self.lsm.flush().await
    }

    /// Waits for pending writes, flushes, and closes.
    pub async fn close(self) -> Result<()> {
        self.lsm.flush().await?;
        self.lsm.close().await?;
        self.log.close().await
    }
}

/// Positions of the physical primary key (PK columns minus partition columns), in PK order.
pub fn physical_key(desc: &TableDescriptor) -> Result<Vec<usize>> {
    desc.primary_key
        .iter()
        .filter(|k| !desc.partition_keys.contains(k))
        .map(|k| {
            desc.schema.index_of(k).ok_or_else(|| Error::InvalidSchema {
                table: desc.name.clone(),
                reason: format!("unknown primary key column '{k}'"),
            })
        })
        .collect()
}
