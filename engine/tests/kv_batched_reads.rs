//! Batched reads (lookups of many keys, and the old rows a write of many keys reads) read the
//! SST blocks they miss together: they must answer as one-key reads do, with duplicates,
//! absent and deleted keys, keys in several levels, more missing blocks than one round reads,
//! and a block cache too small to keep them. Blocks written by flushes and compactions enter
//! the cache while it has room.
#![allow(clippy::unwrap_used)]

mod logkit;
mod pkkit;

use pkkit::{keys, schema};

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use futures_lite::future::block_on;
use proptest::prelude::*;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::sst::SstOptions;
use rill_engine::kv::tree::{CacheWritten, LsmConfig};
use rill_engine::log::{LogConfig, SimFaults, SimStorage};
use rill_engine::schema::TableDescriptor;
use rill_engine::table::virtual_tables::changelog_batch;
use rill_engine::table::{KvWrite, PkConfig, PkTable, WriteResult};

fn open(sim: &SimStorage, cache_bytes: usize) -> PkTable<SimStorage> {
    open_with(sim, cache_bytes, CacheWritten::FlushesAndCompactions, true)
}

/// `warm_compacted_blocks` off looks at the blocks written alone (warming after a
/// compaction is `kv_compaction_warm`'s).
fn open_with(
    sim: &SimStorage,
    cache_bytes: usize,
    cache_written_blocks: CacheWritten,
    warm_compacted_blocks: bool,
) -> PkTable<SimStorage> {
    let mut desc = TableDescriptor::log_table("db.t", schema());
    desc.primary_key = vec!["id".into()];
    let mut log = LogConfig::new("db.t/b0", schema());
    log.retention_ms_max = None;
    let lsm = LsmConfig {
        memtable_bytes_max: 16 * 1024,
        l0_compaction_trigger: 3,
        l1_bytes_target: 32 * 1024,
        level_size_multiplier: 3,
        sst_bytes_target: 16 * 1024,
        // Small blocks: a batch of keys misses more blocks than one round of reads takes.
        sst: SstOptions { block_bytes_target: 256, ..SstOptions::default() },
        cache_written_blocks,
        warm_compacted_blocks,
        ..LsmConfig::default()
    };
    let cache = Rc::new(BlockCache::new(cache_bytes));
    block_on(PkTable::open(sim.clone(), desc, PkConfig { log, lsm }, cache, logkit::ticking_clock(0))).unwrap()
}

/// Writes `(id, Some(value))` upserts and `(id, None)` deletes in one request.
fn write(table: &PkTable<SimStorage>, records: &[(i64, Option<String>)]) -> WriteResult {
    let ids: Vec<i64> = records.iter().map(|r| r.0).collect();
    let rows = RecordBatch::try_new(
        schema().to_arrow(),
        vec![
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
            Arc::new(StringArray::from_iter(records.iter().map(|r| r.1.clone()))) as ArrayRef,
        ],
    )
    .unwrap();
    let w = KvWrite {
        keys: keys(&ids),
        deleted: records.iter().map(|r| r.1.is_none()).collect(),
        rows,
        target_columns: None,
        writer_id: -1,
        batch_sequence: -1,
    };
    block_on(table.write(w)).unwrap()
}

fn apply(oracle: &mut BTreeMap<i64, String>, records: &[(i64, Option<String>)]) {
    for (id, v) in records {
        match v {
            Some(v) => oracle.insert(*id, v.clone()),
            None => oracle.remove(id),
        };
    }
}

fn check_lookup(table: &PkTable<SimStorage>, oracle: &BTreeMap<i64, String>, ids: &[i64]) {
    let result = block_on(table.lookup(&keys(ids))).unwrap();
    let values = result.rows.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    let mut next = 0;
    for (i, id) in ids.iter().enumerate() {
        let want = oracle.get(id);
        assert_eq!(result.found[i], want.is_some(), "key {id}");
        if let Some(want) = want {
            assert_eq!(values.value(next), want, "key {id}");
            next += 1;
        }
    }
    assert_eq!(next, result.rows.num_rows());
}

