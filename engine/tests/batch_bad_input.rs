//! Malformed batches are errors that say what is wrong, never panics.
//!
//! Covers the batch header (`BatchView::parse`), the CRC (`verify_crc`), the Arrow IPC framing
//! and flatbuffer (`ipc::layout`, `ipc::decode`), projection (`project`) and the schema check
//! of `build`. A proptest and an exhaustive sweep flip bytes of valid batches.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{Buffer, MutableBuffer};
use arrow_ipc::{
    BodyCompressionBuilder, CompressionType, FieldNode, MessageBuilder, MessageHeader, MetadataVersion,
    RecordBatchBuilder,
};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, TimeUnit};
use flatbuffers::FlatBufferBuilder;
use proptest::prelude::*;
use rill_engine::batch::crc::crc32c;
use rill_engine::batch::header::Header;
use rill_engine::batch::view::BATCH_RECORDS_MAX;
use rill_engine::batch::{build, ipc, project, BatchView, BuildOptions, ChangeType, Compression};
use rill_engine::schema::{Column, DataType, Schema};
use rill_engine::Error;

// V2 header offsets (engine/src/batch/header.rs).
const LENGTH_AT: usize = 8;
const MAGIC_AT: usize = 12;
const CRC_AT: usize = 25;
const SCHEMA_ID_AT: usize = 29;
const ATTRIBUTES_AT: usize = 31;
const LAST_OFFSET_DELTA_AT: usize = 32;
const RECORD_COUNT_AT: usize = 48;
const STATISTICS_LENGTH_AT: usize = 52;
const HEADER_LEN: usize = 56;

// ---------------------------------------------------------------------------------------------
// Valid inputs to break

fn schema() -> Schema {
    Schema {
        id: 1,
        columns: vec![
            Column::not_null("id", DataType::BigInt),
            Column::new("name", DataType::String),
            Column::new("price", DataType::Decimal { precision: 30, scale: 5 }),
            Column::new("flag", DataType::Boolean),
            Column::new("blob", DataType::Bytes),
            Column::new("score", DataType::Double),
            Column::new("ts", DataType::TimestampLtz { precision: 6 }),
        ],
    }
}

fn rows(n: usize) -> RecordBatch {
    let n64 = n as i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n64)),
        Arc::new(StringArray::from_iter((0..n).map(|i| (i % 3 != 0).then(|| format!("name-{i}"))))),
        Arc::new(
            Decimal128Array::from_iter((0..n).map(|i| (i % 4 != 1).then_some(i as i128 * 1_000_003)))
                .with_precision_and_scale(30, 5)
                .unwrap(),
        ),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 5 != 2).then_some(i % 2 == 0)))),
        Arc::new(BinaryArray::from_iter((0..n).map(|i| (i % 2 == 0).then(|| vec![i as u8; i % 7])))),
        Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 6 != 3).then_some(i as f64 * 0.25)))),
        Arc::new(
            TimestampMicrosecondArray::from_iter((0..n).map(|i| (i % 8 != 5).then_some(n64 * 1_000_000 + i as i64)))
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(schema().to_arrow(), columns).unwrap()
}

fn options(compression: Compression) -> BuildOptions {
    BuildOptions { compression, writer_id: 9, batch_sequence: 3, statistics: true }
}

/// A valid append-only batch of `n` rows.
fn append_batch(n: usize, compression: Compression) -> Vec<u8> {
    build(&schema(), &rows(n), None, &options(compression)).unwrap()
}

/// A valid changelog batch of `n` rows.
fn changelog_batch(n: usize, compression: Compression) -> Vec<u8> {
    let cycle = [ChangeType::Insert, ChangeType::UpdateBefore, ChangeType::UpdateAfter, ChangeType::Delete];
    let types: Vec<ChangeType> = (0..n).map(|i| cycle[i % 4]).collect();
    build(&schema(), &rows(n), Some(&types), &options(compression)).unwrap()
}

/// The valid batches every test breaks: both kinds, every compression.
fn valid_batches() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for compression in [Compression::None, Compression::Lz4Frame, Compression::Zstd] {
        out.push((format!("append {compression:?}"), append_batch(10, compression)));
        out.push((format!("changelog {compression:?}"), changelog_batch(10, compression)));
    }
    out
}

