//! Primary-key table semantics through the whole write path: merge engines and the changelog
//! they emit, the WAL changelog image, pipelined writes on a pre-write buffer, idempotent KV
//! batches, `$changelog` / `$binlog`, and bad input that leaves the table unchanged.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use futures_lite::future::block_on;
use rill_engine::batch::{BatchView, ChangeType};
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{LogConfig, OffsetSpec, SimFaults, SimStorage};
use rill_engine::row::key::encode_key;
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_engine::table::virtual_tables::{binlog_batch, changelog_batch};
use rill_engine::table::{KvWrite, PkConfig, PkTable, WriteResult};
use rill_engine::Error;

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("amount", DataType::BigInt),
        Column::new("name", DataType::String),
    ])
}

fn open_with(sim: &SimStorage, properties: &[(&str, &str)]) -> PkTable<SimStorage> {
    let mut desc = TableDescriptor::log_table("db.orders", schema());
    desc.primary_key = vec!["id".into()];
    for (k, v) in properties {
        desc.properties.insert((*k).into(), (*v).into());
    }
    let mut log = LogConfig::new("db.orders/b0", schema());
    log.retention_ms_max = None;
    let config = PkConfig { log, lsm: LsmConfig { memtable_bytes_max: 8 * 1024, ..LsmConfig::default() } };
    block_on(PkTable::open(sim.clone(), desc, config, Rc::new(BlockCache::new(1 << 20)), logkit::ticking_clock(0)))
        .unwrap()
}

fn open(properties: &[(&str, &str)]) -> (SimStorage, PkTable<SimStorage>) {
    let sim = SimStorage::new(7, SimFaults::default());
    let table = open_with(&sim, properties);
    (sim, table)
}

