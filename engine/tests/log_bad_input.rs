//! Bad input to the log: each case is a clear error naming the bucket (and the segment and
//! offset for stored data), and the log is intact afterwards.
#![allow(clippy::unwrap_used)]

mod logkit;

use futures_lite::future::block_on;
use logkit::{batch_bytes, config, record_batch, schema, ticking_clock};
use rill_engine::batch::{build, BuildOptions, Compression};
use rill_engine::log::{Log, OffsetSpec, SimFaults, SimStorage};
use rill_engine::schema::{Column, DataType, Schema};
use rill_engine::Error;

fn open(sim: &SimStorage) -> Log<SimStorage> {
    block_on(Log::open(sim.clone(), config(), ticking_clock(1_000))).unwrap()
}

fn with_one_batch() -> (SimStorage, Log<SimStorage>) {
    let sim = SimStorage::new(1, SimFaults::default());
    let log = open(&sim);
    block_on(log.append(batch_bytes(0, 5, None))).unwrap();
    (sim, log)
}

fn assert_intact(log: &Log<SimStorage>) {
    assert_eq!(log.list_offset(OffsetSpec::Latest), 5);
    let r = block_on(log.read(0, 1 << 20, None)).unwrap();
    assert_eq!(r.batches.len(), 1);
    block_on(log.append(batch_bytes(5, 1, None))).unwrap();
}

fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn a_batch_of_another_schema_is_rejected() {
    let (_sim, log) = with_one_batch();
    let other = Schema::new(vec![Column::not_null("id", DataType::Int)]);
    let rb = arrow_array::RecordBatch::try_new(
        other.to_arrow(),
        vec![std::sync::Arc::new(arrow_array::Int32Array::from(vec![1, 2]))],
    )
    .unwrap();
    let bytes =
        build(&other, &rb, None, &BuildOptions { compression: Compression::None, ..Default::default() }).unwrap();
    let e = block_on(log.append(bytes)).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
    assert!(message(&e).contains("test.table/b0"), "{e}");
    assert_intact(&log);
}

#[test]
fn an_unknown_schema_id_is_rejected() {
    let (_sim, log) = with_one_batch();
    let mut s = schema();
    s.id = 9;
    let bytes = build(&s, &record_batch(0, 3), None, &BuildOptions::default()).unwrap();
    let e = block_on(log.append(bytes)).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }) && message(&e).contains("schema id 9"), "{e}");
    assert_intact(&log);
}

#[test]
fn an_empty_batch_is_rejected() {
    let (_sim, log) = with_one_batch();
    let bytes = build(&schema(), &record_batch(0, 0), None, &BuildOptions::default()).unwrap();
    let e = block_on(log.append(bytes)).unwrap_err();
    assert!(matches!(e, Error::EmptyBatch { .. }), "{e}");
    assert_intact(&log);
}

#[test]
fn a_batch_over_the_size_limit_is_rejected() {
    let sim = SimStorage::new(1, SimFaults::default());
    let mut c = config();
    c.batch_bytes_max = 2048;
    let log = block_on(Log::open(sim.clone(), c, ticking_clock(0))).unwrap();
    block_on(log.append(batch_bytes(0, 5, None))).unwrap();
    let e = block_on(log.append(batch_bytes(5, 500, None))).unwrap_err();
    assert!(matches!(e, Error::BatchTooLarge { limit_bytes: 2048, .. }), "{e}");
    assert_intact(&log);
}

#[test]
fn a_corrupt_incoming_batch_is_rejected() {
    let (_sim, log) = with_one_batch();
    let mut bytes = batch_bytes(5, 3, None);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    let e = block_on(log.append(bytes)).unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    let e = block_on(log.append(vec![1, 2, 3])).unwrap_err();
    assert!(matches!(e, Error::InvalidBatch { .. }) && message(&e).contains("test.table/b0"), "{e}");
    assert_intact(&log);
}

