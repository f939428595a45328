//! A partial update changes only the given columns, across buckets and shards.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rill_shard::Error;

fn scores(ids: &[i64], score: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("score", DataType::Int64, true),
        Field::new("id", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(vec![score; ids.len()])), Arc::new(Int64Array::from(ids.to_vec()))];
    RecordBatch::try_new(schema, columns).unwrap()
}

#[test]
fn only_the_given_columns_change() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table("db.users", 4)).unwrap();
    rill.upsert("db.users", common::users(&(0..20).collect::<Vec<_>>(), 0)).unwrap();
    let written = rill.update_columns("db.users", scores(&[3, 4, 25], 777)).unwrap();
    assert_eq!((written.changes, written.buckets > 0), (3, true));
    let (rows, found) = rill.lookup("db.users", common::user_keys(&[3, 5, 25])).unwrap();
    assert_eq!(found, [true, true, true]);
    let names = rows.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    let score = rows.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!((names.value(0), score.value(0)), ("user-3", 777));
    assert_eq!((names.value(1), score.value(1)), ("user-5", 50));
    assert!(names.is_null(2), "a new key gets nulls in the columns not given");
    assert_eq!(score.value(2), 777);

    let no_key = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("score", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef],
    )
    .unwrap();
    let e = rill.update_columns("db.users", no_key).unwrap_err();
    assert!(e.to_string().contains("primary key"), "{e}");
    let unknown = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("nope", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef],
    )
    .unwrap();
    let e = rill.update_columns("db.users", unknown).unwrap_err();
    assert!(matches!(&e, Error::InvalidRequest { reason, .. } if reason.contains("'nope'")), "{e}");
    rill.shutdown();
}
