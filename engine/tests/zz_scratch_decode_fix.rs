//! SCRATCH (to be deleted): prototype of the metadata check proposed for ipc::decode.
#![allow(clippy::unwrap_used, missing_docs)]
use arrow_buffer::{Buffer, MutableBuffer};
use arrow_schema::SchemaRef;
use rill_engine::batch::projection::ipc_counts;
use rill_engine::batch::view::BATCH_RECORDS_MAX;
use rill_engine::batch::{build, ipc, BatchView, BuildOptions, ChangeType, Compression};
use rill_engine::schema::{Column, DataType, Schema};
use rill_engine::{Error, Result};
use std::sync::Arc;
use arrow_array::*;

const DECODED_BUFFER_BYTES_MAX: i64 = 1 << 30;

fn check_metadata(message: &[u8], schema: &arrow_schema::Schema) -> Result<()> {
    let layout = ipc::layout(message)?;
    let fb = arrow_ipc::root_as_message(layout.metadata(message)).map_err(|e| Error::invalid_batch(format!("Arrow metadata: {e}")))?;
    let rb = fb.header_as_record_batch().ok_or_else(|| Error::invalid_batch("Arrow message is not a RecordBatch"))?;
    let body = &message[layout.body_start..];
    let rows = rb.length();
    if !(0..=i64::from(BATCH_RECORDS_MAX)).contains(&rows) {
        return Err(Error::invalid_batch(format!("Arrow batch length {rows} is out of range")));
    }
    let (Some(nodes), Some(buffers)) = (rb.nodes(), rb.buffers()) else {
        return Err(Error::invalid_batch("Arrow RecordBatch without nodes or buffers"));
    };
    let (mut need_nodes, mut need_buffers) = (0, 0);
    for f in schema.fields() {
        let (n, b) = ipc_counts(f.data_type())?;
        need_nodes += n;
        need_buffers += b;
    }
    if (nodes.len(), buffers.len()) != (need_nodes, need_buffers) {
        return Err(Error::invalid_batch(format!(
            "Arrow batch has {} field nodes and {} buffers; the schema needs {need_nodes} and {need_buffers}",
            nodes.len(), buffers.len())));
    }
    if rb.variadicBufferCounts().is_some_and(|v| !v.is_empty()) {
        return Err(Error::invalid_batch("Arrow batch has variadic buffer counts but no view-type column"));
    }
    let compressed = rb.compression().is_some();
    let mut decoded = Vec::with_capacity(buffers.len());
    for (i, b) in buffers.iter().enumerate() {
        let (offset, length) = (b.offset(), b.length());
        if offset < 0 || length < 0 || offset.checked_add(length).is_none_or(|e| e as u64 > body.len() as u64) {
            return Err(Error::invalid_batch(format!("Arrow buffer {i} at {offset}+{length} runs past the {}-byte body", body.len())));
        }
        let len = if !compressed || length == 0 { length } else {
            let at = offset as usize;
            let prefix = body.get(at..at + 8).map(|p| i64::from_le_bytes(p.try_into().unwrap()))
                .ok_or_else(|| Error::invalid_batch(format!("compressed Arrow buffer {i} is shorter than its length prefix")))?;
            match prefix {
                -1 => length - 8,
                0..=DECODED_BUFFER_BYTES_MAX => prefix,
                _ => return Err(Error::invalid_batch(format!("compressed Arrow buffer {i} claims {prefix} uncompressed bytes"))),
            }
        };
        decoded.push(len);
    }
    // Flat columns: node i is column i, its first buffer the validity bitmap.
    let mut buffer_at = 0;
    for (field, node) in schema.fields().iter().zip(nodes.iter()) {
        let (n, b) = ipc_counts(field.data_type())?;
        let (len, nulls) = (node.length(), node.null_count());
        if len != rows || nulls < 0 || nulls > len {
            return Err(Error::invalid_batch(format!("Arrow field node of '{}' has length {len} and {nulls} nulls in a {rows}-row batch", field.name())));
        }
        if n == 1 && nulls > 0 && decoded[buffer_at] < (len + 7) / 8 {
            return Err(Error::invalid_batch(format!("validity bitmap of '{}' is shorter than its {len} rows", field.name())));
        }
        if matches!(field.data_type(), arrow_schema::DataType::Utf8 | arrow_schema::DataType::Binary) && decoded[buffer_at + 1] % 4 != 0 {
            return Err(Error::invalid_batch(format!("offsets of '{}' are not a whole number of i32", field.name())));
        }
        buffer_at += b;
    }
    Ok(())
}

