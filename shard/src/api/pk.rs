//! Primary-key tables: upsert, delete and batched lookup. Rows are grouped per bucket on the
//! calling thread (Fluss bucketing of the bucket key) and each group goes to its owning shard;
//! the shards work in parallel. A write spanning several buckets is atomic per bucket only
//! (as in Fluss): on error, some buckets may have applied their part.

use crate::runtime::point::{PointReply, Ticket, KEY_CAPACITY_KEPT};
use crate::runtime::{block_on, spin_until};
use std::sync::Arc;

use arrow_array::RecordBatch;
use rill_engine::table::{KvWrite, LookupResult};

use super::Rill;
use crate::api::partition_route::{split, split_existing};
use crate::catalog::{TableInfo, TableKind};
use crate::error::{Error, Result};
use crate::keys::{group_by_bucket, one_key_into, spread_keys, take_rows, widen, widen_keys, BucketRows};

/// What an upsert or delete did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteInfo {
    /// Buckets written.
    pub buckets: usize,
    /// Records that changed something, over all buckets (the engine's `WriteResult::changes`).
    pub changes: usize,
    /// Buckets whose part was an idempotent writer's retry, already applied: nothing done.
    pub duplicates: usize,
}

/// No idempotent writer (the engine's `NO_WRITER_ID` / `NO_BATCH_SEQUENCE`).
const NO_WRITER: i64 = -1;
const NO_SEQUENCE: i32 = -1;

pub(super) fn pk_table(info: &TableInfo) -> Result<()> {
    match info.kind() {
        TableKind::PrimaryKey => Ok(()),
        TableKind::Log => Err(Error::NotAPrimaryKeyTable { name: info.name().to_string() }),
    }
}

impl Rill {
    /// The primary-key table `table`.
    pub(super) fn pk_info(&self, table: &str) -> Result<std::sync::Arc<TableInfo>> {
        let info = self.table(table)?;
        pk_table(&info)?;
        Ok(info)
    }

    /// Inserts or replaces rows (the table's columns, in order) by primary key. Rows in an
    /// older schema of the table replace whole rows too: the columns added since are set to
    /// null (use [`Self::update_columns_async`] to leave them unchanged).
    pub async fn upsert_async(&self, table: &str, rows: RecordBatch) -> Result<WriteInfo> {
        let info = self.table(table)?;
        pk_table(&info)?;
        let schema = super::schema::schema_of_rows(&info, &rows)?;
        let rows = match schema.id == info.schema_id() {
            true => rows,
            false => rill_engine::schema::evolution::widen(rows, &info.descriptor.schema)?,
        };
        self.write(&info, &rows, false, None, None).await
    }

    /// Partial update: `rows` holds some columns of the table by name (the primary key
    /// included); only those columns change, the others keep their values (new keys get nulls,
    /// so the other columns must be nullable, as in Fluss).
    pub async fn update_columns_async(&self, table: &str, rows: RecordBatch) -> Result<WriteInfo> {
        let info = self.table(table)?;
        pk_table(&info)?;
        let (wide, targets) = widen(&info.descriptor, &rows)?;
        let schema = &info.descriptor.schema;
        let key = rill_engine::table::pk::physical_key(&info.descriptor)?;
        if let Some(missing) = key.iter().find(|k| !targets.contains(k)).and_then(|&k| schema.columns.get(k)) {
            return Err(Error::InvalidRequest {
                table: table.to_string(),
                reason: format!("a partial update must include primary key column '{}'", missing.name),
            });
        }
        self.write(&info, &wide, false, Some(targets), None).await
    }

    /// Blocking [`Self::update_columns_async`].
    pub fn update_columns(&self, table: &str, rows: RecordBatch) -> Result<WriteInfo> {
        block_on(self.update_columns_async(table, rows))
    }

    /// Blocking [`Self::upsert_async`].
    pub fn upsert(&self, table: &str, rows: RecordBatch) -> Result<WriteInfo> {
        block_on(self.upsert_async(table, rows))
    }

