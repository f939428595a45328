//! Changelog records of primary-key writes, and the Arrow batches built from them.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::interleave::interleave;

use super::merge::{datums_to_batch, Datum};
use crate::batch::{build, BuildOptions, ChangeType};
use crate::error::{Error, Result};
use crate::kv::tree::RowRef;
use crate::schema::{Schema, TableDescriptor};

/// `table.changelog.image`: FULL emits -U/+U pairs (reading the old row), WAL emits only +U
/// and skips reading the old row for full-row upserts of the default merge engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangelogImage {
    Full,
    Wal,
}

impl ChangelogImage {
    /// Reads the table property (FULL by default).
    pub fn from_properties(desc: &TableDescriptor) -> Result<Self> {
        match desc.properties.get("table.changelog.image").map(|v| v.to_ascii_uppercase()) {
            None => Ok(Self::Full),
            Some(v) if v == "FULL" => Ok(Self::Full),
            Some(v) if v == "WAL" => Ok(Self::Wal),
            Some(v) => Err(Error::InvalidSchema {
                table: desc.name.clone(),
                reason: format!("table.changelog.image must be FULL or WAL, not '{v}'"),
            }),
        }
    }
}

/// One changelog record.
#[derive(Clone, Debug)]
pub struct ChangeRow {
    pub key: Vec<u8>,
    pub kind: ChangeType,
    pub values: Rc<Vec<Datum>>,
}

/// What a write will do, ready to append and apply: its changelog records and the final state
/// per key.
pub struct Planned {
    /// The changelog rows (table schema), one per record of `kinds`.
    pub changelog: RecordBatch,
    pub kinds: Vec<ChangeType>,
    /// The final state per key (no key twice, first-seen order): keys, delete flags and rows
    /// (a deleted key's row is ignored).
    pub keys: Vec<Vec<u8>>,
    pub deleted: Vec<bool>,
    pub rows: RecordBatch,
}

impl Planned {
    /// The plan of changelog records computed row by row (merge engines other than
    /// last-write-wins, deletes, partial updates).
    pub fn from_changes(schema: &Schema, changes: &[ChangeRow]) -> Result<Self> {
        let rows: Vec<Vec<Datum>> = changes.iter().map(|c| c.values.as_ref().clone()).collect();
        let changelog = datums_to_batch(schema, &rows)?;
        let kinds: Vec<ChangeType> = changes.iter().map(|c| c.kind).collect();
        let (keys, deleted, rows) = final_rows(schema, changes)?;
        Ok(Self { changelog, kinds, keys, deleted, rows })
    }

    /// The changelog batch (magic V2, change-type vector, full rows).
    pub fn encode(&self, schema: &Schema, options: &BuildOptions) -> Result<Vec<u8>> {
        build(schema, &self.changelog, Some(&self.kinds), options)
    }
}

/// The final state per key of a write: keys (first-seen order), delete flags and rows (a
/// deleted key carries its old row, which the memtable ignores).
pub fn final_rows(schema: &Schema, changes: &[ChangeRow]) -> Result<(Vec<Vec<u8>>, Vec<bool>, RecordBatch)> {
    let mut order: Vec<&[u8]> = Vec::new();
    let mut last: HashMap<&[u8], &ChangeRow> = HashMap::new();
    for change in changes.iter().filter(|c| c.kind != ChangeType::UpdateBefore) {
        if last.insert(change.key.as_slice(), change).is_none() {
            order.push(change.key.as_slice());
        }
    }
    let finals: Vec<&ChangeRow> = order.iter().filter_map(|k| last.get(k).copied()).collect();
    let rows: Vec<Vec<Datum>> = finals.iter().map(|c| c.values.as_ref().clone()).collect();
    let batch = datums_to_batch(schema, &rows)?;
    let keys = finals.iter().map(|c| c.key.clone()).collect();
    let deleted = finals.iter().map(|c| c.kind == ChangeType::Delete).collect();
    Ok((keys, deleted, batch))
}

/// Gathers found rows (from memtable chunks and SST blocks) into one table-schema batch.
pub fn gather_rows(arrow: &SchemaRef, hits: &[RowRef]) -> Result<RecordBatch> {
    if let [(batch, row)] = hits {
        // One row (a point lookup): zero-copy slices of the batch it lives in.
        let columns = batch.slice(*row, 1).columns().to_vec();
        return RecordBatch::try_new(Arc::clone(arrow), columns).map_err(|e| Error::arrow("a looked-up row", e));
    }
    if hits.is_empty() {
        return Ok(RecordBatch::new_empty(Arc::clone(arrow)));
    }
    let mut sources: Vec<&RecordBatch> = Vec::new();
    let mut picks = Vec::with_capacity(hits.len());
    for (batch, row) in hits {
        let at = match sources.iter().position(|s| same_batch(s, batch)) {
            Some(at) => at,
            None => {
                sources.push(batch);
                sources.len() - 1
            }
        };
        picks.push((at, *row));
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(arrow.fields().len());
    for i in 0..arrow.fields().len() {
        let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(i).as_ref()).collect();
        columns.push(interleave(&arrays, &picks).map_err(|e| Error::arrow("gathering looked-up rows", e))?);
    }
    RecordBatch::try_new(Arc::clone(arrow), columns).map_err(|e| Error::arrow("gathering looked-up rows", e))
}

fn same_batch(a: &RecordBatch, b: &RecordBatch) -> bool {
    a.num_columns() == b.num_columns()
        && a.num_rows() == b.num_rows()
        && a.columns().iter().zip(b.columns()).all(|(x, y)| Arc::ptr_eq(x, y))
}
