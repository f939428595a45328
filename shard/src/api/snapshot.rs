//! KV snapshot scans: every live row of a primary-key table (or of one bucket) as Arrow
//! batches, streamed a bounded number of bytes per pull, plus per bucket the changelog
//! offset to continue from (the bootstrap of a lookup-join cache: scan, then
//! [`Rill::subscribe`] from those offsets).
//!
//! Every bucket's snapshot is taken when the scan opens (all buckets at about the same time,
//! each exactly consistent at its `log_offset`) and held on its shard: writes, flushes,
//! compactions and garbage collection go on, and the snapshot keeps the SST files it reads
//! (garbage collection only deletes a replaced SST once no reader holds it). Holding a
//! snapshot costs a copy of its bucket's memtables; drop the iterator to release it.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::RecordBatch;
use futures_lite::future::block_on;

use super::Rill;
use crate::catalog::{TableInfo, TableKind};
use crate::error::{Error, Result};

/// Bytes (Arrow memory) gathered per pull at most (at least one chunk of rows; a chunk is
/// at most the LSM's `merge_chunk_rows` rows).
pub const SNAPSHOT_PULL_BYTES_MAX: usize = 4 << 20;

/// Where a bucket's snapshot stands in its changelog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotOffset {
    pub bucket: u32,
    /// Every change below this offset is in the snapshot: follow the changelog from here.
    pub log_offset: i64,
}

/// One bucket's snapshot, held on its shard.
#[derive(Clone, Copy, Debug)]
struct Held {
    shard: usize,
    id: u64,
}

/// The rows of a KV snapshot, batch by batch, bucket by bucket (see [`Rill::kv_snapshot`]).
/// Blocking through [`Iterator`], async through [`Self::next_async`].
pub struct KvSnapshotIter {
    rill: Rill,
    table: String,
    /// Snapshots not read to their end yet, in bucket order.
    open: VecDeque<Held>,
    offsets: Vec<SnapshotOffset>,
    pending: VecDeque<RecordBatch>,
    pull_bytes: usize,
}

impl Rill {
    /// Snapshots every bucket of primary-key table `table` (see the module docs).
    pub async fn kv_snapshot_async(&self, table: &str) -> Result<KvSnapshotIter> {
        let info = self.table(table)?;
        let buckets: Vec<u32> = (0..info.descriptor.bucket_count).collect();
        self.open_snapshot(info, &buckets).await
    }

    /// Blocking [`Self::kv_snapshot_async`].
    pub fn kv_snapshot(&self, table: &str) -> Result<KvSnapshotIter> {
        block_on(self.kv_snapshot_async(table))
    }

    /// Snapshots one bucket of primary-key table `table`.
    pub async fn kv_snapshot_bucket_async(&self, table: &str, bucket: u32) -> Result<KvSnapshotIter> {
        let info = self.table(table)?;
        self.open_snapshot(info, &[bucket]).await
    }

    /// Blocking [`Self::kv_snapshot_bucket_async`].
    pub fn kv_snapshot_bucket(&self, table: &str, bucket: u32) -> Result<KvSnapshotIter> {
        block_on(self.kv_snapshot_bucket_async(table, bucket))
    }