    /// Deletes rows by key; `keys` holds the primary-key columns (by name, in key order).
    pub async fn delete_async(&self, table: &str, keys: RecordBatch) -> Result<WriteInfo> {
        let info = self.table(table)?;
        pk_table(&info)?;
        let wide = widen_keys(&info.descriptor, &keys)?;
        self.write(&info, &wide, true, None, None).await
    }

    /// Blocking [`Self::delete_async`].
    pub fn delete(&self, table: &str, keys: RecordBatch) -> Result<WriteInfo> {
        block_on(self.delete_async(table, keys))
    }

    pub(super) async fn write(
        &self,
        info: &std::sync::Arc<TableInfo>,
        rows: &RecordBatch,
        deleted: bool,
        target_columns: Option<Vec<usize>>,
        writer: Option<(u32, super::writer::WriterSeq)>,
    ) -> Result<WriteInfo> {
        let slices = split(&self.catalog(), info, rows)?;
        let mut jobs = Vec::new();
        for slice in slices {
            let partition = slice.partition_id();
            for (bucket, group) in group_by_bucket(&info.descriptor, slice.rows.columns())? {
                if let Some((expected, _)) = writer.filter(|(expected, _)| *expected != bucket || !jobs.is_empty()) {
                    return Err(Error::InvalidRequest {
                        table: info.name().to_string(),
                        reason: format!(
                            "an idempotent write goes to one bucket ({expected}) of one partition; some rows belong to bucket {bucket}"
                        ),
                    });
                }
                jobs.push((partition, bucket, take_rows(&slice.rows, &group.rows)?, group));
            }
        }
        let (writer_id, batch_sequence) = writer.map_or((NO_WRITER, NO_SEQUENCE), |(_, w)| (w.writer_id, w.sequence));
        let mut calls = Vec::with_capacity(jobs.len());
        for (partition, bucket, rows, group) in jobs {
            let write = KvWrite {
                rows,
                deleted: vec![deleted; group.keys.len()],
                keys: group.keys,
                target_columns: target_columns.clone(),
                writer_id,
                batch_sequence,
            };
            calls.push(self.write_bucket(info, partition, bucket, write)?);
        }
        let mut total = WriteInfo::default();
        let mut first_error = None;
        for call in calls {
            match call.await {
                Ok(r) => {
                    total.buckets += 1;
                    total.changes += r.changes;
                    total.duplicates += usize::from(r.duplicate);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(total), Err)
    }

    /// Sends one bucket's share of a write to its shard.
    fn write_bucket(
        &self,
        info: &std::sync::Arc<TableInfo>,
        partition: Option<u64>,
        bucket: u32,
        write: KvWrite,
    ) -> Result<impl std::future::Future<Output = Result<rill_engine::table::WriteResult>>> {
        {
            let shard = self.owner_in(info, partition, bucket)?;
            let info = std::sync::Arc::clone(info);
            Ok(self.inner.runtime.call(shard, move |ctx| async move {
                let open = ctx.bucket_in(&info, partition, bucket).await?;
                let table = open.pk()?;
                let mut write = write;
                let current = &open.table.descriptor.schema;
                if write.rows.num_columns() < current.columns.len() {
                    // The caller's catalog predates a schema change this bucket has seen.
                    write.rows = rill_engine::schema::evolution::widen(write.rows, current)?;
                }
                ctx.admit_write().await?;
                let written = table.write(write).await?;
                if open.needs_flush() {
                    crate::bucket_lsm::queue_flush(ctx.index(), &open);
                }
                Ok(written)
            }))
        }
    }

    /// Looks up rows by key; `keys` holds the primary-key columns (by name, in key order).
    /// Returns the found rows in request order and, per key, whether it was found.
    pub async fn lookup_async(&self, table: &str, keys: RecordBatch) -> Result<(RecordBatch, Vec<bool>)> {
        let info = self.table(table)?;
        pk_table(&info)?;
        match self.point(&info, &keys)? {
            Point::Queued(ticket, bucket) => {
                drop(keys);
                let reply = ticket.await?;
                self.point_answer(&info, bucket, reply).await
            }
            Point::Encoded(bucket, key) => self.lookup_one(&info, bucket, key).await,
            Point::Many => self.lookup_general(&info, keys).await,
        }
    }

    /// Blocking [`Self::lookup_async`].
    pub fn lookup(&self, table: &str, keys: RecordBatch) -> Result<(RecordBatch, Vec<bool>)> {
        let info = self.table(table)?;
        pk_table(&info)?;
        match self.point(&info, &keys)? {
            Point::Queued(mut ticket, bucket) => {
                // Freed while the shard works.
                drop(keys);
                // The answer lands on the slot's own cache lines: spin on them, then park.
                spin_until(|| ticket.is_done());
                let reply = block_on(&mut ticket)?;
                drop(ticket);
                block_on(self.point_answer(&info, bucket, reply))
            }
            Point::Encoded(bucket, key) => block_on(self.lookup_one(&info, bucket, key)),
            Point::Many => block_on(self.lookup_general(&info, keys)),
        }
    }

    /// A one-key lookup of an unpartitioned table (a point lookup) is encoded and queued in a
    /// call slot of the owning shard ([`crate::runtime::point`]), if one is free.
    fn point(&self, info: &Arc<TableInfo>, keys: &RecordBatch) -> Result<Point<'_>> {
        if !info.descriptor.partition_keys.is_empty() || keys.num_rows() != 1 {
            return Ok(Point::Many);
        }
        SCRATCH_KEY.with_borrow_mut(|key| {
            key.clear();
            if key.capacity() > KEY_CAPACITY_KEPT {
                *key = Vec::new();
            }
            let bucket = one_key_into(&info.descriptor, keys, key)?;
            let shard = self.owner_in(info, None, bucket)?;
            let mailbox = self.inner.runtime.mailbox(shard)?;
            let Some(mut ticket) = mailbox.points().claim() else { return Ok(Point::Encoded(bucket, key.clone())) };
            ticket.request(info, bucket, key);
            mailbox.push_point(&mut ticket)?;
            Ok(Point::Queued(ticket, bucket))
        })
    }

    /// The result of a point lookup from its slot's answer.
    async fn point_answer(
        &self,
        info: &Arc<TableInfo>,
        bucket: u32,
        reply: PointReply,
    ) -> Result<(RecordBatch, Vec<bool>)> {
        match reply {
            PointReply::Row { rows, found } => Ok((rows, vec![found])),
            PointReply::Fallback { key } => self.lookup_one(info, bucket, key).await,
        }
    }

    /// A point lookup the general way (a closure on the shard): its bucket's answer is the
    /// answer.
    async fn lookup_one(&self, info: &Arc<TableInfo>, bucket: u32, key: Vec<u8>) -> Result<(RecordBatch, Vec<bool>)> {
        let found = self.lookup_bucket(info, None, bucket, vec![key])?.await?;
        Ok((found.rows, found.found))
    }

    /// Lookups of several keys (or keys of a partitioned table): grouped per bucket, one call
    /// per bucket, answers merged in request order.
    async fn lookup_general(&self, info: &Arc<TableInfo>, keys: RecordBatch) -> Result<(RecordBatch, Vec<bool>)> {
        // (partition, bucket, encoded keys) per call, and where each key sits in the request.
        let mut jobs: Vec<(Option<u64>, u32, Vec<Vec<u8>>)> = Vec::new();
        let mut positions: Vec<Vec<u32>> = Vec::new();
        if info.descriptor.partition_keys.is_empty() {
            // No partitions: encode the keys straight from the key columns.
            let spread = spread_keys(&info.descriptor, &keys)?;
            for (bucket, BucketRows { rows, keys }) in group_by_bucket(&info.descriptor, &spread)? {
                positions.push(rows);
                jobs.push((None, bucket, keys));
            }
        } else {
            let wide = widen_keys(&info.descriptor, &keys)?;
            // Keys of partitions that do not exist are not found (as in Fluss).
            for slice in split_existing(&self.catalog(), info, &wide)? {
                let partition = slice.partition_id();
                for (bucket, BucketRows { rows, keys }) in group_by_bucket(&info.descriptor, slice.rows.columns())? {
                    positions.push(rows.iter().filter_map(|&r| slice.positions.get(r as usize).copied()).collect());
                    jobs.push((partition, bucket, keys));
                }
            }
        }
        let mut calls = Vec::with_capacity(jobs.len());
        for (partition, bucket, keys) in jobs {
            calls.push(self.lookup_bucket(info, partition, bucket, keys)?);
        }
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            results.push(call.await?);
        }
        merge_lookups(info, keys.num_rows(), positions, results)
    }

