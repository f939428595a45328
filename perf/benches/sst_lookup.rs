//! Point lookups in the pieces of rill's LSM, on the simulated storage backend (no disk):
//! an SST get whose block is cached, one whose block must be read, CRC-checked and decoded,
//! a negative lookup the bloom filter answers, a memtable get, and `PkTable::lookup` of one
//! key (memtable and SST hit) to price the table API around the LSM get. The table is the KV
//! benchmark's: `id BIGINT` PK + 100-byte `v`, 100k keys.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, BinaryArray, BooleanArray, RecordBatch};
use criterion::{criterion_group, criterion_main, Criterion};
use futures_lite::future::block_on;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::memtable::Memtable;
use rill_engine::kv::sst::{sst_arrow_schema, SstOptions, SstReader, SstWriter};
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{system_clock, LogConfig, SimFaults, SimStorage};
use rill_engine::table::{KvWrite, PkConfig, PkTable};
use rill_perf::data::SplitMix64;
use rill_perf::kv_data;

const KEYS: u64 = 100_000;
const VALUE_BYTES: usize = 100;
/// Rows per write into the memtable (the KV benchmark's upsert batch).
const WRITE_ROWS: u64 = 100;
/// Rows per `SstWriter::add` call.
const ADD_ROWS: usize = 4096;

/// The keys `0..KEYS` in key (byte) order with their ids.
fn sorted_keys() -> Vec<(Vec<u8>, u64)> {
    let mut keys: Vec<(Vec<u8>, u64)> = (0..KEYS).map(|id| (kv_data::key_of(id), id)).collect();
    keys.sort_unstable();
    keys
}

/// Writes SST 1 of every key into `sim`, opens it.
fn build_sst(sim: &SimStorage) -> SstReader<<SimStorage as rill_engine::log::Storage>::File> {
    let schema = kv_data::kv_schema();
    let keys = sorted_keys();
    block_on(async {
        let mut writer = SstWriter::create(sim, 1, &schema, SstOptions::default(), 0).await.expect("create SST");
        for chunk in keys.chunks(ADD_ROWS) {
            let ids: Vec<u64> = chunk.iter().map(|(_, id)| *id).collect();
            let (_, rows) = kv_data::rows(&ids, 0, VALUE_BYTES).expect("rows");
            let mut columns: Vec<ArrayRef> = vec![
                Arc::new(BinaryArray::from_iter_values(chunk.iter().map(|(k, _)| k.as_slice()))),
                Arc::new(BooleanArray::from(vec![false; chunk.len()])),
            ];
            columns.extend(rows.columns().iter().cloned());
            let batch = RecordBatch::try_new(sst_arrow_schema(&schema), columns).expect("SST rows");
            writer.add(&batch).await.expect("add");
        }
        writer.finish().await.expect("finish SST");
        SstReader::open(sim, 1, &schema).await.expect("open SST")
    })
}

/// Random existing keys (and absent ones: ids from KEYS up).
fn probe_keys(absent: bool) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(7);
    (0..4096).map(|_| kv_data::key_of(rng.next_u64() % KEYS + if absent { KEYS } else { 0 })).collect()
}

fn sst(c: &mut Criterion) {
    let sim = SimStorage::new(1, SimFaults::default());
    let reader = build_sst(&sim);
    let present = probe_keys(false);
    let absent = probe_keys(true);
    let cached = BlockCache::new(1 << 30);
    block_on(async {
        for i in 0..reader.block_count() {
            reader.read_block(i, &cached).await.expect("warm");
        }
    });
    let uncached = BlockCache::new(0);
    let mut group = c.benchmark_group("sst_lookup");
    let mut at = 0usize;
    let mut next = |keys: &[Vec<u8>]| {
        at = (at + 1) % keys.len();
        keys[at].clone()
    };
    group.bench_function("cached_block", |b| {
        b.iter(|| block_on(reader.get(black_box(&next(&present)), &cached)).expect("get").expect("found").row)
    });
    group.bench_function("uncached_block", |b| {
        b.iter(|| block_on(reader.get(black_box(&next(&present)), &uncached)).expect("get").expect("found").row)
    });
    group.bench_function("bloom_negative", |b| {
        b.iter(|| block_on(reader.get(black_box(&next(&absent)), &cached)).expect("get").is_none())
    });
    group.finish();
}

fn memtable(c: &mut Criterion) {
    let mut table = Memtable::new(kv_data::kv_schema().to_arrow());
    for first in (0..KEYS).step_by(WRITE_ROWS as usize) {
        let ids: Vec<u64> = (first..first + WRITE_ROWS).collect();
        let (keys, rows) = kv_data::rows(&ids, 0, VALUE_BYTES).expect("rows");
        table.apply(&keys, &vec![false; keys.len()], &rows).expect("apply");
    }
    let present = probe_keys(false);
    let mut at = 0usize;
    c.bench_function("memtable_get", |b| {
        b.iter(|| {
            at = (at + 1) % present.len();
            table.get(black_box(&present[at])).is_some()
        })
    });
}

/// `PkTable::lookup` of one key, with all keys in the memtable, then all in one cached SST.
fn table_lookup(c: &mut Criterion) {
    let sim = SimStorage::new(2, SimFaults::default());
    let desc = kv_data::kv_descriptor(None);
    let log = LogConfig::new(format!("{}/b0", kv_data::TABLE), kv_data::kv_schema());
    let pk = PkConfig { log, lsm: LsmConfig { memtable_bytes_max: 1 << 30, ..LsmConfig::default() } };
    let cache = Rc::new(BlockCache::new(1 << 30));
    let table = block_on(PkTable::open(sim, desc, pk, cache, system_clock())).expect("open table");
    block_on(async {
        for first in (0..KEYS).step_by(10_000) {
            let ids: Vec<u64> = (first..first + 10_000).collect();
            let (keys, rows) = kv_data::rows(&ids, 0, VALUE_BYTES).expect("rows");
            let write = KvWrite {
                keys,
                rows,
                deleted: vec![false; ids.len()],
                target_columns: None,
                writer_id: -1,
                batch_sequence: -1,
            };
            table.write(write).await.expect("write");
        }
    });
    let present = probe_keys(false);
    let mut group = c.benchmark_group("table_lookup_one_key");
    let mut at = 0usize;
    let mut lookup = |table: &PkTable<SimStorage>| {
        at = (at + 1) % present.len();
        let keys = [present[at].clone()];
        block_on(table.lookup(black_box(&keys))).expect("lookup").found[0]
    };
    group.bench_function("memtable", |b| b.iter(|| lookup(&table)));
    block_on(table.flush()).expect("flush");
    for key in &present {
        block_on(table.lookup(std::slice::from_ref(key))).expect("warm");
    }
    group.bench_function("sst_cached", |b| b.iter(|| lookup(&table)));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = sst, memtable, table_lookup
}
criterion_main!(benches);
