//! Log tables: append Arrow batches, scan them back, list offsets.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::runtime::block_on;
use arrow_array::RecordBatch;
use rill_engine::batch::{build, BuildOptions, Compression};
use rill_engine::log::OffsetSpec;

use super::partition_route::{named, split};
use super::writer::WriterSeq;
use super::Rill;
use crate::catalog::{TableInfo, TableKind};
use crate::error::{Error, Result};
use crate::scan::{ScanRequest, ScanResult};

/// Where an append landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// The bucket written (the chosen one when the call named none).
    pub bucket: u32,
    /// The shard that appended it.
    pub shard: usize,
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset after the batch's last record.
    pub next_offset: i64,
    /// Commit time set by the log, epoch ms.
    pub commit_timestamp: i64,
    /// An idempotent writer's retry: these are the first attempt's offsets, nothing was
    /// appended (see [`Rill::append_idempotent`]).
    pub duplicate: bool,
}

fn log_table(info: &TableInfo) -> Result<()> {
    match info.kind() {
        TableKind::Log => Ok(()),
        TableKind::PrimaryKey => Err(Error::NotALogTable { name: info.name().to_string() }),
    }
}

impl Rill {
    /// Appends `batch` (the table's columns, in order) to `bucket`, or to the next bucket in
    /// round-robin order when `None`. Resolves once the batch is durable. On a partitioned
    /// table every row must belong to one existing partition (by its partition-key values);
    /// rows of several partitions go through [`Self::append_partitioned`].
    pub async fn append_async(&self, table: &str, bucket: Option<u32>, batch: RecordBatch) -> Result<AppendInfo> {
        self.append_as(table, bucket, batch, None).await
    }

    /// Appends, as a batch of an idempotent writer when `writer` is set.
    pub(super) async fn append_as(
        &self,
        table: &str,
        bucket: Option<u32>,
        batch: RecordBatch,
        writer: Option<WriterSeq>,
    ) -> Result<AppendInfo> {
        let info = self.table(table)?;
        log_table(&info)?;
        let mut slices = split(&self.catalog(), &info, &batch)?;
        if slices.len() > 1 {
            let names: Vec<&str> =
                slices.iter().filter_map(|s| s.partition.as_deref()).map(|p| p.name.as_str()).collect();
            return Err(Error::InvalidRequest {
                table: table.to_string(),
                reason: format!("the rows span partitions {names:?}: use append_partitioned"),
            });
        }
        match slices.pop() {
            Some(slice) => self.append_to(&info, slice.partition_id(), bucket, slice.rows, writer).await,
            None => self.append_to(&info, None, bucket, batch, writer).await,
        }
    }

    /// Appends `batch` to `bucket` (or round-robin) of `partition` of `info`.
    pub(super) async fn append_to(
        &self,
        info: &Arc<TableInfo>,
        partition: Option<u64>,
        bucket: Option<u32>,
        batch: RecordBatch,
        writer: Option<WriterSeq>,
    ) -> Result<AppendInfo> {
        let bucket = match bucket {
            Some(b) => b,
            None => self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % info.descriptor.bucket_count.max(1),
        };
        let shard = self.owner_in(info, partition, bucket)?;
        let compression = match info.descriptor.properties.get("table.log.arrow.compression.type") {
            Some(v) => Compression::from_property(v)?,
            None => Compression::default(),
        };
        // Encoding happens on the calling thread: the shard only appends bytes. Rows in an
        // older schema of the table are stored under that schema's id (and read back widened).
        let schema = super::schema::schema_of_rows(info, &batch)?;
        let mut options = BuildOptions { compression, ..Default::default() };
        if let Some(w) = writer {
            options.writer_id = w.writer_id;
            options.batch_sequence = w.sequence;
        }
        let bytes = build(&schema, &batch, None, &options)?;
        self.append_bytes(Arc::clone(info), shard, partition, bucket, bytes).await
    }

