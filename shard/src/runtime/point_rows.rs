//! The caller's side of a point lookup's answer: the shard lends the caller the columns of the
//! batch the row lives in (reference-counted clones into the slot's reusable vector) and the
//! row's index; the caller slices the row out and builds the one-row batch on its own thread,
//! in an Arrow schema it keeps per thread.
//!
//! Why the caller builds it: a batch built on the shard and dropped by the caller is memory
//! allocated on one thread and freed on another. glibc's per-thread cache then never refills
//! on the shard, whose every allocation took the allocator's slow path (about a tenth of a
//! point lookup's time). The row's values are not copied: the slices share the block's
//! buffers, as the engine's own one-row answers do.

use std::cell::RefCell;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use rill_engine::schema::Schema;

use crate::error::Result;

/// Arrow schemas a thread keeps (one per table and schema it looked up lately).
const SCHEMAS_KEPT: usize = 8;

thread_local! {
    /// (table id, schema id, Arrow schema), most recently used first.
    static SCHEMAS: RefCell<Vec<(u64, i16, SchemaRef)>> = const { RefCell::new(Vec::new()) };
}

/// `schema` (of table `table_id`) as Arrow, built once per thread.
fn arrow_schema(table_id: u64, schema: &Schema) -> SchemaRef {
    SCHEMAS.with_borrow_mut(|kept| {
        let entry = match kept.iter().position(|(t, s, _)| *t == table_id && *s == schema.id) {
            Some(at) => kept.remove(at),
            None => (table_id, schema.id, schema.to_arrow()),
        };
        let arrow = Arc::clone(&entry.2);
        kept.insert(0, entry);
        kept.truncate(SCHEMAS_KEPT);
        arrow
    })
}

/// The answer of a point lookup in table `table_id` as a batch of `schema`: row `row` of
/// `columns` (the table's columns of the batch holding the row), or no row (`None`: the key
/// was not found).
pub(crate) fn one_row(table_id: u64, schema: &Schema, found: Option<(&[ArrayRef], usize)>) -> Result<RecordBatch> {
    let arrow = arrow_schema(table_id, schema);
    let Some((columns, row)) = found else {
        return Ok(RecordBatch::new_empty(arrow));
    };
    let sliced = columns.iter().map(|c| c.slice(row, 1)).collect();
    RecordBatch::try_new(arrow, sliced).map_err(|e| rill_engine::Error::arrow("a looked-up row", e).into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow_array::{Array, BinaryArray, Int64Array};
    use rill_engine::schema::{Column, DataType};

    use super::*;

    fn schema(id: i16) -> Schema {
        Schema { id, columns: vec![Column::not_null("id", DataType::BigInt), Column::new("v", DataType::Bytes)] }
    }

    fn columns() -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(BinaryArray::from(vec![Some(&b"a"[..]), None, Some(&b"c"[..])])),
        ]
    }

    #[test]
    fn a_row_is_sliced_into_the_callers_schema_and_a_miss_is_an_empty_batch() {
        let columns = columns();
        let row = one_row(1, &schema(0), Some((&columns, 1))).unwrap();
        assert_eq!(row.schema(), schema(0).to_arrow());
        assert_eq!(row.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values(), &[2]);
        assert!(row.column(1).is_null(0));
        let again = one_row(1, &schema(0), Some((&columns, 2))).unwrap();
        assert!(Arc::ptr_eq(row.schema_ref(), again.schema_ref()), "the schema is built once per thread");
        let other = one_row(1, &schema(1), Some((&columns, 0))).unwrap();
        assert!(!Arc::ptr_eq(row.schema_ref(), other.schema_ref()), "a new schema id gets its own");
        let missing = one_row(1, &schema(0), None).unwrap();
        assert_eq!((missing.num_rows(), missing.schema()), (0, schema(0).to_arrow()));
        assert!(one_row(1, &schema(0), Some((&columns[..1], 0))).is_err(), "columns that do not fit the schema");
        for table in 10..10 + SCHEMAS_KEPT as u64 * 2 {
            one_row(table, &schema(0), None).unwrap();
        }
        assert_eq!(SCHEMAS.with_borrow(Vec::len), SCHEMAS_KEPT, "the cache is bounded");
    }
}
