//! Reads with a predicate skip batches by statistics without reading them, also batches that
//! arrived without statistics (the log computes them after the append, in the owner's
//! background work or when a segment is sealed, and keeps them in its index across restarts),
//! and never skip a batch holding a matching row.
#![allow(clippy::unwrap_used)]

mod logkit;

use futures_lite::future::block_on;
use logkit::{config, record_batch, schema, ticking_clock};
use rill_engine::batch::{build, BatchView, BuildOptions, Compression};
use rill_engine::log::{Log, OffsetSpec, SimFaults, SimStorage};
use rill_engine::predicate::Predicate;

fn batch(first_id: i64, rows: usize, statistics: bool) -> Vec<u8> {
    let options = BuildOptions { compression: Compression::Zstd, statistics, ..BuildOptions::default() };
    build(&schema(), &record_batch(first_id, rows), None, &options).unwrap()
}

fn scan(log: &Log<SimStorage>, predicate: &Predicate) -> Vec<i64> {
    let mut offset = log.list_offset(OffsetSpec::Earliest);
    let end = log.list_offset(OffsetSpec::Latest);
    let mut bases = Vec::new();
    while offset < end {
        let r = block_on(log.read(offset, 1 << 20, Some(predicate))).unwrap();
        bases.extend(r.batches.iter().map(|b| b.base_offset));
        assert!(r.next_offset > offset);
        offset = r.next_offset;
    }
    bases
}

#[test]
fn batches_without_statistics_are_pruned_too() {
    let sim = SimStorage::new(8, SimFaults::default());
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(0))).unwrap();
    for i in 0..40 {
        // Every other batch arrives without a statistics section, as Fluss clients send V0.
        let bytes = batch(i * 10, 10, i % 2 == 0);
        assert_eq!(BatchView::parse(&bytes).unwrap().stats_bytes().is_empty(), i % 2 == 1);
        block_on(log.append(bytes)).unwrap();
    }
    assert!(log.segment_count() > 1);
    let p = Predicate::parse("id >= 105 AND id < 125", &schema()).unwrap();
    // Sealed segments have every statistic; V0 batches of the active one wait in the queue
    // (nothing is skipped wrongly meanwhile, they are just read).
    assert!(log.pending_stats_bytes() > 0);
    let before = scan(&log, &p);
    assert!(before.contains(&390) && before.starts_with(&[100, 110, 120]), "{before:?}");
    assert!(log.fill_pending_stats(usize::MAX) > 0);
    assert_eq!(log.pending_stats_bytes(), 0);
    assert_eq!(scan(&log, &p), vec![100, 110, 120]);
    let none = Predicate::parse("id > 100000", &schema()).unwrap();
    assert!(scan(&log, &none).is_empty());
    // Statistics survive a restart: sealed segments from their index files, the active one rescanned.
    drop(log);
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(0))).unwrap();
    assert_eq!(scan(&log, &p), vec![100, 110, 120]);
    let notes = Predicate::parse("note = 'note-391'", &schema()).unwrap();
    // String bounds are lexicographic: "note-391" lies between "note-1" and "note-8" of the
    // first batch, so that one is kept too; most others are pruned.
    let kept = scan(&log, &notes);
    assert!(kept.contains(&390) && kept.len() < 10, "{kept:?}");
}

#[test]
fn pruned_reads_match_an_exact_filter() {
    let sim = SimStorage::new(9, SimFaults::default());
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(0))).unwrap();
    for i in 0..30 {
        block_on(log.append(batch(i * 7, 7, i % 3 != 0))).unwrap();
    }
    for text in ["id = 50", "id < 3 OR id > 200", "NOT (id >= 20)", "note IS NULL AND id > 180", "id IN (1, 99, 150)"] {
        let p = Predicate::parse(text, &schema()).unwrap();
        let kept = scan(&log, &p);
        for i in 0..30i64 {
            let rows = record_batch(i * 7, 7);
            let hits = p.filter(&rows).unwrap().true_count();
            if hits > 0 {
                assert!(kept.contains(&(i * 7)), "`{text}`: batch {i} has {hits} matches but was skipped");
            }
        }
    }
}

#[test]
fn a_full_statistics_queue_makes_the_writer_compute_them() {
    let sim = SimStorage::new(9, SimFaults::default());
    let mut config = config();
    config.stats_backlog_bytes_max = 0;
    let log = block_on(Log::open(sim, config, ticking_clock(0))).unwrap();
    for i in 0..6 {
        block_on(log.append(batch(i * 10, 10, false))).unwrap();
    }
    assert_eq!(log.pending_stats_bytes(), 0);
    assert_eq!(log.fill_pending_stats(usize::MAX), 0, "nothing was queued");
    let p = Predicate::parse("id >= 25 AND id < 35", &schema()).unwrap();
    assert_eq!(scan(&log, &p), vec![20, 30]);
}