fn put_i32(bytes: &mut [u8], at: usize, value: i32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn get_i32(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Rewrites the length field to the real size and the CRC to the real checksum: the batch
/// then passes the framing and checksum checks and only its content is wrong.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let length = bytes.len() as i32 - 12;
    put_i32(&mut bytes, LENGTH_AT, length);
    let crc = crc32c(&bytes[SCHEMA_ID_AT..]);
    bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    bytes
}

fn ipc_start(bytes: &[u8]) -> usize {
    BatchView::parse(bytes).unwrap().ipc_range().start
}

fn aligned(bytes: &[u8]) -> Buffer {
    let mut buffer = MutableBuffer::with_capacity(bytes.len());
    buffer.extend_from_slice(bytes);
    buffer.into()
}

// ---------------------------------------------------------------------------------------------
// Assertions on errors

fn outcome<T>(result: rill_engine::Result<T>, what: &str) -> (Error, String) {
    match result {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => {
            let text = e.to_string();
            (e, text)
        }
    }
}

/// `result` is an `InvalidBatch` error whose message contains `needle`.
fn invalid<T>(result: rill_engine::Result<T>, needle: &str, what: &str) {
    let (error, text) = outcome(result, what);
    assert!(matches!(error, Error::InvalidBatch { .. }), "{what}: wrong kind: {error:?}");
    assert!(text.contains(needle), "{what}: '{text}' does not say '{needle}'");
}

/// Parses fine, but projecting and decoding fail with a message containing `needle`.
fn bad_payload(bytes: &[u8], needle: &str, what: &str) {
    let view = BatchView::parse(bytes).unwrap_or_else(|e| panic!("{what}: header should parse: {e}"));
    invalid(ipc::layout(view.ipc_bytes()), needle, what);
    invalid(ipc::decode(&aligned(view.ipc_bytes()), schema().to_arrow(), false), needle, what);
    invalid(project(&Buffer::from(bytes), &schema().to_arrow(), &[0, 2]), needle, what);
}

/// Projecting and decoding fail (any error kind), and never panic.
fn payload_rejected(bytes: &[u8], what: &str) -> (String, String) {
    let view = BatchView::parse(bytes).unwrap_or_else(|e| panic!("{what}: header should parse: {e}"));
    view.verify_crc().unwrap();
    let arrow = schema().to_arrow();
    let decoded = ipc::decode(&aligned(view.ipc_bytes()), arrow.clone(), false);
    let projected = project(&Buffer::from(bytes), &arrow, &[0, 1, 2, 3, 4, 5, 6]);
    let (_, decode_text) = outcome(decoded, &format!("{what}: decode"));
    let (_, project_text) = outcome(projected, &format!("{what}: project"));
    (decode_text, project_text)
}

// ---------------------------------------------------------------------------------------------
// Header and framing

#[test]
fn truncated_batches_are_rejected_at_every_length() {
    for (name, batch) in valid_batches() {
        for len in 0..batch.len() {
            let cut = &batch[..len];
            let what = format!("{name} cut to {len} of {}", batch.len());
            let (error, text) = outcome(BatchView::parse(cut), &what);
            assert!(matches!(error, Error::InvalidBatch { .. }), "{what}: {error:?}");
            assert!(text.contains("shorter than") || text.contains("length field"), "{what}: unclear message '{text}'");
            assert!(project(&Buffer::from(cut), &schema().to_arrow(), &[1]).is_err(), "{what}");
        }
    }
}

#[test]
fn truncated_batches_with_a_matching_length_field_fail_on_the_payload() {
    for (name, batch) in valid_batches() {
        let ipc_at = ipc_start(&batch);
        for len in HEADER_LEN..batch.len() {
            let mut cut = batch[..len].to_vec();
            put_i32(&mut cut, LENGTH_AT, len as i32 - 12);
            let what = format!("{name} cut to {len}, length field fixed");
            let Ok(view) = BatchView::parse(&cut) else {
                assert!(len <= ipc_at, "{what}: header rejected a batch whose header is whole");
                continue;
            };
            assert!(view.verify_crc().is_err(), "{what}: CRC");
            assert!(ipc::layout(view.ipc_bytes()).is_err(), "{what}: layout");
            assert!(ipc::decode(&aligned(view.ipc_bytes()), schema().to_arrow(), false).is_err(), "{what}");
            assert!(project(&Buffer::from(cut.as_slice()), &schema().to_arrow(), &[1]).is_err(), "{what}");
        }
    }
}

#[test]
fn a_wrong_length_field_is_rejected() {
    let batch = append_batch(10, Compression::None);
    let real = batch.len() as i32 - 12;
    for length in [real + 1, real - 1, real + 4096, 0, 43, -1, -12, i32::MIN, i32::MAX] {
        let mut bad = batch.clone();
        put_i32(&mut bad, LENGTH_AT, length);
        invalid(BatchView::parse(&bad), "length field", &format!("length {length}"));
    }
    // A batch followed by other bytes is not one batch.
    let mut longer = batch.clone();
    longer.extend_from_slice(&[0; 8]);
    invalid(BatchView::parse(&longer), "length field says", "trailing bytes");
}

#[test]
fn an_unknown_magic_is_rejected() {
    let batch = append_batch(10, Compression::None);
    for magic in [3u8, 4, 0x7F, 0x80, 0xFF] {
        let mut bad = batch.clone();
        bad[MAGIC_AT] = magic;
        invalid(BatchView::parse(&bad), &format!("unknown magic {magic}"), &format!("magic {magic}"));
        invalid(Header::read(&bad), "unknown magic", &format!("magic {magic}"));
    }
}

#[test]
fn an_out_of_range_record_count_is_rejected() {
    let batch = append_batch(10, Compression::None);
    for count in [-1, -2, i32::MIN, BATCH_RECORDS_MAX + 1, i32::MAX] {
        let mut bad = batch.clone();
        put_i32(&mut bad, RECORD_COUNT_AT, count);
        put_i32(&mut bad, LAST_OFFSET_DELTA_AT, count.wrapping_sub(1));
        invalid(BatchView::parse(&reseal(bad)), &format!("record count {count} is out of range"), "count");
    }
    // A changelog whose change-type vector would run past the batch.
    let batch = changelog_batch(10, Compression::None);
    for count in [batch.len() as i32, BATCH_RECORDS_MAX] {
        let mut bad = batch.clone();
        put_i32(&mut bad, RECORD_COUNT_AT, count);
        put_i32(&mut bad, LAST_OFFSET_DELTA_AT, count - 1);
        invalid(BatchView::parse(&reseal(bad)), "overrun", &format!("changelog count {count}"));
    }
}

#[test]
fn a_last_offset_delta_that_disagrees_with_the_count_is_rejected() {
    let batch = append_batch(10, Compression::None);
    for delta in [10, 8, 0, -1, i32::MIN, i32::MAX] {
        let mut bad = batch.clone();
        put_i32(&mut bad, LAST_OFFSET_DELTA_AT, delta);
        invalid(
            BatchView::parse(&reseal(bad)),
            &format!("last offset delta {delta} does not match record count 10"),
            "delta",
        );
    }
}

#[test]
fn statistics_that_overrun_the_batch_are_rejected() {
    for (name, batch) in valid_batches() {
        let room = (batch.len() - HEADER_LEN) as i32;
        for stats_len in [room + 1, room + 1000, i32::MAX] {
            let mut bad = batch.clone();
            put_i32(&mut bad, STATISTICS_LENGTH_AT, stats_len);
            invalid(BatchView::parse(&reseal(bad)), "overrun", &format!("{name}: statistics {stats_len}"));
        }
        for stats_len in [-1, i32::MIN] {
            let mut bad = batch.clone();
            put_i32(&mut bad, STATISTICS_LENGTH_AT, stats_len);
            invalid(
                BatchView::parse(&reseal(bad)),
                "negative statistics length",
                &format!("{name}: statistics {stats_len}"),
            );
        }
        // Statistics that swallow the whole payload leave a batch with rows and no Arrow data.
        let ct_len = if name.starts_with("changelog") { 10 } else { 0 };
        let mut bad = batch.clone();
        put_i32(&mut bad, STATISTICS_LENGTH_AT, room - ct_len);
        invalid(BatchView::parse(&reseal(bad)), "no Arrow payload", &name);
    }
}

#[test]
fn clearing_the_append_only_bit_without_change_types_is_caught_downstream() {
    let mut bad = append_batch(10, Compression::None);
    bad[ATTRIBUTES_AT] &= !0x01;
    let bad = reseal(bad);
    // The first ten IPC bytes are now read as change types: 0xFF is not one.
    let view = BatchView::parse(&bad).unwrap();
    invalid(view.change_types(), "unknown change type byte 255", "change types");
    assert!(project(&Buffer::from(bad.as_slice()), &schema().to_arrow(), &[0]).is_err());
}

// ---------------------------------------------------------------------------------------------
// The IPC message

#[test]
fn a_missing_continuation_marker_is_rejected() {
    for (name, batch) in valid_batches() {
        let at = ipc_start(&batch);
        // Legacy framing: the metadata length first, no marker.
        let mut legacy = batch[..at].to_vec();
        legacy.extend_from_slice(&batch[at + 4..]);
        bad_payload(&reseal(legacy), "continuation marker", &format!("{name}: legacy"));
        for marker in [0u32, 0xFFFF_FFFE, 0x7FFF_FFFF] {
            let mut bad = batch.clone();
            bad[at..at + 4].copy_from_slice(&marker.to_le_bytes());
            bad_payload(&reseal(bad), "continuation marker", &format!("{name}: marker {marker:#x}"));
        }
    }
}

#[test]
fn a_bad_metadata_length_is_rejected() {
    for (name, batch) in valid_batches() {
        let at = ipc_start(&batch);
        let real = get_i32(&batch, at + 4);
        let rest = (batch.len() - at - 8) as i32;
        for len in [0, -1, -8, i32::MIN, (16 << 20) + 1, i32::MAX] {
            let mut bad = batch.clone();
            put_i32(&mut bad, at + 4, len);
            bad_payload(&reseal(bad), "metadata length is out of range", &format!("{name}: metadata {len}"));
        }
        for len in [rest + 1, rest + 4096] {
            let mut bad = batch.clone();
            put_i32(&mut bad, at + 4, len);
            bad_payload(&reseal(bad), "runs past the batch", &format!("{name}: metadata {len}"));
        }
        // Shorter or longer than the flatbuffer, inside the batch: the body is then misplaced
        // or the flatbuffer cut; either way an error.
        for len in [8, real - 64, real + 64] {
            let mut bad = batch.clone();
            put_i32(&mut bad, at + 4, len);
            payload_rejected(&reseal(bad), &format!("{name}: metadata {len}"));
        }
    }
}

#[test]
fn a_garbage_flatbuffer_is_rejected() {
    let mut state = 0x1234_5678_9ABC_DEF0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (name, batch) in valid_batches() {
        let at = ipc_start(&batch);
        let metadata_len = get_i32(&batch, at + 4) as usize;
        for round in 0..200 {
            let mut bad = batch.clone();
            for byte in &mut bad[at + 8..at + 8 + metadata_len] {
                *byte = next() as u8;
            }
            let bad = reseal(bad);
            let what = format!("{name}: garbage metadata {round}");
            let (decode, project) = payload_rejected(&bad, &what);
            for text in [decode, project] {
                assert!(text.contains("Arrow"), "{what}: '{text}' does not name the Arrow payload");
            }
        }
        // All zeros: no valid root table.
        let mut zeros = batch.clone();
        zeros[at + 8..at + 8 + metadata_len].fill(0);
        // (An all-zero flatbuffer is a valid empty table: a Message with no header.)
        bad_payload(&reseal(zeros), "Arrow", &format!("{name}: zero metadata"));
    }
}

#[test]
fn a_schema_message_is_not_a_record_batch() {
    let arrow = schema().to_arrow();
    let mut tracker = arrow_ipc::writer::DictionaryTracker::new(false);
    let encoded = arrow_ipc::writer::IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
        &arrow,
        &mut tracker,
        &arrow_ipc::writer::IpcWriteOptions::default(),
    );
    let mut message = Vec::new();
    arrow_ipc::writer::write_message(&mut message, encoded, &arrow_ipc::writer::IpcWriteOptions::default()).unwrap();
    let batch = append_batch(10, Compression::None);
    let mut bad = batch[..ipc_start(&batch)].to_vec();
    bad.extend_from_slice(&message);
    bad_payload(&reseal(bad), "not a RecordBatch", "schema message");
}

