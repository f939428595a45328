//! Log-table operations across partitions: append rows of several partitions in one call,
//! and scan a whole table, skipping the partitions a predicate cannot match.

use crate::runtime::block_on;
use arrow_array::RecordBatch;
use rill_engine::log::OffsetSpec;

use super::partition_route::split;
use super::{AppendInfo, Rill};
use crate::catalog::TableKind;
use crate::error::{Error, Result};

/// Stored bytes read per scan call of [`Rill::scan_table`].
const SCAN_TABLE_READ_BYTES: usize = 1 << 20;

/// Where one partition's rows of an append landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionAppend {
    /// The partition name (`None` for an unpartitioned table).
    pub partition: Option<String>,
    /// Number of rows appended to it.
    pub rows: usize,
    /// The append itself.
    pub info: AppendInfo,
}

/// What [`Rill::scan_table`] read.
#[derive(Clone, Debug, Default)]
pub struct TableScan {
    /// The rows (filtered by the predicate, projected), partition by partition, bucket by
    /// bucket, in offset order within a bucket.
    pub batches: Vec<RecordBatch>,
    /// Names of the partitions read.
    pub partitions_scanned: Vec<String>,
    /// Number of partitions skipped because their values cannot match the predicate.
    pub partitions_pruned: usize,
    /// False when the scan stopped at `bytes_max` before the end.
    pub complete: bool,
}

impl Rill {
    /// Appends rows of any partitions of a log table: rows are split by their partition-key
    /// values, each share goes to `bucket` (or round-robin) of its partition. Every partition
    /// must exist (`UnknownPartition` before anything is written). Atomic per partition only.
    pub async fn append_partitioned_async(
        &self,
        table: &str,
        bucket: Option<u32>,
        batch: RecordBatch,
    ) -> Result<Vec<PartitionAppend>> {
        let info = self.table(table)?;
        if info.kind() != TableKind::Log {
            return Err(Error::NotALogTable { name: table.to_string() });
        }
        let slices = split(&self.catalog(), &info, &batch)?;
        let mut out = Vec::with_capacity(slices.len());
        for slice in slices {
            let rows = slice.rows.num_rows();
            let appended = self.append_to(&info, slice.partition_id(), bucket, slice.rows, None).await?;
            out.push(PartitionAppend { partition: slice.partition.map(|p| p.name.clone()), rows, info: appended });
        }
        Ok(out)
    }

    /// Blocking [`Self::append_partitioned_async`].
    pub fn append_partitioned(
        &self,
        table: &str,
        bucket: Option<u32>,
        batch: RecordBatch,
    ) -> Result<Vec<PartitionAppend>> {
        block_on(self.append_partitioned_async(table, bucket, batch))
    }

    /// Reads every bucket of a log table from its earliest offset to its high watermark, in
    /// every partition `predicate` can match (all partitions without one; an unpartitioned
    /// table is one "partition"). The predicate also filters rows; `projection` picks
    /// columns. Stops once the decoded rows exceed `bytes_max` (`complete` is then false).
    pub async fn scan_table_async(
        &self,
        table: &str,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
        bytes_max: usize,
    ) -> Result<TableScan> {
        let info = self.table(table)?;
        let mut scan = TableScan::default();
        let partitions = match info.is_partitioned() {
            true => {
                let all = self.list_partitions(table)?.len();
                let kept = self.partitions_matching(table, predicate.as_deref())?;
                scan.partitions_pruned = all - kept.len();
                kept.iter().map(|p| Some(p.name.clone())).collect()
            }
            false => vec![None],
        };
        scan.partitions_scanned = partitions.iter().flatten().cloned().collect();
        let buckets = info.descriptor.bucket_count;
        let mut bytes = 0usize;
        for name in partitions {
            for bucket in 0..buckets {
                let name = name.as_deref();
                let mut offset = self.list_offsets_partition_async(table, name, bucket, OffsetSpec::Earliest).await?;
                loop {
                    let (projection, predicate) = (projection.clone(), predicate.clone());
                    let read = self
                        .scan_partition_async(table, name, bucket, offset, SCAN_TABLE_READ_BYTES, projection, predicate)
                        .await?;
                    bytes += read.batches.iter().map(RecordBatch::get_array_memory_size).sum::<usize>();
                    scan.batches.extend(read.batches);
                    if bytes > bytes_max {
                        return Ok(scan);
                    }
                    if read.next_offset <= offset || read.next_offset >= read.high_watermark {
                        break;
                    }
                    offset = read.next_offset;
                }
            }
        }
        scan.complete = true;
        Ok(scan)
    }

    /// Blocking [`Self::scan_table_async`].
    pub fn scan_table(
        &self,
        table: &str,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
        bytes_max: usize,
    ) -> Result<TableScan> {
        block_on(self.scan_table_async(table, projection, predicate, bytes_max))
    }
}
