//! Zero-copy projection of stored batches.
//!
//! For every Arrow type the Fluss types map to, with and without nulls, under every
//! compression and for several column choices, the projected batch
//! (a) takes every column byte as a slice of the source buffer's memory, and nothing else from
//!     anywhere but a new header, a new IPC prefix + metadata and zero padding;
//! (b) parses as a batch with the new length, no statistics and the source's base offset,
//!     record count and change types;
//! (c) decodes, with alignment required, to exactly `RecordBatch::project` of the source rows.
//! The size of what projection creates does not depend on the row count.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, FixedSizeBinaryArray, Int64Array, PrimitiveArray,
    RecordBatch, StringArray,
};
use arrow_buffer::{Buffer, MutableBuffer};
use arrow_schema::{DataType as ArrowType, Schema as ArrowSchema, SchemaRef, TimeUnit};
use proptest::prelude::*;
use rill_engine::batch::header::stamp;
use rill_engine::batch::{build, ipc, project, BatchView, BuildOptions, ChangeType, Compression, ProjectedBatch};
use rill_engine::schema::{Column, DataType, Schema};

const BASE_OFFSET: i64 = 4_242;
const COMMIT_TIMESTAMP_MS: i64 = 1_700_000_000_123;
const WRITER_ID: i64 = 77;
const BATCH_SEQUENCE: i32 = 5;
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Lz4Frame, Compression::Zstd];

// ---------------------------------------------------------------------------------------------
// Data generation

/// SplitMix64: deterministic data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `p` (0.0 never, 1.0 always).
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Every Fluss type, one column each: all the Arrow types `DataType::to_arrow` produces.
fn all_fluss_types() -> Vec<DataType> {
    let mut types = vec![
        DataType::Boolean,
        DataType::TinyInt,
        DataType::SmallInt,
        DataType::Int,
        DataType::BigInt,
        DataType::Float,
        DataType::Double,
        DataType::Decimal { precision: 10, scale: 2 },
        DataType::Decimal { precision: 30, scale: 5 },
        DataType::String,
        DataType::Char { length: 5 },
        DataType::Bytes,
        DataType::Binary { length: 4 },
        DataType::Date,
    ];
    for precision in [0, 3, 6, 9] {
        types.push(DataType::Time { precision });
    }
    for precision in [0, 3, 6, 9] {
        types.push(DataType::Timestamp { precision });
        types.push(DataType::TimestampLtz { precision });
    }
    types
}

/// A schema with one column per type; `nullable` decides each column's nullability.
fn schema_of(types: &[DataType], nullable: impl Fn(usize) -> bool) -> Schema {
    let columns = types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let name = format!("c{i}");
            if nullable(i) {
                Column::new(name, *ty)
            } else {
                Column::not_null(name, *ty)
            }
        })
        .collect();
    Schema { id: 3, columns }
}

fn primitive<T: ArrowPrimitiveType>(valid: &[bool], mut value: impl FnMut() -> T::Native) -> PrimitiveArray<T> {
    valid.iter().map(|&v| if v { Some(value()) } else { None }).collect()
}

