//! The columnar plan of a last-write-wins write: full-row upserts (no delete, no partial
//! update) of the default merge engine. The new rows stay in the written batch and the old
//! rows where they live (memtable chunks, SST blocks); the changelog batch is gathered from
//! them with `interleave`, without turning a row into datums.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Decimal128Array, RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use arrow_select::interleave::interleave;
use arrow_select::take::take;

use super::changelog::Planned;
use crate::batch::ChangeType;
use crate::error::{Error, Result};
use crate::kv::tree::RowRef;
use crate::schema::{DataType, Schema};

/// The changelog of a last-write-wins write, gathered row by row.
pub(super) struct LwwPlan {
    /// Source 0 is the written batch; old rows add their batches.
    sources: Vec<RecordBatch>,
    picks: Vec<(usize, usize)>,
    kinds: Vec<ChangeType>,
    /// Some key is written twice.
    duplicates: bool,
}

impl LwwPlan {
    pub fn new(written: &RecordBatch) -> Self {
        let n = written.num_rows();
        Self {
            sources: vec![written.clone()],
            picks: Vec::with_capacity(2 * n),
            kinds: Vec::with_capacity(2 * n),
            duplicates: false,
        }
    }

    /// Record `i` replaces the row at `old` (`None` = a new key; `Some(Err(j))` = record `j`
    /// of this write); `wal` emits only +U.
    pub fn upsert(&mut self, i: usize, old: Option<std::result::Result<RowRef, usize>>, wal: bool) {
        self.duplicates |= matches!(old, Some(Err(_)));
        if wal {
            self.push((0, i), ChangeType::UpdateAfter);
            return;
        }
        match old {
            None => self.push((0, i), ChangeType::Insert),
            Some(old) => {
                let at = match old {
                    Err(j) => (0, j),
                    Ok((batch, row)) => {
                        self.sources.push(batch);
                        (self.sources.len() - 1, row)
                    }
                };
                self.push(at, ChangeType::UpdateBefore);
                self.push((0, i), ChangeType::UpdateAfter);
            }
        }
    }

    fn push(&mut self, at: (usize, usize), kind: ChangeType) {
        self.picks.push(at);
        self.kinds.push(kind);
    }

    /// The changelog batch and the final rows per key (`keys` are the write's keys, in order).
    pub fn finish(self, arrow: &SchemaRef, keys: Vec<Vec<u8>>) -> Result<Planned> {
        let written = &self.sources[0];
        let identity = self.sources.len() == 1
            && self.picks.len() == written.num_rows()
            && self.picks.iter().enumerate().all(|(i, &(s, r))| s == 0 && r == i);
        let columns: Vec<ArrayRef> = if identity {
            written.columns().to_vec()
        } else {
            (0..arrow.fields().len())
                .map(|c| {
                    let arrays: Vec<&dyn Array> = self.sources.iter().map(|b| b.column(c).as_ref()).collect();
                    interleave(&arrays, &self.picks).map_err(|e| Error::arrow("gathering changelog rows", e))
                })
                .collect::<Result<_>>()?
        };
        let changelog = RecordBatch::try_new(Arc::clone(arrow), columns)
            .map_err(|e| Error::arrow("building the changelog batch", e))?;
        let (keys, rows) =
            if self.duplicates { last_per_key(arrow, written, keys)? } else { (keys, as_table(arrow, written)?) };
        let deleted = vec![false; keys.len()];
        Ok(Planned { changelog, kinds: self.kinds, keys, deleted, rows })
    }
}

/// `batch` under the table's Arrow schema (the caller's field names may differ).
fn as_table(arrow: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::clone(arrow), batch.columns().to_vec()).map_err(|e| Error::arrow("the written rows", e))
}

/// Keys in first-seen order with the row of their last record.
fn last_per_key(arrow: &SchemaRef, written: &RecordBatch, keys: Vec<Vec<u8>>) -> Result<(Vec<Vec<u8>>, RecordBatch)> {
    let last: HashMap<&[u8], usize> = keys.iter().enumerate().map(|(i, k)| (k.as_slice(), i)).collect();
    let mut first_seen: Vec<usize> = Vec::with_capacity(last.len());
    let mut emitted = std::collections::HashSet::with_capacity(last.len());
    for (i, key) in keys.iter().enumerate() {
        if emitted.insert(key.as_slice()) {
            first_seen.push(i);
        }
    }
    let order: Vec<u32> =
        first_seen.iter().map(|&i| last.get(keys[i].as_slice()).copied().unwrap_or(i) as u32).collect();
    drop(last);
    drop(emitted);
    let mut taken: Vec<Option<Vec<u8>>> = keys.into_iter().map(Some).collect();
    let out_keys: Vec<Vec<u8>> = first_seen.iter().filter_map(|&i| taken[i].take()).collect();
    let indices = UInt32Array::from(order);
    let columns = written
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &indices, None).map_err(|e| Error::arrow("the last row per key", e)))
        .collect::<Result<Vec<_>>>()?;
    let rows = RecordBatch::try_new(Arc::clone(arrow), columns).map_err(|e| Error::arrow("the last row per key", e))?;
    Ok((out_keys, rows))
}

/// What the datum path checks per value and Arrow's types do not: a DECIMAL's precision.
pub(super) fn check_values(table: &str, schema: &Schema, rows: &RecordBatch) -> Result<()> {
    for (column, array) in schema.columns.iter().zip(rows.columns()) {
        if let DataType::Decimal { precision, .. } = column.data_type {
            let Some(decimals) = array.as_any().downcast_ref::<Decimal128Array>() else { continue };
            decimals.validate_decimal_precision(precision).map_err(|e| Error::InvalidWrite {
                table: table.to_string(),
                reason: format!("column '{}': {e}", column.name),
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arrow_array::Int32Array;

    use super::*;
    use crate::schema::Column;

    fn schema() -> Schema {
        Schema::new(vec![
            Column::not_null("k", DataType::Int),
            Column::new("d", DataType::Decimal { precision: 4, scale: 2 }),
        ])
    }

    fn rows(d: i128) -> RecordBatch {
        let decimals = Decimal128Array::from(vec![Some(d), None]).with_precision_and_scale(4, 2).expect("type");
        RecordBatch::try_new(schema().to_arrow(), vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(decimals)])
            .expect("batch")
    }

    #[test]
    fn decimals_over_their_precision_are_refused() {
        assert!(check_values("t", &schema(), &rows(9999)).is_ok());
        assert!(check_values("t", &schema(), &rows(-9999)).is_ok());
        let e = check_values("t", &schema(), &rows(10000)).expect_err("5 digits in DECIMAL(4, 2)");
        assert!(e.to_string().contains("column 'd'"), "{e}");
    }

    #[test]
    fn repeated_keys_keep_their_first_place_and_last_row() {
        let written = RecordBatch::try_new(
            Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
                "k",
                arrow_schema::DataType::Int32,
                false,
            )])),
            vec![Arc::new(Int32Array::from(vec![10, 20, 11, 30, 21]))],
        )
        .expect("batch");
        let keys: Vec<Vec<u8>> = [b"a", b"b", b"a", b"c", b"b"].iter().map(|k| k.to_vec()).collect();
        let (keys, rows) = last_per_key(&written.schema(), &written, keys).expect("last rows");
        assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        let values = rows.column(0).as_any().downcast_ref::<Int32Array>().expect("i32");
        assert_eq!(values.values().to_vec(), vec![11, 21, 30]);
    }
}
