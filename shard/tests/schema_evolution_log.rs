//! Schema evolution of a log table with 1 and 2 shards: batches appended before a column is
//! added come back in the new schema with the column null, next to batches written after;
//! projection and predicates on the new column work on both, across a restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use rill_engine::schema::{Column, DataType};
use rill_shard::Rill;

const TABLE: &str = "db.events";

/// Rows (id, city, score) in the evolved schema.
fn scored(ids: std::ops::Range<i64>, rill: &Rill) -> RecordBatch {
    let schema = rill.describe(TABLE).unwrap().descriptor.schema.to_arrow();
    let ids: Vec<i64> = ids.collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(ids.iter().map(|i| format!("c{i}")))) as ArrayRef,
            Arc::new(Int32Array::from_iter_values(ids.iter().map(|i| *i as i32 * 2))) as ArrayRef,
        ],
    )
    .unwrap()
}

/// Every batch of every bucket, scanned with `projection` and `predicate`.
fn scan_all(rill: &Rill, projection: Option<Vec<usize>>, predicate: Option<&str>) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for b in 0..2 {
        let mut offset = 0;
        loop {
            let r = rill.scan(TABLE, b, offset, 1 << 20, projection.clone(), predicate.map(str::to_string)).unwrap();
            out.extend(r.batches);
            if r.next_offset >= r.high_watermark {
                break;
            }
            offset = r.next_offset;
        }
    }
    out
}

/// (id, score) of full-width rows, sorted; `None` = null score.
fn id_scores(batches: &[RecordBatch]) -> Vec<(i64, Option<i32>)> {
    let mut rows = Vec::new();
    for batch in batches {
        assert_eq!(batch.num_columns(), 3, "every batch comes back in the newest schema");
        let ids = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let scores = batch.column(2).as_any().downcast_ref::<Int32Array>().unwrap();
        rows.extend((0..batch.num_rows()).map(|i| (ids.value(i), scores.is_valid(i).then(|| scores.value(i)))));
    }
    rows.sort();
    rows
}

/// Rows `old` with a null score, rows `new` with their score.
fn expected(old: std::ops::Range<i64>, new: std::ops::Range<i64>) -> Vec<(i64, Option<i32>)> {
    let mut rows: Vec<_> = old.map(|i| (i, None)).collect();
    rows.extend(new.map(|i| (i, Some(i as i32 * 2))));
    rows.sort();
    rows
}

fn evolve_append_scan_restart(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), shards);
    let created = rill.create_table(common::log_table(TABLE, 2)).unwrap();
    assert_eq!(created.schema_id(), 0);
    rill.append(TABLE, Some(0), common::events(0, 10)).unwrap();
    rill.append(TABLE, Some(1), common::events(10, 10)).unwrap();

    let info = rill.add_columns(TABLE, vec![Column::new("score", DataType::Int)]).unwrap();
    assert_eq!(info.schema_id(), 1);
    assert_eq!(info.schemas.keys().copied().collect::<Vec<_>>(), [0, 1]);
    assert!(info.modified_ms >= info.created_ms);
    assert_eq!(rill.table_schema(TABLE, 0).unwrap().columns.len(), 2);
    assert_eq!(rill.describe(TABLE).unwrap().schema_id(), 1);

    rill.append(TABLE, Some(0), scored(100..105, &rill)).unwrap();
    rill.append(TABLE, Some(1), scored(105..110, &rill)).unwrap();
    // A writer that still has the old schema: accepted, stored under schema 0.
    rill.append(TABLE, Some(1), common::events(20, 3)).unwrap();
    let want = expected(0..23, 100..110);
    assert_eq!(id_scores(&scan_all(&rill, None, None)), want);

    // Only the new column.
    let projected = scan_all(&rill, Some(vec![2]), None);
    assert!(projected.iter().all(|b| b.num_columns() == 1));
    let nulls: usize = projected.iter().map(|b| b.column(0).null_count()).sum();
    let rows: usize = projected.iter().map(|b| b.num_rows()).sum();
    assert_eq!((rows, nulls), (33, 23));

    // Predicates on the new column: old batches have no statistics for it and only nulls.
    assert_eq!(id_scores(&scan_all(&rill, None, Some("score >= 210"))), expected(0..0, 105..110));
    assert_eq!(id_scores(&scan_all(&rill, None, Some("score IS NULL"))), expected(0..23, 0..0));
    assert_eq!(id_scores(&scan_all(&rill, None, Some("score IS NOT NULL AND id < 103"))), expected(0..0, 100..103));
    assert_eq!(id_scores(&scan_all(&rill, None, Some("city = 'Oslo' OR score = 200"))).len(), 7);

    rill.shutdown();
    drop(rill);

    let rill = common::open(dir.path(), shards);
    let info = rill.describe(TABLE).unwrap();
    assert_eq!((info.schema_id(), info.schemas.len()), (1, 2));
    assert_eq!(id_scores(&scan_all(&rill, None, None)), want);
    // A second change after the restart: the history keeps growing.
    let info = rill.add_columns(TABLE, vec![Column::new("note", DataType::String)]).unwrap();
    assert_eq!(info.schema_id(), 2);
    let all = scan_all(&rill, None, None);
    assert!(all.iter().all(|b| b.num_columns() == 4 && b.column(3).null_count() == b.num_rows()));
    assert_eq!(all.iter().map(|b| b.num_rows()).sum::<usize>(), 33);
    rill.shutdown();
}

#[test]
fn evolve_a_log_table_on_one_shard() {
    evolve_append_scan_restart(1);
}

#[test]
fn evolve_a_log_table_on_two_shards() {
    evolve_append_scan_restart(2);
}
