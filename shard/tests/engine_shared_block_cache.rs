//! Two primary-key buckets sharing one `BlockCache` (as the buckets of a shard do) never read
//! each other's blocks, although both number their SSTs 1, 2, ...: each LSM keys its blocks
//! under its own cache namespace. (This failed before the namespaces existed.)
#![allow(clippy::unwrap_used)]

mod common;

use std::rc::Rc;

use futures_lite::future::block_on;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{system_clock, LogConfig, SimFaults, SimStorage};
use rill_engine::row::encode_key;
use rill_engine::table::{KvWrite, PkConfig, PkTable};

fn open(cache: &Rc<BlockCache>, seed: u64, name: &str) -> PkTable<SimStorage> {
    let desc = common::pk_table(name, 1);
    let log = LogConfig::new(format!("{name}/b0"), desc.schema.clone());
    let config = PkConfig { log, lsm: LsmConfig { memtable_bytes_max: 16 << 10, ..LsmConfig::default() } };
    let sim = SimStorage::new(seed, SimFaults::default());
    block_on(PkTable::open(sim, desc, config, Rc::clone(cache), system_clock())).unwrap()
}

fn keys(ids: &[i64]) -> Vec<Vec<u8>> {
    let batch = common::users(ids, 0);
    let schema = common::user_schema();
    (0..ids.len())
        .map(|row| {
            let mut k = Vec::new();
            encode_key(&schema, &[0], batch.columns(), row, &mut k).unwrap();
            k
        })
        .collect()
}

fn write(table: &PkTable<SimStorage>, ids: &[i64]) {
    let write = KvWrite {
        keys: keys(ids),
        rows: common::users(ids, 0),
        deleted: vec![false; ids.len()],
        target_columns: None,
        writer_id: -1,
        batch_sequence: -1,
    };
    block_on(table.write(write)).unwrap();
}

#[test]

fn two_buckets_sharing_a_cache_find_their_own_rows() {
    let cache = Rc::new(BlockCache::new(8 << 20));
    let a = open(&cache, 1, "a");
    let b = open(&cache, 2, "b");
    let evens: Vec<i64> = (0..4000).map(|i| i * 2).collect();
    let odds: Vec<i64> = (0..4000).map(|i| i * 2 + 1).collect();
    for (ea, ob) in evens.chunks(500).zip(odds.chunks(500)) {
        write(&a, ea);
        write(&b, ob);
    }
    block_on(a.flush()).unwrap();
    block_on(b.flush()).unwrap();
    let found_a = block_on(a.lookup(&keys(&evens))).unwrap().found;
    let found_b = block_on(b.lookup(&keys(&odds))).unwrap().found;
    assert!(found_a.iter().all(|f| *f), "bucket a lost {} rows", found_a.iter().filter(|f| !**f).count());
    assert!(found_b.iter().all(|f| *f), "bucket b lost {} rows", found_b.iter().filter(|f| !**f).count());
}
