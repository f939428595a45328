//! Schema changes and writes that do not fit a table's schemas are refused with errors that
//! name the table and column, and change nothing (catalog, catalog.json, stored data).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{Field, Schema as ArrowSchema};
use rill_engine::log::OffsetSpec;
use rill_engine::schema::{Column, DataType};
use rill_shard::Error;

#[test]
fn bad_schema_changes_and_writes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 1)).unwrap();
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    rill.append("db.events", Some(0), common::events(0, 5)).unwrap();
    rill.add_columns("db.events", vec![Column::new("score", DataType::Int)]).unwrap();
    let before = rill.describe("db.events").unwrap();
    let file_before = std::fs::read(dir.path().join("catalog.json")).unwrap();

    let e = rill.add_columns("db.events", vec![Column::not_null("n", DataType::Int)]).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("NOT NULL column 'n'") && e.to_string().contains("'db.events'"), "{e}");
    let e = rill.add_columns("db.events", vec![Column::new("city", DataType::Int)]).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    assert!(e.to_string().contains("column 'city' already exists"), "{e}");
    let e = rill.add_columns("db.nope", vec![Column::new("x", DataType::Int)]).unwrap_err();
    assert!(matches!(e, Error::UnknownTable { .. }), "{e:?}");
    let e = rill.add_columns("db.events", vec![]).unwrap_err();
    assert!(e.to_string().contains("at least one column"), "{e}");
    assert_eq!(rill.describe("db.events").unwrap(), before);
    assert_eq!(std::fs::read(dir.path().join("catalog.json")).unwrap(), file_before);

    // Rows that match neither schema 0 (id, city) nor schema 1 (id, city, score).
    let wrong = RecordBatch::try_new(
        Arc::new(ArrowSchema::new(vec![
            Field::new("id", arrow_schema::DataType::Int64, false),
            Field::new("x", arrow_schema::DataType::Float64, true),
        ])),
        vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef, Arc::new(Float64Array::from(vec![1.0])) as ArrayRef],
    )
    .unwrap();
    let end = rill.list_offsets("db.events", 0, OffsetSpec::Latest).unwrap();
    let e = rill.append("db.events", Some(0), wrong.clone()).unwrap_err();
    assert!(e.to_string().contains("match none of the schemas [0, 1]") && e.to_string().contains("db.events"), "{e}");
    assert_eq!(rill.list_offsets("db.events", 0, OffsetSpec::Latest).unwrap(), end);
    let e = rill.upsert("db.users", wrong).unwrap_err();
    assert!(e.to_string().contains("match none of the schemas [0]"), "{e}");
    rill.shutdown();
}
