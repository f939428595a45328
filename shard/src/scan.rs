//! Shard-side reading of a log bucket: read stored batches (pruned by statistics), decode
//! them, drop rows before the requested offset, apply the exact row filter, project.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rill_engine::batch::{ipc, BatchView};
use rill_engine::log::{BatchFilter, Log, StoredBatch, UringStorage};
use rill_engine::predicate::Predicate;
use rill_engine::schema::Schema;

use crate::error::Result;

/// What a scan returns.
#[derive(Clone, Debug)]
pub struct ScanResult {
    /// Decoded (filtered, projected) rows; batches left empty by the filter are omitted.
    pub batches: Vec<RecordBatch>,
    /// Where the next scan continues.
    pub next_offset: i64,
    /// The durable end of the bucket when the scan started.
    pub high_watermark: i64,
}

/// One scan request.
#[derive(Clone, Debug)]
pub(crate) struct ScanRequest {
    pub(crate) offset: i64,
    pub(crate) bytes_max: usize,
    pub(crate) projection: Option<Vec<usize>>,
    pub(crate) predicate: Option<String>,
}

/// Runs `request` on `log` of a table with `schema`.
pub(crate) async fn scan(log: &Log<UringStorage>, schema: &Schema, request: ScanRequest) -> Result<ScanResult> {
    let predicate = request.predicate.as_deref().map(|p| Predicate::parse(p, schema)).transpose()?;
    let filter = predicate.as_ref().map(|p| p as &dyn BatchFilter);
    let read = log.read(request.offset, request.bytes_max, filter).await?;
    let arrow = schema.to_arrow();
    let mut batches = Vec::with_capacity(read.batches.len());
    for stored in &read.batches {
        let mut rows = decode(stored, arrow.clone())?;
        let skip = usize::try_from(request.offset - stored.base_offset).unwrap_or(0).min(rows.num_rows());
        if skip > 0 {
            rows = rows.slice(skip, rows.num_rows() - skip);
        }
        if let Some(p) = &predicate {
            let mask = p.filter(&rows)?;
            rows = arrow_select::filter::filter_record_batch(&rows, &mask)
                .map_err(|e| rill_engine::Error::arrow("filtering rows", e))?;
        }
        if let Some(columns) = &request.projection {
            rows = rows.project(columns).map_err(|e| rill_engine::Error::arrow("projecting", e))?;
        }
        if rows.num_rows() > 0 {
            batches.push(rows);
        }
    }
    Ok(ScanResult { batches, next_offset: read.next_offset, high_watermark: read.high_watermark })
}

/// Decodes a stored batch's Arrow payload.
pub(crate) fn decode(stored: &StoredBatch, schema: SchemaRef) -> Result<RecordBatch> {
    let view = BatchView::parse(stored.bytes.as_slice())?;
    let range = view.ipc_range();
    let message = stored.bytes.slice_with_length(range.start, range.len());
    Ok(ipc::decode(&message, schema, false)?)
}
