//! Flushes write L0 SSTs, compaction merges them down the levels (dropping tombstones only at
//! the bottom), replaced files are deleted once no snapshot holds them, and lookups stay
//! right throughout and after a restart.
#![allow(clippy::unwrap_used)]

mod logkit;
mod pkkit;

use pkkit::{keys, schema};

use std::rc::Rc;

use arrow_array::{Array, StringArray};
use futures_lite::future::block_on;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{LogConfig, SimFaults, SimStorage};
use rill_engine::schema::TableDescriptor;
use rill_engine::table::{PkConfig, PkTable};

fn open(sim: &SimStorage) -> PkTable<SimStorage> {
    let (desc, config) = pkkit::small_table();
    let cache = Rc::new(BlockCache::new(1 << 20));
    block_on(PkTable::open(sim.clone(), desc, config, cache, logkit::ticking_clock(0))).unwrap()
}

fn write(table: &PkTable<SimStorage>, ids: &[i64], tag: &str, delete: bool) {
    block_on(table.write(pkkit::write_of(ids, &pkkit::tagged(ids, tag), delete))).unwrap();
}

fn value(table: &PkTable<SimStorage>, id: i64) -> Option<String> {
    let r = block_on(table.lookup(&keys(&[id]))).unwrap();
    r.found[0].then(|| r.rows.column(1).as_any().downcast_ref::<StringArray>().unwrap().value(0).to_string())
}

fn sst_files(sim: &SimStorage, table: &PkTable<SimStorage>) -> usize {
    let _ = table;
    block_on(async {
        use rill_engine::log::Storage;
        sim.list().await.unwrap().iter().filter(|n| n.ends_with(".sst")).count()
    })
}

#[test]
fn flush_compact_and_look_up() {
    let sim = SimStorage::new(1, SimFaults::default());
    let table = open(&sim);
    for round in 0..40 {
        let ids: Vec<i64> = (0..200).map(|i| (i * 7 + round * 13) % 1000).collect();
        write(&table, &ids, &format!("r{round}"), false);
    }
    let deleted: Vec<i64> = (0..1000).step_by(10).collect();
    write(&table, &deleted, "x", true);
    block_on(table.flush()).unwrap();
    let levels = |t: &PkTable<SimStorage>| t.lsm().level_sizes();
    assert!(levels(&table)[0] > 0, "flushes wrote L0 SSTs: {:?}", levels(&table));
    let snapshot = table.snapshot().unwrap();
    let steps = block_on(table.lsm().compact_all()).unwrap();
    assert!(steps > 0);
    let after = levels(&table);
    assert!(after[0] < 3 && after[1..].iter().sum::<usize>() > 0, "{after:?}");
    // The snapshot still holds replaced SSTs; they go when it does.
    let held = sst_files(&sim, &table);
    drop(snapshot);
    block_on(table.lsm().collect_garbage()).unwrap();
    assert!(sst_files(&sim, &table) < held);
    assert_eq!(value(&table, 10), None);
    assert_eq!(value(&table, 11).map(|v| v.starts_with('r')), Some(true));
    drop(table);
    sim.crash();
    let table = open(&sim);
    assert_eq!(value(&table, 20), None);
    assert!(value(&table, 21).is_some());
    let mut snapshot = table.snapshot().unwrap();
    let mut rows = 0;
    while let Some(b) = block_on(snapshot.next_batch()).unwrap() {
        rows += b.num_rows();
    }
    let expected =
        (0..1000).filter(|i| i % 10 != 0 && (0..40).any(|r| (0..200).any(|k| (k * 7 + r * 13) % 1000 == *i))).count();
    assert_eq!(rows, expected);
}

