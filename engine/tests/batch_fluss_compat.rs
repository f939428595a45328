//! rill's LogRecordBatch against the official Fluss Rust client, fluss-rs 1.0.0.
//!
//! What the tests show (each names its direction):
//! - `rill_and_fluss_map_every_type_to_the_same_arrow_schema`: rill's `Schema::to_arrow` and
//!   fluss's `to_arrow_schema` agree for every supported type and precision, so the client
//!   decodes rill's Arrow payload with the schema rill encoded it with.
//! - rill -> fluss: `fluss_reads_rill_batches_of_every_type`,
//!   `fluss_reads_projections_of_rill_batches`, `fluss_reads_a_fetch_blob_of_several_rill_batches`,
//!   `fluss_reads_change_types_of_a_rill_changelog`: batches rill builds (all types, nulls,
//!   NONE / LZ4_FRAME / ZSTD, stamped with a base offset and commit timestamp, projected or
//!   not, append-only or changelog) are read by the client's batch reader with the right
//!   header fields, CRC, offsets, timestamps, change types and values (row getters and Arrow).
//! - fluss -> rill: `rill_reads_fluss_v0_batches`, `rill_projects_fluss_batches_for_fluss`,
//!   `rill_reads_a_fluss_v1_batch_with_java_statistics`: batches the client's writer builds
//!   parse in rill with a valid CRC and the right header, decode to the client's Arrow batch,
//!   and rill's projection of them is read back by the client.
//! - statistics: fluss-rs only writes statistics (it has no reader for them), so "fluss reads
//!   rill's statistics" means it skips the section correctly
//!   (`fluss_reads_rill_batches_with_statistics`, `fluss_reads_rill_changelogs_with_statistics`).
//!   The byte-level reference is the Java/fluss-rs fixture `statistics_block.hex`: rill decodes
//!   it (`rill_decodes_the_java_statistics_fixture`), and rill's block for the same rows has
//!   Java's head and Java's slot bytes for every fixed-slot value and short string, with
//!   non-compact timestamps widened to whole milliseconds
//!   (`rill_statistics_of_the_fixture_batch_match_java`).
//!
//! The client's batch codec is crate-private in fluss-rs 1.0.0; `common::fluss_oracle`
//! transcribes its framing and calls its public API for everything typed (see that module).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, PrimitiveArray, RecordBatch,
    StringArray, Time32MillisecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
};
use arrow::buffer::{Buffer, MutableBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow::ipc::CompressionType;
use common::fluss_oracle::{self, FlussReadContext, LogRecordBatch, WriteSpec};
use fluss::metadata::{DataField, DataTypes, RowType};
use fluss::record::{to_arrow_schema, ChangeType as FlussChangeType, ScanRecord};
use fluss::row::{DataGetters, Date, Decimal, GenericRow, InternalRow, Time, TimestampLtz, TimestampNtz};
use rill_engine::batch::header::stamp;
use rill_engine::batch::stats::{self, Scalar};
use rill_engine::batch::{build, ipc, project, BatchView, BuildOptions, ChangeType, Compression, Magic};
use rill_engine::schema::{Column, DataType, Schema};

const ROWS: usize = 37;
const SCHEMA_ID: i16 = 5;
const WRITER_ID: i64 = 7_000_000_001;
const BATCH_SEQUENCE: i32 = 42;
const BASE_OFFSET: i64 = 1_000_000;
const COMMIT_TIMESTAMP_MS: i64 = 1_700_000_000_123;
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Lz4Frame, Compression::Zstd];

// ---------------------------------------------------------------------------------------------
// Schemas

/// Every type rill supports, nullable, plus NOT NULL first and last columns and a column whose
/// values are all null.
fn all_types_schema() -> Schema {
    let c = Column::new;
    let mut schema = Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        c("b", DataType::Boolean),
        c("i8", DataType::TinyInt),
        c("i16", DataType::SmallInt),
        c("i32", DataType::Int),
        c("i64", DataType::BigInt),
        c("f32", DataType::Float),
        c("f64", DataType::Double),
        c("dec10", DataType::Decimal { precision: 10, scale: 2 }),
        c("dec30", DataType::Decimal { precision: 30, scale: 5 }),
        c("ch5", DataType::Char { length: 5 }),
        c("s", DataType::String),
        c("bin4", DataType::Binary { length: 4 }),
        c("bytes", DataType::Bytes),
        c("date", DataType::Date),
        c("t0", DataType::Time { precision: 0 }),
        c("t3", DataType::Time { precision: 3 }),
        c("t6", DataType::Time { precision: 6 }),
        c("t9", DataType::Time { precision: 9 }),
        c("ts3", DataType::Timestamp { precision: 3 }),
        c("ts6", DataType::Timestamp { precision: 6 }),
        c("ts9", DataType::Timestamp { precision: 9 }),
        c("ltz3", DataType::TimestampLtz { precision: 3 }),
        c("ltz6", DataType::TimestampLtz { precision: 6 }),
        c("ltz9", DataType::TimestampLtz { precision: 9 }),
        c("nothing", DataType::String),
        Column::not_null("dec30nn", DataType::Decimal { precision: 30, scale: 5 }),
        Column::not_null("tail", DataType::String),
    ]);
    schema.id = SCHEMA_ID;
    schema
}

/// The Fluss type of a rill column, built with fluss-rs's `DataTypes`.
fn fluss_type(column: &Column) -> fluss::metadata::DataType {
    let t = match column.data_type {
        DataType::Boolean => DataTypes::boolean(),
        DataType::TinyInt => DataTypes::tinyint(),
        DataType::SmallInt => DataTypes::smallint(),
        DataType::Int => DataTypes::int(),
        DataType::BigInt => DataTypes::bigint(),
        DataType::Float => DataTypes::float(),
        DataType::Double => DataTypes::double(),
        DataType::Decimal { precision, scale } => DataTypes::decimal(precision.into(), scale.into()),
        DataType::Char { length } => DataTypes::char(length),
        DataType::String => DataTypes::string(),
        DataType::Binary { length } => DataTypes::binary(length as usize),
        DataType::Bytes => DataTypes::bytes(),
        DataType::Date => DataTypes::date(),
        DataType::Time { precision } => DataTypes::time_with_precision(precision.into()),
        DataType::Timestamp { precision } => DataTypes::timestamp_with_precision(precision.into()),
        DataType::TimestampLtz { precision } => DataTypes::timestamp_ltz_with_precision(precision.into()),
        other => panic!("no Fluss type for {other}"),
    };
    if column.nullable {
        t
    } else {
        t.as_non_nullable()
    }
}

fn fluss_row_type(schema: &Schema) -> RowType {
    RowType::new(schema.columns.iter().map(|c| DataField::new(c.name.clone(), fluss_type(c), None)).collect())
}

// ---------------------------------------------------------------------------------------------
// Data

