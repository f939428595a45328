//! Small appends go to space the log zeroed ahead of them (`LogConfig::zero_fill_bytes`);
//! large appends and a fill of 0 write no zeros; zeros never cover data nor pass a segment's
//! size limit; a crash with a zeroed tail recovers every acknowledged batch.
#![allow(clippy::unwrap_used)]

mod logkit;

use futures_lite::future::block_on;
use logkit::{batch_bytes, config, stable_part, ticking_clock};
use rill_engine::log::{Log, LogConfig, OffsetSpec, SimFaults, SimStorage};

const FILL_BYTES: u64 = 256 * 1024;

fn open(sim: &SimStorage, c: &LogConfig) -> Log<SimStorage> {
    block_on(Log::open(sim.clone(), c.clone(), ticking_clock(1_000))).unwrap()
}

/// One segment big enough for every test here, zero-filling `FILL_BYTES` at a time.
fn zero_fill_config() -> LogConfig {
    let mut c = config();
    c.segment_bytes_max = 8 << 20;
    c.zero_fill_bytes = FILL_BYTES;
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

#[test]
fn small_appends_zero_fill_ahead_without_covering_data() {
    let sim = SimStorage::new(1, SimFaults::default());
    let c = zero_fill_config();
    let log = open(&sim, &c);
    let appended = append_batches(&log, 0, 700, 10);
    let small = appended.iter().map(Vec::len).max().unwrap() as u64;
    assert!(small <= FILL_BYTES / 128, "the test's batches are small ({small} bytes)");
    let data_bytes: u64 = appended.iter().map(|b| b.len() as u64).sum();
    let zeros = sim.zero_bytes_written();
    assert!(data_bytes > FILL_BYTES, "the data outgrows one fill ({data_bytes} bytes)");
    assert!(zeros >= FILL_BYTES, "small appends zero-filled ahead: {zeros} bytes");
    // A fill starts while less than half a fill is zeroed ahead, so zeros run at most one and
    // a half fills past the data (rounded to a page), and each byte is zeroed once.
    assert!(zeros <= data_bytes + FILL_BYTES * 3 / 2 + 4096, "{zeros} bytes of zeros for {data_bytes} of data");
    let expected: Vec<_> = appended.iter().map(|b| stable_part(b)).collect();
    assert_eq!(stored(&log), expected, "no zeros landed on data");
    drop(log);
    let log = open(&sim, &c);
    assert_eq!(stored(&log), expected, "and none after a reopen");
}

#[test]
fn large_appends_and_a_zero_fill_of_0_write_no_zeros() {
    let sim = SimStorage::new(2, SimFaults::default());
    let log = open(&sim, &zero_fill_config());
    let large = append_batches(&log, 0, 40, 400);
    assert!(large.iter().all(|b| b.len() as u64 > FILL_BYTES / 128), "the test's batches are large");
    assert_eq!(sim.zero_bytes_written(), 0, "large groups only preallocate");

    let sim = SimStorage::new(3, SimFaults::default());
    let mut c = zero_fill_config();
    c.zero_fill_bytes = 0;
    let log = open(&sim, &c);
    append_batches(&log, 0, 300, 10);
    assert_eq!(sim.zero_bytes_written(), 0, "zero_fill_bytes 0 turns the fill off");
}

#[test]
fn zeros_stay_inside_the_segment_size_limit() {
    let sim = SimStorage::new(4, SimFaults::default());
    let mut c = config();
    c.zero_fill_bytes = 1 << 20;
    let log = open(&sim, &c);
    let appended = append_batches(&log, 0, 200, 10);
    assert!(log.segment_count() > 3, "16 KiB segments roll");
    assert!(sim.zero_bytes_written() > 0);
    for name in log.segment_names() {
        let len = sim.file_len(&name).unwrap();
        assert!(len <= c.segment_bytes_max, "{name} is {len} bytes, over the segment limit");
    }
    let expected: Vec<_> = appended.iter().map(|b| stable_part(b)).collect();
    assert_eq!(stored(&log), expected);
}

#[test]
fn a_crash_with_a_zeroed_tail_keeps_every_acknowledged_batch() {
    for (seed, reorder) in (10..30u64).map(|s| (s, s % 2 == 0)) {
        let faults = SimFaults { garbage_on_tear: !reorder, reorder_on_crash: reorder, ..SimFaults::default() };
        let sim = SimStorage::new(seed, faults);
        let c = zero_fill_config();
        let log = open(&sim, &c);
        let appended = append_batches(&log, 0, 50 + seed as i64, 10);
        // The next group is written (with the zeros it brings) but its sync fails: it is
        // unsynced when the power goes.
        sim.set_faults(SimFaults { sync_error_per_million: 1_000_000, ..faults });
        assert!(block_on(log.append(batch_bytes(10_000, 10, None))).is_err());
        drop(log);
        sim.set_faults(faults);
        sim.crash();
        let log = open(&sim, &c);
        let acked: Vec<_> = appended.iter().map(|b| stable_part(b)).collect();
        let recovered = stored(&log);
        assert_eq!(recovered[..acked.len()], acked[..], "seed {seed}: acknowledged batches survive");
        assert!(recovered.len() <= acked.len() + 1, "seed {seed}");
        let end = log.list_offset(OffsetSpec::Latest);
        let more = append_batches(&log, end, 20, 10);
        let after = stored(&log);
        assert_eq!(after.len(), recovered.len() + more.len(), "seed {seed}: the log continues");
        assert_eq!(after[recovered.len()..], more.iter().map(|b| stable_part(b)).collect::<Vec<_>>()[..]);
    }
}
