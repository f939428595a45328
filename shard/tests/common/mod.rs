//! Shared helpers of the shard tests: schemas, batches, opening a `Rill`.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_shard::{Rill, RillConfig};

pub fn open(dir: &Path, shards: usize) -> Rill {
    open_with(config(dir, shards))
}

/// The configuration `open` uses: small caches and memtables.
pub fn config(dir: &Path, shards: usize) -> RillConfig {
    let mut config = RillConfig::new(dir).with_shards(shards);
    config.block_cache_bytes_per_shard = 1 << 20;
    config.memtable_bytes_max = 64 << 10;
    config.queue_depth_max = 1024;
    config
}

/// Opens with `config` and creates database `db`.
pub fn open_with(config: RillConfig) -> Rill {
    let rill = Rill::open(config).unwrap();
    // The tests name their tables `db.<table>`.
    rill.create_database("db", true).unwrap();
    rill
}

pub fn event_schema() -> Schema {
    Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::new("city", DataType::String)])
}

pub fn log_table(name: &str, buckets: u32) -> TableDescriptor {
    let mut d = TableDescriptor::log_table(name, event_schema());
    d.bucket_count = buckets;
    d
}

pub fn events(first: i64, rows: i64) -> RecordBatch {
    let cities = ["Lisbon", "Oslo", "Quito", "Perth"];
    let ids: Vec<i64> = (first..first + rows).collect();
    RecordBatch::try_new(
        event_schema().to_arrow(),
        vec![
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(ids.iter().map(|i| cities[(*i % 4) as usize]))) as ArrayRef,
        ],
    )
    .unwrap()
}

pub fn user_schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("name", DataType::String),
        Column::new("score", DataType::BigInt),
    ])
}

pub fn pk_table(name: &str, buckets: u32) -> TableDescriptor {
    let mut d = pk_descriptor(name, user_schema(), "id");
    d.bucket_count = buckets;
    d
}

/// A primary-key table `name` of `schema` keyed by column `key`, one bucket.
pub fn pk_descriptor(name: &str, schema: Schema, key: &str) -> TableDescriptor {
    let mut d = TableDescriptor::log_table(name, schema);
    d.primary_key = vec![key.into()];
    d
}

pub fn users(ids: &[i64], score: i64) -> RecordBatch {
    RecordBatch::try_new(
        user_schema().to_arrow(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(ids.iter().map(|i| format!("user-{i}")))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i * 10 + score))) as ArrayRef,
        ],
    )
    .unwrap()
}

pub fn user_keys(ids: &[i64]) -> RecordBatch {
    keys_of("id", Arc::new(Int64Array::from(ids.to_vec())))
}

/// A key batch of one NOT NULL key column `name` holding `values`.
pub fn keys_of(name: &str, values: ArrayRef) -> RecordBatch {
    let field = arrow_schema::Field::new(name, values.data_type().clone(), false);
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(vec![field])), vec![values]).unwrap()
}

/// Every row of every bucket of a log table, as (id, city), sorted.
pub fn all_events(rill: &Rill, table: &str) -> Vec<(i64, String)> {
    let buckets = rill.describe(table).unwrap().descriptor.bucket_count;
    let mut out = Vec::new();
    for b in 0..buckets {
        let mut offset = 0;
        loop {
            let r = rill.scan(table, b, offset, 1 << 20, None, None).unwrap();
            for batch in &r.batches {
                out.extend(rows_of(batch));
            }
            if r.next_offset >= r.high_watermark {
                break;
            }
            offset = r.next_offset;
        }
    }
    out.sort();
    out
}

pub fn rows_of(batch: &RecordBatch) -> Vec<(i64, String)> {
    let ids = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let cities = batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    (0..batch.num_rows()).map(|i| (ids.value(i), cities.value(i).to_string())).collect()
}

/// Looks up `ids` and returns (id, score) of the found ones plus the found flags.
pub fn lookup_scores(rill: &Rill, table: &str, ids: &[i64]) -> (Vec<(i64, i64)>, Vec<bool>) {
    let (rows, found) = rill.lookup(table, user_keys(ids)).unwrap();
    let id = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let score = rows.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(rows.num_rows(), found.iter().filter(|f| **f).count());
    ((0..rows.num_rows()).map(|i| (id.value(i), score.value(i))).collect(), found)
}

/// Polls `check` every 10 ms until it returns `Some`, for at most `timeout`.
pub fn wait_for<T>(timeout: std::time::Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if started.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn is_null_free(batch: &RecordBatch) -> bool {
    batch.columns().iter().all(|c| c.null_count() == 0)
}

// ---- partitioned tables ----

/// id BIGINT NOT NULL, city STRING, dt STRING NOT NULL (the partition key).
pub fn dated_schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("city", DataType::String),
        Column::not_null("dt", DataType::String),
    ])
}

/// A log table partitioned by `dt`.
pub fn dated_log_table(name: &str, buckets: u32) -> TableDescriptor {
    let mut d = TableDescriptor::log_table(name, dated_schema());
    d.bucket_count = buckets;
    d.partition_keys = vec!["dt".into()];
    d
}

/// A primary-key table (id, dt) partitioned by `dt`.
pub fn dated_pk_table(name: &str, buckets: u32) -> TableDescriptor {
    let mut d = dated_log_table(name, buckets);
    d.primary_key = vec!["id".into(), "dt".into()];
    d
}

/// Rows (id, city-of-id, dt).
pub fn dated(rows: &[(i64, &str)]) -> RecordBatch {
    let cities = ["Lisbon", "Oslo", "Quito", "Perth"];
    RecordBatch::try_new(
        dated_schema().to_arrow(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| cities[(r.0 % 4) as usize]))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ],
    )
    .unwrap()
}

/// (id, city, dt) of a batch of `dated_schema`.
pub fn dated_rows_of(batch: &RecordBatch) -> Vec<(i64, String, String)> {
    let ids = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let cities = batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    let dts = batch.column(2).as_any().downcast_ref::<StringArray>().unwrap();
    (0..batch.num_rows()).map(|i| (ids.value(i), cities.value(i).to_string(), dts.value(i).to_string())).collect()
}

/// Every row of one partition of a dated log table, sorted.
pub fn partition_rows(rill: &Rill, table: &str, partition: &str) -> Vec<(i64, String, String)> {
    let buckets = rill.describe(table).unwrap().descriptor.bucket_count;
    let mut out = Vec::new();
    for b in 0..buckets {
        let mut offset = 0;
        loop {
            let r = rill.scan_partition(table, Some(partition), b, offset, 1 << 20, None, None).unwrap();
            for batch in &r.batches {
                out.extend(dated_rows_of(batch));
            }
            if r.next_offset >= r.high_watermark {
                break;
            }
            offset = r.next_offset;
        }
    }
    out.sort();
    out
}

/// Names of the partitions of a table.
pub fn partition_names(rill: &Rill, table: &str) -> Vec<String> {
    rill.list_partitions(table).unwrap().iter().map(|p| p.name.clone()).collect()
}

/// Creates partitions with these `dt` values.
pub fn create_days(rill: &Rill, table: &str, days: &[&str]) {
    for day in days {
        rill.create_partition(table, &[("dt", day)], false).unwrap();
    }
}