fn mix(row: usize, col: usize, salt: u64) -> u64 {
    let mut z = (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (col as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ salt.wrapping_mul(0x1656_67B1_9E37_79F9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Rows 1 and 2 (mod 11) take the type's extremes.
fn pick<T>(row: usize, min: T, max: T, value: T) -> T {
    match row % 11 {
        1 => min,
        2 => max,
        _ => value,
    }
}

const STRINGS: [&str; 8] = [
    "",
    "a",
    "rill",
    "seven77",
    "eight888",
    "héllo wörld",
    "日本語のテキスト",
    "a longer string that spans many bytes so that it lands in the variable-length area",
];
const CHARS5: [&str; 5] = ["", "x", "abcde", "héllo", "日本語"];

fn prim<T: ArrowPrimitiveType>(
    rows: usize,
    present: impl Fn(usize) -> bool,
    f: impl Fn(usize) -> T::Native,
) -> PrimitiveArray<T> {
    (0..rows).map(|r| present(r).then(|| f(r))).collect()
}

/// `span` on each side of zero, from a hash.
fn spread(h: u64, span: i64) -> i64 {
    (i128::from(h % (2 * span as u64)) - i128::from(span)) as i64
}

/// A column of `rows` deterministic values for `column` (position `col`); nullable columns get
/// nulls in a pattern that depends on `salt`.
fn sample_column(column: &Column, col: usize, rows: usize, salt: u64) -> ArrayRef {
    let present =
        |r: usize| !column.nullable || (column.name != "nothing" && (r * 7 + col * 3 + salt as usize) % 5 != 0);
    let h = |r: usize| mix(r, col, salt);
    let field = column.to_arrow();
    match field.data_type().clone() {
        ArrowType::Boolean => Arc::new((0..rows).map(|r| present(r).then(|| h(r) % 2 == 0)).collect::<BooleanArray>()),
        ArrowType::Int8 => Arc::new(prim::<Int8Type>(rows, present, |r| pick(r, i8::MIN, i8::MAX, h(r) as i8))),
        ArrowType::Int16 => Arc::new(prim::<Int16Type>(rows, present, |r| pick(r, i16::MIN, i16::MAX, h(r) as i16))),
        ArrowType::Int32 => Arc::new(prim::<Int32Type>(rows, present, |r| pick(r, i32::MIN, i32::MAX, h(r) as i32))),
        ArrowType::Int64 => Arc::new(prim::<Int64Type>(rows, present, |r| pick(r, i64::MIN, i64::MAX, h(r) as i64))),
        ArrowType::Float32 => Arc::new(prim::<Float32Type>(rows, present, |r| match r % 11 {
            1 => f32::NEG_INFINITY,
            2 => f32::INFINITY,
            3 => -0.0,
            4 => f32::MIN_POSITIVE,
            5 => f32::MAX,
            _ => (h(r) as i32) as f32 / 1024.0,
        })),
        ArrowType::Float64 => Arc::new(prim::<Float64Type>(rows, present, |r| match r % 11 {
            1 => f64::NEG_INFINITY,
            2 => f64::INFINITY,
            3 => -0.0,
            4 => f64::MIN_POSITIVE,
            5 => f64::MAX,
            _ => (h(r) as i64) as f64 / 65536.0,
        })),
        ArrowType::Decimal128(precision, scale) => {
            let bound = 10i128.pow(u32::from(precision)) - 1;
            let wide = |r: usize| (((h(r) as i128) << 64) | i128::from(mix(r, col, salt ^ 1))) % bound;
            Arc::new(
                prim::<Decimal128Type>(rows, present, |r| pick(r, -bound, bound, wide(r)))
                    .with_precision_and_scale(precision, scale)
                    .expect("decimal type"),
            )
        }
        ArrowType::Utf8 => {
            let value = |r: usize| match column.data_type {
                DataType::Char { .. } => CHARS5[h(r) as usize % CHARS5.len()].to_string(),
                _ if !column.nullable => format!("row {r} of salt {salt}"),
                _ => STRINGS[h(r) as usize % STRINGS.len()].to_string(),
            };
            Arc::new((0..rows).map(|r| present(r).then(|| value(r))).collect::<StringArray>())
        }
        ArrowType::FixedSizeBinary(n) => Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                (0..rows).map(|r| present(r).then(|| h(r).to_le_bytes()[..n as usize].to_vec())),
                n,
            )
            .expect("fixed-size binary"),
        ),
        ArrowType::Binary => Arc::new(
            (0..rows)
                .map(|r| {
                    present(r).then(|| (0..h(r) % 20).map(|i| mix(r, i as usize, salt) as u8).collect::<Vec<u8>>())
                })
                .collect::<BinaryArray>(),
        ),
        ArrowType::Date32 => Arc::new(prim::<Date32Type>(rows, present, |r| spread(h(r), 100_000) as i32)),
        ArrowType::Time32(TimeUnit::Second) => {
            Arc::new(prim::<Time32SecondType>(rows, present, |r| (h(r) % 86_400) as i32))
        }
        ArrowType::Time32(TimeUnit::Millisecond) => {
            Arc::new(prim::<Time32MillisecondType>(rows, present, |r| (h(r) % 86_400_000) as i32))
        }
        ArrowType::Time64(TimeUnit::Microsecond) => {
            Arc::new(prim::<Time64MicrosecondType>(rows, present, |r| (h(r) % 86_400_000_000) as i64))
        }
        ArrowType::Time64(TimeUnit::Nanosecond) => {
            Arc::new(prim::<Time64NanosecondType>(rows, present, |r| (h(r) % 86_400_000_000_000) as i64))
        }
        ArrowType::Timestamp(unit, tz) => {
            let span = match unit {
                TimeUnit::Second => 8_000_000_000,
                TimeUnit::Millisecond => 8_000_000_000_000,
                TimeUnit::Microsecond => 8_000_000_000_000_000,
                TimeUnit::Nanosecond => 8_000_000_000_000_000_000,
            };
            let value = |r: usize| spread(h(r), span);
            match unit {
                TimeUnit::Second => Arc::new(prim::<TimestampSecondType>(rows, present, value).with_timezone_opt(tz)),
                TimeUnit::Millisecond => {
                    Arc::new(prim::<TimestampMillisecondType>(rows, present, value).with_timezone_opt(tz))
                }
                TimeUnit::Microsecond => {
                    Arc::new(prim::<TimestampMicrosecondType>(rows, present, value).with_timezone_opt(tz))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(prim::<TimestampNanosecondType>(rows, present, value).with_timezone_opt(tz))
                }
            }
        }
        other => panic!("no sample data for {other}"),
    }
}

fn sample_batch(schema: &Schema, rows: usize, salt: u64) -> RecordBatch {
    let columns = schema.columns.iter().enumerate().map(|(i, c)| sample_column(c, i, rows, salt)).collect();
    RecordBatch::try_new(schema.to_arrow(), columns).expect("sample batch")
}

// ---------------------------------------------------------------------------------------------
// Comparing what fluss reads with what was written

/// Minimal big-endian two's-complement bytes, as `BigInt::to_signed_bytes_be` gives them.
fn signed_be_bytes(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start + 1 < bytes.len()
        && ((bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xFF && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    bytes[start..].to_vec()
}

/// (millis, nanos of milli) of a timestamp / time value in `unit`, with floor division.
fn millis_nanos(unit: TimeUnit, value: i64) -> (i64, i32) {
    match unit {
        TimeUnit::Second => (value * 1_000, 0),
        TimeUnit::Millisecond => (value, 0),
        TimeUnit::Microsecond => (value.div_euclid(1_000), (value.rem_euclid(1_000) * 1_000) as i32),
        TimeUnit::Nanosecond => (value.div_euclid(1_000_000), value.rem_euclid(1_000_000) as i32),
    }
}

fn arrow_i64(array: &dyn Array, i: usize) -> i64 {
    match array.data_type() {
        ArrowType::Time32(TimeUnit::Second) => i64::from(array.as_primitive::<Time32SecondType>().value(i)),
        ArrowType::Time32(_) => i64::from(array.as_primitive::<Time32MillisecondType>().value(i)),
        ArrowType::Time64(TimeUnit::Microsecond) => array.as_primitive::<Time64MicrosecondType>().value(i),
        ArrowType::Time64(_) => array.as_primitive::<Time64NanosecondType>().value(i),
        ArrowType::Timestamp(TimeUnit::Second, _) => array.as_primitive::<TimestampSecondType>().value(i),
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => array.as_primitive::<TimestampMillisecondType>().value(i),
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => array.as_primitive::<TimestampMicrosecondType>().value(i),
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => array.as_primitive::<TimestampNanosecondType>().value(i),
        other => panic!("not a time type: {other}"),
    }
}

fn time_unit(array: &dyn Array) -> TimeUnit {
    match array.data_type() {
        ArrowType::Time32(u) | ArrowType::Time64(u) | ArrowType::Timestamp(u, _) => *u,
        other => panic!("not a time type: {other}"),
    }
}

fn got(e: fluss::error::Error, at: &dyn Fn() -> String) -> ! {
    panic!("{}: fluss getter failed: {e}", at())
}

/// Reads field `pos` of a fluss row with the getter for `column`'s type and compares it with
/// row `i` of `array`.
fn check_value(row: &dyn DataGetters, pos: usize, column: &Column, array: &dyn Array, i: usize, what: &str) {
    let at = || format!("{what}: column {} ({}) row {i}", column.name, column.data_type);
    assert_eq!(row.is_null_at(pos).expect("is_null_at"), array.is_null(i), "{}", at());
    if array.is_null(i) {
        return;
    }
    let at = &at;
    match column.data_type {
        DataType::Boolean => {
            assert_eq!(row.get_boolean(pos).unwrap_or_else(|e| got(e, at)), array.as_boolean().value(i), "{}", at())
        }
        DataType::TinyInt => {
            assert_eq!(
                row.get_byte(pos).unwrap_or_else(|e| got(e, at)),
                array.as_primitive::<Int8Type>().value(i),
                "{}",
                at()
            )
        }
        DataType::SmallInt => {
            assert_eq!(
                row.get_short(pos).unwrap_or_else(|e| got(e, at)),
                array.as_primitive::<Int16Type>().value(i),
                "{}",
                at()
            )
        }
        DataType::Int => {
            assert_eq!(
                row.get_int(pos).unwrap_or_else(|e| got(e, at)),
                array.as_primitive::<Int32Type>().value(i),
                "{}",
                at()
            )
        }
        DataType::BigInt => {
            assert_eq!(
                row.get_long(pos).unwrap_or_else(|e| got(e, at)),
                array.as_primitive::<Int64Type>().value(i),
                "{}",
                at()
            )
        }
        DataType::Float => assert_eq!(
            row.get_float(pos).unwrap_or_else(|e| got(e, at)).to_bits(),
            array.as_primitive::<Float32Type>().value(i).to_bits(),
            "{}",
            at()
        ),
        DataType::Double => assert_eq!(
            row.get_double(pos).unwrap_or_else(|e| got(e, at)).to_bits(),
            array.as_primitive::<Float64Type>().value(i).to_bits(),
            "{}",
            at()
        ),
        DataType::Decimal { precision, scale } => {
            let d = row.get_decimal(pos, precision.into(), scale.into()).unwrap_or_else(|e| got(e, at));
            let expected = array.as_primitive::<Decimal128Type>().value(i);
            assert_eq!((d.precision(), d.scale()), (u32::from(precision), u32::from(scale)), "{}", at());
            assert_eq!(d.to_unscaled_bytes(), signed_be_bytes(expected), "{}", at());
        }
        DataType::Char { length } => {
            assert_eq!(
                row.get_char(pos, length as usize).unwrap_or_else(|e| got(e, at)),
                array.as_string::<i32>().value(i),
                "{}",
                at()
            )
        }
        DataType::String => assert_eq!(
            row.get_string(pos).unwrap_or_else(|e| got(e, at)),
            array.as_string::<i32>().value(i),
            "{}",
            at()
        ),
        DataType::Binary { length } => assert_eq!(
            row.get_binary(pos, length as usize).unwrap_or_else(|e| got(e, at)),
            array.as_fixed_size_binary().value(i),
            "{}",
            at()
        ),
        DataType::Bytes => {
            assert_eq!(row.get_bytes(pos).unwrap_or_else(|e| got(e, at)), array.as_binary::<i32>().value(i), "{}", at())
        }
        DataType::Date => {
            assert_eq!(
                row.get_date(pos).unwrap_or_else(|e| got(e, at)).get_inner(),
                array.as_primitive::<Date32Type>().value(i),
                "{}",
                at()
            )
        }
        DataType::Time { .. } => {
            // fluss's TIME is milliseconds of the day (sub-millisecond digits are cut).
            let (millis, _) = millis_nanos(time_unit(array), arrow_i64(array, i));
            assert_eq!(i64::from(row.get_time(pos).unwrap_or_else(|e| got(e, at)).get_inner()), millis, "{}", at());
        }
        DataType::Timestamp { precision } => {
            let ts = row.get_timestamp_ntz(pos, precision.into()).unwrap_or_else(|e| got(e, at));
            let expected = millis_nanos(time_unit(array), arrow_i64(array, i));
            assert_eq!((ts.get_millisecond(), ts.get_nano_of_millisecond()), expected, "{}", at());
        }
        DataType::TimestampLtz { precision } => {
            let ts = row.get_timestamp_ltz(pos, precision.into()).unwrap_or_else(|e| got(e, at));
            let expected = millis_nanos(time_unit(array), arrow_i64(array, i));
            assert_eq!((ts.get_epoch_millisecond(), ts.get_nano_of_millisecond()), expected, "{}", at());
        }
        other => panic!("no check for {other}"),
    }
}

/// What one batch should look like to the client.
struct Expect<'a> {
    /// The rows, already projected to the columns the client asked for, in its order.
    batch: &'a RecordBatch,
    /// The columns of `batch`.
    columns: Vec<Column>,
    base_offset: i64,
    commit_timestamp: i64,
    change_types: Vec<FlussChangeType>,
}

fn assert_records(records: &[ScanRecord], expect: &Expect<'_>, what: &str) {
    assert_eq!(records.len(), expect.batch.num_rows(), "{what}: record count");
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.offset(), expect.base_offset + i as i64, "{what}: offset of record {i}");
        assert_eq!(record.timestamp(), expect.commit_timestamp, "{what}: timestamp of record {i}");
        assert_eq!(record.change_type(), &expect.change_types[i], "{what}: change type of record {i}");
        for (pos, column) in expect.columns.iter().enumerate() {
            check_value(record.row(), pos, column, expect.batch.column(pos).as_ref(), i, what);
        }
    }
    if let Some(first) = records.first() {
        let arrow = first.row().get_record_batch().expect("a top-level row keeps its record batch");
        assert_eq!(arrow, expect.batch, "{what}: the Arrow batch behind the rows");
    }
}

fn columns_of(schema: &Schema, fields: &[usize]) -> Vec<Column> {
    fields.iter().map(|&i| schema.columns[i].clone()).collect()
}

fn options(compression: Compression, statistics: bool) -> BuildOptions {
    BuildOptions { compression, writer_id: WRITER_ID, batch_sequence: BATCH_SEQUENCE, statistics }
}

/// A rill batch of `batch`, stamped with `base_offset` and `commit_timestamp`.
fn rill_batch(
    schema: &Schema,
    batch: &RecordBatch,
    change_types: Option<&[ChangeType]>,
    options: &BuildOptions,
    base_offset: i64,
) -> Vec<u8> {
    let mut bytes = build(schema, batch, change_types, options).expect("rill builds the batch");
    stamp(&mut bytes, base_offset, COMMIT_TIMESTAMP_MS + base_offset).expect("stamp");
    bytes
}

/// The header fields of a rill-built batch as the client reads them.
fn assert_rill_header_seen_by_fluss(batch: &LogRecordBatch, rows: usize, base_offset: i64, what: &str) {
    assert_eq!(batch.magic(), 2, "{what}: magic");
    assert_eq!(batch.base_log_offset(), base_offset, "{what}: base offset");
    assert_eq!(batch.commit_timestamp(), COMMIT_TIMESTAMP_MS + base_offset, "{what}: commit timestamp");
    assert_eq!(batch.leader_epoch(), 0, "{what}: leader epoch");
    assert_eq!(batch.schema_id(), SCHEMA_ID, "{what}: schema id");
    assert_eq!(batch.writer_id(), WRITER_ID, "{what}: writer id");
    assert_eq!(batch.batch_sequence(), BATCH_SEQUENCE, "{what}: batch sequence");
    assert_eq!(batch.record_count(), rows as i32, "{what}: record count");
    assert_eq!(batch.next_log_offset(), base_offset + rows.max(1) as i64, "{what}: next offset");
    assert_eq!(batch.size_in_bytes(), batch.bytes().len(), "{what}: size");
}

fn fluss_projections(columns: usize) -> Vec<Vec<usize>> {
    let last = columns - 1;
    vec![
        vec![0],
        vec![last],
        vec![0, last],
        vec![11],
        vec![8, 9],
        (1..columns).step_by(2).collect(),
        vec![2, 12, 13, 14, 25],
        (1..columns).collect(),
        // Not ascending: the client sends them sorted and puts them back in its order.
        vec![last, 9, 0],
        vec![13, 3, 21, 17],
    ]
}

// ---------------------------------------------------------------------------------------------
// Schema mapping

#[test]
fn rill_and_fluss_map_every_type_to_the_same_arrow_schema() {
    let mut schema = all_types_schema();
    for p in 0..=9u8 {
        schema.columns.push(Column::new(format!("time{p}"), DataType::Time { precision: p }));
        schema.columns.push(Column::not_null(format!("ts{p}nn"), DataType::Timestamp { precision: p }));
        schema.columns.push(Column::new(format!("ltz{p}x"), DataType::TimestampLtz { precision: p }));
    }
    for (p, s) in [(1, 0), (18, 18), (19, 4), (38, 10)] {
        schema.columns.push(Column::new(format!("dec{p}_{s}"), DataType::Decimal { precision: p, scale: s }));
    }
    let fluss = to_arrow_schema(&fluss_row_type(&schema)).expect("fluss maps every type");
    assert_eq!(schema.to_arrow(), fluss);
}

// ---------------------------------------------------------------------------------------------
// rill writes, fluss reads

#[test]
fn fluss_reads_rill_batches_of_every_type() {
    let schema = all_types_schema();
    let row_type = fluss_row_type(&schema);
    let ctx = FlussReadContext::new(&row_type, None).expect("read context");
    let all: Vec<usize> = (0..schema.columns.len()).collect();
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        let cases = [
            ("37 rows", sample_batch(&schema, ROWS, k as u64)),
            // Arrays with a non-zero offset (bitmaps not byte-aligned).
            ("rows 5..28 of a slice", sample_batch(&schema, 64, 10 + k as u64).slice(5, 23)),
            // Enough rows for the codecs to compress most buffers.
            ("2000 rows", sample_batch(&schema, 2_000, 20 + k as u64)),
        ];
        for (c, (name, rows)) in cases.into_iter().enumerate() {
            let what = format!("{compression:?}, {name}");
            let base_offset = BASE_OFFSET + 10_000 * k as i64 + 1_000 * c as i64;
            let bytes = rill_batch(&schema, &rows, None, &options(compression, false), base_offset);

            let batches = fluss_oracle::batches(&bytes).expect("fluss frames the blob");
            assert_eq!(batches.len(), 1, "{what}");
            let batch = &batches[0];
            assert_rill_header_seen_by_fluss(batch, rows.num_rows(), base_offset, &what);
            assert!(batch.is_append_only(), "{what}: attributes");
            assert!(batch.is_valid(), "{what}: CRC-32C from schema_id to the end, after stamping");
            assert!(batch.statistics_bytes().expect("statistics").is_empty(), "{what}: no statistics");

            let records = batch.records(&ctx).expect("fluss decodes the records");
            let expect = Expect {
                batch: &rows,
                columns: columns_of(&schema, &all),
                base_offset,
                commit_timestamp: COMMIT_TIMESTAMP_MS + base_offset,
                change_types: vec![FlussChangeType::AppendOnly; rows.num_rows()],
            };
            assert_records(&records, &expect, &what);
            let arrow = batch.record_batch(&ctx).expect("fluss decodes the Arrow batch");
            assert_eq!(arrow, rows, "{what}: record_batch()");
        }
    }
}