    /// Sends a lookup of `keys` (encoded) to the shard owning the bucket.
    fn lookup_bucket(
        &self,
        info: &std::sync::Arc<TableInfo>,
        partition: Option<u64>,
        bucket: u32,
        keys: Vec<Vec<u8>>,
    ) -> Result<impl std::future::Future<Output = Result<LookupResult>>> {
        let shard = self.owner_in(info, partition, bucket)?;
        let info = std::sync::Arc::clone(info);
        Ok(self.inner.runtime.call(shard, move |ctx| async move {
            let open = ctx.bucket_in(&info, partition, bucket).await?;
            Ok(open.pk()?.lookup(&keys).await?)
        }))
    }
}

/// How a lookup goes.
enum Point<'a> {
    /// One key, queued in a call slot of its bucket's shard.
    Queued(Ticket<'a>, u32),
    /// One key, encoded (bucket, key), but no call slot was free.
    Encoded(u32, Vec<u8>),
    /// Several keys, or a partitioned table.
    Many,
}

thread_local! {
    /// A caller thread's key buffer for one-key lookups (copied into the call slot).
    static SCRATCH_KEY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Puts per-bucket lookup results back in request order.
fn merge_lookups(
    info: &TableInfo,
    requested: usize,
    positions: Vec<Vec<u32>>,
    mut results: Vec<LookupResult>,
) -> Result<(RecordBatch, Vec<bool>)> {
    let in_order = |p: &Vec<u32>| p.len() == requested && p.iter().enumerate().all(|(i, &r)| r as usize == i);
    if results.len() == 1 && positions.first().is_some_and(in_order) {
        // One bucket holds every key, in request order: its answer is the answer.
        if let Some(only) = results.pop() {
            return Ok((only.rows, only.found));
        }
    }
    // For each request position: (result index, row within that result's rows) if found.
    let mut slots: Vec<Option<(usize, usize)>> = vec![None; requested];
    for (r, (rows, result)) in positions.iter().zip(&results).enumerate() {
        let mut next_row = 0;
        for (&at, &found) in rows.iter().zip(&result.found) {
            if found {
                if let Some(slot) = slots.get_mut(at as usize) {
                    *slot = Some((r, next_row));
                }
                next_row += 1;
            }
        }
    }
    let found: Vec<bool> = slots.iter().map(Option::is_some).collect();
    let indices: Vec<(usize, usize)> = slots.into_iter().flatten().collect();
    let schema = info.descriptor.schema.to_arrow();
    if indices.is_empty() {
        return Ok((RecordBatch::new_empty(schema), found));
    }
    // Buckets reopened by a schema change during the call answer in the newer schema.
    let widest = results.iter().map(|r| r.rows.schema()).max_by_key(|s| s.fields().len());
    if let Some(widest) = widest.filter(|w| results.iter().any(|r| r.rows.num_columns() < w.fields().len())) {
        for r in &mut results {
            r.rows = rill_engine::schema::evolution::widen_to_arrow(&r.rows, &widest)?;
        }
    }
    let batches: Vec<&RecordBatch> = results.iter().map(|r| &r.rows).collect();
    let rows = arrow_select::interleave::interleave_record_batch(&batches, &indices)
        .map_err(|e| rill_engine::Error::arrow("merging lookup results", e))?;
    Ok((rows, found))
}
