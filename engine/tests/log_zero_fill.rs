//! Zero fill (`Log::zero_fill_step`, `LogConfig::zero_fill_bytes`): steps write zeros ahead
//! of the data while groups are small, never over data, never past a segment's size limit,
//! and not at all for large groups or when turned off; a group that reaches into a range
//! being zeroed waits for it; an abandoned step closes the log; a crash keeps every
//! acknowledged batch.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use futures_lite::future::block_on;
use logkit::{batch_bytes, config, stable_part, ticking_clock};
use rill_engine::log::{Log, LogConfig, OffsetSpec, SimFaults, SimStorage};

const AHEAD_BYTES: u64 = 2 << 20;
/// `zero_fill::ZERO_FILL_STEP_BYTES`, `ZERO_FILL_GAP_BYTES`, `ZERO_FILL_GROUP_BYTES_MAX`.
const STEP_BYTES: u64 = 256 << 10;
const GAP_BYTES: u64 = 256 << 10;
const SMALL_GROUP_BYTES_MAX: usize = 64 << 10;

fn open(sim: &SimStorage, c: &LogConfig) -> Log<SimStorage> {
    block_on(Log::open(sim.clone(), c.clone(), ticking_clock(1_000))).unwrap()
}

/// One segment big enough for every test here, kept zeroed `AHEAD_BYTES` ahead.
fn zero_fill_config() -> LogConfig {
    let mut c = config();
    c.segment_bytes_max = 16 << 20;
    c.zero_fill_bytes = AHEAD_BYTES;
    c
}

/// Appends `count` batches of `rows` rows each (ids follow on), returning their bytes.
fn append_batches(log: &Log<SimStorage>, first: i64, count: i64, rows: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let bytes = batch_bytes(first + i * rows as i64, rows, None);
            block_on(log.append(bytes.clone())).unwrap();
            bytes
        })
        .collect()
}