/// A random array of `data_type` whose values are null with probability `null_density`.
fn make_array(data_type: &ArrowType, rows: usize, null_density: f64, rng: &mut Rng) -> ArrayRef {
    use ArrowType as T;
    let valid: Vec<bool> = (0..rows).map(|_| !rng.chance(null_density)).collect();
    let r = rng;
    match data_type {
        T::Boolean => Arc::new(valid.iter().map(|&v| v.then(|| r.chance(0.5))).collect::<BooleanArray>()),
        T::Int8 => Arc::new(primitive::<Int8Type>(&valid, || r.next() as i8)),
        T::Int16 => Arc::new(primitive::<Int16Type>(&valid, || r.next() as i16)),
        T::Int32 => Arc::new(primitive::<Int32Type>(&valid, || r.next() as i32)),
        T::Int64 => Arc::new(primitive::<Int64Type>(&valid, || r.next() as i64)),
        T::Float32 => Arc::new(primitive::<Float32Type>(&valid, || r.below(1 << 20) as f32 / 8.0 - 1000.0)),
        T::Float64 => Arc::new(primitive::<Float64Type>(&valid, || r.next() as i64 as f64 / 1e6)),
        T::Decimal128(precision, scale) => {
            let bound = 10i128.pow(u32::from(*precision));
            let array = primitive::<Decimal128Type>(&valid, || {
                let wide = (i128::from(r.next()) << 64) | i128::from(r.next());
                wide.rem_euclid(2 * bound - 1) - (bound - 1)
            });
            Arc::new(array.with_precision_and_scale(*precision, *scale).unwrap())
        }
        T::Utf8 => {
            let values = valid.iter().map(|&v| {
                v.then(|| {
                    let len = r.below(13) as usize;
                    (0..len).map(|_| char::from(b'a' + r.below(26) as u8)).collect::<String>()
                })
            });
            Arc::new(values.collect::<StringArray>())
        }
        T::Binary => {
            let values = valid.iter().map(|&v| {
                v.then(|| {
                    let len = r.below(20) as usize;
                    r.bytes(len)
                })
            });
            Arc::new(values.collect::<BinaryArray>())
        }
        T::FixedSizeBinary(width) => {
            let values: Vec<Option<Vec<u8>>> = valid.iter().map(|&v| v.then(|| r.bytes(*width as usize))).collect();
            Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(values.into_iter(), *width).unwrap())
        }
        T::Date32 => Arc::new(primitive::<Date32Type>(&valid, || r.below(40_000) as i32 - 10_000)),
        T::Time32(TimeUnit::Second) => Arc::new(primitive::<Time32SecondType>(&valid, || r.below(86_400) as i32)),
        T::Time32(_) => Arc::new(primitive::<Time32MillisecondType>(&valid, || r.below(86_400_000) as i32)),
        T::Time64(TimeUnit::Microsecond) => {
            Arc::new(primitive::<Time64MicrosecondType>(&valid, || r.below(86_400_000_000) as i64))
        }
        T::Time64(_) => Arc::new(primitive::<Time64NanosecondType>(&valid, || r.below(86_400_000_000_000) as i64)),
        T::Timestamp(unit, tz) => {
            let value = || r.below(1 << 62) as i64 - (1 << 61);
            match unit {
                TimeUnit::Second => {
                    Arc::new(primitive::<TimestampSecondType>(&valid, value).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Millisecond => {
                    Arc::new(primitive::<TimestampMillisecondType>(&valid, value).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Microsecond => {
                    Arc::new(primitive::<TimestampMicrosecondType>(&valid, value).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(primitive::<TimestampNanosecondType>(&valid, value).with_timezone_opt(tz.clone()))
                }
            }
        }
        other => panic!("no generator for {other}"),
    }
}

/// Random rows for `schema`; a NOT NULL column gets no nulls whatever its density.
fn make_batch(schema: &Schema, rows: usize, null_density: &[f64], rng: &mut Rng) -> RecordBatch {
    let arrow = schema.to_arrow();
    let columns = arrow
        .fields()
        .iter()
        .zip(null_density)
        .map(|(field, &density)| {
            let density = if field.is_nullable() { density } else { 0.0 };
            make_array(field.data_type(), rows, density, rng)
        })
        .collect();
    RecordBatch::try_new(arrow, columns).unwrap()
}

fn change_types_for(rows: usize) -> Vec<ChangeType> {
    let cycle = [ChangeType::Insert, ChangeType::UpdateBefore, ChangeType::UpdateAfter, ChangeType::Delete];
    (0..rows).map(|i| cycle[i % cycle.len()]).collect()
}

/// Builds and stamps a stored batch; the returned buffer owns its bytes.
fn stored_batch(
    schema: &Schema,
    batch: &RecordBatch,
    change_types: Option<&[ChangeType]>,
    compression: Compression,
    statistics: bool,
) -> Buffer {
    let options = BuildOptions { compression, writer_id: WRITER_ID, batch_sequence: BATCH_SEQUENCE, statistics };
    let mut bytes = build(schema, batch, change_types, &options).unwrap();
    stamp(&mut bytes, BASE_OFFSET, COMMIT_TIMESTAMP_MS).unwrap();
    Buffer::from_vec(bytes)
}

/// Copies `bytes` to the start of a fresh 64-byte-aligned allocation.
fn aligned(bytes: &[u8]) -> Buffer {
    let mut buffer = MutableBuffer::with_capacity(bytes.len());
    buffer.extend_from_slice(bytes);
    let buffer: Buffer = buffer.into();
    assert_eq!(buffer.as_ptr() as usize % 64, 0, "MutableBuffer is 64-byte aligned");
    buffer
}

// ---------------------------------------------------------------------------------------------
// Reading the source independently of rill's projection code

/// IPC buffers per column of this type (validity + values, + offsets for variable width).
fn buffers_per_column(data_type: &ArrowType) -> usize {
    match data_type {
        ArrowType::Utf8 | ArrowType::Binary => 3,
        _ => 2,
    }
}

/// For each column, the (position in the whole batch, length) of each of its IPC buffers,
/// read from the message's own flatbuffer.
fn column_buffers(batch: &[u8], arrow: &ArrowSchema) -> Vec<Vec<(usize, usize)>> {
    let view = BatchView::parse(batch).unwrap();
    let message = view.ipc_bytes();
    assert_eq!(&message[..4], &[0xFF; 4], "continuation marker");
    let metadata_len = i32::from_le_bytes(message[4..8].try_into().unwrap()) as usize;
    let body_base = view.ipc_range().start + 8 + metadata_len.next_multiple_of(8);
    let fb = arrow_ipc::root_as_message(&message[8..8 + metadata_len]).unwrap();
    let buffers = fb.header_as_record_batch().unwrap().buffers().unwrap();
    let mut at = 0;
    let per_column = arrow
        .fields()
        .iter()
        .map(|field| {
            let n = buffers_per_column(field.data_type());
            let column = (at..at + n)
                .map(|i| {
                    let b = buffers.get(i);
                    (body_base + b.offset() as usize, b.length() as usize)
                })
                .collect();
            at += n;
            column
        })
        .collect();
    assert_eq!(at, buffers.len(), "the schema accounts for every buffer");
    per_column
}

/// The metadata length field of the IPC message at the start of `message`.
fn metadata_len(message: &[u8]) -> usize {
    i32::from_le_bytes(message[4..8].try_into().unwrap()) as usize
}

/// A part of a projected batch: a slice of the source, or bytes projection created.
#[derive(Debug)]
enum Part {
    /// (position in the source, length)
    Source(usize, usize),
    Own(Buffer),
}

fn classify(source: &Buffer, projected: &ProjectedBatch) -> Vec<Part> {
    let (src_start, src_end) = (source.as_ptr() as usize, source.as_ptr() as usize + source.len());
    projected
        .parts
        .iter()
        .map(|part| {
            let (start, end) = (part.as_ptr() as usize, part.as_ptr() as usize + part.len());
            assert!(!part.is_empty(), "projection emits no empty parts");
            if start >= src_start && end <= src_end {
                Part::Source(start - src_start, part.len())
            } else {
                assert!(end <= src_start || start >= src_end, "a part half inside the source allocation");
                Part::Own(part.clone())
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The checks

/// One projection case: a stored batch and the columns to keep.
struct Case<'a> {
    schema: &'a Schema,
    rows: &'a RecordBatch,
    change_types: Option<&'a [ChangeType]>,
    compression: Compression,
    source: &'a Buffer,
}

/// What projection produced that did not come from the source: (non-padding bytes, padding bytes).
fn check_projection(case: &Case<'_>, columns: &[usize]) -> (usize, usize) {
    let arrow = case.schema.to_arrow();
    let what = format!("{:?} columns {columns:?}", case.compression);
    let projected = project(case.source, &arrow, columns).unwrap();
    assert_eq!(projected.parts.iter().map(Buffer::len).sum::<usize>(), projected.len, "{what}");
    let own = check_zero_copy(case, &arrow, columns, &projected, &what);
    let bytes = projected.to_vec();
    check_header(case, &bytes, &what);
    check_decodes(case, &arrow, columns, &bytes, &what);
    own
}

/// (a): the source parts are exactly the change types and the chosen buffers, in order.
fn check_zero_copy(
    case: &Case<'_>,
    arrow: &ArrowSchema,
    columns: &[usize],
    projected: &ProjectedBatch,
    what: &str,
) -> (usize, usize) {
    let source_view = BatchView::parse(case.source.as_slice()).unwrap();
    let all_buffers = column_buffers(case.source.as_slice(), arrow);
    let mut expected: Vec<(usize, usize)> = Vec::new();
    if case.change_types.is_some() {
        let range = source_view.change_type_range();
        expected.push((range.start, range.len()));
    }
    let chosen: Vec<(usize, usize)> = columns.iter().flat_map(|&c| all_buffers[c].iter().copied()).collect();
    expected.extend(chosen.iter().copied().filter(|&(_, len)| len > 0));

    let parts = classify(case.source, projected);
    let taken: Vec<(usize, usize)> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Source(at, len) => Some((*at, *len)),
            Part::Own(_) => None,
        })
        .collect();
    assert_eq!(taken, expected, "{what}: the source slices are the change types and chosen buffers");
    let taken_bytes: usize = taken.iter().map(|t| t.1).sum();
    let chosen_bytes: usize = chosen.iter().map(|t| t.1).sum::<usize>() + case.change_types.map_or(0, <[_]>::len);
    assert_eq!(taken_bytes, chosen_bytes, "{what}: bytes taken from the source");

    // Own parts: the head (header, IPC prefix, metadata) then only zero padding.
    let head_parts = if case.change_types.is_some() { 3 } else { 1 };
    let mut head_bytes = 0;
    let mut padding_bytes = 0;
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Own(buffer) if i < head_parts => head_bytes += buffer.len(),
            Part::Own(buffer) => {
                assert!(buffer.len() < 64, "{what}: padding part {i} of {} bytes", buffer.len());
                assert!(buffer.iter().all(|&b| b == 0), "{what}: part {i} is not zero padding");
                padding_bytes += buffer.len();
            }
            Part::Source(..) if i == 1 && head_parts == 3 => {}
            Part::Source(..) => assert!(i >= head_parts, "{what}: part {i} is a source slice inside the head"),
        }
    }
    let header_len = source_view.header.magic.header_len();
    let message_at = header_len + case.change_types.map_or(0, <[_]>::len);
    let bytes = projected.to_vec();
    let metadata = metadata_len(&bytes[message_at..]);
    assert_eq!(head_bytes, header_len + 8 + metadata, "{what}: the head is header + IPC prefix + metadata");
    (head_bytes, padding_bytes)
}

/// (b): the projected header.
fn check_header(case: &Case<'_>, bytes: &[u8], what: &str) {
    let source = BatchView::parse(case.source.as_slice()).unwrap().header;
    let view = BatchView::parse(bytes).unwrap();
    let h = view.header;
    assert_eq!(h.length as usize, bytes.len() - 12, "{what}: length field");
    assert_eq!(h.statistics_length, 0, "{what}: statistics dropped");
    assert!(view.stats_bytes().is_empty(), "{what}");
    assert_eq!(
        (h.base_offset, h.record_count, h.last_offset_delta, h.magic, h.schema_id, h.attributes),
        (
            source.base_offset,
            source.record_count,
            source.last_offset_delta,
            source.magic,
            source.schema_id,
            source.attributes
        ),
        "{what}"
    );
    assert_eq!(
        (h.commit_timestamp, h.leader_epoch, h.writer_id, h.batch_sequence, h.crc),
        (source.commit_timestamp, source.leader_epoch, source.writer_id, source.batch_sequence, source.crc),
        "{what}: the other header fields, CRC included, are kept"
    );
    let expected_types =
        case.change_types.map_or_else(|| vec![ChangeType::AppendOnly; case.rows.num_rows()], <[_]>::to_vec);
    assert_eq!(view.change_types().unwrap(), expected_types, "{what}");
}

/// (c): both messages decode, with alignment required, to the right rows; for uncompressed
/// messages every decoded buffer lies inside the message, i.e. nothing was copied.
///
/// One exception, arrow-rs's and not projection's: a compressed buffer arrow-rs stored raw
/// (prefix -1, compressing did not pay) starts 8 bytes into its 64-byte slot, so a
/// Decimal128 buffer stored that way is misaligned for i128 and arrow refuses it when
/// alignment is required, in the source as much as in the projection. Only that error is
/// tolerated, and then the message is decoded again without the requirement.
fn check_decodes(case: &Case<'_>, arrow: &ArrowSchema, columns: &[usize], bytes: &[u8], what: &str) {
    let view = BatchView::parse(bytes).unwrap();
    let message = aligned(view.ipc_bytes());
    let schema = Arc::new(arrow.project(columns).unwrap());
    let decoded = decode_aligned(case.compression, &message, schema, &format!("{what}: projection"));
    assert_eq!(decoded, case.rows.project(columns).unwrap(), "{what}: projected rows");
    if case.compression == Compression::None {
        assert_in_place(&decoded, &message, what);
    }

    let source = BatchView::parse(case.source.as_slice()).unwrap();
    let message = aligned(source.ipc_bytes());
    let decoded = decode_aligned(case.compression, &message, case.schema.to_arrow(), &format!("{what}: source"));
    assert_eq!(&decoded, case.rows, "{what}: source rows");
    if case.compression == Compression::None {
        assert_in_place(&decoded, &message, what);
    }
}

/// `ipc::decode` with `require_alignment = true`, tolerating only the raw-stored compressed
/// Decimal128 case described on [`check_decodes`].
fn decode_aligned(compression: Compression, message: &Buffer, schema: SchemaRef, what: &str) -> RecordBatch {
    match ipc::decode(message, Arc::clone(&schema), true) {
        Ok(batch) => batch,
        Err(e) => {
            let text = e.to_string();
            let raw_decimal = text.contains("Misaligned") && text.contains("Decimal128");
            assert!(compression != Compression::None && raw_decimal, "{what}: {text}");
            ipc::decode(message, schema, false).unwrap_or_else(|e| panic!("{what}: {e}"))
        }
    }
}

/// Every value buffer of every decoded column lies inside `message`: nothing was copied.
fn assert_in_place(decoded: &RecordBatch, message: &Buffer, what: &str) {
    let (start, end) = (message.as_ptr() as usize, message.as_ptr() as usize + message.len());
    for (i, column) in decoded.columns().iter().enumerate() {
        let data = column.to_data();
        for buffer in data.buffers().iter().filter(|b| !b.is_empty()) {
            let at = buffer.as_ptr() as usize;
            assert!(at >= start && at + buffer.len() <= end, "{what}: column {i} was copied on decode");
        }
    }
}

/// Single columns, first, last, every other (both phases) and all.
fn projections(columns: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = (0..columns).map(|c| vec![c]).collect();
    out.push((0..columns).step_by(2).collect());
    out.push((1..columns).step_by(2).collect());
    out.push((0..columns).collect());
    out.push(vec![0, columns - 1]);
    out
}

/// The validity buffer (the first buffer) of each column.
fn validity_lengths(source: &Buffer, arrow: &ArrowSchema) -> Vec<usize> {
    column_buffers(source.as_slice(), arrow).iter().map(|c| c[0].1).collect()
}

fn run_all_types(with_nulls: bool) {
    let types = all_fluss_types();
    // Without nulls, alternate nullable and NOT NULL columns: both must give empty validity.
    let schema = if with_nulls { schema_of(&types, |_| true) } else { schema_of(&types, |i| i % 2 == 0) };
    let density = if with_nulls { 0.3 } else { 0.0 };
    let mut rng = Rng(if with_nulls { 1 } else { 2 });
    let rows = make_batch(&schema, 333, &vec![density; types.len()], &mut rng);
    let change_types = change_types_for(rows.num_rows());
    let arrow = schema.to_arrow();
    for compression in COMPRESSIONS {
        for (changelog, statistics) in [(false, false), (true, true)] {
            let change_types = changelog.then_some(change_types.as_slice());
            let source = stored_batch(&schema, &rows, change_types, compression, statistics);
            let validity = validity_lengths(&source, &arrow);
            if with_nulls {
                assert!(validity.iter().all(|&l| l > 0), "{compression:?}: every column has a bitmap: {validity:?}");
            } else {
                assert!(validity.iter().all(|&l| l == 0), "{compression:?}: no column has a bitmap: {validity:?}");
            }
            let case = Case { schema: &schema, rows: &rows, change_types, compression, source: &source };
            for columns in projections(types.len()) {
                check_projection(&case, &columns);
            }
        }
    }
}

#[test]
fn every_type_with_nulls_projects_without_copying() {
    run_all_types(true);
}

#[test]
fn every_type_without_nulls_projects_without_copying() {
    run_all_types(false);
}

#[test]
fn all_null_and_single_row_columns_project() {
    let types = all_fluss_types();
    let schema = schema_of(&types, |_| true);
    for (rows, density) in [(1, 0.0), (1, 1.0), (64, 1.0), (65, 1.0), (8, 0.5)] {
        let mut rng = Rng(rows as u64);
        let batch = make_batch(&schema, rows, &vec![density; types.len()], &mut rng);
        for compression in COMPRESSIONS {
            let source = stored_batch(&schema, &batch, None, compression, false);
            let case = Case { schema: &schema, rows: &batch, change_types: None, compression, source: &source };
            for columns in projections(types.len()) {
                check_projection(&case, &columns);
            }
        }
    }
}

#[test]
fn an_empty_batch_projects_to_itself() {
    let types = all_fluss_types();
    let schema = schema_of(&types, |_| true);
    let batch = make_batch(&schema, 0, &vec![0.0; types.len()], &mut Rng(9));
    for compression in COMPRESSIONS {
        let source = stored_batch(&schema, &batch, None, compression, false);
        let projected = project(&source, &schema.to_arrow(), &[1, 2]).unwrap();
        assert_eq!(projected.parts.len(), 1);
        assert_eq!(projected.parts[0].as_ptr(), source.as_ptr(), "the whole source, not a copy");
        assert_eq!(projected.to_vec(), source.as_slice());
    }
}

/// Body start (IPC prefix + metadata) of the message in `batch`, relative to the message.
fn body_start(batch: &[u8]) -> usize {
    let view = BatchView::parse(batch).unwrap();
    8 + metadata_len(view.ipc_bytes()).next_multiple_of(8)
}

#[test]
fn source_messages_start_their_body_on_a_64_byte_boundary() {
    // arrow-rs pads prefix + metadata to its 64-byte alignment; so the body of a message
    // placed at a 64-byte boundary is 64-byte aligned.
    let types = all_fluss_types();
    let schema = schema_of(&types, |_| true);
    let batch = make_batch(&schema, 100, &vec![0.2; types.len()], &mut Rng(5));
    for compression in COMPRESSIONS {
        let source = stored_batch(&schema, &batch, None, compression, false);
        assert_eq!(body_start(source.as_slice()) % 64, 0, "{compression:?}");
    }
}

#[test]
fn projected_messages_start_their_body_on_a_64_byte_boundary() {
    let types = all_fluss_types();
    let schema = schema_of(&types, |_| true);
    let batch = make_batch(&schema, 100, &vec![0.2; types.len()], &mut Rng(5));
    let arrow = schema.to_arrow();
    let mut misaligned = Vec::new();
    for compression in COMPRESSIONS {
        let source = stored_batch(&schema, &batch, None, compression, false);
        for columns in projections(types.len()) {
            let projected = project(&source, &arrow, &columns).unwrap().to_vec();
            let at = body_start(&projected);
            if at % 64 != 0 {
                misaligned.push(format!("{compression:?} {columns:?}: body at {at}"));
            }
        }
    }
    assert!(misaligned.is_empty(), "{} projections: {:?}", misaligned.len(), &misaligned[..misaligned.len().min(5)]);
}

// ---------------------------------------------------------------------------------------------
// Row-count independence

fn wide_int64(rows: usize, compression: Compression) -> (Buffer, ProjectedBatch, Vec<u8>) {
    let columns = 200;
    let schema = schema_of(&vec![DataType::BigInt; columns], |_| false);
    let mut rng = Rng(rows as u64);
    let values: ArrayRef = Arc::new(Int64Array::from_iter_values((0..rows).map(|_| rng.below(1 << 40) as i64)));
    let batch = RecordBatch::try_new(schema.to_arrow(), vec![values; columns]).unwrap();
    let source = stored_batch(&schema, &batch, None, compression, false);
    let chosen: Vec<usize> = (7..columns).step_by(20).collect();
    assert_eq!(chosen.len(), 10);
    let case = Case { schema: &schema, rows: &batch, change_types: None, compression, source: &source };
    check_projection(&case, &chosen);
    let projected = project(&source, &schema.to_arrow(), &chosen).unwrap();
    let head = projected.parts[0].as_slice().to_vec();
    (source, projected, head)
}

#[test]
fn projection_metadata_does_not_grow_with_rows() {
    for compression in COMPRESSIONS {
        let (small_source, small, small_head) = wide_int64(1_000, compression);
        let (large_source, large, large_head) = wide_int64(100_000, compression);
        let header_len = BatchView::parse(small_source.as_slice()).unwrap().header.magic.header_len();
        assert_eq!(
            metadata_len(&small_head[header_len..]),
            metadata_len(&large_head[header_len..]),
            "{compression:?}: IPC metadata length"
        );
        assert_eq!(small_head.len(), large_head.len(), "{compression:?}: head part");
        assert_eq!(small.parts.len(), large.parts.len(), "{compression:?}: number of parts");
        let own = |source: &Buffer, projected: &ProjectedBatch| -> usize {
            classify(source, projected)
                .iter()
                .map(|p| match p {
                    Part::Own(b) => b.len(),
                    Part::Source(..) => 0,
                })
                .sum()
        };
        // Head plus at most 63 bytes of padding per chosen buffer, whatever the row count.
        assert!(own(&large_source, &large) <= large_head.len() + 20 * 63, "{compression:?}");
        assert!(own(&small_source, &small) <= small_head.len() + 20 * 63, "{compression:?}");
        let ratio = large.len as f64 / large_source.len() as f64;
        assert!(ratio < 0.06, "{compression:?}: 10 of 200 columns is {:.1}% of the bytes", ratio * 100.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Random cases

fn mixed_schema() -> Schema {
    schema_of(
        &[
            DataType::BigInt,
            DataType::String,
            DataType::Decimal { precision: 30, scale: 5 },
            DataType::Boolean,
            DataType::Bytes,
            DataType::TimestampLtz { precision: 6 },
        ],
        |i| i != 0,
    )
}

fn compression_strategy() -> impl Strategy<Value = Compression> {
    prop_oneof![Just(Compression::None), Just(Compression::Lz4Frame), Just(Compression::Zstd)]
}

fn density_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_batches_project_without_copying(
        rows in 0usize..2000,
        densities in prop::collection::vec(density_strategy(), 6),
        columns in prop::collection::btree_set(0usize..6, 1..=6),
        compression in compression_strategy(),
        changelog in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let schema = mixed_schema();
        let batch = make_batch(&schema, rows, &densities, &mut Rng(seed));
        let change_types = change_types_for(rows);
        let change_types = changelog.then_some(change_types.as_slice());
        let source = stored_batch(&schema, &batch, change_types, compression, false);
        let columns: Vec<usize> = columns.into_iter().collect();
        if rows == 0 {
            let projected = project(&source, &schema.to_arrow(), &columns).unwrap();
            prop_assert_eq!(projected.to_vec(), source.as_slice().to_vec());
        } else {
            let case = Case { schema: &schema, rows: &batch, change_types, compression, source: &source };
            check_projection(&case, &columns);
        }
    }
}
