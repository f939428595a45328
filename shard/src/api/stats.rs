//! Storage statistics of one bucket, for operators and tests: memtable bytes, SSTs per level,
//! log offsets, and the memtable total of the owning shard (against its budget).

use crate::runtime::block_on;
use rill_engine::log::OffsetSpec;

use super::partition_route::named;
use super::Rill;
use crate::bucket::Store;
use crate::error::Result;

/// What one bucket holds, as its shard sees it at the moment of the call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketStats {
    /// The shard that owns the bucket.
    pub shard: usize,
    /// Bytes in the bucket's memtable (0 for a log table).
    pub memtable_bytes: usize,
    /// Bytes in the memtables of all primary-key buckets of the owning shard.
    pub shard_memtable_bytes: usize,
    /// The owning shard's `memtable_bytes_max_per_shard`.
    pub shard_memtable_bytes_max: usize,
    /// Number of SSTs per level, L0 first (empty for a log table).
    pub sst_counts: Vec<usize>,
    /// SST file bytes per level, L0 first (empty for a log table).
    pub sst_bytes: Vec<u64>,
    /// The log offset below which every change is in SSTs: recovery replays the changelog
    /// from here (`None` for a log table).
    pub covered_offset: Option<i64>,
    /// First offset still in the log (the table's log, or a primary-key table's changelog).
    pub log_start_offset: i64,
    /// High watermark: the offset after the last durable batch.
    pub log_end_offset: i64,
    /// Number of log segments.
    pub log_segments: usize,
    /// Bytes of appended batches that came without statistics (Fluss V0 batches) whose
    /// statistics background maintenance has not computed yet.
    pub log_pending_stats_bytes: usize,
    /// Compaction steps of this bucket (since it opened) whose merge a peer shard ran
    /// (`RillConfig::compaction_merges_on_peer`).
    pub compaction_merges_on_peer: u64,
}

impl BucketStats {
    /// SSTs in level 0 (flushed memtables not yet compacted).
    pub fn l0_ssts(&self) -> usize {
        self.sst_counts.first().copied().unwrap_or(0)
    }
}

impl Rill {
    /// Statistics of `bucket` of `table` (either kind), read on its owning shard
    /// (unpartitioned tables; see [`Self::bucket_stats_partition_async`]).
    pub async fn bucket_stats_async(&self, table: &str, bucket: u32) -> Result<BucketStats> {
        self.bucket_stats_partition_async(table, None, bucket).await
    }

    /// Blocking [`Self::bucket_stats_partition_async`].
    pub fn bucket_stats_partition(&self, table: &str, partition: Option<&str>, bucket: u32) -> Result<BucketStats> {
        block_on(self.bucket_stats_partition_async(table, partition, bucket))
    }

    /// [`Self::bucket_stats_async`] of a bucket of partition `partition` (`None` for an
    /// unpartitioned table).
    pub async fn bucket_stats_partition_async(
        &self,
        table: &str,
        partition: Option<&str>,
        bucket: u32,
    ) -> Result<BucketStats> {
        let info = self.table(table)?;
        let partition = named(&self.catalog(), &info, partition, "bucket_stats")?;
        let shard = self.owner_in(&info, partition, bucket)?;
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                let open = ctx.bucket_in(&info, partition, bucket).await?;
                let log = open.any_log();
                let mut stats = BucketStats {
                    shard: ctx.index(),
                    shard_memtable_bytes: ctx.memtable_bytes(),
                    shard_memtable_bytes_max: ctx.budget().bytes_max(),
                    log_start_offset: log.list_offset(OffsetSpec::Earliest),
                    log_end_offset: log.list_offset(OffsetSpec::Latest),
                    log_segments: log.segment_count(),
                    log_pending_stats_bytes: log.pending_stats_bytes(),
                    compaction_merges_on_peer: open.merges_on_peer.get(),
                    ..BucketStats::default()
                };
                if let Store::Pk(table) = &open.store {
                    let lsm = table.lsm();
                    stats.memtable_bytes = open.memtable_bytes();
                    stats.sst_counts = lsm.level_sizes();
                    stats.sst_bytes = lsm.level_bytes();
                    stats.covered_offset = Some(lsm.covered_offset());
                }
                Ok(stats)
            })
            .await
    }

    /// Blocking [`Self::bucket_stats_async`].
    pub fn bucket_stats(&self, table: &str, bucket: u32) -> Result<BucketStats> {
        block_on(self.bucket_stats_async(table, bucket))
    }
}