// ---------------------------------------------------------------------------------------------
// A well-formed flatbuffer with wrong numbers in it

/// The RecordBatch metadata of a message, as plain numbers to edit.
#[derive(Clone, Debug)]
struct Meta {
    length: i64,
    /// (length, null_count)
    nodes: Vec<(i64, i64)>,
    /// (offset, length)
    buffers: Vec<(i64, i64)>,
    body_len: i64,
    compression: Option<CompressionType>,
}

fn read_meta(message: &[u8]) -> Meta {
    let layout = ipc::layout(message).unwrap();
    let fb = arrow_ipc::root_as_message(layout.metadata(message)).unwrap();
    let rb = fb.header_as_record_batch().unwrap();
    Meta {
        length: rb.length(),
        nodes: rb.nodes().unwrap().iter().map(|n| (n.length(), n.null_count())).collect(),
        buffers: rb.buffers().unwrap().iter().map(|b| (b.offset(), b.length())).collect(),
        body_len: fb.bodyLength(),
        compression: rb.compression().map(|c| c.codec()),
    }
}

/// An IPC message with `meta` as its metadata and `body` as its body.
fn write_meta(meta: &Meta, body: &[u8]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let nodes: Vec<FieldNode> = meta.nodes.iter().map(|&(l, n)| FieldNode::new(l, n)).collect();
    let buffers: Vec<arrow_ipc::Buffer> = meta.buffers.iter().map(|&(o, l)| arrow_ipc::Buffer::new(o, l)).collect();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(&buffers);
    let compression = meta.compression.map(|codec| {
        let mut c = BodyCompressionBuilder::new(&mut fbb);
        c.add_codec(codec);
        c.finish()
    });
    let mut rb = RecordBatchBuilder::new(&mut fbb);
    rb.add_length(meta.length);
    rb.add_nodes(nodes);
    rb.add_buffers(buffers);
    if let Some(c) = compression {
        rb.add_compression(c);
    }
    let rb = rb.finish();
    let mut m = MessageBuilder::new(&mut fbb);
    m.add_version(MetadataVersion::V5);
    m.add_header_type(MessageHeader::RecordBatch);
    m.add_header(rb.as_union_value());
    m.add_bodyLength(meta.body_len);
    let m = m.finish();
    fbb.finish(m, None);
    let metadata = fbb.finished_data();
    // Prefix + metadata to a multiple of 64, as arrow-rs writes it.
    let padded = (8 + metadata.len()).next_multiple_of(64) - 8;
    let mut out = Vec::new();
    out.extend_from_slice(&ipc::CONTINUATION.to_le_bytes());
    out.extend_from_slice(&(padded as i32).to_le_bytes());
    out.extend_from_slice(metadata);
    out.resize(8 + padded, 0);
    out.extend_from_slice(body);
    out
}

