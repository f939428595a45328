//! Segment roll by size and age, retention by size and time, offsets by timestamp, and the
//! expiry of idle idempotent writers.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::cell::Cell;
use std::rc::Rc;

use futures_lite::future::block_on;
use logkit::{batch_bytes, config};
use rill_engine::log::{Log, LogConfig, OffsetSpec, SimFaults, SimStorage};

/// A clock the test moves by hand.
fn manual_clock() -> (Rc<Cell<i64>>, rill_engine::log::Clock) {
    let now = Rc::new(Cell::new(1_000_000));
    let handle = Rc::clone(&now);
    (now, Box::new(move || handle.get()))
}

fn open(sim: &SimStorage, c: LogConfig) -> (Rc<Cell<i64>>, Log<SimStorage>) {
    let (now, clock) = manual_clock();
    (now, block_on(Log::open(sim.clone(), c, clock)).unwrap())
}

#[test]
fn segments_roll_by_size_and_by_age() {
    let sim = SimStorage::new(1, SimFaults::default());
    let mut c = config();
    c.segment_age_ms_max = 60_000;
    let (now, log) = open(&sim, c);
    block_on(log.append(batch_bytes(0, 10, None))).unwrap();
    block_on(log.append(batch_bytes(10, 10, None))).unwrap();
    assert_eq!(log.segment_count(), 1);
    now.set(now.get() + 61_000);
    block_on(log.append(batch_bytes(20, 10, None))).unwrap();
    assert_eq!(log.segment_count(), 2, "an old segment rolls");
    for i in 3..100 {
        block_on(log.append(batch_bytes(i * 10, 10, None))).unwrap();
    }
    assert!(log.segment_count() > 4, "16 KiB segments roll by size: {}", log.segment_count());
    assert_eq!(log.segment_names()[1], "00000000000000000020.log");
}

#[test]
fn retention_by_bytes_keeps_the_newest_data_and_moves_the_start() {
    let sim = SimStorage::new(2, SimFaults::default());
    let mut c = config();
    c.retention_bytes_max = Some(40 * 1024);
    let (_now, log) = open(&sim, c.clone());
    for i in 0..200 {
        block_on(log.append(batch_bytes(i * 10, 10, None))).unwrap();
    }
    let deleted = block_on(log.enforce_retention()).unwrap();
    assert!(deleted > 0);
    let start = log.list_offset(OffsetSpec::Earliest);
    assert!(start > 0);
    assert!(block_on(log.read(start - 1, 1024, None)).is_err());
    assert_eq!(block_on(log.read(start, 1024, None)).unwrap().batches[0].base_offset, start);
    drop(log);
    let (_now, log) = open(&sim, c);
    assert_eq!(log.list_offset(OffsetSpec::Earliest), start, "the start survives a restart");
    assert_eq!(log.list_offset(OffsetSpec::Latest), 2000);
}

#[test]
fn retention_by_time_and_offsets_by_timestamp() {
    let sim = SimStorage::new(3, SimFaults::default());
    let mut c = config();
    c.retention_ms_max = Some(3_600_000);
    let (now, log) = open(&sim, c);
    let t0 = now.get();
    for i in 0..100 {
        now.set(t0 + i * 1000);
        block_on(log.append(batch_bytes(i * 10, 10, None))).unwrap();
    }
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(t0 + 50_000)), 500);
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(t0 + 50_001)), 510);
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(t0 - 1)), 0);
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(t0 + 10_000_000)), 1000);
    assert_eq!(block_on(log.enforce_retention()).unwrap(), 0, "nothing is old yet");
    now.set(t0 + 99_000 + 3_600_001);
    let deleted = block_on(log.enforce_retention()).unwrap();
    assert_eq!(deleted, log.segment_count().max(deleted), "all sealed segments are old");
    assert_eq!(log.segment_count(), 1, "the active segment stays");
}

#[test]
fn idle_writers_expire() {
    let sim = SimStorage::new(4, SimFaults::default());
    let mut c = config();
    c.writer_idle_expiry_ms = 10_000;
    let (now, log) = open(&sim, c.clone());
    block_on(log.append(batch_bytes(0, 1, Some((1, 0))))).unwrap();
    now.set(now.get() + 5_000);
    block_on(log.append(batch_bytes(1, 1, Some((2, 0))))).unwrap();
    assert_eq!(log.writer_count(), 2);
    now.set(now.get() + 6_000);
    block_on(log.append(batch_bytes(2, 1, Some((2, 1))))).unwrap();
    assert_eq!(log.writer_count(), 1, "writer 1 idled out");
    // An expired writer may start again at any sequence.
    block_on(log.append(batch_bytes(3, 1, Some((1, 40))))).unwrap();
    drop(log);
    now.set(now.get() + 60_000);
    let (_n, log) = {
        let (n2, clock) = manual_clock();
        n2.set(now.get());
        (n2, block_on(Log::open(sim.clone(), c, clock)).unwrap())
    };
    assert_eq!(log.writer_count(), 0, "expiry applies to state rebuilt from the log");
}
