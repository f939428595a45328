//! Prefix lookup by a bucket key that leads the primary key.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_shard::Error;

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("org", DataType::String),
        Column::not_null("id", DataType::BigInt),
        Column::new("v", DataType::BigInt),
    ])
}

fn rows(rows: &[(&str, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema().to_arrow(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1 * 2))) as ArrayRef,
        ],
    )
    .unwrap()
}

fn orgs(names: &[&str]) -> RecordBatch {
    let schema =
        Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new("org", arrow_schema::DataType::Utf8, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(names.to_vec())) as ArrayRef]).unwrap()
}

#[test]
fn finds_every_row_of_a_prefix_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    let mut desc = TableDescriptor::log_table("db.members", schema());
    desc.primary_key = vec!["org".into(), "id".into()];
    desc.bucket_key = Some(vec!["org".into()]);
    desc.bucket_count = 4;
    rill.create_table(desc).unwrap();
    rill.upsert("db.members", rows(&[("acme", 3), ("acme", 1), ("zeta", 7), ("acme", 2), ("beta", 9)])).unwrap();
    let found = rill.prefix_lookup("db.members", orgs(&["acme", "none", "zeta"])).unwrap();
    let ids = |b: &RecordBatch| b.column(1).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
    assert_eq!(found.iter().map(ids).collect::<Vec<_>>(), [vec![1, 2, 3], vec![], vec![7]]);

    let e = rill.prefix_lookup("db.members", common::user_keys(&[1])).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    rill.create_table(common::pk_table("db.users", 2)).unwrap();
    // Bucket key = whole primary key: a prefix lookup is a point lookup.
    rill.upsert("db.users", common::users(&[1, 2], 0)).unwrap();
    let got = rill.prefix_lookup("db.users", common::user_keys(&[2])).unwrap();
    assert_eq!(got[0].num_rows(), 1);
    rill.shutdown();
}