/// `batch` with its IPC metadata edited by `edit` (body kept), resealed.
fn with_meta(batch: &[u8], edit: impl FnOnce(&mut Meta)) -> Vec<u8> {
    let at = ipc_start(batch);
    let message = &batch[at..];
    let layout = ipc::layout(message).unwrap();
    let mut meta = read_meta(message);
    edit(&mut meta);
    let mut out = batch[..at].to_vec();
    out.extend_from_slice(&write_meta(&meta, &message[layout.body_start..]));
    reseal(out)
}

#[test]
fn rewritten_metadata_round_trips_unchanged() {
    // The tool the next tests use: with no edit, the batch still decodes to the same rows.
    for (name, batch) in valid_batches() {
        let same = with_meta(&batch, |_| {});
        let view = BatchView::parse(&same).unwrap();
        let decoded = ipc::decode(&aligned(view.ipc_bytes()), schema().to_arrow(), false).unwrap();
        assert_eq!(decoded, rows(10), "{name}");
        assert!(project(&Buffer::from(same.as_slice()), &schema().to_arrow(), &[1, 3]).is_ok(), "{name}");
    }
}

#[test]
fn a_body_length_that_disagrees_with_the_batch_is_rejected() {
    for (name, batch) in valid_batches() {
        for delta in [-64i64, -1, 1, 64, 1 << 40] {
            let bad = with_meta(&batch, |m| m.body_len += delta);
            bad_payload(&bad, "does not end at the batch end", &format!("{name}: body {delta:+}"));
        }
        let bad = with_meta(&batch, |m| m.body_len = -8);
        bad_payload(&bad, "negative Arrow body length", &name);
        // Extra bytes after the body, with the length field covering them.
        let mut longer = batch.clone();
        longer.extend_from_slice(&[0; 64]);
        bad_payload(&reseal(longer), "does not end at the batch end", &format!("{name}: trailing bytes"));
    }
}

