//! Log tables: append Arrow batches, scan them back, list offsets.

use std::sync::atomic::Ordering;

use arrow_array::RecordBatch;
use futures_lite::future::block_on;
use rill_engine::batch::{build, BuildOptions, Compression};
use rill_engine::log::OffsetSpec;

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
    /// round-robin order when `None`. Resolves once the batch is durable.
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
        let bucket = match bucket {
            Some(b) => b,
            None => self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % info.descriptor.bucket_count.max(1),
        };
        let shard = self.owner(&info, bucket)?;
        let compression = match info.descriptor.properties.get("table.log.arrow.compression.type") {
            Some(v) => Compression::from_property(v)?,
            None => Compression::default(),
        };
        // Encoding happens on the calling thread: the shard only appends bytes.
        let mut options = BuildOptions { compression, ..Default::default() };
        if let Some(w) = writer {
            options.writer_id = w.writer_id;
            options.batch_sequence = w.sequence;
        }
        let bytes = build(&info.descriptor.schema, &batch, None, &options)?;
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                let open = ctx.bucket(&info, bucket)?;
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

    /// Reads rows of `bucket` from `offset`, about `bytes_max` stored bytes (at least one
    /// batch). `projection` picks columns by position; `predicate` (rill's predicate syntax,
    /// e.g. `id >= 10 AND city = 'Oslo'`) prunes batches by statistics and filters rows.
    pub async fn scan_async(
        &self,
        table: &str,
        bucket: u32,
        offset: i64,
        bytes_max: usize,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanResult> {
        let info = self.table(table)?;
        log_table(&info)?;
        let shard = self.owner(&info, bucket)?;
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
                let open = ctx.bucket(&info, bucket)?;
                crate::scan::scan(open.log()?, &info.descriptor.schema, request).await
            })
            .await
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
    /// table, or of a primary-key table's changelog).
    pub async fn list_offsets_async(&self, table: &str, bucket: u32, spec: OffsetSpec) -> Result<i64> {
        let info = self.table(table)?;
        let shard = self.owner(&info, bucket)?;
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                let open = ctx.bucket(&info, bucket)?;
                Ok(open.any_log().list_offset(spec))
            })
            .await
    }

    /// Blocking [`Self::list_offsets_async`].
    pub fn list_offsets(&self, table: &str, bucket: u32, spec: OffsetSpec) -> Result<i64> {
        block_on(self.list_offsets_async(table, bucket, spec))
    }
}