/// Runs zero fill steps until one finds nothing to do; returns the bytes zeroed.
fn zero_fill(log: &Log<SimStorage>) -> u64 {
    let mut total = 0;
    loop {
        match block_on(log.zero_fill_step()).unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

/// Every stored batch from offset 0, as the parts the log does not rewrite.
fn stored(log: &Log<SimStorage>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < log.list_offset(OffsetSpec::Latest) {
        let read = block_on(log.read(offset, 1 << 20, None)).unwrap();
        out.extend(read.batches.iter().map(|b| stable_part(&b.bytes)));
        offset = read.next_offset;
    }
    out
}

fn stable_parts(batches: &[Vec<u8>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    batches.iter().map(|b| stable_part(b)).collect()
}

#[test]
fn steps_keep_zeros_ahead_of_small_writes_without_covering_data() {
    let sim = SimStorage::new(1, SimFaults::default());
    let c = zero_fill_config();
    let log = open(&sim, &c);
    assert_eq!(zero_fill(&log), 0, "nothing written yet: no step is due");
    let mut appended = Vec::new();
    for round in 0..20 {
        appended.extend(append_batches(&log, appended.len() as i64 * 10, 200, 10));
        let zeroed = zero_fill(&log);
        let data_bytes: u64 = appended.iter().map(|b| b.len() as u64).sum();
        let zeros = sim.zero_bytes_written();
        assert!(zeroed > 0 || round > 0, "the first round zeroes ahead");
        // A step starts at most a gap past the data and ends at most a step past the
        // distance kept ahead; each byte is zeroed once.
        assert!(
            zeros <= data_bytes + GAP_BYTES + AHEAD_BYTES + STEP_BYTES,
            "{zeros} bytes of zeros for {data_bytes} of data"
        );
        assert!(zeros >= data_bytes.min(AHEAD_BYTES), "{zeros} bytes of zeros for {data_bytes} of data");
    }
    assert!(appended.iter().all(|b| b.len() <= SMALL_GROUP_BYTES_MAX));
    assert_eq!(stored(&log), stable_parts(&appended), "no zeros landed on data");
    drop(log);
    let log = open(&sim, &c);
    assert_eq!(stored(&log), stable_parts(&appended), "nor after a reopen");
}

#[test]
fn large_groups_and_a_zero_fill_of_0_get_no_zeros() {
    let sim = SimStorage::new(2, SimFaults::default());
    let log = open(&sim, &zero_fill_config());
    let large = append_batches(&log, 0, 5, 5000);
    assert!(large.iter().all(|b| b.len() > SMALL_GROUP_BYTES_MAX), "the test's batches are large");
    assert_eq!(zero_fill(&log), 0);
    assert_eq!(sim.zero_bytes_written(), 0, "large groups only preallocate");

    let sim = SimStorage::new(3, SimFaults::default());
    let mut c = zero_fill_config();
    c.zero_fill_bytes = 0;
    let log = open(&sim, &c);
    append_batches(&log, 0, 100, 10);
    assert_eq!(zero_fill(&log), 0);
    assert_eq!(sim.zero_bytes_written(), 0, "zero_fill_bytes 0 turns it off");
}

#[test]
fn zeros_stay_inside_the_segment_size_limit() {
    let sim = SimStorage::new(4, SimFaults::default());
    let mut c = zero_fill_config();
    c.segment_bytes_max = 1 << 20;
    let log = open(&sim, &c);
    let mut appended = Vec::new();
    for _ in 0..8 {
        appended.extend(append_batches(&log, appended.len() as i64 * 10, 300, 10));
        zero_fill(&log);
    }
    assert!(log.segment_count() > 1, "1 MiB segments roll");
    assert!(sim.zero_bytes_written() > 0);
    for name in log.segment_names() {
        let len = sim.file_len(&name).unwrap();
        assert!(len <= c.segment_bytes_max, "{name} is {len} bytes, over the segment limit");
    }
    assert_eq!(stored(&log), stable_parts(&appended));
}

#[test]
fn a_group_reaching_into_a_range_being_zeroed_waits_for_it() {
    let sim = SimStorage::new(5, SimFaults::default());
    let log = open(&sim, &zero_fill_config());
    let mut appended = append_batches(&log, 0, 10, 10);
    let mut step = pin!(log.zero_fill_step());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(step.as_mut().poll(&mut cx).is_pending(), "the step claimed its range and wrote");
    // A batch that runs past the gap into the claimed range.
    let big = batch_bytes(100, 40_000, None);
    assert!(big.len() as u64 > GAP_BYTES + 4096, "{} bytes", big.len());
    // Without the wait it would be written and synced within a few polls, and the zeros,
    // landing later, would cover it.
    let mut append = pin!(log.append(big.clone()));
    for _ in 0..100 {
        assert!(append.as_mut().poll(&mut cx).is_pending(), "the append waits for the zero fill under it");
    }
    let (zeroed, appended_big) = block_on(futures_lite::future::zip(step, append));
    assert_eq!(zeroed.unwrap(), STEP_BYTES);
    appended_big.unwrap();
    appended.push(big);
    assert_eq!(stored(&log), stable_parts(&appended), "the zeros landed before the batch over them");
}

#[test]
fn an_abandoned_step_closes_the_log() {
    let sim = SimStorage::new(6, SimFaults::default());
    let c = zero_fill_config();
    let log = open(&sim, &c);
    let appended = append_batches(&log, 0, 10, 10);
    {
        let mut step = Box::pin(log.zero_fill_step());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(step.as_mut().poll(&mut cx), Poll::Pending));
    }
    let err = block_on(log.append(batch_bytes(100, 10, None))).unwrap_err();
    assert!(err.to_string().contains("zero fill was abandoned"), "{err}");
    drop(log);
    let log = open(&sim, &c);
    assert_eq!(stored(&log), stable_parts(&appended), "reopening recovers it");
}

#[test]
fn a_crash_with_a_zeroed_tail_keeps_every_acknowledged_batch() {
    for (seed, reorder) in (10..30u64).map(|s| (s, s % 2 == 0)) {
        let faults = SimFaults { garbage_on_tear: !reorder, reorder_on_crash: reorder, ..SimFaults::default() };
        let sim = SimStorage::new(seed, faults);
        let c = zero_fill_config();
        let log = open(&sim, &c);
        let mut appended = append_batches(&log, 0, 50, 10);
        zero_fill(&log);
        appended.extend(append_batches(&log, 500, seed as i64, 10));
        // The next group is written but its sync fails: it is unsynced when the power goes.
        sim.set_faults(SimFaults { sync_error_per_million: 1_000_000, ..faults });
        assert!(block_on(log.append(batch_bytes(10_000, 10, None))).is_err());
        drop(log);
        sim.set_faults(faults);
        sim.crash();
        let log = open(&sim, &c);
        let acked = stable_parts(&appended);
        let recovered = stored(&log);
        assert_eq!(recovered[..acked.len()], acked[..], "seed {seed}: acknowledged batches survive");
        assert!(recovered.len() <= acked.len() + 1, "seed {seed}");
        let end = log.list_offset(OffsetSpec::Latest);
        let more = append_batches(&log, end, 20, 10);
        zero_fill(&log);
        let after = stored(&log);
        assert_eq!(after.len(), recovered.len() + more.len(), "seed {seed}: the log continues");
        assert_eq!(after[recovered.len()..], stable_parts(&more)[..]);
    }
}
