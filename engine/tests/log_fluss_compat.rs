//! The log stores batches framed by the Fluss client's writer (V0, no statistics, ZSTD by
//! default) unchanged but for base offset and commit timestamp, and a fetch blob of what it
//! stores (full or projected) reads back with the client's reader at the right offsets.
#![allow(clippy::unwrap_used)]

mod common;
mod logkit;

use common::fluss_oracle::{build_batch, read_records, FlussReadContext, WriteSpec};
use fluss::metadata::{DataField, DataTypes, RowType};
use futures_lite::future::block_on;
use logkit::{config, record_batch, schema, ticking_clock};
use rill_engine::batch::project;
use rill_engine::log::{Log, SimFaults, SimStorage};

fn row_type() -> RowType {
    RowType::new(vec![
        DataField::new("id", DataTypes::bigint().as_non_nullable(), None),
        DataField::new("note", DataTypes::string(), None),
    ])
}

#[test]
fn fluss_written_batches_are_stored_unchanged_and_read_back_by_fluss() {
    let sim = SimStorage::new(11, SimFaults::default());
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(5_000))).unwrap();
    let mut sent = Vec::new();
    for (i, compression) in [None, Some(arrow_ipc::CompressionType::LZ4_FRAME), Some(arrow_ipc::CompressionType::ZSTD)]
        .into_iter()
        .cycle()
        .take(9)
        .enumerate()
    {
        let spec = WriteSpec { writer_id: 42, batch_sequence: i as i32, compression, ..WriteSpec::default() };
        let bytes = build_batch(&record_batch(i as i64 * 20, 20), &spec).unwrap();
        assert_eq!(bytes[12], 0, "the Fluss client writes magic V0");
        let info = block_on(log.append(bytes.clone())).unwrap();
        assert_eq!(info.base_offset, i as i64 * 20);
        sent.push(bytes);
    }
    // A retried client batch is not stored twice.
    let again = block_on(log.append(sent[8].clone())).unwrap();
    assert!(again.duplicate && again.base_offset == 160);

    drop(log);
    let log = block_on(Log::open(sim, config(), ticking_clock(9_000))).unwrap();
    let read = block_on(log.read(0, 1 << 20, None)).unwrap();
    assert_eq!(read.batches.len(), 9);
    let mut blob = Vec::new();
    for (stored, original) in read.batches.iter().zip(&sent) {
        let stored = stored.bytes.as_slice();
        assert_eq!(stored.len(), original.len());
        assert_eq!(&stored[8..13], &original[8..13], "length and magic unchanged");
        assert_eq!(&stored[21..], &original[21..], "CRC and everything it covers unchanged");
        blob.extend_from_slice(stored);
    }
    let records = read_records(&blob, &FlussReadContext::new(&row_type(), None).unwrap()).unwrap();
    let offsets: Vec<i64> = records.iter().flat_map(|(_, r)| r.iter().map(|s| s.offset())).collect();
    assert_eq!(offsets, (0..180).collect::<Vec<_>>());
    assert!(records.iter().all(|(b, _)| b.commit_timestamp() >= 5_000));

    // The projected fetch of stored client batches reads back with the projected schema.
    let mut projected = Vec::new();
    for stored in &read.batches {
        let p = project(&stored.bytes, &schema().to_arrow(), &[1]).unwrap();
        projected.extend_from_slice(&p.to_vec());
    }
    let ctx = FlussReadContext::new(&row_type(), Some(&[1])).unwrap();
    let records = read_records(&projected, &ctx).unwrap();
    assert_eq!(records.iter().map(|(_, r)| r.len()).sum::<usize>(), 180);
    let first = records[0].0.record_batch(&ctx).unwrap();
    assert_eq!(first, record_batch(0, 20).project(&[1]).unwrap());
}