/// Reads `blob` (batches of `schema` rows) with a client context projecting `fields`, after
/// rill projected every batch to the columns the client sends.
fn check_projection(schema: &Schema, sources: &[(Vec<u8>, RecordBatch, i64)], fields: &[usize], what: &str) {
    let row_type = fluss_row_type(schema);
    let ctx = FlussReadContext::new(&row_type, Some(fields)).expect("projected read context");
    let wire = ctx.wire_projection().expect("projection");
    assert!(wire.windows(2).all(|w| w[0] < w[1]), "{what}: the client sends ascending fields");
    let arrow_schema = schema.to_arrow();
    let mut blob = Vec::new();
    for (bytes, _, _) in sources {
        let projected = project(&Buffer::from_vec(bytes.clone()), &arrow_schema, &wire).expect("rill projects");
        assert_eq!(projected.len, projected.to_vec().len(), "{what}: parts add up");
        blob.extend_from_slice(&projected.to_vec());
    }
    let read = fluss_oracle::read_records(&blob, &ctx).expect("fluss reads the projected batches");
    assert_eq!(read.len(), sources.len(), "{what}: batches");
    for ((batch, records), (_, rows, base_offset)) in read.iter().zip(sources) {
        let expected = rows.project(fields).expect("project the source rows");
        assert_rill_header_seen_by_fluss(batch, rows.num_rows(), *base_offset, what);
        assert!(batch.statistics_bytes().expect("statistics").is_empty(), "{what}: projection drops statistics");
        let expect = Expect {
            batch: &expected,
            columns: columns_of(schema, fields),
            base_offset: *base_offset,
            commit_timestamp: COMMIT_TIMESTAMP_MS + base_offset,
            change_types: vec![FlussChangeType::AppendOnly; rows.num_rows()],
        };
        assert_records(records, &expect, what);
        assert_eq!(batch.record_batch(&ctx).expect("record_batch"), expected, "{what}: record_batch()");
    }
}