pub fn checked_decode(message: &Buffer, schema: SchemaRef, require_alignment: bool) -> Result<RecordBatch> {
    check_metadata(message.as_slice(), &schema)?;
    ipc::decode(message, schema, require_alignment)
}

fn schema() -> Schema {
    Schema { id: 1, columns: vec![
        Column::not_null("id", DataType::BigInt), Column::new("name", DataType::String),
        Column::new("price", DataType::Decimal { precision: 30, scale: 5 }), Column::new("flag", DataType::Boolean),
        Column::new("blob", DataType::Bytes), Column::new("score", DataType::Double),
        Column::new("ts", DataType::TimestampLtz { precision: 6 }),
    ]}
}
fn rows(n: usize) -> RecordBatch {
    let n64 = n as i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n64)),
        Arc::new(StringArray::from_iter((0..n).map(|i| (i % 3 != 0).then(|| format!("name-{i}"))))),
        Arc::new(Decimal128Array::from_iter((0..n).map(|i| (i % 4 != 1).then_some(i as i128 * 1_000_003))).with_precision_and_scale(30, 5).unwrap()),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 5 != 2).then_some(i % 2 == 0)))),
        Arc::new(BinaryArray::from_iter((0..n).map(|i| (i % 2 == 0).then(|| vec![i as u8; i % 7])))),
        Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 6 != 3).then_some(i as f64 * 0.25)))),
        Arc::new(TimestampMicrosecondArray::from_iter((0..n).map(|i| (i % 8 != 5).then_some(n64 * 1_000_000 + i as i64))).with_timezone("UTC")),
    ];
    RecordBatch::try_new(schema().to_arrow(), columns).unwrap()
}
fn aligned(bytes: &[u8]) -> Buffer { let mut b = MutableBuffer::with_capacity(bytes.len()); b.extend_from_slice(bytes); b.into() }

#[test]
fn sweep() {
    let cycle = [ChangeType::Insert, ChangeType::UpdateBefore, ChangeType::UpdateAfter, ChangeType::Delete];
    let types: Vec<ChangeType> = (0..6).map(|i| cycle[i % 4]).collect();
    let mut panics = 0; let mut oks = 0; let mut errs = 0; let mut rng = 0x9E3779B97F4A7C15u64;
    for compression in [Compression::None, Compression::Lz4Frame, Compression::Zstd] {
        for ct in [None, Some(&types[..])] {
            let opts = BuildOptions { compression, writer_id: 1, batch_sequence: 1, statistics: true };
            let batch = build(&schema(), &rows(6), ct, &opts).unwrap();
            let ipc_at = BatchView::parse(&batch).unwrap().ipc_range().start;
            let msg = &batch[ipc_at..];
            let mut cases: Vec<Vec<u8>> = Vec::new();
            for at in 0..msg.len() { for mask in [1u8, 0x80, 0xFF, 0x10, 0x40] { let mut m = msg.to_vec(); m[at] ^= mask; cases.push(m); } }
            for _ in 0..100000 { let mut m = msg.to_vec(); for _ in 0..3 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; let at = (rng % m.len() as u64) as usize; m[at] ^= (rng >> 40) as u8 | 1; } cases.push(m); }
            for m in cases {
                let buf = aligned(&m);
                for req in [false, true] {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| checked_decode(&buf, schema().to_arrow(), req))) {
                    Ok(Ok(_)) => oks += 1, Ok(Err(_)) => errs += 1, Err(_) => panics += 1,
                }
                }
            }
        }
    }
    eprintln!("SWEEP ok {oks} err {errs} panic {panics}");
    assert_eq!(panics, 0);
}