    async fn open_snapshot(&self, info: Arc<TableInfo>, buckets: &[u32]) -> Result<KvSnapshotIter> {
        if info.kind() != TableKind::PrimaryKey {
            return Err(Error::NotAPrimaryKeyTable { name: info.name().to_string() });
        }
        // Ask every shard at once; the iterator releases whatever opened if one fails.
        let mut calls = Vec::with_capacity(buckets.len());
        for &bucket in buckets {
            let shard = self.owner(&info, bucket)?;
            let info = Arc::clone(&info);
            let call = self.inner.runtime.call(shard, move |ctx| async move {
                let snapshot = ctx.bucket(&info, bucket).await?.pk()?.snapshot()?;
                let log_offset = snapshot.log_offset;
                let id = ctx.snapshots().insert(ctx.index(), snapshot)?;
                Ok((Held { shard: ctx.index(), id }, log_offset))
            });
            calls.push((bucket, call));
        }
        let mut iter = KvSnapshotIter {
            rill: self.clone(),
            table: info.name().to_string(),
            open: VecDeque::with_capacity(buckets.len()),
            offsets: Vec::with_capacity(buckets.len()),
            pending: VecDeque::new(),
            pull_bytes: SNAPSHOT_PULL_BYTES_MAX,
        };
        let mut first_error = None;
        for (bucket, call) in calls {
            match call.await {
                Ok((held, log_offset)) => {
                    iter.open.push_back(held);
                    iter.offsets.push(SnapshotOffset { bucket, log_offset });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(iter), Err)
    }
}

impl KvSnapshotIter {
    /// Per bucket, the changelog offset the snapshot is consistent at.
    pub fn log_offsets(&self) -> &[SnapshotOffset] {
        &self.offsets
    }

    /// One subscription per snapshotted bucket, from the offset its snapshot is consistent
    /// at: applying the snapshot's rows, then what these yield, keeps a copy of the table
    /// current (the lookup-join bootstrap).
    pub fn subscriptions(&self) -> Result<Vec<super::Subscription>> {
        self.offsets.iter().map(|o| self.rill.subscribe(&self.table, o.bucket, o.log_offset)).collect()
    }

    /// Gathers about `bytes` per pull instead of [`SNAPSHOT_PULL_BYTES_MAX`] (clamped to
    /// `1..=SNAPSHOT_PULL_BYTES_MAX`).
    pub fn with_pull_bytes(mut self, bytes: usize) -> Self {
        self.pull_bytes = bytes.clamp(1, SNAPSHOT_PULL_BYTES_MAX);
        self
    }

    /// The next batch of rows (table schema, key order within a bucket), `None` at the end.
    pub async fn next_async(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return Some(Ok(batch));
            }
            let held = *self.open.front()?;
            match self.pull(held).await {
                Ok((batches, done)) => {
                    if done {
                        self.open.pop_front();
                    }
                    self.pending.extend(batches);
                }
                Err(e) => {
                    self.open.pop_front();
                    return Some(Err(e));
                }
            }
        }
    }

    /// Pulls batches of one bucket's snapshot; true when it reached its end (then the shard
    /// has dropped it).
    async fn pull(&self, held: Held) -> Result<(Vec<RecordBatch>, bool)> {
        let bytes_max = self.pull_bytes;
        let Held { shard, id } = held;
        self.rill
            .inner
            .runtime
            .call(shard, move |ctx| async move {
                let snapshots = ctx.snapshots();
                let mut snapshot = snapshots.take(shard, id)?;
                let mut batches = Vec::new();
                let mut bytes = 0;
                loop {
                    match snapshot.next_batch().await {
                        Ok(Some(batch)) => {
                            bytes += batch.get_array_memory_size();
                            batches.push(batch);
                            if bytes >= bytes_max {
                                snapshots.put_back(id, snapshot);
                                return Ok((batches, false));
                            }
                        }
                        Ok(None) => {
                            snapshots.remove(id);
                            return Ok((batches, true));
                        }
                        Err(e) => {
                            snapshots.remove(id);
                            return Err(e.into());
                        }
                    }
                }
            })
            .await
    }
}

impl Iterator for KvSnapshotIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(self.next_async())
    }
}

impl Drop for KvSnapshotIter {
    fn drop(&mut self) {
        // Fire and forget: the request is queued when `call` returns; its reply is not needed.
        for Held { shard, id } in self.open.drain(..) {
            drop(self.rill.inner.runtime.call(shard, move |ctx| async move {
                ctx.snapshots().remove(id);
                Ok(())
            }));
        }
    }
}
