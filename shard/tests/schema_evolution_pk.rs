//! Schema evolution of a primary-key table with 1 and 2 shards: rows written before a column
//! is added (in SSTs and in the memtable) come back with it null; partial updates set it on
//! old keys; flushes, background compaction and a restart over mixed-schema data keep every
//! row.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema as ArrowSchema};
use rill_engine::schema::{Column, DataType};
use rill_shard::{Rill, RillConfig};

const TABLE: &str = "db.users";

/// (id, score, email) of the found rows, in key order of the request.
fn lookup(rill: &Rill, ids: &[i64]) -> Vec<(i64, i64, Option<String>)> {
    let (rows, found) = rill.lookup(TABLE, common::user_keys(ids)).unwrap();
    assert!(found.iter().all(|f| *f), "every key is found");
    assert_eq!(rows.num_columns(), 4, "rows come back in the newest schema");
    let id = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let score = rows.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    let email = rows.column(3).as_any().downcast_ref::<StringArray>().unwrap();
    (0..rows.num_rows())
        .map(|i| (id.value(i), score.value(i), email.is_valid(i).then(|| email.value(i).to_string())))
        .collect()
}

/// A partial update of (id, email).
fn emails(ids: &[i64]) -> RecordBatch {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("id", arrow_schema::DataType::Int64, false),
        Field::new("email", arrow_schema::DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(ids.iter().map(|i| format!("u{i}@x")))) as ArrayRef,
        ],
    )
    .unwrap()
}

/// Full rows in the evolved schema.
fn full_rows(rill: &Rill, ids: &[i64]) -> RecordBatch {
    let schema = rill.describe(TABLE).unwrap().descriptor.schema.to_arrow();
    let base = common::users(ids, 0);
    let mut columns = base.columns().to_vec();
    columns.push(Arc::new(StringArray::from_iter_values(ids.iter().map(|i| format!("new{i}")))) as ArrayRef);
    RecordBatch::try_new(schema, columns).unwrap()
}

fn config(dir: &std::path::Path, shards: usize) -> RillConfig {
    let mut config = common::config(dir, shards);
    config.memtable_bytes_max = 16 << 10;
    config.maintenance_interval_ms = 10;
    config
}

fn evolve_upsert_lookup_restart(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open_with(config(dir.path(), shards));
    rill.create_table(common::pk_table(TABLE, 2)).unwrap();
    let old: Vec<i64> = (0..3000).collect();
    for chunk in old.chunks(250) {
        rill.upsert(TABLE, common::users(chunk, 0)).unwrap();
    }
    assert!(rill.bucket_stats(TABLE, 0).unwrap().covered_offset.unwrap() > 0, "old rows flushed to SSTs");

    rill.add_columns(TABLE, vec![Column::new("email", DataType::String)]).unwrap();
    assert_eq!(lookup(&rill, &[5, 2999]), [(5, 50, None), (2999, 29990, None)]);

    // Partial update of the new column on old keys keeps the other columns.
    rill.update_columns(TABLE, emails(&[5, 6])).unwrap();
    assert_eq!(lookup(&rill, &[5, 6, 7]), [(5, 50, Some("u5@x".into())), (6, 60, Some("u6@x".into())), (7, 70, None)]);
    // Full rows in the new schema, for new and old keys.
    let new: Vec<i64> = (3000..6000).collect();
    for chunk in new.chunks(250) {
        rill.upsert(TABLE, full_rows(&rill, chunk)).unwrap();
    }
    rill.upsert(TABLE, full_rows(&rill, &[10])).unwrap();
    // A writer with the old schema replaces whole rows: the new column becomes null.
    rill.upsert(TABLE, common::users(&[6], 1)).unwrap();
    let want = vec![
        (5, 50, Some("u5@x".to_string())),
        (6, 61, None),
        (10, 100, Some("new10".into())),
        (2999, 29990, None),
        (3000, 30000, Some("new3000".into())),
        (5999, 59990, Some("new5999".into())),
    ];
    let probe: Vec<i64> = want.iter().map(|r| r.0).collect();
    assert_eq!(lookup(&rill, &probe), want);

    // Background compaction merges SSTs of both schemas.
    let compacted = common::wait_for(Duration::from_secs(30), || {
        let s = rill.bucket_stats(TABLE, 0).unwrap();
        (s.sst_counts.iter().skip(1).sum::<usize>() > 0).then_some(s)
    });
    assert!(compacted.is_some(), "no compaction: {:?}", rill.bucket_stats(TABLE, 0).unwrap());
    assert_eq!(lookup(&rill, &probe), want);
    rill.shutdown();
    drop(rill);

    let rill = common::open_with(config(dir.path(), shards));
    assert_eq!(lookup(&rill, &probe), want);
    let every: Vec<i64> = (0..6000).step_by(13).collect();
    let rows = lookup(&rill, &every);
    assert!(rows.iter().all(|(id, score, email)| {
        let new_row = *id >= 3000 || *id == 10;
        *score == id * 10 && email.is_some() == (new_row || *id == 5)
    }));
    rill.shutdown();
}

#[test]
fn evolve_a_pk_table_on_one_shard() {
    evolve_upsert_lookup_restart(1);
}

#[test]
fn evolve_a_pk_table_on_two_shards() {
    evolve_upsert_lookup_restart(2);
}
