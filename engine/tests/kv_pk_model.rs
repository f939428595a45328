//! Model test of primary-key tables (default merge engine) against a `BTreeMap` oracle:
//! random upserts, deletes and partial updates, flushes, compactions, crashes and restarts on
//! the simulated backend; lookups, prefix lookups and snapshots always agree with the oracle,
//! and the changelog replayed onto an empty map reproduces the table.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use futures_lite::future::block_on;
use proptest::prelude::*;
use rill_engine::batch::{ipc, BatchView, ChangeType};
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{LogConfig, OffsetSpec, SimFaults, SimStorage};
use rill_engine::row::key::encode_key;
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_engine::table::{KvWrite, PkConfig, PkTable};

type Key = (i32, i64);
type Value = (Option<String>, Option<i64>);

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("a", DataType::Int),
        Column::not_null("b", DataType::BigInt),
        Column::new("v", DataType::String),
        Column::new("n", DataType::BigInt),
    ])
}

fn descriptor() -> TableDescriptor {
    let mut d = TableDescriptor::log_table("db.kv", schema());
    d.primary_key = vec!["a".into(), "b".into()];
    d.bucket_key = Some(vec!["a".into()]);
    d.properties.insert("table.log.arrow.compression.type".into(), "NONE".into());
    d
}

fn config() -> PkConfig {
    let mut log = LogConfig::new("db.kv/b0", schema());
    log.segment_bytes_max = 64 * 1024;
    log.retention_ms_max = None;
    let lsm = LsmConfig {
        memtable_bytes_max: 16 * 1024,
        l0_compaction_trigger: 3,
        l1_bytes_target: 32 * 1024,
        level_size_multiplier: 4,
        sst_bytes_target: 16 * 1024,
        merge_chunk_rows: 64,
        ..LsmConfig::default()
    };
    PkConfig { log, lsm }
}

fn open(sim: &SimStorage) -> PkTable<SimStorage> {
    let cache = Rc::new(BlockCache::new(256 * 1024));
    block_on(PkTable::open(sim.clone(), descriptor(), config(), cache, logkit::ticking_clock(0))).unwrap()
}

fn rows(records: &[(Key, Value)]) -> RecordBatch {
    let a: ArrayRef = Arc::new(Int32Array::from_iter_values(records.iter().map(|((a, _), _)| *a)));
    let b: ArrayRef = Arc::new(Int64Array::from_iter_values(records.iter().map(|((_, b), _)| *b)));
    let v: ArrayRef = Arc::new(StringArray::from_iter(records.iter().map(|(_, (v, _))| v.clone())));
    let n: ArrayRef = Arc::new(Int64Array::from_iter(records.iter().map(|(_, (_, n))| *n)));
    RecordBatch::try_new(schema().to_arrow(), vec![a, b, v, n]).unwrap()
}

fn keys_of(batch: &RecordBatch, columns: &[usize]) -> Vec<Vec<u8>> {
    (0..batch.num_rows())
        .map(|i| {
            let mut out = Vec::new();
            encode_key(&schema(), columns, batch.columns(), i, &mut out).unwrap();
            out
        })
        .collect()
}

fn decode(batch: &RecordBatch) -> Vec<(Key, Value)> {
    let col = |i: usize| batch.column(i).clone();
    let a = col(0);
    let a = a.as_any().downcast_ref::<Int32Array>().unwrap();
    let b = col(1);
    let b = b.as_any().downcast_ref::<Int64Array>().unwrap();
    let v = col(2);
    let v = v.as_any().downcast_ref::<StringArray>().unwrap();
    let n = col(3);
    let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
    (0..batch.num_rows())
        .map(|i| {
            let value = ((!v.is_null(i)).then(|| v.value(i).to_string()), (!n.is_null(i)).then(|| n.value(i)));
            ((a.value(i), b.value(i)), value)
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Upsert(Vec<(Key, Value)>),
    Delete(Vec<Key>),
    /// Sets only `n` of these keys.
    Partial(Vec<(Key, Option<i64>)>),
    Flush,
    Compact,
    Crash,
    Check(Vec<Key>),
}

fn key() -> impl Strategy<Value = Key> {
    (0i32..6, 0i64..40)
}

fn value() -> impl Strategy<Value = Value> {
    (proptest::option::of("[a-z]{0,12}"), proptest::option::of(any::<i64>()))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => proptest::collection::vec((key(), value()), 1..20).prop_map(Op::Upsert),
        3 => proptest::collection::vec(key(), 1..6).prop_map(Op::Delete),
        3 => proptest::collection::vec((key(), proptest::option::of(any::<i64>())), 1..6).prop_map(Op::Partial),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Crash),
        2 => proptest::collection::vec(key(), 1..10).prop_map(Op::Check),
    ]
}