#[test]
fn offsets_out_of_range_are_rejected() {
    let (_sim, log) = with_one_batch();
    let e = block_on(log.read(6, 1024, None)).unwrap_err();
    assert!(matches!(e, Error::OffsetOutOfRange { offset: 6, start: 0, end: 5, .. }), "{e}");
    let e = block_on(log.read(-1, 1024, None)).unwrap_err();
    assert!(matches!(e, Error::OffsetOutOfRange { .. }), "{e}");
    let at_end = block_on(log.read(5, 1024, None)).unwrap();
    assert!(at_end.batches.is_empty() && at_end.high_watermark == 5);
    assert_intact(&log);
}

#[test]
fn duplicate_and_out_of_order_sequences() {
    let sim = SimStorage::new(1, SimFaults::default());
    let log = open(&sim);
    for seq in 0..7 {
        block_on(log.append(batch_bytes(seq as i64 * 10, 10, Some((3, seq))))).unwrap();
    }
    // A retry of one of the last five: its original offsets, nothing appended.
    let info = block_on(log.append(batch_bytes(50, 10, Some((3, 5))))).unwrap();
    assert!(info.duplicate && info.base_offset == 50 && info.next_offset == 60);
    assert_eq!(log.list_offset(OffsetSpec::Latest), 70);
    // Older than the window.
    let e = block_on(log.append(batch_bytes(0, 10, Some((3, 0))))).unwrap_err();
    assert!(matches!(e, Error::DuplicateSequence { writer_id: 3, sequence: 0, last_sequence: 6, .. }), "{e}");
    // A gap.
    let e = block_on(log.append(batch_bytes(70, 10, Some((3, 9))))).unwrap_err();
    assert!(matches!(e, Error::OutOfOrderSequence { writer_id: 3, expected: 7, received: 9, .. }), "{e}");
    assert!(message(&e).contains("test.table/b0"));
    // Writer state survives a restart.
    drop(log);
    let log = open(&sim);
    let info = block_on(log.append(batch_bytes(60, 10, Some((3, 6))))).unwrap();
    assert!(info.duplicate && info.base_offset == 60);
    block_on(log.append(batch_bytes(70, 10, Some((3, 7))))).unwrap();
    assert_eq!(log.list_offset(OffsetSpec::Latest), 80);
}

/// Flips every byte of a stored batch in turn (mid-log, so it cannot pass for a torn tail):
/// reading it is a corruption error naming bucket, segment and offset, and so is reopening.
#[test]
fn a_corrupted_stored_byte_is_reported_with_its_location() {
    let (sim, log) = with_one_batch();
    block_on(log.append(batch_bytes(5, 4, None))).unwrap();
    let first_len = block_on(log.read(0, 1, None)).unwrap().batches[0].bytes.len();
    let name = log.segment_names()[0].clone();
    drop(log);
    // The CRC does not cover base offset, length, magic, commit time and (V2) leader epoch;
    // base offset, length and magic are still checked (offset continuity, framing), while
    // commit time (13..21) and leader epoch (21..25) cannot be verified by anyone.
    for position in (0..first_len).filter(|p| !(13..25).contains(p)) {
        assert!(sim.flip_bit(&name, position as u64, 3));
        let e = match block_on(Log::open(sim.clone(), config(), ticking_clock(0))) {
            Err(e) => e,
            Ok(_) => panic!("byte {position}: a corrupt mid-log batch was accepted"),
        };
        assert!(matches!(e, Error::Corruption { offset: 0, .. }), "byte {position}: {e}");
        let text = message(&e);
        assert!(text.contains("test.table/b0") && text.contains(&name), "{text}");
        sim.flip_bit(&name, position as u64, 3);
    }
    let log = open(&sim);
    assert_eq!(log.list_offset(OffsetSpec::Latest), 9);
}

#[test]
fn corruption_found_on_read_names_the_segment_and_offset() {
    let (sim, log) = with_one_batch();
    let name = log.segment_names()[0].clone();
    sim.flip_bit(&name, 100, 1);
    let e = block_on(log.read(0, 1024, None)).unwrap_err();
    assert!(matches!(e, Error::Corruption { offset: 0, .. }), "{e}");
    assert!(message(&e).contains(&name));
}
