//! After a compaction, the output blocks holding key ranges the cache held of its inputs are
//! read back into the cache (never evicting), so lookups in a range that was being read do
//! not miss once it is compacted; ranges nobody read stay out.
#![allow(clippy::unwrap_used)]

mod logkit;
mod pkkit;

use pkkit::keys;

use std::rc::Rc;

use futures_lite::future::block_on;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::CacheWritten;
use rill_engine::log::{SimFaults, SimStorage};
use rill_engine::table::PkTable;

const IDS: i64 = 1000;

fn open(warm: bool, cache_bytes: usize) -> PkTable<SimStorage> {
    let (mut desc, mut config) = pkkit::small_table();
    // Only lookups put blocks in the cache (writes do not read old rows, written blocks are
    // not cached): what is hot is what the test read.
    desc.properties.insert("table.changelog.image".into(), "WAL".into());
    config.lsm.cache_written_blocks = CacheWritten::Never;
    config.lsm.warm_compacted_blocks = warm;
    config.lsm.memtable_bytes_max = 1 << 20;
    let sim = SimStorage::new(5, SimFaults::default());
    let cache = Rc::new(BlockCache::new(cache_bytes));
    block_on(PkTable::open(sim, desc, config, cache, logkit::ticking_clock(0))).unwrap()
}

fn write_all(table: &PkTable<SimStorage>, tag: &str) {
    write(table, &(0..IDS).collect::<Vec<_>>(), tag);
}

/// Writes `ids` with values `<tag>-<id>` and flushes them into an L0 SST.
fn write(table: &PkTable<SimStorage>, ids: &[i64], tag: &str) {
    block_on(table.write(pkkit::write_of(ids, &pkkit::tagged(ids, tag), false))).unwrap();
    block_on(table.flush()).unwrap();
}

/// The ids whose encoded keys are the first (`low`) or last fifth of the key order.
fn key_fifth(low: bool) -> Vec<Vec<u8>> {
    let mut all = keys(&(0..IDS).collect::<Vec<_>>());
    all.sort();
    let fifth = all.len() / 5;
    if low {
        all.truncate(fifth);
    } else {
        all.drain(..all.len() - fifth);
    }
    all
}

/// Looks `keys` up; returns the block cache misses that took.
fn misses(table: &PkTable<SimStorage>, keys: &[Vec<u8>]) -> u64 {
    let cache = table.lsm().cache();
    let before = cache.stats().misses;
    let found = block_on(table.lookup(keys)).unwrap();
    assert!(found.found.iter().all(|f| *f), "every key is there");
    cache.stats().misses - before
}

/// Three flushes of every key (L0 at its trigger), the low fifth of the keys read, then the
/// L0 -> L1 compaction. Returns the table and the cache's evictions before the compaction.
fn compacted_after_reading_the_low_fifth(warm: bool) -> (PkTable<SimStorage>, u64) {
    let table = open(warm, 1 << 20);
    for tag in ["a", "b", "c"] {
        write_all(&table, tag);
    }
    assert_eq!(table.lsm().level_sizes()[0], 3);
    let hot = key_fifth(true);
    assert!(misses(&table, &hot) > 0, "the first read of the low fifth reads blocks");
    assert_eq!(misses(&table, &hot), 0, "then they are cached");
    let evictions = table.lsm().cache().stats().evictions;
    assert!(block_on(table.lsm().compact_once()).unwrap());
    assert_eq!(table.lsm().level_sizes()[0], 0, "L0 went to L1");
    (table, evictions)
}

#[test]
fn ranges_read_before_a_compaction_are_cached_after_it() {
    let (table, evictions) = compacted_after_reading_the_low_fifth(true);
    assert_eq!(misses(&table, &key_fifth(true)), 0, "the low fifth's new blocks were warmed");
    assert_eq!(table.lsm().cache().stats().evictions, evictions, "warming evicts nothing");
    assert!(misses(&table, &key_fifth(false)) > 0, "the high fifth, never read, was not warmed");
}

#[test]
fn without_warming_the_compacted_range_misses_once() {
    let (table, _) = compacted_after_reading_the_low_fifth(false);
    assert!(misses(&table, &key_fifth(true)) > 0);
}

#[test]
fn warming_stops_where_the_cache_is_full() {
    // Room for about four of the ~4-5 KiB blocks.
    let table = open(true, 18 << 10);
    // Odd ids newest in an SST of long values, even ids in one of short values: the blocks
    // the reads cache come from both, and the merged output cuts its blocks elsewhere, so
    // the cached ranges meet more output blocks than the room they leave holds.
    let all: Vec<i64> = (0..IDS).collect();
    write(&table, &all, "a");
    write(&table, &all, "b-a-much-longer-value-than-the-others");
    write(&table, &all.iter().copied().filter(|i| i % 2 == 0).collect::<Vec<_>>(), "c");
    let keys = keys(&all);
    misses(&table, &keys);
    let cache = table.lsm().cache();
    let before = cache.stats();
    assert!(before.evictions > 0, "reading every key overflowed the cache");
    assert!(block_on(table.lsm().compact_once()).unwrap());
    let after = cache.stats();
    // The inputs' blocks left; the outputs' came into their room without evicting anything.
    assert_eq!(after.evictions, before.evictions, "warming evicts nothing");
    assert!(after.bytes <= cache.bytes_max());
    assert!(after.inserts > before.inserts, "some output blocks were warmed");
    assert!(misses(&table, &keys) > 0, "not all of them fit");
}