/// A named change to a message's metadata.
type MetaEdit = (&'static str, Box<dyn Fn(&mut Meta)>);

/// Metadata edits that leave the node or buffer count different from what the schema needs.
fn count_edits() -> Vec<MetaEdit> {
    vec![
        ("one buffer fewer", Box::new(|m| m.buffers.truncate(m.buffers.len() - 1))),
        ("one node fewer", Box::new(|m| m.nodes.truncate(m.nodes.len() - 1))),
        ("one buffer more", Box::new(|m| m.buffers.push((0, 0)))),
        ("one node more", Box::new(|m| m.nodes.push((10, 0)))),
        ("no buffers", Box::new(|m| m.buffers.clear())),
        ("no nodes", Box::new(|m| m.nodes.clear())),
    ]
}

#[test]
fn node_and_buffer_counts_that_disagree_with_the_schema_are_rejected_by_project() {
    for (name, batch) in valid_batches() {
        for (case, edit) in count_edits() {
            let bad = with_meta(&batch, |m| edit(m));
            let what = format!("{name}: {case}");
            let result = project(&Buffer::from(bad.as_slice()), &schema().to_arrow(), &[0, 6]);
            let (_, text) = outcome(result, &what);
            assert!(text.contains("field nodes") || text.contains("nodes and"), "{what}: {text}");
            // decode must at least not panic (see the ignored test below for what it should do).
            let view = BatchView::parse(&bad).unwrap();
            let _ = decode_caught(view.ipc_bytes(), schema().to_arrow());
        }
    }
}

#[test]
fn node_and_buffer_counts_that_disagree_with_the_schema_are_rejected_by_decode() {
    let mut accepted = Vec::new();
    for (name, batch) in valid_batches() {
        for (case, edit) in count_edits() {
            let bad = with_meta(&batch, |m| edit(m));
            let view = BatchView::parse(&bad).unwrap();
            match decode_caught(view.ipc_bytes(), schema().to_arrow()) {
                Ok(Err(_)) => {}
                Ok(Ok(_)) => accepted.push(format!("{name}: {case}: accepted")),
                Err(panic) => accepted.push(format!("{name}: {case}: panicked: {panic}")),
            }
        }
    }
    assert!(accepted.is_empty(), "{accepted:#?}");
}

/// Runs `ipc::decode` (no alignment required) and turns a panic into `Err(message)`.
fn decode_caught(message: &[u8], arrow: arrow_schema::SchemaRef) -> Result<rill_engine::Result<RecordBatch>, String> {
    let message = aligned(message);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ipc::decode(&message, arrow, false))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn buffers_outside_the_body_are_rejected_by_project() {
    for (name, batch) in valid_batches() {
        let body_len = read_meta(&batch[ipc_start(&batch)..]).body_len;
        for (case, offset, length) in
            [("past the end", body_len, 8), ("overlapping the end", body_len - 4, 64), ("negative offset", -64, 8)]
        {
            for column_buffer in [0, 1, 4] {
                let bad = with_meta(&batch, |m| m.buffers[column_buffer] = (offset, length));
                let what = format!("{name}: buffer {column_buffer} {case}");
                let result = project(&Buffer::from(bad.as_slice()), &schema().to_arrow(), &[0, 1, 2]);
                invalid(result, "Arrow buffer", &what);
            }
        }
    }
}

#[test]
fn buffers_outside_the_body_are_rejected_by_decode() {
    let mut wrong = Vec::new();
    for (name, batch) in valid_batches() {
        let body_len = read_meta(&batch[ipc_start(&batch)..]).body_len;
        for (case, offset, length) in [
            ("past the end", body_len, 8),
            ("overlapping the end", body_len - 4, 64),
            ("negative offset", -64, 8),
            ("negative length", 0, -8),
        ] {
            for column_buffer in [0, 1, 4] {
                let bad = with_meta(&batch, |m| m.buffers[column_buffer] = (offset, length));
                let what = format!("{name}: buffer {column_buffer} {case}");
                let view = BatchView::parse(&bad).unwrap();
                match decode_caught(view.ipc_bytes(), schema().to_arrow()) {
                    Ok(Err(e)) if e.to_string().contains("Arrow buffer") => {}
                    Ok(Err(e)) => wrong.push(format!("{what}: unclear error: {e}")),
                    Ok(Ok(_)) => wrong.push(format!("{what}: accepted")),
                    Err(panic) => wrong.push(format!("{what}: panicked: {panic}")),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} cases: {wrong:#?}", wrong.len());
}

/// Node lengths and null counts that disagree with the buffers.
fn node_edits() -> Vec<MetaEdit> {
    vec![
        ("batch length above the data", Box::new(|m| m.length = 1000)),
        ("negative batch length", Box::new(|m| m.length = -1)),
        ("a node longer than its buffers", Box::new(|m| m.nodes[5].0 = 1000)),
        ("a negative node length", Box::new(|m| m.nodes[5].0 = -1)),
        ("more nulls than rows", Box::new(|m| m.nodes[1].1 = 11)),
        ("a negative null count", Box::new(|m| m.nodes[1].1 = -1)),
        ("nulls claimed in a column without a bitmap", Box::new(|m| m.nodes[0].1 = 3)),
    ]
}

/// Decodes every `node_edits` case; returns the cases that did not give a clean `Err`.
fn node_edit_failures() -> Vec<String> {
    let mut wrong = Vec::new();
    for (name, batch) in valid_batches() {
        for (case, edit) in node_edits() {
            let bad = with_meta(&batch, |m| edit(m));
            let what = format!("{name}: {case}");
            let view = BatchView::parse(&bad).unwrap();
            match decode_caught(view.ipc_bytes(), schema().to_arrow()) {
                Ok(Err(e)) if e.to_string().contains("Arrow") => {}
                Ok(Err(e)) => wrong.push(format!("{what}: unclear error: {e}")),
                Ok(Ok(_)) => wrong.push(format!("{what}: accepted")),
                Err(panic) => wrong.push(format!("{what}: panicked: {panic}")),
            }
        }
    }
    wrong
}

#[test]
fn node_lengths_and_null_counts_that_disagree_with_the_buffers_are_rejected() {
    let wrong = node_edit_failures();
    assert!(wrong.is_empty(), "{} cases: {wrong:#?}", wrong.len());
}

#[test]
fn wrong_batch_lengths_and_excess_null_counts_are_rejected() {
    // The cases arrow-ipc itself turns into errors today; the others panic (ignored test below).
    let failures = node_edit_failures();
    for case in ["batch length above the data", "negative batch length", "more nulls than rows"] {
        assert!(!failures.iter().any(|f| f.contains(case)), "{case}: {failures:#?}");
    }
}

/// A compressed batch whose first non-empty buffer claims `uncompressed` bytes.
fn with_uncompressed_length(compression: Compression, uncompressed: i64) -> Vec<u8> {
    let mut batch = append_batch(10, compression);
    let at = ipc_start(&batch);
    let layout = ipc::layout(&batch[at..]).unwrap();
    let meta = read_meta(&batch[at..]);
    let (offset, _) = meta.buffers.iter().copied().find(|&(_, len)| len >= 8).unwrap();
    let prefix_at = at + layout.body_start + offset as usize;
    batch[prefix_at..prefix_at + 8].copy_from_slice(&uncompressed.to_le_bytes());
    reseal(batch)
}

const HUGE_PREFIX_CHILD: &str = "RILL_TEST_HUGE_PREFIX_CHILD";

#[test]
fn a_huge_uncompressed_length_prefix_is_an_error_not_an_abort() {
    if std::env::var_os(HUGE_PREFIX_CHILD).is_some() {
        for compression in [Compression::Lz4Frame, Compression::Zstd] {
            for uncompressed in [1i64 << 40, i64::MAX, -2] {
                let bad = with_uncompressed_length(compression, uncompressed);
                let view = BatchView::parse(&bad).unwrap();
                view.verify_crc().unwrap();
                let result = ipc::decode(&aligned(view.ipc_bytes()), schema().to_arrow(), false);
                assert!(result.is_err(), "{compression:?} {uncompressed}: accepted");
            }
        }
        return;
    }
    // An abort cannot be caught in-process: run the checks in a child test process.
    let name = "a_huge_uncompressed_length_prefix_is_an_error_not_an_abort";
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"])
        .env(HUGE_PREFIX_CHILD, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child decode died ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

#[test]
fn a_moderate_wrong_uncompressed_length_is_an_error() {
    for compression in [Compression::Lz4Frame, Compression::Zstd] {
        for uncompressed in [1i64, 7, 1 << 20] {
            let bad = with_uncompressed_length(compression, uncompressed);
            let view = BatchView::parse(&bad).unwrap();
            let (_, text) = outcome(
                ipc::decode(&aligned(view.ipc_bytes()), schema().to_arrow(), false),
                &format!("{compression:?} {uncompressed}"),
            );
            assert!(text.contains("Arrow"), "{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Projection arguments and decode schemas

#[test]
fn bad_projection_lists_are_rejected() {
    let batch = Buffer::from_vec(append_batch(10, Compression::None));
    let arrow = schema().to_arrow();
    invalid(project(&batch, &arrow, &[]), "empty projection", "empty");
    for columns in [vec![2, 1], vec![1, 1], vec![7], vec![0, 99], vec![usize::MAX]] {
        invalid(project(&batch, &arrow, &columns), "must be ascending, unique and below 7", &format!("{columns:?}"));
    }
}

#[test]
fn a_schema_that_does_not_fit_the_message_is_rejected() {
    for (name, batch) in valid_batches() {
        let view = BatchView::parse(&batch).unwrap();
        let message = aligned(view.ipc_bytes());
        let full = schema().to_arrow();
        let fewer = Arc::new(full.project(&[0, 1, 2]).unwrap());
        let mut fields: Vec<Field> = full.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("extra", ArrowType::Int32, true));
        let more = Arc::new(ArrowSchema::new(fields.clone()));
        // Same buffer count, other widths: the decimal (16 bytes) read as a 4-byte int, etc.
        fields.pop();
        fields[2] = Field::new("price", ArrowType::Int32, true);
        fields[5] = Field::new("score", ArrowType::Decimal128(38, 2), true);
        fields[6] = Field::new("ts", ArrowType::Timestamp(TimeUnit::Nanosecond, None), true);
        let retyped = Arc::new(ArrowSchema::new(fields));
        for (case, arrow) in [("fewer columns", fewer), ("more columns", more.clone())] {
            let what = format!("{name}: {case}");
            invalid(project(&Buffer::from(batch.as_slice()), &arrow, &[0]), "buffers", &what);
        }
        // arrow-ipc decodes the leading columns and ignores the rest: ipc::decode accepts a
        // schema with fewer columns (the log's append checks the counts itself first).
        let what = format!("{name}: more columns");
        let (_, text) = outcome(ipc::decode(&message, more, false), &what);
        assert!(text.contains("Arrow"), "{what}: {text}");
        let what = format!("{name}: retyped");
        let (_, text) = outcome(ipc::decode(&message, retyped, false), &what);
        assert!(text.contains("Arrow"), "{what}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// build: the batch must fit the table schema

fn expect_schema_mismatch(result: rill_engine::Result<Vec<u8>>, what: &str) {
    let (error, text) = outcome(result, what);
    assert!(matches!(error, Error::SchemaMismatch { .. }), "{what}: {error:?}");
    assert!(text.contains("expected schema 1 [") && text.contains("got ["), "{what}: {text}");
}

fn swap_column(index: usize, field: Field, array: ArrayRef) -> RecordBatch {
    let batch = rows(4);
    let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    fields[index] = field;
    columns[index] = array;
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).unwrap()
}

#[test]
fn build_rejects_a_batch_of_another_schema() {
    let schema = schema();
    let opts = options(Compression::None);
    // Wrong types.
    let int32: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4]));
    let batch = swap_column(0, Field::new("id", ArrowType::Int32, false), int32);
    expect_schema_mismatch(build(&schema, &batch, None, &opts), "INT for BIGINT");
    let utc_ns: ArrayRef = Arc::new(arrow_array::TimestampNanosecondArray::from(vec![1, 2, 3, 4]).with_timezone("UTC"));
    let ts_type = ArrowType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let batch = swap_column(6, Field::new("ts", ts_type, true), utc_ns);
    expect_schema_mismatch(build(&schema, &batch, None, &opts), "timestamp unit");
    let other_zone: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![1, 2, 3, 4]).with_timezone("+08:00"));
    let zone_type = ArrowType::Timestamp(TimeUnit::Microsecond, Some("+08:00".into()));
    let batch = swap_column(6, Field::new("ts", zone_type, true), other_zone);
    expect_schema_mismatch(build(&schema, &batch, None, &opts), "time zone");
    let narrow: ArrayRef = Arc::new(Decimal128Array::from(vec![1, 2, 3, 4]).with_precision_and_scale(10, 5).unwrap());
    let batch = swap_column(2, Field::new("price", ArrowType::Decimal128(10, 5), true), narrow);
    expect_schema_mismatch(build(&schema, &batch, None, &opts), "decimal precision");

    // Missing and extra columns.
    let full = rows(4);
    let missing = full.project(&[0, 1, 2, 3, 4, 5]).unwrap();
    expect_schema_mismatch(build(&schema, &missing, None, &opts), "missing column");
    let mut fields: Vec<Field> = full.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("extra", ArrowType::Int32, true));
    let mut columns = full.columns().to_vec();
    columns.push(Arc::new(Int32Array::from(vec![1, 2, 3, 4])));
    let extra = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).unwrap();
    expect_schema_mismatch(build(&schema, &extra, None, &opts), "extra column");
}

#[test]
fn build_rejects_nulls_in_a_not_null_column() {
    let schema = schema();
    let opts = options(Compression::None);
    let with_null: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)]));
    let batch = swap_column(0, Field::new("id", ArrowType::Int64, true), with_null);
    expect_schema_mismatch(build(&schema, &batch, None, &opts), "null in NOT NULL id");

    // A nullable Arrow field without nulls fits a NOT NULL column.
    let no_null: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), Some(4)]));
    let batch = swap_column(0, Field::new("id", ArrowType::Int64, true), no_null);
    assert!(build(&schema, &batch, None, &opts).is_ok());
}