#[test]
fn fluss_reads_projections_of_rill_batches() {
    let schema = all_types_schema();
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        // Two batches per fetch, with different null patterns and sizes.
        let sources: Vec<(Vec<u8>, RecordBatch, i64)> = [(ROWS, 10 + k as u64, 0), (5, 20 + k as u64, ROWS as i64)]
            .into_iter()
            .map(|(n, salt, delta)| {
                let rows = sample_batch(&schema, n, salt);
                let base_offset = BASE_OFFSET + delta;
                (rill_batch(&schema, &rows, None, &options(compression, false), base_offset), rows, base_offset)
            })
            .collect();
        for fields in fluss_projections(schema.columns.len()) {
            check_projection(&schema, &sources, &fields, &format!("{compression:?} projection {fields:?}"));
        }
    }
}

#[test]
fn fluss_reads_a_fetch_blob_of_several_rill_batches() {
    let schema = all_types_schema();
    let row_type = fluss_row_type(&schema);
    let ctx = FlussReadContext::new(&row_type, None).expect("read context");
    let all: Vec<usize> = (0..schema.columns.len()).collect();
    let mut blob = Vec::new();
    let mut expected = Vec::new();
    let mut next_offset = BASE_OFFSET;
    for (i, (rows, compression)) in
        [(ROWS, Compression::Zstd), (1, Compression::None), (0, Compression::Lz4Frame), (100, Compression::Lz4Frame)]
            .into_iter()
            .enumerate()
    {
        let batch = sample_batch(&schema, rows, 100 + i as u64);
        blob.extend(rill_batch(&schema, &batch, None, &options(compression, false), next_offset));
        expected.push((batch, next_offset));
        next_offset += rows.max(1) as i64;
    }
    // A fetch may end in the middle of a batch: the client stops before it.
    let partial =
        rill_batch(&schema, &sample_batch(&schema, 3, 9), None, &options(Compression::None, false), next_offset);
    blob.extend_from_slice(&partial[..partial.len() / 2]);

    let read = fluss_oracle::read_records(&blob, &ctx).expect("fluss reads the blob");
    assert_eq!(read.len(), expected.len(), "the partial tail batch is not returned");
    for (i, ((batch, records), (rows, base_offset))) in read.iter().zip(&expected).enumerate() {
        let what = format!("batch {i} of the blob");
        assert_rill_header_seen_by_fluss(batch, rows.num_rows(), *base_offset, &what);
        assert!(batch.is_valid(), "{what}: CRC");
        let expect = Expect {
            batch: rows,
            columns: columns_of(&schema, &all),
            base_offset: *base_offset,
            commit_timestamp: COMMIT_TIMESTAMP_MS + base_offset,
            change_types: vec![FlussChangeType::AppendOnly; rows.num_rows()],
        };
        assert_records(records, &expect, &what);
    }
    let offsets: Vec<i64> = read.iter().flat_map(|(_, r)| r.iter().map(ScanRecord::offset)).collect();
    let mut contiguous: Vec<i64> = (BASE_OFFSET..BASE_OFFSET + ROWS as i64 + 1).collect();
    // The empty batch takes offset BASE_OFFSET + ROWS + 1 (last_offset_delta 0) and holds no record.
    contiguous.extend(BASE_OFFSET + ROWS as i64 + 2..BASE_OFFSET + ROWS as i64 + 102);
    assert_eq!(offsets, contiguous);
}

