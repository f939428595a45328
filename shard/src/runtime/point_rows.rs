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
use std::sync::{Arc, Weak};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use crate::catalog::TableInfo;
use crate::error::Result;

/// Arrow schemas a thread keeps (one per table description it looked up lately).
const SCHEMAS_KEPT: usize = 8;

thread_local! {
    /// (table description, its schema as Arrow), most recently used first. Keyed by the
    /// description itself, not by ids: table ids restart at 1 in every `Rill` of a process.
    /// The `Weak` keeps the description's allocation, so its address is not reused meanwhile.
    static SCHEMAS: RefCell<Vec<(Weak<TableInfo>, SchemaRef)>> = const { RefCell::new(Vec::new()) };
}

/// `table`'s schema as Arrow, built once per thread and table description.
fn arrow_schema(table: &Arc<TableInfo>) -> SchemaRef {
    SCHEMAS.with_borrow_mut(|kept| {
        let entry = match kept.iter().position(|(t, _)| std::ptr::eq(t.as_ptr(), Arc::as_ptr(table))) {
            Some(at) => kept.remove(at),
            None => (Arc::downgrade(table), table.descriptor.schema.to_arrow()),
        };
        let arrow = Arc::clone(&entry.1);
        kept.insert(0, entry);
        kept.truncate(SCHEMAS_KEPT);
        arrow
    })
}

/// The answer of a point lookup in `table` as a batch of its schema: the one-row slices of
/// its columns (`row`), or no row (`None`: the key was not found).
pub(crate) fn one_row(table: &Arc<TableInfo>, row: Option<Vec<ArrayRef>>) -> Result<RecordBatch> {
    let arrow = arrow_schema(table);
    let Some(columns) = row else {
        return Ok(RecordBatch::new_empty(arrow));
    };
    RecordBatch::try_new(arrow, columns).map_err(|e| rill_engine::Error::arrow("a looked-up row", e).into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow_array::{Array, BinaryArray, Int64Array};
    use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};

    use super::*;

    fn table(id: u64, schema_id: i16, first: &str) -> Arc<TableInfo> {
        let schema = Schema {
            id: schema_id,
            columns: vec![Column::not_null(first, DataType::BigInt), Column::new("v", DataType::Bytes)],
        };
        let mut descriptor = TableDescriptor::log_table("t", schema.clone());
        descriptor.primary_key = vec![first.to_string()];
        let schemas = [(schema_id, Arc::new(schema))].into_iter().collect();
        Arc::new(TableInfo { id, descriptor, created_ms: 0, modified_ms: 0, schemas })
    }

    fn row(at: usize) -> Vec<ArrayRef> {
        let columns: [ArrayRef; 2] = [
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(BinaryArray::from(vec![Some(&b"a"[..]), None, Some(&b"c"[..])])),
        ];
        columns.iter().map(|c| c.slice(at, 1)).collect()
    }

    #[test]
    fn a_row_gets_its_tables_schema_and_a_miss_is_an_empty_batch() {
        let t = table(1, 0, "id");
        let first = one_row(&t, Some(row(1))).unwrap();
        assert_eq!(first.schema(), t.descriptor.schema.to_arrow());
        assert_eq!(first.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values(), &[2]);
        assert!(first.column(1).is_null(0));
        let again = one_row(&t, Some(row(2))).unwrap();
        assert!(Arc::ptr_eq(first.schema_ref(), again.schema_ref()), "the schema is built once per thread");
        let missing = one_row(&t, None).unwrap();
        assert_eq!((missing.num_rows(), missing.schema()), (0, t.descriptor.schema.to_arrow()));
        assert!(one_row(&t, Some(row(0)[..1].to_vec())).is_err(), "columns that do not fit the schema");
        for id in 10..10 + SCHEMAS_KEPT as u64 * 2 {
            one_row(&table(id, 0, "id"), None).unwrap();
        }
        assert_eq!(SCHEMAS.with_borrow(Vec::len), SCHEMAS_KEPT, "the cache is bounded");
    }

    #[test]
    fn equal_ids_of_another_rill_get_their_own_schema() {
        // Table ids restart at 1 in every `Rill`: same ids, other columns.
        let (mine, other) = (table(1, 0, "id"), table(1, 0, "user"));
        assert_eq!(one_row(&mine, Some(row(0))).unwrap().schema().field(0).name(), "id");
        assert_eq!(one_row(&other, Some(row(0))).unwrap().schema().field(0).name(), "user");
        assert_eq!(one_row(&mine, None).unwrap().schema().field(0).name(), "id");
    }
}