/// A flush that arrives while a compaction step runs flushes at once (they used to share one
/// busy flag, and the flush returned without flushing, so the memtable grew without bound).
#[test]
fn a_flush_runs_beside_a_compaction() {
    let sim = SimStorage::new(11, SimFaults::default());
    let table = open(&sim);
    for round in 0..4i64 {
        let ids: Vec<i64> = (round * 100..round * 100 + 100).collect();
        write(&table, &ids, "old", false);
        block_on(table.flush()).unwrap();
    }
    assert!(table.lsm().level_sizes()[0] >= 3, "enough L0 files to compact: {:?}", table.lsm().level_sizes());
    write(&table, &[5000, 5001], "new", false);
    assert!(table.lsm().memtable_bytes() > 0);
    let (compacted, flushed) = block_on(futures_lite::future::zip(table.lsm().compact_once(), async {
        // Let the compaction start first (the simulated I/O takes a turn of the executor).
        futures_lite::future::yield_now().await;
        table.flush().await
    }));
    assert!(compacted.unwrap(), "the compaction step ran");
    flushed.unwrap();
    assert_eq!(table.lsm().memtable_bytes(), 0, "the flush wrote the memtable while the compaction ran");
    assert_eq!(value(&table, 5001).as_deref(), Some("new-5001"));
    assert_eq!(value(&table, 150).as_deref(), Some("old-150"));
    drop(table);
    let table = open(&sim);
    assert_eq!(value(&table, 5000).as_deref(), Some("new-5000"));
    assert_eq!(value(&table, 399).as_deref(), Some("old-399"));
}

/// Flushes started at every point of a compaction step (before, during its SST writes, while
/// it appends its manifest edit) all complete, and nothing is lost across a restart (a flush
/// taking an SST id while a compaction step held the manifest used to panic).
#[test]
fn flushes_interleave_with_compaction_at_every_step() {
    let sim = SimStorage::new(12, SimFaults::default());
    let table = open(&sim);
    let mut next_id = 0i64;
    for delay in 0..40usize {
        while table.lsm().level_sizes()[0] < 3 {
            let ids: Vec<i64> = (next_id..next_id + 50).collect();
            next_id += 50;
            write(&table, &ids, "v", false);
            block_on(table.flush()).unwrap();
        }
        write(&table, &[next_id], "v", false);
        next_id += 1;
        let (compacted, flushed) = block_on(futures_lite::future::zip(table.lsm().compact_once(), async {
            for _ in 0..delay {
                futures_lite::future::yield_now().await;
            }
            table.flush().await
        }));
        compacted.unwrap();
        flushed.unwrap();
        assert_eq!(table.lsm().memtable_bytes(), 0, "delay {delay}");
    }
    for id in (0..next_id).step_by(37) {
        assert_eq!(value(&table, id).as_deref(), Some(format!("v-{id}").as_str()), "id {id}");
    }
    drop(table);
    let table = open(&sim);
    for id in (0..next_id).step_by(37) {
        assert_eq!(value(&table, id).as_deref(), Some(format!("v-{id}").as_str()), "id {id} after restart");
    }
}

/// Polls `future` to completion with a waker that does nothing (every Pending is a yield or
/// a simulated I/O turn that woke itself); returns its output and how often it was Pending.
fn poll_counting<F: std::future::Future>(future: F) -> (F::Output, usize) {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut pending = 0;
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return (out, pending);
        }
        pending += 1;
    }
}

#[test]
fn a_flush_gives_the_executor_back_between_chunks() {
    let sim = SimStorage::new(13, SimFaults::default());
    let mut desc = TableDescriptor::log_table("db.t", schema());
    desc.primary_key = vec!["id".into()];
    let mut log = LogConfig::new("db.t/b0", schema());
    log.retention_ms_max = None;
    let chunk_rows = 256;
    let lsm = LsmConfig { memtable_bytes_max: 64 << 20, merge_chunk_rows: chunk_rows, ..LsmConfig::default() };
    let cache = Rc::new(BlockCache::new(1 << 20));
    let table =
        block_on(PkTable::open(sim.clone(), desc, PkConfig { log, lsm }, cache, logkit::ticking_clock(0))).unwrap();
    let rows = 20_000;
    let ids: Vec<i64> = (0..rows).collect();
    for batch in ids.chunks(1000) {
        write(&table, batch, "a", false);
    }
    // The SST (~400 KB) goes out in a few writes: without a yield per chunk the flush would
    // be Pending a few dozen times (its I/O turns), not once per chunk.
    let (flushed, pending) = poll_counting(table.flush());
    flushed.unwrap();
    let chunks = rows as usize / chunk_rows;
    assert!(pending >= chunks, "{pending} yields for {chunks} chunks");
    assert_eq!(table.lsm().level_sizes()[0], 1, "one L0 SST");
    let found = block_on(table.lookup(&keys(&[0, 12_345, rows - 1]))).unwrap();
    assert_eq!(found.found, [true, true, true]);
}

