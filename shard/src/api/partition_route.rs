//! Caller-side partition routing: each row's partition is computed from its partition-key
//! values (as the Fluss clients do: the values written as text, joined by `$`), rows are
//! split per partition, and every partition must exist before anything is written.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};

use crate::catalog::{CatalogSnapshot, PartitionInfo, TableInfo};
use crate::error::{Error, Result};
use crate::keys::take_rows;
use crate::partition_key::{partition_name, text_of};

/// The rows of one partition (or all rows of an unpartitioned table).
pub(crate) struct Slice {
    /// `None` for an unpartitioned table.
    pub(crate) partition: Option<Arc<PartitionInfo>>,
    /// The rows.
    pub(crate) rows: RecordBatch,
    /// Their positions in the request.
    pub(crate) positions: Vec<u32>,
}

impl Slice {
    /// The partition id, if any.
    pub(crate) fn partition_id(&self) -> Option<u64> {
        self.partition.as_ref().map(|p| p.id)
    }
}

/// Splits `batch` (the table's columns, in table order) per partition. Fails with
/// `UnknownPartition` (naming the first missing one) if any row's partition does not exist,
/// and with `InvalidPartitionSpec` if a row's partition value is null or not a valid name.
pub(crate) fn split(snapshot: &CatalogSnapshot, table: &TableInfo, batch: &RecordBatch) -> Result<Vec<Slice>> {
    split_with(snapshot, table, batch, false)
}

/// [`split`], but rows of partitions that do not exist are left out (lookups: not found).
pub(crate) fn split_existing(snapshot: &CatalogSnapshot, table: &TableInfo, batch: &RecordBatch) -> Result<Vec<Slice>> {
    split_with(snapshot, table, batch, true)
}

fn split_with(
    snapshot: &CatalogSnapshot,
    table: &TableInfo,
    batch: &RecordBatch,
    skip_missing: bool,
) -> Result<Vec<Slice>> {
    let rows = u32::try_from(batch.num_rows()).map_err(|_| Error::InvalidRequest {
        table: table.name().to_string(),
        reason: format!("{} rows are too many for one request", batch.num_rows()),
    })?;
    if !table.is_partitioned() {
        return Ok(vec![Slice { partition: None, rows: batch.clone(), positions: (0..rows).collect() }]);
    }
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let keys = key_columns(table, batch.columns())?;
    let mut values = Vec::with_capacity(keys.len());
    for row in 0..rows {
        values.clear();
        for (name, data_type, column) in &keys {
            let text = text_of(data_type, column, row as usize).map_err(|reason| Error::InvalidPartitionSpec {
                table: table.name().to_string(),
                reason: format!("row {row}, partition key '{name}': {reason}"),
            })?;
            values.push(text);
        }
        groups.entry(partition_name(&values)).or_default().push(row);
    }
    let mut slices = Vec::with_capacity(groups.len());
    for (name, positions) in groups {
        let partition = match snapshot.partition(table, &name) {
            Ok(p) => Arc::clone(p),
            Err(_) if skip_missing => continue,
            Err(e) => return Err(e),
        };
        let rows = if positions.len() == batch.num_rows() { batch.clone() } else { take_rows(batch, &positions)? };
        slices.push(Slice { partition: Some(partition), rows, positions });
    }
    Ok(slices)
}

/// The partition-key columns of a full-width batch: (name, type, column).
fn key_columns<'a>(
    table: &'a TableInfo,
    columns: &'a [ArrayRef],
) -> Result<Vec<(&'a str, rill_engine::schema::DataType, &'a ArrayRef)>> {
    let desc = &table.descriptor;
    desc.partition_keys
        .iter()
        .map(|key| {
            let at = desc.schema.index_of(key);
            let column = at.and_then(|i| desc.schema.columns.get(i)).zip(at.and_then(|i| columns.get(i)));
            column.map(|(c, array)| (key.as_str(), c.data_type, array)).ok_or_else(|| Error::InvalidRequest {
                table: desc.name.clone(),
                reason: format!("the rows lack partition key column '{key}'"),
            })
        })
        .collect()
}

/// The partition of `table` named `name`, or, when `name` is `None`, a check that the table
/// is unpartitioned (`PartitionRequired` for `operation` otherwise).
pub(crate) fn named(
    snapshot: &CatalogSnapshot,
    table: &TableInfo,
    name: Option<&str>,
    operation: &str,
) -> Result<Option<u64>> {
    match (name, table.is_partitioned()) {
        (Some(name), true) => Ok(Some(snapshot.partition(table, name)?.id)),
        (None, false) => Ok(None),
        (Some(_), false) => Err(Error::NotPartitioned { table: table.name().to_string() }),
        (None, true) => {
            Err(Error::PartitionRequired { table: table.name().to_string(), operation: operation.to_string() })
        }
    }
}