type Rec = (i64, Option<i64>, Option<&'static str>);

fn rows(records: &[Rec]) -> RecordBatch {
    RecordBatch::try_new(
        schema().to_arrow(),
        vec![
            Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(Int64Array::from_iter(records.iter().map(|r| r.1))) as ArrayRef,
            Arc::new(StringArray::from_iter(records.iter().map(|r| r.2))) as ArrayRef,
        ],
    )
    .unwrap()
}

fn keys(ids: &[i64]) -> Vec<Vec<u8>> {
    let batch = rows(&ids.iter().map(|i| (*i, None, None)).collect::<Vec<_>>());
    (0..ids.len())
        .map(|i| {
            let mut k = Vec::new();
            encode_key(&schema(), &[0], batch.columns(), i, &mut k).unwrap();
            k
        })
        .collect()
}

fn upsert_write(records: &[Rec]) -> KvWrite {
    KvWrite {
        keys: keys(&records.iter().map(|r| r.0).collect::<Vec<_>>()),
        rows: rows(records),
        deleted: vec![false; records.len()],
        target_columns: None,
        writer_id: -1,
        batch_sequence: -1,
    }
}

fn upsert(t: &PkTable<SimStorage>, records: &[Rec]) -> rill_engine::table::WriteResult {
    block_on(t.write(upsert_write(records))).unwrap()
}

fn delete(t: &PkTable<SimStorage>, ids: &[i64]) {
    let records: Vec<Rec> = ids.iter().map(|i| (*i, None, None)).collect();
    let mut w = upsert_write(&records);
    w.deleted = vec![true; ids.len()];
    block_on(t.write(w)).unwrap();
}

fn get(t: &PkTable<SimStorage>, id: i64) -> Option<(Option<i64>, Option<String>)> {
    let r = block_on(t.lookup(&keys(&[id]))).unwrap();
    if !r.found[0] {
        return None;
    }
    let amount = r.rows.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
    let name = r.rows.column(2).as_any().downcast_ref::<StringArray>().unwrap();
    Some(((!amount.is_null(0)).then(|| amount.value(0)), (!name.is_null(0)).then(|| name.value(0).to_string())))
}

/// Every change type in the log so far, in order.
fn change_types(t: &PkTable<SimStorage>) -> Vec<ChangeType> {
    let end = t.log().list_offset(OffsetSpec::Latest);
    if end == 0 {
        return Vec::new();
    }
    let read = block_on(t.log().read(0, 1 << 20, None)).unwrap();
    read.batches.iter().flat_map(|b| BatchView::parse(b.bytes.as_slice()).unwrap().change_types().unwrap()).collect()
}

use ChangeType::{Delete as D, Insert as I, UpdateAfter as UA, UpdateBefore as UB};

#[test]
fn default_engine_emits_full_changelog_images() {
    let (_sim, t) = open(&[]);
    upsert(&t, &[(1, Some(10), Some("a")), (2, Some(20), None)]);
    upsert(&t, &[(1, Some(11), Some("b"))]);
    delete(&t, &[2, 3]);
    assert_eq!(change_types(&t), vec![I, I, UB, UA, D]);
    assert_eq!(get(&t, 1), Some((Some(11), Some("b".into()))));
    assert_eq!(get(&t, 2), None);
}

#[test]
fn partial_updates_keep_the_other_columns() {
    let (_sim, t) = open(&[]);
    upsert(&t, &[(1, Some(10), Some("a"))]);
    let mut w = upsert_write(&[(1, Some(99), Some("ignored")), (5, Some(50), None)]);
    w.target_columns = Some(vec![0, 1]);
    block_on(t.write(w)).unwrap();
    assert_eq!(get(&t, 1), Some((Some(99), Some("a".into()))));
    assert_eq!(get(&t, 5), Some((Some(50), None)));
}

#[test]
fn first_row_keeps_the_first_and_logs_nothing_for_duplicates() {
    let (_sim, t) = open(&[("table.merge-engine", "first_row")]);
    upsert(&t, &[(1, Some(10), Some("first"))]);
    let r = upsert(&t, &[(1, Some(11), Some("second"))]);
    assert_eq!(r.changes, 0);
    assert_eq!(change_types(&t), vec![I]);
    assert_eq!(get(&t, 1), Some((Some(10), Some("first".into()))));
}

#[test]
fn versioned_replaces_only_newer_versions() {
    let (_sim, t) = open(&[("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "amount")]);
    upsert(&t, &[(1, Some(5), Some("v5"))]);
    upsert(&t, &[(1, Some(3), Some("v3"))]);
    upsert(&t, &[(1, Some(7), Some("v7"))]);
    assert_eq!(get(&t, 1), Some((Some(7), Some("v7".into()))));
    assert_eq!(change_types(&t), vec![I, UB, UA]);
    let e = block_on(t.write(upsert_write(&[(1, None, Some("no version"))]))).unwrap_err();
    assert!(matches!(e, Error::InvalidWrite { .. }) && e.to_string().contains("version column 'amount'"), "{e}");
    assert_eq!(get(&t, 1), Some((Some(7), Some("v7".into()))));
}

#[test]
fn aggregation_folds_per_column_and_survives_restart() {
    let props = [("table.merge-engine", "aggregation"), ("fields.amount.agg", "sum"), ("fields.name.agg", "listagg")];
    let sim = SimStorage::new(3, SimFaults::default());
    let t = open_with(&sim, &props);
    upsert(&t, &[(1, Some(1), Some("a"))]);
    upsert(&t, &[(1, Some(2), Some("b")), (1, Some(3), None)]);
    assert_eq!(get(&t, 1), Some((Some(6), Some("a,b".into()))));
    drop(t);
    sim.crash();
    let t = open_with(&sim, &props);
    assert_eq!(get(&t, 1), Some((Some(6), Some("a,b".into()))));
}

#[test]
fn wal_image_emits_only_update_after() {
    let (_sim, t) = open(&[("table.changelog.image", "WAL")]);
    upsert(&t, &[(1, Some(1), None)]);
    upsert(&t, &[(1, Some(2), None)]);
    assert_eq!(change_types(&t), vec![UA, UA]);
    assert_eq!(get(&t, 1), Some((Some(2), None)));
}

#[test]
fn pipelined_writes_merge_on_not_yet_durable_writes() {
    let props = [("table.merge-engine", "aggregation"), ("fields.amount.agg", "sum")];
    let (_sim, t) = open(&props);
    let writes: Vec<KvWrite> = (1..=5).map(|i| upsert_write(&[(9, Some(i), None)])).collect();
    type Written = rill_engine::Result<rill_engine::table::WriteResult>;
    let futures: Vec<Pin<Box<dyn Future<Output = Written> + '_>>> =
        writes.into_iter().map(|w| Box::pin(t.write(w)) as Pin<Box<dyn Future<Output = Written>>>).collect();
    let results = block_on(logkit::join_all(futures));
    assert!(results.iter().all(Result::is_ok));
    // Each write read the previous one's result from the pre-write buffer, not the LSM.
    assert_eq!(get(&t, 9), Some((Some(15), None)));
    let offsets: Vec<i64> = results.iter().map(|r| r.as_ref().unwrap().base_offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
}

/// Runs `writes` concurrently (each one's future polled in turn) and returns their results.
fn write_concurrently(t: &PkTable<SimStorage>, writes: Vec<KvWrite>) -> Vec<rill_engine::Result<WriteResult>> {
    type Written<'a> = Pin<Box<dyn Future<Output = rill_engine::Result<WriteResult>> + 'a>>;
    let futures: Vec<Written<'_>> = writes.into_iter().map(|w| Box::pin(t.write(w)) as Written<'_>).collect();
    block_on(logkit::join_all(futures))
}

/// An SST holds key 9 and the block cache is cold, so reading its old row suspends the
/// write: writes arriving meanwhile still merge in arrival order.
#[test]
fn pipelined_writes_reading_old_rows_from_ssts_merge_in_order() {
    let props = [("table.merge-engine", "aggregation"), ("fields.amount.agg", "sum")];
    let (sim, t) = open(&props);
    upsert(&t, &[(9, Some(100), None)]);
    block_on(t.flush()).unwrap();
    drop(t);
    let t = open_with(&sim, &props);
    let writes: Vec<KvWrite> =
        (1..=5).map(|i| upsert_write(&[(9, Some(i), None), (1000 + i, Some(i), None)])).collect();
    let results = write_concurrently(&t, writes);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(get(&t, 9), Some((Some(115), None)), "no increment lost");
    let offsets: Vec<i64> = results.iter().map(|r| r.as_ref().unwrap().base_offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "log order is arrival order: {offsets:?}");
}

/// An idempotent writer pipelines two batches; the first reads an old row from an SST (and
/// suspends), the second touches only a new key: the sequences still reach the log in order.
#[test]
fn pipelined_idempotent_batches_keep_their_sequence_order() {
    let (sim, t) = open(&[]);
    upsert(&t, &[(9, Some(1), None)]);
    block_on(t.flush()).unwrap();
    drop(t);
    let t = open_with(&sim, &[]);
    let mut first = upsert_write(&[(9, Some(2), None)]);
    let mut second = upsert_write(&[(10, Some(3), None)]);
    (first.writer_id, first.batch_sequence) = (77, 0);
    (second.writer_id, second.batch_sequence) = (77, 1);
    let results = write_concurrently(&t, vec![first, second]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!((get(&t, 9), get(&t, 10)), (Some((Some(2), None)), Some((Some(3), None))));
}

#[test]
fn a_retried_kv_batch_is_not_applied_twice() {
    let props = [("table.merge-engine", "aggregation"), ("fields.amount.agg", "sum")];
    let sim = SimStorage::new(5, SimFaults::default());
    let t = open_with(&sim, &props);
    let mut w = upsert_write(&[(1, Some(10), None)]);
    w.writer_id = 77;
    w.batch_sequence = 0;
    let first = block_on(t.write(w.clone())).unwrap();
    let again = block_on(t.write(w.clone())).unwrap();
    assert!(again.duplicate && again.base_offset == first.base_offset);
    assert_eq!(get(&t, 1), Some((Some(10), None)));
    drop(t);
    let t = open_with(&sim, &props);
    assert!(block_on(t.write(w)).unwrap().duplicate, "writer state survives a restart");
    assert_eq!(get(&t, 1), Some((Some(10), None)));
}

#[test]
fn changelog_and_binlog_readings() {
    let (_sim, t) = open(&[]);
    upsert(&t, &[(1, Some(10), Some("a"))]);
    upsert(&t, &[(1, Some(11), Some("b"))]);
    delete(&t, &[1]);
    let read = block_on(t.log().read(0, 1 << 20, None)).unwrap();
    let kinds: Vec<String> = read
        .batches
        .iter()
        .flat_map(|b| {
            let c = changelog_batch(&t.log().config().schemas, b).unwrap();
            let col = c.column(0).as_any().downcast_ref::<StringArray>().unwrap().clone();
            (0..col.len()).map(move |i| col.value(i).to_string())
        })
        .collect();
    assert_eq!(kinds, ["insert", "update_before", "update_after", "delete"]);
    let update = binlog_batch(&t.log().config().schemas, &read.batches[1]).unwrap();
    assert_eq!(update.num_rows(), 1);
    let kind = update.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(kind.value(0), "update");
    assert!(update.column(3).is_valid(0) && update.column(4).is_valid(0), "before and after images");
    let gone = binlog_batch(&t.log().config().schemas, &read.batches[2]).unwrap();
    assert!(gone.column(3).is_valid(0) && gone.column(4).is_null(0));
}

#[test]
fn bad_writes_are_refused_and_change_nothing() {
    let (_sim, t) = open(&[]);
    upsert(&t, &[(1, Some(10), Some("a"))]);
    let end = t.log().list_offset(OffsetSpec::Latest);
    let refused = |w: KvWrite, needle: &str| {
        let e = block_on(t.write(w)).unwrap_err();
        assert!(e.to_string().contains(needle), "expected '{needle}' in: {e}");
    };
    let mut w = upsert_write(&[(1, Some(5), None)]);
    w.target_columns = Some(vec![1]);
    refused(w, "must include primary key column 'id'");
    let mut w = upsert_write(&[(1, Some(5), None)]);
    w.target_columns = Some(vec![0, 7]);
    refused(w, "target column 7 does not exist");
    let mut w = upsert_write(&[(1, Some(5), None)]);
    w.keys[0] = vec![0; 70 * 1024];
    refused(w, "a key of 71680 bytes");
    let other = Schema::new(vec![Column::not_null("id", DataType::Int)]);
    let wrong =
        RecordBatch::try_new(other.to_arrow(), vec![Arc::new(arrow_array::Int32Array::from(vec![1])) as ArrayRef])
            .unwrap();
    let mut w = upsert_write(&[(1, Some(5), None)]);
    w.rows = wrong;
    refused(w, "rows do not match the table schema");
    assert_eq!(t.log().list_offset(OffsetSpec::Latest), end);
    assert_eq!(get(&t, 1), Some((Some(10), Some("a".into()))));
}
