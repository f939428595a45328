//! The `$changelog` and `$binlog` readings of a primary-key table's log, as Fluss defines them.
//!
//! - `$changelog`: `_change_type` STRING (insert, update_before, update_after, delete; +A rows
//!   of log tables read as insert), `_log_offset` BIGINT, `_commit_timestamp`
//!   TIMESTAMP_LTZ(3), then the table's columns.
//! - `$binlog`: one row per change: `_change_type` (insert, update, delete), `_log_offset`
//!   (of the row's last record), `_commit_timestamp`, `before` and `after` (ROWs of the table's
//!   columns; null where there is no such image). An update's -U and +U become one row.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, StructArray, TimestampMillisecondArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema, TimeUnit};
use arrow_select::take::take;

use crate::batch::{BatchView, ChangeType};
use crate::error::{Error, Result};
use crate::log::StoredBatch;
use crate::schema::evolution::decode_as;
use crate::schema::Schemas;

fn change_name(kind: ChangeType) -> &'static str {
    match kind {
        ChangeType::AppendOnly | ChangeType::Insert => "insert",
        ChangeType::UpdateBefore => "update_before",
        ChangeType::UpdateAfter => "update_after",
        ChangeType::Delete => "delete",
    }
}

fn timestamp_field() -> Field {
    Field::new("_commit_timestamp", DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("UTC"))), false)
}

/// Decodes a stored batch: its change types and rows. A batch written under an older schema
/// comes back in the newest schema of `schemas`, the added columns null.
fn decode(schemas: &Schemas, stored: &StoredBatch) -> Result<(Vec<ChangeType>, RecordBatch)> {
    let view = BatchView::parse(stored.bytes.as_slice())?;
    let latest = schemas.values().next_back().ok_or_else(|| Error::invalid_batch("no schema to decode with"))?;
    let rows = decode_as(&stored.bytes, schemas, latest, "changelog")?;
    Ok((view.change_types()?, rows))
}

/// The `$changelog` rows of one stored batch.
pub fn changelog_batch(schemas: &Schemas, stored: &StoredBatch) -> Result<RecordBatch> {
    let (kinds, rows) = decode(schemas, stored)?;
    let n = rows.num_rows();
    let mut fields = vec![
        Field::new("_change_type", DataType::Utf8, false),
        Field::new("_log_offset", DataType::Int64, false),
        timestamp_field(),
    ];
    fields.extend(rows.schema().fields().iter().map(|f| f.as_ref().clone()));
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(kinds.iter().map(|k| change_name(*k)))),
        Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| stored.base_offset + i))),
        Arc::new(TimestampMillisecondArray::from(vec![stored.commit_timestamp; n]).with_timezone("UTC")),
    ];
    columns.extend(rows.columns().iter().cloned());
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)
        .map_err(|e| Error::arrow("building $changelog", e))
}

/// The `$binlog` rows of one stored batch (a -U is paired with the +U that follows it).
pub fn binlog_batch(schemas: &Schemas, stored: &StoredBatch) -> Result<RecordBatch> {
    let (kinds, rows) = decode(schemas, stored)?;
    let mut names = Vec::new();
    let mut offsets = Vec::new();
    let mut before: Vec<Option<u32>> = Vec::new();
    let mut after: Vec<Option<u32>> = Vec::new();
    let mut i = 0;
    while i < kinds.len() {
        let offset = stored.base_offset + i as i64;
        match kinds[i] {
            ChangeType::UpdateBefore if kinds.get(i + 1) == Some(&ChangeType::UpdateAfter) => {
                names.push("update");
                offsets.push(offset + 1);
                before.push(Some(i as u32));
                after.push(Some(i as u32 + 1));
                i += 2;
                continue;
            }
            ChangeType::UpdateBefore | ChangeType::Delete => {
                names.push("delete");
                before.push(Some(i as u32));
                after.push(None);
            }
            ChangeType::UpdateAfter => {
                names.push("update");
                before.push(None);
                after.push(Some(i as u32));
            }
            ChangeType::Insert | ChangeType::AppendOnly => {
                names.push("insert");
                before.push(None);
                after.push(Some(i as u32));
            }
        }
        offsets.push(offset);
        i += 1;
    }
    let image = |picks: &[Option<u32>]| image_column(&rows, picks);
    let nullable: Fields =
        rows.schema().fields().iter().map(|f| Arc::new(f.as_ref().clone().with_nullable(true))).collect();
    let row_type = DataType::Struct(nullable);
    let fields = vec![
        Field::new("_change_type", DataType::Utf8, false),
        Field::new("_log_offset", DataType::Int64, false),
        timestamp_field(),
        Field::new("before", row_type.clone(), true),
        Field::new("after", row_type, true),
    ];
    let n = names.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(Int64Array::from(offsets)),
        Arc::new(TimestampMillisecondArray::from(vec![stored.commit_timestamp; n]).with_timezone("UTC")),
        image(&before)?,
        image(&after)?,
    ];
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).map_err(|e| Error::arrow("building $binlog", e))
}

/// A nullable struct column of the rows at `picks` (None = a null image).
fn image_column(rows: &RecordBatch, picks: &[Option<u32>]) -> Result<ArrayRef> {
    let indices = UInt32Array::from(picks.to_vec());
    let mut children = Vec::with_capacity(rows.num_columns());
    for column in rows.columns() {
        children.push(take(column.as_ref(), &indices, None).map_err(|e| Error::arrow("building $binlog", e))?);
    }
    let valid = BooleanArray::from_iter(picks.iter().map(|p| Some(p.is_some())));
    let fields: Fields =
        rows.schema().fields().iter().map(|f| Arc::new(f.as_ref().clone().with_nullable(true))).collect();
    let nulls = Some(arrow_buffer::NullBuffer::from(valid.values().clone()));
    let array = StructArray::try_new(fields, children, nulls).map_err(|e| Error::arrow("building $binlog", e))?;
    Ok(Arc::new(array) as ArrayRef)
}
