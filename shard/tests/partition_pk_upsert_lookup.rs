//! Primary-key tables partitioned by `dt`: upsert, partial update, delete and lookup route by
//! each row's partition; the same key in two partitions is two rows.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema};
use common::*;
use rill_shard::{Error, Rill};

fn keys(rows: &[(i64, &str)]) -> RecordBatch {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("id", ArrowType::Int64, false),
        Field::new("dt", ArrowType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ],
    )
    .unwrap()
}

/// (id, city, dt) of the found rows, and the found flags.
fn lookup(rill: &Rill, rows: &[(i64, &str)]) -> (Vec<(i64, String, String)>, Vec<bool>) {
    let (found_rows, found) = rill.lookup("db.users", keys(rows)).unwrap();
    (dated_rows_of(&found_rows), found)
}

fn run(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), shards);
    rill.create_table(dated_pk_table("db.users", 4)).unwrap();
    create_days(&rill, "db.users", &["20240101", "20240102"]);

    let rows: Vec<(i64, &str)> = (0..40).map(|i| (i % 20, if i < 20 { "20240101" } else { "20240102" })).collect();
    let written = rill.upsert("db.users", dated(&rows)).unwrap();
    assert_eq!(written.changes, 40, "the same id in two partitions is two rows");

    let (got, found) = lookup(&rill, &[(3, "20240101"), (3, "20240102"), (99, "20240101"), (3, "20231231")]);
    assert_eq!(found, [true, true, false, false], "a missing partition's key is simply not found");
    assert_eq!(
        got,
        [(3, "Perth".to_string(), "20240101".to_string()), (3, "Perth".to_string(), "20240102".to_string())]
    );

    // Partial update of one partition's row.
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("id", ArrowType::Int64, false),
        Field::new("city", ArrowType::Utf8, true),
        Field::new("dt", ArrowType::Utf8, false),
    ]));
    let partial = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![3])) as ArrayRef,
            Arc::new(StringArray::from(vec!["Tromsø"])) as ArrayRef,
            Arc::new(StringArray::from(vec!["20240102"])) as ArrayRef,
        ],
    )
    .unwrap();
    rill.update_columns("db.users", partial).unwrap();
    let (got, _) = lookup(&rill, &[(3, "20240101"), (3, "20240102")]);
    assert_eq!(got[0].1, "Perth");
    assert_eq!(got[1].1, "Tromsø");

    // Delete in one partition only.
    rill.delete("db.users", keys(&[(3, "20240101")])).unwrap();
    let (_, found) = lookup(&rill, &[(3, "20240101"), (3, "20240102")]);
    assert_eq!(found, [false, true]);

    // Keys without the partition column are refused.
    let e = rill.lookup("db.users", user_keys(&[1])).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    // The changelog of each partition is there.
    let end = rill.list_offsets_partition("db.users", Some("20240102"), 0, rill_shard::OffsetSpec::Latest);
    assert!(end.unwrap() >= 0);
    rill.shutdown();
}

#[test]
fn pk_writes_and_lookups_route_by_partition_with_1_2_4_shards() {
    for shards in [1, 2, 4] {
        run(shards);
    }
}

#[test]
fn prefix_lookup_routes_by_partition() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), 2);
    // PK (id, dt, seq) with bucket key id: a prefix is (id, dt).
    let mut d = rill_engine::schema::TableDescriptor::log_table(
        "db.visits",
        rill_engine::schema::Schema::new(vec![
            rill_engine::schema::Column::not_null("id", rill_engine::schema::DataType::BigInt),
            rill_engine::schema::Column::not_null("dt", rill_engine::schema::DataType::String),
            rill_engine::schema::Column::not_null("seq", rill_engine::schema::DataType::BigInt),
        ]),
    );
    d.primary_key = vec!["id".into(), "dt".into(), "seq".into()];
    d.bucket_key = Some(vec!["id".into()]);
    d.partition_keys = vec!["dt".into()];
    d.bucket_count = 3;
    rill.create_table(d.clone()).unwrap();
    create_days(&rill, "db.visits", &["20240101", "20240102"]);
    let rows: Vec<(i64, &str, i64)> =
        vec![(1, "20240101", 1), (1, "20240101", 2), (1, "20240102", 1), (2, "20240101", 1)];
    let batch = RecordBatch::try_new(
        d.schema.to_arrow(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))) as ArrayRef,
        ],
    )
    .unwrap();
    rill.upsert("db.visits", batch).unwrap();
    let prefixes = keys(&[(1, "20240101"), (1, "20240102"), (2, "20240102"), (1, "20231231")]);
    let found: Vec<usize> = rill.prefix_lookup("db.visits", prefixes).unwrap().iter().map(|b| b.num_rows()).collect();
    assert_eq!(found, [2, 1, 0, 0]);
    rill.shutdown();
}
