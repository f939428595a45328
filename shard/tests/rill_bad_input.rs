//! Bad input gets a clear, structured error and changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, RecordBatch};
use rill_shard::Error;

fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn bad_requests_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 2)).unwrap();
    rill.create_table(common::pk_table("db.users", 2)).unwrap();

    let e = rill.append("db.nope", None, common::events(0, 1)).unwrap_err();
    assert!(matches!(&e, Error::UnknownTable { name } if name == "db.nope"), "{e}");
    let e = rill.drop_table("db.nope").unwrap_err();
    assert!(matches!(e, Error::UnknownTable { .. }));
    let e = rill.create_table(common::log_table("db.events", 3)).unwrap_err();
    assert!(matches!(&e, Error::TableExists { name } if name == "db.events"), "{e}");
    assert_eq!(rill.describe("db.events").unwrap().descriptor.bucket_count, 2);

    let e = rill.append("db.users", None, common::users(&[1], 0)).unwrap_err();
    assert!(matches!(e, Error::NotALogTable { .. }), "{e}");
    let e = rill.upsert("db.events", common::events(0, 1)).unwrap_err();
    assert!(matches!(e, Error::NotAPrimaryKeyTable { .. }), "{e}");
    let e = rill.lookup("db.events", common::user_keys(&[1])).unwrap_err();
    assert!(matches!(e, Error::NotAPrimaryKeyTable { .. }), "{e}");
    let e = rill.append("db.events", Some(7), common::events(0, 1)).unwrap_err();
    assert!(matches!(e, Error::UnknownBucket { bucket: 7, bucket_count: 2, .. }), "{e}");

    let e = rill.append("db.events", None, common::users(&[1], 0)).unwrap_err();
    assert!(message(&e).contains("does not match the table schema"), "{e}");
    let e = rill.upsert("db.users", common::events(0, 1)).unwrap_err();
    assert!(message(&e).contains("does not match the table schema"), "{e}");
    let wrong_key_type = RecordBatch::try_new(
        Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new("id", arrow_schema::DataType::Int32, false)])),
        vec![Arc::new(Int32Array::from(vec![1])) as ArrayRef],
    )
    .unwrap();
    let e = rill.lookup("db.users", wrong_key_type).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }) && message(&e).contains("column 'id' is Int32"), "{e}");
    let e = rill.scan("db.events", 0, 0, 1 << 20, Some(vec![5]), None).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    let e = rill.scan("db.events", 0, 0, 1 << 20, None, Some("nope > 1".into())).unwrap_err();
    assert!(message(&e).contains("nope"), "{e}");
    let e = rill.scan("db.events", 0, 99, 1 << 20, None, None).unwrap_err();
    assert!(message(&e).contains("out of range"), "{e}");

    let mut partitioned = common::pk_table("db.parts", 1);
    // Partition keys of type DOUBLE are not supported yet (Fluss has them).
    partitioned.schema.columns.push(rill_engine::schema::Column::not_null("dt", rill_engine::schema::DataType::Double));
    partitioned.primary_key.push("dt".into());
    partitioned.partition_keys = vec!["dt".into()];
    let e = rill.create_table(partitioned).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");

    // Nothing was written by any of that.
    assert!(common::all_events(&rill, "db.events").is_empty());
    assert_eq!(rill.list_tables().len(), 2);
    rill.shutdown();
    let e = rill.append("db.events", None, common::events(0, 1)).unwrap_err();
    assert!(matches!(e, Error::ShardGone { .. }), "{e}");
}

#[test]
fn a_log_ttl_that_does_not_parse_is_refused_and_a_good_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    let mut bad = common::log_table("db.ttl", 2);
    bad.properties.insert("table.log.ttl".into(), "7 fortnights".into());
    let e = rill.create_table(bad).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    assert!(message(&e).contains("table.log.ttl") && message(&e).contains("fortnights"), "{e}");
    assert!(rill.catalog().table("db.ttl").is_err(), "nothing was created");
    let mut good = common::log_table("db.ttl", 2);
    good.properties.insert("table.log.ttl".into(), "2 h".into());
    rill.create_table(good).unwrap();
    rill.append("db.ttl", Some(0), common::events(0, 3)).unwrap();
    rill.shutdown();
    let rill = common::open(dir.path(), 2);
    assert_eq!(rill.catalog().table("db.ttl").unwrap().descriptor.properties["table.log.ttl"], "2 h");
    assert_eq!(rill.scan("db.ttl", 0, 0, 1 << 20, None, None).unwrap().batches[0].num_rows(), 3);
    rill.shutdown();
}