#[test]
fn build_rejects_a_change_type_vector_of_the_wrong_length() {
    let batch = rows(4);
    let types = [ChangeType::Insert; 3];
    invalid(build(&schema(), &batch, Some(&types), &options(Compression::None)), "3 change types for 4 rows", "ct");
}

// ---------------------------------------------------------------------------------------------
// Flipped bytes

/// Runs the readers over `bytes` (a batch with flipped bytes): the header, the CRC, the change
/// types and projection, and with `decode` also `ipc::decode` of the source and of each
/// projection. Fails only through the assertion that a flip inside the CRC-covered range is
/// caught (or through a panic in a reader).
fn read_everything(bytes: &[u8], flipped: &[usize], magic_kept: bool, decode: bool, what: &str) {
    let arrow = schema().to_arrow();
    if let Ok(view) = BatchView::parse(bytes) {
        let covered = flipped.iter().any(|&p| p >= CRC_AT);
        match view.verify_crc() {
            Err(e) => {
                assert!(matches!(e, Error::ChecksumMismatch { .. }), "{what}: {e:?}");
                assert!(covered || !magic_kept, "{what}: CRC failed although no covered byte changed");
            }
            Ok(()) => assert!(!(covered && magic_kept), "{what}: a flip in the CRC-covered range went unnoticed"),
        }
        let _ = view.change_types();
        if decode {
            let _ = ipc::decode(&Buffer::from(view.ipc_bytes()), arrow.clone(), false);
            let _ = ipc::decode(&aligned(view.ipc_bytes()), arrow.clone(), true);
        }
    }
    for columns in [&[0usize][..], &[1, 2, 4], &[0, 1, 2, 3, 4, 5, 6]] {
        if let Ok(projected) = project(&Buffer::from(bytes), &arrow, columns) {
            let out = projected.to_vec();
            let view = BatchView::parse(&out).unwrap_or_else(|e| panic!("{what}: projected batch unparsable: {e}"));
            if decode {
                let projected_schema = Arc::new(arrow.project(columns).unwrap());
                let _ = ipc::decode(&aligned(view.ipc_bytes()), projected_schema, true);
            }
        }
    }
}