/// Applies `op` to the table and the oracle. On an error (injected faults) the oracle is left
/// as it was and the state the op would have produced is returned: the write may or may not
/// have become durable.
fn apply(table: &PkTable<SimStorage>, oracle: &mut BTreeMap<Key, Value>, op: &Op) -> Option<BTreeMap<Key, Value>> {
    let before = oracle.clone();
    let outcome = apply_inner(table, oracle, op);
    match outcome {
        Ok(()) => None,
        Err(_) => Some(std::mem::replace(oracle, before)),
    }
}

fn apply_inner(table: &PkTable<SimStorage>, oracle: &mut BTreeMap<Key, Value>, op: &Op) -> rill_engine::Result<()> {
    match op {
        Op::Upsert(records) => {
            let batch = rows(records);
            let write = KvWrite {
                keys: keys_of(&batch, &[0, 1]),
                deleted: vec![false; records.len()],
                rows: batch,
                target_columns: None,
                writer_id: -1,
                batch_sequence: -1,
            };
            let written = block_on(table.write(write));
            for (k, v) in records {
                oracle.insert(*k, v.clone());
            }
            written.map(drop)
        }
        Op::Delete(keys) => {
            let records: Vec<(Key, Value)> = keys.iter().map(|k| (*k, (None, None))).collect();
            let batch = rows(&records);
            let write = KvWrite {
                keys: keys_of(&batch, &[0, 1]),
                deleted: vec![true; keys.len()],
                rows: batch,
                target_columns: None,
                writer_id: -1,
                batch_sequence: -1,
            };
            let written = block_on(table.write(write));
            for k in keys {
                oracle.remove(k);
            }
            written.map(drop)
        }
        Op::Partial(updates) => {
            let records: Vec<(Key, Value)> = updates.iter().map(|(k, n)| (*k, (Some("ignored".into()), *n))).collect();
            let batch = rows(&records);
            let write = KvWrite {
                keys: keys_of(&batch, &[0, 1]),
                deleted: vec![false; records.len()],
                rows: batch,
                target_columns: Some(vec![0, 1, 3]),
                writer_id: -1,
                batch_sequence: -1,
            };
            let written = block_on(table.write(write));
            for (k, n) in updates {
                let entry = oracle.entry(*k).or_insert((None, None));
                entry.1 = *n;
            }
            written.map(drop)
        }
        Op::Flush => block_on(table.flush()),
        Op::Compact => block_on(table.lsm().compact_all()).map(drop),
        Op::Crash | Op::Check(_) => Ok(()),
    }
}

/// Reads every key the oracle or `other` knows.
fn actual_state(
    table: &PkTable<SimStorage>,
    a: &BTreeMap<Key, Value>,
    b: &BTreeMap<Key, Value>,
) -> BTreeMap<Key, Value> {
    let keys: Vec<Key> =
        a.keys().chain(b.keys()).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let records: Vec<(Key, Value)> = keys.iter().map(|k| (*k, (None, None))).collect();
    let result = block_on(table.lookup(&keys_of(&rows(&records), &[0, 1]))).unwrap();
    decode(&result.rows).into_iter().collect()
}

fn check_lookups(table: &PkTable<SimStorage>, oracle: &BTreeMap<Key, Value>, keys: &[Key]) {
    let records: Vec<(Key, Value)> = keys.iter().map(|k| (*k, (None, None))).collect();
    let encoded = keys_of(&rows(&records), &[0, 1]);
    let result = block_on(table.lookup(&encoded)).unwrap();
    let found = decode(&result.rows);
    let mut next = found.iter();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(result.found[i], oracle.contains_key(k), "key {k:?}");
        if result.found[i] {
            let (fk, fv) = next.next().unwrap();
            assert_eq!((fk, Some(fv)), (k, oracle.get(k)));
        }
    }
    // Prefix lookups by the bucket key `a` (a byte prefix of the compacted key).
    for a in 0..6 {
        let prefix_records = [((a, 0i64), (None, None))];
        let mut prefix = Vec::new();
        encode_key(&schema(), &[0], rows(&prefix_records).columns(), 0, &mut prefix).unwrap();
        let got = decode(&block_on(table.prefix_lookup(&prefix)).unwrap());
        let want: Vec<(Key, Value)> =
            oracle.range((a, i64::MIN)..=(a, i64::MAX)).map(|(k, v)| (*k, v.clone())).collect();
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(|(k, _)| *k);
        assert_eq!(got_sorted, want, "prefix a = {a}");
    }
}