/// The changelog records from `offset` on: change type, id, value.
fn changelog(table: &PkTable<SimStorage>, offset: i64) -> Vec<(String, i64, Option<String>)> {
    let read = block_on(table.log().read(offset, 1 << 24, None)).unwrap();
    let mut records = Vec::new();
    for batch in &read.batches {
        let c = changelog_batch(&table.log().config().schemas, batch).unwrap();
        let kinds = c.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let ids = c.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        let values = c.column(4).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..c.num_rows() {
            records.push((
                kinds.value(i).to_string(),
                ids.value(i),
                values.is_valid(i).then(|| values.value(i).to_string()),
            ));
        }
    }
    records
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn batched_reads_answer_as_one_key_reads(
        seed in any::<u64>(),
        rounds in proptest::collection::vec(proptest::collection::vec((0i64..600, any::<bool>()), 1..120), 4..12),
        lookups in proptest::collection::vec(0i64..700, 1..300),
        rewrite in proptest::collection::btree_set(0i64..700, 70..200),
        cache_bytes in prop_oneof![Just(8 * 1024usize), Just(1usize << 20)],
    ) {
        let sim = SimStorage::new(seed, SimFaults::default());
        let table = open(&sim, cache_bytes);
        let mut oracle = BTreeMap::new();
        for (n, round) in rounds.iter().enumerate() {
            // Mostly upserts; deletes leave tombstones that hide older SSTs' rows.
            let records: Vec<(i64, Option<String>)> =
                round.iter().map(|&(id, del)| (id, (!del || id % 3 != 0).then(|| format!("r{n}-{id}")))).collect();
            write(&table, &records);
            apply(&mut oracle, &records);
            if n % 3 == 2 {
                block_on(table.flush()).unwrap();
                block_on(table.lsm().compact_once()).unwrap();
            }
        }
        block_on(table.flush()).unwrap();
        drop(table);
        // Reopened: the cache is cold, so the batched reads go to the SSTs.
        let table = open(&sim, cache_bytes);
        check_lookup(&table, &oracle, &lookups);
        let records: Vec<(i64, Option<String>)> = rewrite.iter().map(|&id| (id, Some(format!("w-{id}")))).collect();
        let written = write(&table, &records);
        // The changelog's before images are the old rows the write read.
        let mut want: Vec<(String, i64, Option<String>)> = Vec::new();
        for &id in &rewrite {
            match oracle.get(&id) {
                Some(old) => {
                    want.push(("update_before".into(), id, Some(old.clone())));
                    want.push(("update_after".into(), id, Some(format!("w-{id}"))));
                }
                None => want.push(("insert".into(), id, Some(format!("w-{id}")))),
            }
        }
        prop_assert_eq!(changelog(&table, written.base_offset), want);
        apply(&mut oracle, &records);
        check_lookup(&table, &oracle, &oracle.keys().copied().collect::<Vec<_>>());
    }
}

/// Blocks written by a flush and by a compaction enter the block cache while it has room:
/// the lookups right after find every block there; with flushes only, the compacted blocks
/// are misses, and with the option off every one is.
#[test]
fn written_blocks_enter_the_cache_while_it_has_room() {
    for fill in [CacheWritten::FlushesAndCompactions, CacheWritten::Flushes, CacheWritten::Never] {
        let sim = SimStorage::new(3, SimFaults::default());
        let table = open_with(&sim, 1 << 20, fill, false);
        let mut oracle = BTreeMap::new();
        for round in 0..4 {
            let records: Vec<(i64, Option<String>)> =
                (0..150).map(|i| (i * 4 + round, Some(format!("v{round}-{i}")))).collect();
            write(&table, &records);
            apply(&mut oracle, &records);
            block_on(table.flush()).unwrap();
        }
        let flushed = table.lsm().cache().stats();
        check_lookup(&table, &oracle, &oracle.keys().copied().collect::<Vec<_>>());
        let flushed_misses = table.lsm().cache().stats().misses - flushed.misses;
        assert_eq!(flushed_misses == 0, fill != CacheWritten::Never, "after flushes, {fill:?}");
        block_on(table.lsm().compact_all()).unwrap();
        let before = table.lsm().cache().stats();
        check_lookup(&table, &oracle, &oracle.keys().copied().collect::<Vec<_>>());
        let after = table.lsm().cache().stats();
        let misses = after.misses - before.misses;
        if fill == CacheWritten::FlushesAndCompactions {
            assert_eq!(misses, 0, "every block the lookups needed was cached when written");
            assert_eq!(after.evictions, 0);
        } else {
            assert!(misses > 0, "{fill:?}");
        }
    }
}

/// A cache with no room left keeps its blocks: written blocks do not displace them.
#[test]
fn written_blocks_never_evict() {
    let sim = SimStorage::new(4, SimFaults::default());
    let table = open_with(&sim, 16 * 1024, CacheWritten::FlushesAndCompactions, false);
    for round in 0..6 {
        let records: Vec<(i64, Option<String>)> =
            (0..200).map(|i| (i * 6 + round, Some(format!("v{round}-{i}")))).collect();
        write(&table, &records);
        block_on(table.flush()).unwrap();
    }
    block_on(table.lsm().compact_all()).unwrap();
    let stats = table.lsm().cache().stats();
    assert_eq!(stats.evictions, 0, "{stats:?}");
    assert!(stats.bytes <= 16 * 1024 && stats.inserts > 0, "{stats:?}");
}