fn changelog_schema() -> Schema {
    let mut schema = Schema::new(vec![
        Column::not_null("id", DataType::Int),
        Column::new("name", DataType::String),
        Column::new("amount", DataType::Decimal { precision: 30, scale: 5 }),
        Column::new("at", DataType::TimestampLtz { precision: 6 }),
    ]);
    schema.id = SCHEMA_ID;
    schema
}

fn fluss_change_type(change_type: ChangeType) -> FlussChangeType {
    FlussChangeType::from_byte_value(change_type as u8).expect("a Fluss change type")
}

#[test]
fn fluss_reads_change_types_of_a_rill_changelog() {
    use ChangeType::{AppendOnly, Delete, Insert, UpdateAfter, UpdateBefore};
    let schema = changelog_schema();
    let row_type = fluss_row_type(&schema);
    // A KV changelog: insert, update (as -U/+U), delete; then +A, which a changelog never
    // carries but whose byte (0) the client maps too.
    let mut types = vec![Insert, UpdateBefore, UpdateAfter, Delete, Insert, UpdateBefore, UpdateAfter];
    types.extend([Insert, Delete, AppendOnly].iter().cycle().take(ROWS - types.len()));
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        let rows = sample_batch(&schema, ROWS, 50 + k as u64);
        let base_offset = BASE_OFFSET + 77 * k as i64;
        let bytes = rill_batch(&schema, &rows, Some(&types), &options(compression, false), base_offset);
        let view = BatchView::parse(&bytes).expect("rill parses its changelog");
        assert_eq!(view.change_types().expect("change types"), types);

        for fields in [None, Some(vec![1]), Some(vec![3, 0]), Some(vec![0, 1, 2, 3])] {
            let what = format!("{compression:?} changelog, projection {fields:?}");
            let ctx = FlussReadContext::new(&row_type, fields.as_deref()).expect("read context");
            let blob = match ctx.wire_projection() {
                None => bytes.clone(),
                Some(wire) => {
                    project(&Buffer::from_vec(bytes.clone()), &schema.to_arrow(), &wire).expect("project").to_vec()
                }
            };
            let read = fluss_oracle::read_records(&blob, &ctx).expect("fluss reads the changelog");
            assert_eq!(read.len(), 1, "{what}");
            let (batch, records) = &read[0];
            assert!(!batch.is_append_only(), "{what}: attributes say changelog");
            assert_rill_header_seen_by_fluss(batch, ROWS, base_offset, &what);
            let fields = fields.unwrap_or_else(|| (0..schema.columns.len()).collect());
            let expected = rows.project(&fields).expect("project");
            let expect = Expect {
                batch: &expected,
                columns: columns_of(&schema, &fields),
                base_offset,
                commit_timestamp: COMMIT_TIMESTAMP_MS + base_offset,
                change_types: types.iter().map(|&t| fluss_change_type(t)).collect(),
            };
            assert_records(records, &expect, &what);
        }
    }
    // An append-only batch has no vector: every record is +A.
    let rows = sample_batch(&schema, 4, 1);
    let bytes = rill_batch(&schema, &rows, None, &options(Compression::Zstd, false), 0);
    let ctx = FlussReadContext::new(&row_type, None).expect("read context");
    let read = fluss_oracle::read_records(&bytes, &ctx).expect("fluss reads");
    let kinds: Vec<FlussChangeType> = read[0].1.iter().map(|r| *r.change_type()).collect();
    assert_eq!(kinds, vec![FlussChangeType::AppendOnly; 4]);
}

// ---------------------------------------------------------------------------------------------
// fluss writes, rill reads

/// The rows of `batch` as fluss `GenericRow`s, the way an application hands them to the
/// client's `AppendWriter`.
fn generic_rows(batch: &RecordBatch) -> Vec<GenericRow<'static>> {
    (0..batch.num_rows())
        .map(|i| {
            let mut row = GenericRow::new(batch.num_columns());
            for (pos, array) in batch.columns().iter().enumerate() {
                if !array.is_null(i) {
                    set_generic(&mut row, pos, array.as_ref(), i);
                }
            }
            row
        })
        .collect()
}

fn set_generic(row: &mut GenericRow<'static>, pos: usize, array: &dyn Array, i: usize) {
    match array.data_type() {
        ArrowType::Boolean => row.set_field(pos, array.as_boolean().value(i)),
        ArrowType::Int8 => row.set_field(pos, array.as_primitive::<Int8Type>().value(i)),
        ArrowType::Int16 => row.set_field(pos, array.as_primitive::<Int16Type>().value(i)),
        ArrowType::Int32 => row.set_field(pos, array.as_primitive::<Int32Type>().value(i)),
        ArrowType::Int64 => row.set_field(pos, array.as_primitive::<Int64Type>().value(i)),
        ArrowType::Float32 => row.set_field(pos, array.as_primitive::<Float32Type>().value(i)),
        ArrowType::Float64 => row.set_field(pos, array.as_primitive::<Float64Type>().value(i)),
        ArrowType::Decimal128(p, s) => {
            let v = array.as_primitive::<Decimal128Type>().value(i);
            let (p, s) = (u32::from(*p), *s as u32);
            let d = if p <= 18 {
                Decimal::from_unscaled_long(v as i64, p, s)
            } else {
                Decimal::from_unscaled_bytes(&signed_be_bytes(v), p, s)
            };
            row.set_field(pos, d.expect("decimal"));
        }
        ArrowType::Utf8 => row.set_field(pos, array.as_string::<i32>().value(i).to_string()),
        ArrowType::FixedSizeBinary(_) => row.set_field(pos, array.as_fixed_size_binary().value(i).to_vec()),
        ArrowType::Binary => row.set_field(pos, array.as_binary::<i32>().value(i).to_vec()),
        ArrowType::Date32 => row.set_field(pos, Date::new(array.as_primitive::<Date32Type>().value(i))),
        ArrowType::Time32(unit) | ArrowType::Time64(unit) => {
            let (millis, _) = millis_nanos(*unit, arrow_i64(array, i));
            row.set_field(pos, Time::new(millis as i32));
        }
        ArrowType::Timestamp(unit, tz) => {
            let (millis, nanos) = millis_nanos(*unit, arrow_i64(array, i));
            if tz.is_some() {
                row.set_field(pos, TimestampLtz::from_millis_nanos(millis, nanos).expect("ltz"));
            } else {
                row.set_field(pos, TimestampNtz::from_millis_nanos(millis, nanos).expect("ntz"));
            }
        }
        other => panic!("no fluss datum for {other}"),
    }
}

/// A fluss-built Arrow batch of the all-types schema (through the client's row builder).
fn fluss_arrow_batch(schema: &Schema, rows: usize, salt: u64) -> RecordBatch {
    let generic = generic_rows(&sample_batch(schema, rows, salt));
    let refs: Vec<&dyn InternalRow> = generic.iter().map(|r| r as &dyn InternalRow).collect();
    let batch = fluss_oracle::arrow_from_rows(&fluss_row_type(schema), &refs).expect("fluss builds Arrow from rows");
    assert_eq!(batch.schema(), schema.to_arrow(), "fluss's Arrow schema is rill's");
    batch
}

fn fluss_compression(compression: Compression) -> Option<CompressionType> {
    match compression {
        Compression::None => None,
        Compression::Lz4Frame => Some(CompressionType::LZ4_FRAME),
        Compression::Zstd => Some(CompressionType::ZSTD),
    }
}

/// Copies the IPC message to 64-byte-aligned memory and decodes it with alignment required,
/// which proves the body buffers are padded as Arrow wants.
fn decode_aligned(ipc_bytes: &[u8], schema: &Schema) -> RecordBatch {
    let mut aligned = MutableBuffer::with_capacity(ipc_bytes.len());
    aligned.extend_from_slice(ipc_bytes);
    ipc::decode(&Buffer::from(aligned), schema.to_arrow(), true).expect("decodes with alignment required")
}

