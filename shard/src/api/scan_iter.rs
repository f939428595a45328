//! A blocking iterator over a bucket's rows from an offset spec (earliest, latest or a
//! timestamp) up to the high watermark seen by its first read. Not a subscription: it ends
//! there (waiting for new data comes with the changelog subscription).

use std::collections::VecDeque;

use arrow_array::RecordBatch;
use rill_engine::log::OffsetSpec;

use super::Rill;
use crate::error::Result;

/// Stored bytes fetched per read of a [`ScanIter`].
pub const SCAN_ITER_BYTES_MAX: usize = 1 << 20;

/// Rows of one bucket, batch by batch (see [`Rill::scan_iter`]).
pub struct ScanIter {
    rill: Rill,
    table: String,
    partition: Option<String>,
    bucket: u32,
    offset: i64,
    end: Option<i64>,
    projection: Option<Vec<usize>>,
    predicate: Option<String>,
    pending: VecDeque<RecordBatch>,
    done: bool,
}

impl Rill {
    /// Iterates the rows of `bucket` from `from` to the current high watermark, with the same
    /// projection and predicate as [`Rill::scan`] (unpartitioned tables; see
    /// [`Rill::scan_iter_partition`]).
    pub fn scan_iter(
        &self,
        table: &str,
        bucket: u32,
        from: OffsetSpec,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanIter> {
        self.scan_iter_partition(table, None, bucket, from, projection, predicate)
    }

    /// [`Rill::scan_iter`] on a bucket of partition `partition` (`None` for an unpartitioned
    /// table).
    pub fn scan_iter_partition(
        &self,
        table: &str,
        partition: Option<&str>,
        bucket: u32,
        from: OffsetSpec,
        projection: Option<Vec<usize>>,
        predicate: Option<String>,
    ) -> Result<ScanIter> {
        let offset = self.list_offsets_partition(table, partition, bucket, from)?;
        Ok(ScanIter {
            rill: self.clone(),
            table: table.to_string(),
            partition: partition.map(str::to_string),
            bucket,
            offset,
            end: None,
            projection,
            predicate,
            pending: VecDeque::new(),
            done: false,
        })
    }
}

impl Iterator for ScanIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return Some(Ok(batch));
            }
            if self.done || self.end.is_some_and(|end| self.offset >= end) {
                return None;
            }
            let read = self.rill.scan_partition(
                &self.table,
                self.partition.as_deref(),
                self.bucket,
                self.offset,
                SCAN_ITER_BYTES_MAX,
                self.projection.clone(),
                self.predicate.clone(),
            );
            match read {
                Ok(r) => {
                    let end = *self.end.get_or_insert(r.high_watermark);
                    self.done = r.next_offset <= self.offset || r.next_offset >= end;
                    self.offset = r.next_offset;
                    self.pending.extend(r.batches);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