    /// Sends one encoded batch to the shard owning `bucket` and appends it there.
    async fn append_bytes(
        &self,
        info: Arc<TableInfo>,
        shard: usize,
        partition: Option<u64>,
        bucket: u32,
        bytes: Vec<u8>,
    ) -> Result<AppendInfo> {
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                let open = ctx.bucket_in(&info, partition, bucket).await?;
                let a = open.log()?.append(bytes).await?;
                Ok(AppendInfo {
                    bucket,
                    shard: ctx.index(),
                    base_offset: a.base_offset,
                    next_offset: a.next_offset,
                    commit_timestamp: a.commit_timestamp,
                    duplicate: a.duplicate,
                })
            })
            .await
    }

    /// Blocking [`Self::append_async`].
    pub fn append(&self, table: &str, bucket: Option<u32>, batch: RecordBatch) -> Result<AppendInfo> {
        block_on(self.append_async(table, bucket, batch))
    }

    /// Appends one encoded Fluss `LogRecordBatch`, as a Fluss client sends it (what a gateway
    /// speaking Fluss's protocol forwards), to `bucket` of an unpartitioned log table. The log
    /// validates it (CRC, magic, schema id, records; docs/format.md). A batch without
    /// statistics (magic V0, as Fluss clients send) is acknowledged first; background
    /// maintenance computes its statistics afterwards ([`BucketStats::log_pending_stats_bytes`]).
    ///
    /// [`BucketStats::log_pending_stats_bytes`]: super::stats::BucketStats::log_pending_stats_bytes
    pub async fn append_encoded_async(&self, table: &str, bucket: u32, bytes: Vec<u8>) -> Result<AppendInfo> {
        let info = self.table(table)?;
        log_table(&info)?;
        let partition = named(&self.catalog(), &info, None, "append_encoded")?;
        let shard = self.owner_in(&info, partition, bucket)?;
        self.append_bytes(info, shard, partition, bucket, bytes).await
    }

    /// Blocking [`Self::append_encoded_async`].
    pub fn append_encoded(&self, table: &str, bucket: u32, bytes: Vec<u8>) -> Result<AppendInfo> {
        block_on(self.append_encoded_async(table, bucket, bytes))
    }

    /// Reads rows of `bucket` from `offset`, about `bytes_max` stored bytes (at least one
    /// batch). `projection` picks columns by position; `predicate` (rill's predicate syntax,
    /// e.g. `id >= 10 AND city = 'Oslo'`) prunes batches by statistics and filters rows.
    /// Unpartitioned tables only (`PartitionRequired`): see [`Self::scan_partition_async`].
    pub async fn scan_async(
        &self,
        table: &str,
        bucket: u32,
        offset: i64,
        bytes_max: usize,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanResult> {
        self.scan_partition_async(table, None, bucket, offset, bytes_max, projection, predicate).await
    }

    /// [`Self::scan_async`] on bucket `bucket` of partition `partition` (by name, e.g.
    /// `2024-01-15$US`; `None` for an unpartitioned table).
    #[expect(clippy::too_many_arguments, reason = "the scan call of Fluss's FetchLog, plus the partition")]
    pub async fn scan_partition_async(
        &self,
        table: &str,
        partition: Option<&str>,
        bucket: u32,
        offset: i64,
        bytes_max: usize,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanResult> {
        let info = self.table(table)?;
        log_table(&info)?;
        let partition = named(&self.catalog(), &info, partition, "scan")?;
        let shard = self.owner_in(&info, partition, bucket)?;
        let columns = info.descriptor.schema.columns.len();
        if let Some(bad) = projection.iter().flatten().find(|&&c| c >= columns) {
            return Err(Error::InvalidRequest {
                table: table.to_string(),
                reason: format!("projection names column {bad}, the table has {columns}"),
            });
        }
        let request = ScanRequest { offset, bytes_max, projection, predicate };
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                let open = ctx.bucket_in(&info, partition, bucket).await?;
                // The bucket's schemas: a newer catalog than the caller's may have reopened it.
                crate::scan::scan(open.log()?, &open.table.descriptor.schema, request).await
            })
            .await
    }

    /// Blocking [`Self::scan_partition_async`].
    #[expect(clippy::too_many_arguments, reason = "the scan call of Fluss's FetchLog, plus the partition")]
    pub fn scan_partition(
        &self,
        table: &str,
        partition: Option<&str>,
        bucket: u32,
        offset: i64,
        bytes_max: usize,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanResult> {
        block_on(self.scan_partition_async(table, partition, bucket, offset, bytes_max, projection, predicate))
    }

    /// Blocking [`Self::scan_async`].
    pub fn scan(
        &self,
        table: &str,
        bucket: u32,
        offset: i64,
        bytes_max: usize,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanResult> {
        block_on(self.scan_async(table, bucket, offset, bytes_max, projection, predicate))
    }

    /// The earliest, latest (high watermark) or first-at-a-time offset of a bucket (of a log
    /// table, or of a primary-key table's changelog). Unpartitioned tables only: see
    /// [`Self::list_offsets_partition_async`].
    pub async fn list_offsets_async(&self, table: &str, bucket: u32, spec: OffsetSpec) -> Result<i64> {
        self.list_offsets_partition_async(table, None, bucket, spec).await
    }

    /// [`Self::list_offsets_async`] on a bucket of partition `partition` (`None` for an
    /// unpartitioned table).
    pub async fn list_offsets_partition_async(
        &self,
        table: &str,
        partition: Option<&str>,
        bucket: u32,
        spec: OffsetSpec,
    ) -> Result<i64> {
        let info = self.table(table)?;
        let partition = named(&self.catalog(), &info, partition, "list_offsets")?;
        let shard = self.owner_in(&info, partition, bucket)?;
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                let open = ctx.bucket_in(&info, partition, bucket).await?;
                Ok(open.any_log().list_offset(spec))
            })
            .await
    }

    /// Blocking [`Self::list_offsets_partition_async`].
    pub fn list_offsets_partition(
        &self,
        table: &str,
        partition: Option<&str>,
        bucket: u32,
        spec: OffsetSpec,
    ) -> Result<i64> {
        block_on(self.list_offsets_partition_async(table, partition, bucket, spec))
    }

    /// Blocking [`Self::list_offsets_async`].
    pub fn list_offsets(&self, table: &str, bucket: u32, spec: OffsetSpec) -> Result<i64> {
        block_on(self.list_offsets_async(table, bucket, spec))
    }
}