/// Parses a fluss-built batch with rill and checks every header field and the payload.
fn check_rill_parses_fluss_batch(bytes: &[u8], spec: &WriteSpec, schema: &Schema, arrow: &RecordBatch, what: &str) {
    let view = BatchView::parse(bytes).unwrap_or_else(|e| panic!("{what}: rill parses: {e}"));
    view.verify_crc().unwrap_or_else(|e| panic!("{what}: CRC: {e}"));
    let h = view.header;
    let rows = arrow.num_rows() as i32;
    let statistics_length = spec.statistics.as_ref().map_or(0, |s| s.len() as i32);
    assert_eq!(h.magic, if spec.statistics.is_some() { Magic::V1 } else { Magic::V0 }, "{what}");
    assert_eq!((h.base_offset, h.commit_timestamp, h.leader_epoch), (0, 0, -1), "{what}");
    assert_eq!(h.length as usize + 12, bytes.len(), "{what}: length");
    assert_eq!(h.crc, common::crc32c(&bytes[25..]), "{what}: crc field");
    assert_eq!((h.schema_id, h.attributes), (spec.schema_id as i16, 1), "{what}");
    assert_eq!((h.last_offset_delta, h.record_count), ((rows - 1).max(0), rows), "{what}");
    assert_eq!((h.writer_id, h.batch_sequence), (spec.writer_id, spec.batch_sequence), "{what}");
    assert_eq!(h.statistics_length, statistics_length, "{what}");
    assert_eq!(view.stats_bytes(), spec.statistics.as_deref().unwrap_or_default(), "{what}: statistics");
    assert!(view.header.is_append_only(), "{what}");
    assert_eq!(view.change_types().expect("change types"), vec![ChangeType::AppendOnly; arrow.num_rows()], "{what}");
    if rows > 0 {
        let whole = Buffer::from_vec(bytes.to_vec());
        let range = view.ipc_range();
        let ipc_message = whole.slice_with_length(range.start, range.len());
        let decoded = ipc::decode(&ipc_message, schema.to_arrow(), false).expect("rill decodes fluss's payload");
        assert_eq!(&decoded, arrow, "{what}: decoded batch");
        if spec.compression.is_none() {
            // (A compressed buffer stored raw sits 8 bytes after its length prefix, so only an
            // uncompressed body can be decoded in place with alignment required.)
            assert_eq!(&decode_aligned(view.ipc_bytes(), schema), arrow, "{what}: aligned decode");
        }
    }
}

#[test]
fn rill_reads_fluss_v0_batches() {
    let schema = all_types_schema();
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        for (writer_id, batch_sequence, rows) in [(-1, -1, ROWS), (WRITER_ID, BATCH_SEQUENCE, 3), (5, 0, 0)] {
            let what = format!("fluss V0 {compression:?} writer {writer_id} seq {batch_sequence} rows {rows}");
            let arrow = fluss_arrow_batch(&schema, rows, 200 + k as u64);
            let spec = WriteSpec {
                schema_id: i32::from(SCHEMA_ID),
                writer_id,
                batch_sequence,
                compression: fluss_compression(compression),
                statistics: None,
            };
            let mut bytes = fluss_oracle::build_batch(&arrow, &spec).expect("fluss builds the batch");
            check_rill_parses_fluss_batch(&bytes, &spec, &schema, &arrow, &what);

            // rill's stamp sets what the server assigns, at the offsets the client reads.
            stamp(&mut bytes, BASE_OFFSET, COMMIT_TIMESTAMP_MS).expect("stamp");
            let view = BatchView::parse(&bytes).expect("parse stamped");
            view.verify_crc().expect("stamping does not touch the CRC range");
            let batch = LogRecordBatch::new(&bytes);
            assert_eq!(
                (batch.base_log_offset(), batch.commit_timestamp()),
                (BASE_OFFSET, COMMIT_TIMESTAMP_MS),
                "{what}"
            );
            assert!(batch.is_valid(), "{what}");
        }
    }
}

#[test]
fn rill_projects_fluss_batches_for_fluss() {
    let schema = all_types_schema();
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        let arrow = fluss_arrow_batch(&schema, ROWS, 300 + k as u64);
        let spec = WriteSpec {
            schema_id: i32::from(SCHEMA_ID),
            writer_id: WRITER_ID,
            batch_sequence: BATCH_SEQUENCE,
            compression: fluss_compression(compression),
            statistics: None,
        };
        let mut bytes = fluss_oracle::build_batch(&arrow, &spec).expect("fluss builds the batch");
        stamp(&mut bytes, BASE_OFFSET, COMMIT_TIMESTAMP_MS).expect("stamp");
        let row_type = fluss_row_type(&schema);
        for fields in fluss_projections(schema.columns.len()) {
            let what = format!("fluss V0 {compression:?} projected to {fields:?}");
            let ctx = FlussReadContext::new(&row_type, Some(&fields)).expect("read context");
            let wire = ctx.wire_projection().expect("projection");
            let projected =
                project(&Buffer::from_vec(bytes.clone()), &schema.to_arrow(), &wire).expect("rill projects");
            let projected = projected.to_vec();
            let view = BatchView::parse(&projected).expect("rill parses its projection");
            assert_eq!(view.header.magic, Magic::V0, "{what}: magic kept");
            let read = fluss_oracle::read_records(&projected, &ctx).expect("fluss reads the projection");
            let (batch, records) = &read[0];
            assert_eq!((batch.magic(), batch.leader_epoch()), (0, -1), "{what}");
            let expected = arrow.project(&fields).expect("project");
            let expect = Expect {
                batch: &expected,
                columns: columns_of(&schema, &fields),
                base_offset: BASE_OFFSET,
                commit_timestamp: COMMIT_TIMESTAMP_MS,
                change_types: vec![FlussChangeType::AppendOnly; ROWS],
            };
            assert_records(records, &expect, &what);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// fluss-rs `src/record/testdata/statistics_block.hex`, a copy of fluss-common's
/// `encoding/statistics_block.hex`: the statistics block Java's writer produces for
/// [`java_fixture_batch`], which fluss-rs's writer reproduces byte for byte
/// (`statistics::tests::matches_the_java_writer_byte_for_byte`).
const JAVA_STATISTICS_HEX: [&str; 11] = [
    "01130000000100020003000400050006000700080009000a000b000c000d000e000f0010001100120000000000000000",
    "000000000001000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000030000000000000000000000c000000000000001000000000000000000000000fd000000000000",
    "00ceff0000000000000a0000000000000030f8ffffffffffff000020c000000000000000000000f43f6170706c650000",
    "85851a00000000000002000000a0000000504600000000000040771b000000000000806e8774010000e8030000b00000",
    "0000806e8774010000e8030000b800000000000000000000000000008000000000000000000000008004d20000000000",
    "00000000000000000000806e877401000000806e8774010000c000000000000001000000000100000000000000070000",
    "0000000000c8000000000000001e00000000000000b80b0000000000000000c03f000000000000000000802340636865",
    "727279008650c300000000000008000000a0000000204e00000000000000dd6d0000000000e7535c18a3010000583e0f",
    "00b0000000e7535c18a3010000583e0f00b800000000000000000000000000c0ff00000000000000000000f8ff016345",
    "785d89ffff0000000000000000e7535c18a3010000e7535c18a3010000",
];

fn java_statistics() -> Vec<u8> {
    let hex: String = JAVA_STATISTICS_HEX.concat();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// The schema of the Java fixture (TIME as TIME(3): the fixture's column is Time32(ms)).
fn java_fixture_schema() -> Schema {
    let c = Column::new;
    Schema::new(vec![
        c("bool", DataType::Boolean),
        c("i8", DataType::TinyInt),
        c("i16", DataType::SmallInt),
        c("i32", DataType::Int),
        c("i64", DataType::BigInt),
        c("f32", DataType::Float),
        c("f64", DataType::Double),
        c("str", DataType::String),
        c("dec5", DataType::Decimal { precision: 5, scale: 2 }),
        c("dec20", DataType::Decimal { precision: 20, scale: 3 }),
        c("date", DataType::Date),
        c("time", DataType::Time { precision: 3 }),
        c("ts3", DataType::Timestamp { precision: 3 }),
        c("ts6", DataType::Timestamp { precision: 6 }),
        c("ltz3", DataType::TimestampLtz { precision: 3 }),
        c("ltz6", DataType::TimestampLtz { precision: 6 }),
        c("strnull", DataType::String),
        c("f32x", DataType::Float),
        c("f64x", DataType::Double),
    ])
}

/// The rows the Java fixture was computed from (fluss-rs statistics.rs 1110-1219).
fn java_fixture_batch() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BooleanArray::from(vec![true, false, true])),
        Arc::new(Int8Array::from(vec![1, -3, 7])),
        Arc::new(Int16Array::from(vec![100, 200, -50])),
        Arc::new(Int32Array::from(vec![Some(10), None, Some(30)])),
        Arc::new(Int64Array::from(vec![1000, -2000, 3000])),
        Arc::new(Float32Array::from(vec![1.5, -2.5, 0.5])),
        Arc::new(Float64Array::from(vec![3.25, 1.25, 9.75])),
        Arc::new(StringArray::from(vec!["banana", "apple", "cherry"])),
        Arc::new(Decimal128Array::from(vec![12345_i128, 6789, 50000]).with_precision_and_scale(5, 2).expect("dec5")),
        Arc::new(
            Decimal128Array::from(vec![12345678901_i128, 1234, 99999999999999999])
                .with_precision_and_scale(20, 3)
                .expect("dec20"),
        ),
        Arc::new(Date32Array::from(vec![19000, 18000, 20000])),
        Arc::new(Time32MillisecondArray::from(vec![3600000, 7200000, 1800000])),
        Arc::new(TimestampMillisecondArray::from(vec![1700000000123, 1600000000000, 1800000000999])),
        Arc::new(TimestampMicrosecondArray::from(vec![1700000000123456, 1600000000000001, 1800000000999999])),
        Arc::new(
            TimestampMillisecondArray::from(vec![1700000000123, 1600000000000, 1800000000999]).with_timezone("UTC"),
        ),
        Arc::new(
            TimestampMicrosecondArray::from(vec![1700000000123456, 1600000000000001, 1800000000999999])
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![None::<&str>, None, None])),
        Arc::new(Float32Array::from(vec![-0.0, f32::from_bits(0xFFC0_0000), 0.0])),
        Arc::new(Float64Array::from(vec![0.0, -0.0, f64::from_bits(0xFFF8_0000_0000_0000)])),
    ];
    RecordBatch::try_new(java_fixture_schema().to_arrow(), columns).expect("fixture batch")
}