fn flip_batches() -> Vec<(String, Vec<u8>)> {
    vec![
        ("append None".into(), append_batch(6, Compression::None)),
        ("changelog Zstd".into(), changelog_batch(6, Compression::Zstd)),
        ("append Lz4".into(), append_batch(6, Compression::Lz4Frame)),
    ]
}

/// Flips every byte of every flip batch with a few masks.
fn flip_every_byte(decode: bool) {
    for (name, batch) in flip_batches() {
        for at in 0..batch.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut bad = batch.clone();
                bad[at] ^= mask;
                read_everything(&bad, &[at], at != MAGIC_AT, decode, &format!("{name}: byte {at} ^ {mask:#04x}"));
            }
        }
    }
}

#[test]
fn every_single_byte_flip_is_harmless_to_parse_crc_and_project() {
    flip_every_byte(false);
}

#[test]
fn every_single_byte_flip_is_harmless_to_decode() {
    flip_every_byte(true);
}

fn flip_case(which: usize, flips: &[(prop::sample::Index, u8)], decode: bool) {
    let (name, batch) = flip_batches().swap_remove(which);
    let mut bad = batch.clone();
    let mut positions = Vec::new();
    for (index, mask) in flips {
        let at = index.index(bad.len());
        bad[at] ^= mask;
        positions.push(at);
    }
    let magic_kept = bad[MAGIC_AT] == batch[MAGIC_AT];
    let changed: Vec<usize> = positions.into_iter().filter(|&p| bad[p] != batch[p]).collect();
    read_everything(&bad, &changed, magic_kept, decode, &format!("{name}: flips {flips:?}"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_flips_never_panic_parse_crc_or_project(
        which in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
    ) {
        flip_case(which, &flips, false);
    }

    #[test]
    fn random_flips_never_panic_decode(
        which in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
    ) {
        flip_case(which, &flips, true);
    }
}