fn check_snapshot(table: &PkTable<SimStorage>, oracle: &BTreeMap<Key, Value>) {
    let mut snapshot = table.snapshot().unwrap();
    let mut all = Vec::new();
    while let Some(batch) = block_on(snapshot.next_batch()).unwrap() {
        all.extend(decode(&batch));
    }
    all.sort_by_key(|(k, _)| *k);
    let want: Vec<(Key, Value)> = oracle.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(all, want, "snapshot");
    assert_eq!(snapshot.log_offset, table.log().list_offset(OffsetSpec::Latest));
}

fn check_changelog_replay(table: &PkTable<SimStorage>, oracle: &BTreeMap<Key, Value>) {
    let mut replayed: BTreeMap<Key, Value> = BTreeMap::new();
    let mut offset = table.log().list_offset(OffsetSpec::Earliest);
    let end = table.log().list_offset(OffsetSpec::Latest);
    while offset < end {
        let read = block_on(table.log().read(offset, 1 << 20, None)).unwrap();
        for stored in &read.batches {
            let view = BatchView::parse(stored.bytes.as_slice()).unwrap();
            let range = view.ipc_range();
            let batch =
                ipc::decode(&stored.bytes.slice_with_length(range.start, range.len()), schema().to_arrow(), false)
                    .unwrap();
            for ((k, v), kind) in decode(&batch).into_iter().zip(view.change_types().unwrap()) {
                match kind {
                    ChangeType::Insert | ChangeType::UpdateAfter => {
                        replayed.insert(k, v);
                    }
                    ChangeType::Delete => {
                        replayed.remove(&k);
                    }
                    ChangeType::UpdateBefore => assert_eq!(replayed.get(&k), Some(&v), "-U carries the old row"),
                    ChangeType::AppendOnly => panic!("+A in a changelog"),
                }
            }
        }
        offset = read.next_offset;
    }
    assert_eq!(&replayed, oracle, "changelog replay");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(48), ..ProptestConfig::default() })]

    #[test]
    fn pk_table_agrees_with_a_btreemap(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..40)) {
        let sim = SimStorage::new(seed, SimFaults::default());
        let mut table = open(&sim);
        let mut oracle = BTreeMap::new();
        for op in &ops {
            assert!(apply(&table, &mut oracle, op).is_none(), "no faults were injected");
            match op {
                Op::Crash => {
                    drop(table);
                    sim.crash();
                    table = open(&sim);
                    check_lookups(&table, &oracle, &oracle.keys().copied().take(20).collect::<Vec<_>>());
                }
                Op::Check(keys) => check_lookups(&table, &oracle, keys),
                _ => {}
            }
        }
        check_snapshot(&table, &oracle);
        check_changelog_replay(&table, &oracle);
        drop(table);
        sim.crash();
        let table = open(&sim);
        check_snapshot(&table, &oracle);
    }
}

fn faults(on: bool) -> SimFaults {
    let rate = if on { 40_000 } else { 0 };
    SimFaults { write_error_per_million: rate, sync_error_per_million: rate, ..SimFaults::default() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(32), ..ProptestConfig::default() })]

    /// With write and sync failures injected: an acknowledged write is never lost, a failed
    /// one is all or nothing after the crash and reopen that follow it, and the table stays
    /// equal to its own changelog.
    #[test]
    fn pk_table_survives_injected_faults(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..40)) {
        let sim = SimStorage::new(seed, faults(false));
        let mut table = open(&sim);
        sim.set_faults(faults(true));
        let mut oracle = BTreeMap::new();
        for op in &ops {
            let failed = apply(&table, &mut oracle, op);
            if failed.is_some() || matches!(op, Op::Crash) {
                drop(table);
                sim.crash();
                sim.set_faults(faults(false));
                table = open(&sim);
                if let Some(after) = failed {
                    let actual = actual_state(&table, &oracle, &after);
                    prop_assert!(actual == oracle || actual == after, "a failed write must be all or nothing");
                    oracle = actual;
                }
                sim.set_faults(faults(true));
            }
        }
        sim.set_faults(faults(false));
        drop(table);
        sim.crash();
        let table = open(&sim);
        check_snapshot(&table, &oracle);
        check_changelog_replay(&table, &oracle);
    }
}