/// What the Java block says, column by column, as rill's `Scalar`s: (null count, min, max),
/// `None` = no bound. DECIMAL(20,3) is not compact: rill does not collect it and decodes its
/// bounds as unknown.
fn java_fixture_expected() -> Vec<(u32, Option<(Scalar, Scalar)>)> {
    use Scalar::{Bool, Float, Int, Str};
    let some = |a: Scalar, b: Scalar| Some((a, b));
    vec![
        (0, some(Bool(false), Bool(true))),
        (0, some(Int(-3), Int(7))),
        (0, some(Int(-50), Int(200))),
        (1, some(Int(10), Int(30))),
        (0, some(Int(-2000), Int(3000))),
        (0, some(Float(-2.5), Float(1.5))),
        (0, some(Float(1.25), Float(9.75))),
        (0, some(Str("apple".into()), Str("cherry".into()))),
        (0, some(Int(6789), Int(50000))),
        (0, None),
        (0, some(Int(18000), Int(20000))),
        (0, some(Int(1_800_000), Int(7_200_000))),
        (0, some(Int(1_600_000_000_000), Int(1_800_000_000_999))),
        // TIMESTAMP(6): rill's scalar is the epoch millis, floored (the block holds
        // 1600000000000 ms + 1000 ns and 1800000000999 ms + 999000 ns).
        (0, some(Int(1_600_000_000_000), Int(1_800_000_000_999))),
        (0, some(Int(1_600_000_000_000), Int(1_800_000_000_999))),
        (0, some(Int(1_600_000_000_000), Int(1_800_000_000_999))),
        (3, None),
        (0, some(Float(-0.0), Float(f64::NAN))),
        (0, some(Float(-0.0), Float(f64::NAN))),
    ]
}