/// A compaction into a level above non-empty deeper levels keeps its tombstones: dropping
/// one there would bring back the older value the deeper level still holds.
#[test]
fn tombstones_are_kept_above_deeper_levels() {
    let sim = SimStorage::new(21, SimFaults::default());
    let table = open(&sim);
    let all: Vec<i64> = (0..6000).collect();
    for chunk in all.chunks(500) {
        write(&table, chunk, "old", false);
    }
    block_on(table.flush()).unwrap();
    block_on(table.lsm().compact_all()).unwrap();
    let sizes = table.lsm().level_sizes();
    assert!(sizes[2..].iter().sum::<usize>() > 0, "old values reached L2 or deeper: {sizes:?}");
    let deleted: Vec<i64> = (0..6000).step_by(10).collect();
    write(&table, &deleted, "x", true);
    block_on(table.flush()).unwrap();
    for round in 0..2 {
        write(&table, &[100_000 + round], "filler", false);
        block_on(table.flush()).unwrap();
    }
    assert!(table.lsm().level_sizes()[0] >= 3, "{:?}", table.lsm().level_sizes());
    // The L0 -> L1 step, with deeper levels non-empty.
    assert!(block_on(table.lsm().compact_once()).unwrap());
    for id in &deleted {
        assert_eq!(value(&table, *id), None, "id {id} was deleted");
    }
    block_on(table.lsm().compact_all()).unwrap();
    for id in &deleted {
        assert_eq!(value(&table, *id), None, "id {id} was deleted (after compacting to the bottom)");
    }
    assert_eq!(value(&table, 11).as_deref(), Some("old-11"));
}

/// A compaction job that fails half-way (its output writes fail) removes the outputs it
/// created; the table is unchanged, the next step succeeds, and a crash and reopen agree.
#[test]
fn a_job_that_fails_half_way_removes_its_outputs() {
    let sim = SimStorage::new(31, SimFaults::default());
    let table = open(&sim);
    for round in 0..3i64 {
        let ids: Vec<i64> = (round * 300..round * 300 + 400).collect();
        write(&table, &ids, &format!("r{round}"), false);
        block_on(table.flush()).unwrap();
    }
    let before = table.lsm().level_sizes();
    assert!(before[0] >= 3, "{before:?}");
    let files = sst_files(&sim, &table);
    let elsewhere = sim.clone();
    let failed = block_on(table.lsm().compact_once_with(|job| async move {
        elsewhere.set_faults(SimFaults { write_error_per_million: 1_000_000, ..SimFaults::default() });
        let done = job.execute(&elsewhere).await;
        elsewhere.set_faults(SimFaults::default());
        done
    }));
    assert!(failed.is_err(), "every output write failed");
    assert_eq!(sst_files(&sim, &table), files, "the job removed what it created");
    assert_eq!(table.lsm().level_sizes(), before);
    let expect = |id: i64| Some(format!("r{}-{id}", (id / 300).min(2)));
    for id in [0, 299, 300, 650, 999] {
        assert_eq!(value(&table, id), expect(id), "id {id}");
    }
    assert!(block_on(table.lsm().compact_once()).unwrap());
    drop(table);
    sim.crash();
    let table = open(&sim);
    for id in [0, 299, 300, 650, 999] {
        assert_eq!(value(&table, id), expect(id), "id {id} after a crash and reopen");
    }
}