/// Scalars equal, floats by bits (so -0.0 != 0.0 and NaN == NaN).
fn same_scalar(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Float(x), Scalar::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

fn assert_stats_column(
    stats: &stats::BatchStats,
    column: usize,
    expected: &(u32, Option<(Scalar, Scalar)>),
    what: &str,
) {
    let name = &java_fixture_schema().columns[column].name;
    let got = stats.column(column).unwrap_or_else(|| panic!("{what}: no statistics for column {column} ({name})"));
    assert_eq!(got.null_count, expected.0, "{what}: null count of {name}");
    match (&got.min, &got.max, &expected.1) {
        (None, None, None) => {}
        (Some(min), Some(max), Some((emin, emax))) => {
            assert!(same_scalar(min, emin), "{what}: min of {name}: {min:?} != {emin:?}");
            assert!(same_scalar(max, emax), "{what}: max of {name}: {max:?} != {emax:?}");
        }
        (min, max, e) => panic!("{what}: bounds of {name}: ({min:?}, {max:?}) != {e:?}"),
    }
}

#[test]
fn rill_decodes_the_java_statistics_fixture() {
    let schema = java_fixture_schema();
    let decoded = stats::decode(&schema, &java_statistics(), 3).expect("rill decodes the Java block");
    assert_eq!(decoded.row_count, 3);
    assert_eq!(decoded.columns.len(), 19, "one slot per column, in the block's order");
    for (column, expected) in java_fixture_expected().iter().enumerate() {
        assert_eq!(usize::from(decoded.columns[column].column), column, "slot order");
        assert_stats_column(&decoded, column, expected, "Java block");
    }
}

#[test]
fn rill_statistics_of_the_fixture_batch_match_java() {
    let schema = java_fixture_schema();
    let computed = stats::compute(&schema, &java_fixture_batch()).expect("compute");
    let mut bytes = Vec::new();
    stats::encode(&schema, &computed, &mut bytes).expect("encode");
    let decoded = stats::decode(&schema, &bytes, 3).expect("decode rill's block");
    for (column, expected) in java_fixture_expected().iter().enumerate() {
        if column == 9 {
            assert!(decoded.column(9).is_none_or(|c| c.min.is_none()), "DECIMAL(20,3) bounds are not collected");
            continue;
        }
        assert_stats_column(&computed, column, expected, "rill compute");
        assert_stats_column(&decoded, column, expected, "rill encode + decode");
    }
    assert_blocks_agree(&bytes, &java_statistics());
}

/// The parts of a statistics block: slot column indexes, null counts and the min and max
/// AlignedRows (null bitset + 8-byte slots + variable area).
struct Block<'a> {
    columns: Vec<usize>,
    null_counts: Vec<i32>,
    rows: [&'a [u8]; 2],
}

fn parse_block(block: &[u8]) -> Block<'_> {
    let le16 = |at: usize| i16::from_le_bytes([block[at], block[at + 1]]);
    let le32 = |at: usize| i32::from_le_bytes(block[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(block[0], 1, "statistics version");
    let n = le16(1) as usize;
    let columns = (0..n).map(|i| le16(3 + 2 * i) as usize).collect();
    let null_counts = (0..n).map(|i| le32(3 + 2 * n + 4 * i)).collect();
    let min_at = 3 + 6 * n;
    let min_len = le32(min_at) as usize;
    let max_at = min_at + 4 + min_len;
    let max_len = le32(max_at) as usize;
    assert_eq!(max_at + 4 + max_len, block.len(), "the block ends after the max row");
    Block { columns, null_counts, rows: [&block[min_at + 4..max_at], &block[max_at + 4..]] }
}

/// Field `i` of an AlignedRow with `n` fields: None when null, else its 8-byte slot.
fn aligned_slot(row: &[u8], n: usize, i: usize) -> Option<[u8; 8]> {
    let bitset = (n + 63 + 8) / 64 * 8;
    let null = row[(i + 8) / 8] & (1 << ((i + 8) % 8)) != 0;
    (!null).then(|| row[bitset + 8 * i..bitset + 8 * i + 8].try_into().expect("slot"))
}

/// (epoch millis, nano of milli) of a non-compact timestamp field: the slot points into the
/// variable area.
fn aligned_timestamp(row: &[u8], slot: [u8; 8]) -> (i64, u32) {
    let word = u64::from_le_bytes(slot);
    let offset = (word >> 32) as usize;
    (i64::from_le_bytes(row[offset..offset + 8].try_into().expect("millis")), word as u32)
}

/// Checks rill's block against Java's, byte by byte where rill and Java write the same thing:
/// the head (version, column indexes, null counts) and, in both bound rows, the null bits and
/// 8-byte slots of every fixed-slot value and short string. Non-compact timestamps must hold
/// the same milliseconds, and rill's nanos must not narrow Java's bounds.
fn assert_blocks_agree(rill: &[u8], java: &[u8]) {
    let (r, j) = (parse_block(rill), parse_block(java));
    let schema = java_fixture_schema();
    for (slot, &column) in r.columns.iter().enumerate() {
        let name = &schema.columns[column].name;
        let java_slot = j.columns.iter().position(|&c| c == column).expect("Java collects every column");
        assert_eq!(r.null_counts[slot], j.null_counts[java_slot], "null count of {name}");
        for (bound, (rill_row, java_row)) in ["min", "max"].iter().zip(r.rows.iter().zip(j.rows.iter())) {
            let ours = aligned_slot(rill_row, r.columns.len(), slot);
            let theirs = aligned_slot(java_row, j.columns.len(), java_slot);
            match (&schema.columns[column].data_type, ours, theirs) {
                (
                    DataType::Timestamp { precision: 4.. } | DataType::TimestampLtz { precision: 4.. },
                    Some(o),
                    Some(t),
                ) => {
                    let ((om, on), (tm, tn)) = (aligned_timestamp(rill_row, o), aligned_timestamp(java_row, t));
                    assert_eq!(om, tm, "{bound} millis of {name}");
                    let widens = if *bound == "min" { on <= tn } else { on >= tn };
                    assert!(widens, "{bound} nanos of {name}: rill {on}, Java {tn}");
                }
                _ => assert_eq!(ours, theirs, "{bound} slot of {name}"),
            }
        }
    }
}

#[test]
fn rill_reads_a_fluss_v1_batch_with_java_statistics() {
    let schema = java_fixture_schema();
    let arrow = java_fixture_batch();
    // Java's spelling of "no statistics": N = 0 and two empty 8-byte AlignedRows.
    let java_empty: Vec<u8> = [&[1u8, 0, 0, 8, 0, 0, 0][..], &[0; 8], &[8, 0, 0, 0], &[0; 8]].concat();
    let variants =
        [(java_statistics(), Compression::Zstd), (Vec::new(), Compression::Lz4Frame), (java_empty, Compression::None)];
    for (statistics, compression) in variants {
        let what = format!("fluss V1 with {} statistics bytes", statistics.len());
        let decoded = stats::decode(&schema, &statistics, 3).expect("rill decodes the section");
        assert_eq!(decoded.columns.len(), if statistics.len() > 27 { 19 } else { 0 }, "{what}");
        let spec = WriteSpec {
            schema_id: 0,
            writer_id: WRITER_ID,
            batch_sequence: BATCH_SEQUENCE,
            compression: fluss_compression(compression),
            statistics: Some(statistics),
        };
        let mut bytes = fluss_oracle::build_batch(&arrow, &spec).expect("fluss builds a V1 batch");
        check_rill_parses_fluss_batch(&bytes, &spec, &schema, &arrow, &what);

        // Projection keeps V1, drops the statistics and is read back by the client.
        stamp(&mut bytes, BASE_OFFSET, COMMIT_TIMESTAMP_MS).expect("stamp");
        let row_type = fluss_row_type(&schema);
        let fields = vec![0, 7, 18];
        let ctx = FlussReadContext::new(&row_type, Some(&fields)).expect("read context");
        let projected =
            project(&Buffer::from_vec(bytes.clone()), &schema.to_arrow(), &fields).expect("project").to_vec();
        let view = BatchView::parse(&projected).expect("parse projection");
        assert_eq!((view.header.magic, view.header.statistics_length), (Magic::V1, 0), "{what}");
        let read = fluss_oracle::read_records(&projected, &ctx).expect("fluss reads");
        let expected = arrow.project(&fields).expect("project");
        let expect = Expect {
            batch: &expected,
            columns: columns_of(&schema, &fields),
            base_offset: BASE_OFFSET,
            commit_timestamp: COMMIT_TIMESTAMP_MS,
            change_types: vec![FlussChangeType::AppendOnly; 3],
        };
        assert_records(&read[0].1, &expect, &what);
    }
}

#[test]
fn fluss_reads_rill_batches_with_statistics() {
    let schema = all_types_schema();
    let row_type = fluss_row_type(&schema);
    let ctx = FlussReadContext::new(&row_type, None).expect("read context");
    let all: Vec<usize> = (0..schema.columns.len()).collect();
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        let what = format!("{compression:?} with statistics");
        let rows = sample_batch(&schema, ROWS, 400 + k as u64);
        let bytes = rill_batch(&schema, &rows, None, &options(compression, true), BASE_OFFSET);
        let view = BatchView::parse(&bytes).expect("parse");
        assert!(!view.stats_bytes().is_empty(), "{what}: rill wrote a statistics section");
        let decoded = stats::decode(&schema, view.stats_bytes(), ROWS as u32).expect("rill decodes its statistics");
        assert_eq!(decoded, stats::compute(&schema, &rows).expect("compute"), "{what}");

        let read = fluss_oracle::read_records(&bytes, &ctx).expect("fluss skips the statistics and reads");
        let (batch, records) = &read[0];
        assert!(batch.is_valid(), "{what}: CRC covers the statistics");
        assert_eq!(batch.statistics_bytes().expect("statistics"), view.stats_bytes(), "{what}");
        let expect = Expect {
            batch: &rows,
            columns: columns_of(&schema, &all),
            base_offset: BASE_OFFSET,
            commit_timestamp: COMMIT_TIMESTAMP_MS + BASE_OFFSET,
            change_types: vec![FlussChangeType::AppendOnly; ROWS],
        };
        assert_records(records, &expect, &what);
        let sources = vec![(bytes, rows, BASE_OFFSET)];
        for fields in [vec![0], vec![2, 11, 20], vec![25, 27]] {
            check_projection(&schema, &sources, &fields, &format!("{what}, projection {fields:?}"));
        }
    }
}

#[test]
fn fluss_reads_rill_changelogs_with_statistics() {
    use ChangeType::{Delete, Insert, UpdateAfter, UpdateBefore};
    let schema = changelog_schema();
    let row_type = fluss_row_type(&schema);
    let types: Vec<ChangeType> =
        [Insert, UpdateBefore, UpdateAfter, Delete].iter().cycle().take(ROWS).copied().collect();
    for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
        let rows = sample_batch(&schema, ROWS, 500 + k as u64);
        let bytes = rill_batch(&schema, &rows, Some(&types), &options(compression, true), BASE_OFFSET);
        let view = BatchView::parse(&bytes).expect("parse");
        assert!(!view.stats_bytes().is_empty(), "{compression:?}: rill wrote a statistics section");
        for fields in [None, Some(vec![2]), Some(vec![3, 1])] {
            let what = format!("{compression:?} changelog with statistics, projection {fields:?}");
            let ctx = FlussReadContext::new(&row_type, fields.as_deref()).expect("read context");
            let blob = match ctx.wire_projection() {
                None => bytes.clone(),
                Some(wire) => {
                    project(&Buffer::from_vec(bytes.clone()), &schema.to_arrow(), &wire).expect("project").to_vec()
                }
            };
            let read = fluss_oracle::read_records(&blob, &ctx).expect("fluss reads");
            let (batch, records) = &read[0];
            assert!(!batch.is_append_only(), "{what}");
            let fields = fields.unwrap_or_else(|| (0..schema.columns.len()).collect());
            let expected = rows.project(&fields).expect("project");
            let expect = Expect {
                batch: &expected,
                columns: columns_of(&schema, &fields),
                base_offset: BASE_OFFSET,
                commit_timestamp: COMMIT_TIMESTAMP_MS + BASE_OFFSET,
                change_types: types.iter().map(|&t| fluss_change_type(t)).collect(),
            };
            assert_records(records, &expect, &what);
        }
    }
}
