//! Round trips compute -> encode -> decode, golden bytes, and decoding of corrupt blocks.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, RecordBatch, StringArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::schema::Column;

fn batch(schema: &Schema, arrays: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema.to_arrow(), arrays).expect("test batch matches its schema")
}

fn encoded(schema: &Schema, stats: &BatchStats) -> Vec<u8> {
    let mut out = Vec::new();
    encode(schema, stats, &mut out).expect("encode");
    out
}

fn int(v: i64) -> Option<Scalar> {
    Some(Scalar::Int(v))
}

fn text(v: &str) -> Option<Scalar> {
    Some(Scalar::Str(v.to_owned()))
}

fn stats(column: u16, null_count: u32, min: Option<Scalar>, max: Option<Scalar>) -> ColumnStats {
    ColumnStats { column, null_count, min, max }
}

/// One column of every collected type and a few that are not, three rows, with nulls,
/// negatives, and strings on both sides of the 7-byte inline limit.
fn all_types() -> (Schema, RecordBatch) {
    let schema = Schema::new(vec![
        Column::new("bool", DataType::Boolean),
        Column::new("i8", DataType::TinyInt),
        Column::new("i16", DataType::SmallInt),
        Column::new("i32", DataType::Int),
        Column::new("i64", DataType::BigInt),
        Column::new("f32", DataType::Float),
        Column::new("f64", DataType::Double),
        Column::new("date", DataType::Date),
        Column::new("time0", DataType::Time { precision: 0 }),
        Column::new("time3", DataType::Time { precision: 3 }),
        Column::new("time6", DataType::Time { precision: 6 }),
        Column::new("time9", DataType::Time { precision: 9 }),
        Column::new("char", DataType::Char { length: 12 }),
        Column::new("str", DataType::String),
        Column::new("dec18", DataType::Decimal { precision: 18, scale: 2 }),
        Column::new("ts0", DataType::Timestamp { precision: 0 }),
        Column::new("ts3", DataType::Timestamp { precision: 3 }),
        Column::new("ltz3", DataType::TimestampLtz { precision: 3 }),
        Column::new("ts6", DataType::Timestamp { precision: 6 }),
        Column::new("ltz9", DataType::TimestampLtz { precision: 9 }),
        Column::new("bytes", DataType::Bytes),
        Column::new("nulls", DataType::String),
        Column::new("dec30", DataType::Decimal { precision: 30, scale: 2 }),
    ]);
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(true)])),
        Arc::new(Int8Array::from(vec![Some(-128), Some(5), None])),
        Arc::new(Int16Array::from(vec![300, -300, 0])),
        Arc::new(Int32Array::from(vec![Some(10), None, Some(-30)])),
        Arc::new(Int64Array::from(vec![i64::MIN, 0, i64::MAX])),
        Arc::new(Float32Array::from(vec![Some(1.5), Some(-2.25), None])),
        Arc::new(Float64Array::from(vec![-0.0, 1e300, -7.5])),
        Arc::new(Date32Array::from(vec![19_000, -1, 18_000])),
        Arc::new(Time32SecondArray::from(vec![3_600, 0, 86_399])),
        Arc::new(Time32MillisecondArray::from(vec![Some(5), None, Some(1)])),
        Arc::new(Time64MicrosecondArray::from(vec![1_999, 86_399_999_999, 0])),
        Arc::new(Time64NanosecondArray::from(vec![1_000_000, 2_999_999, 5])),
        Arc::new(StringArray::from(vec![Some("ab"), Some("abcdefghijkl"), None])),
        Arc::new(StringArray::from(vec![Some("héllo wörld"), Some("a"), Some("")])),
        Arc::new(
            Decimal128Array::from(vec![Some(-999_999_999_999_999_999), Some(12_345), None])
                .with_precision_and_scale(18, 2)
                .expect("decimal(18, 2)"),
        ),
        Arc::new(TimestampSecondArray::from(vec![-5, 7, 0])),
        Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_123, -1, 0])),
        Arc::new(TimestampMillisecondArray::from(vec![Some(2), None, Some(1)]).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(vec![-1, 1_600_000_000_000_001, 3])),
        Arc::new(
            TimestampNanosecondArray::from(vec![None, Some(-1_000_000_001), Some(123_456_789)]).with_timezone("UTC"),
        ),
        Arc::new(BinaryArray::from(vec![&b"x"[..], b"y", b"z"])),
        Arc::new(StringArray::from(vec![None::<&str>, None, None])),
        Arc::new(Decimal128Array::from(vec![1, 2, 3]).with_precision_and_scale(30, 2).expect("decimal(30, 2)")),
    ];
    let batch = batch(&schema, arrays);
    (schema, batch)
}

fn all_types_expected() -> Vec<ColumnStats> {
    vec![
        stats(0, 1, Some(Scalar::Bool(true)), Some(Scalar::Bool(true))),
        stats(1, 1, int(-128), int(5)),
        stats(2, 0, int(-300), int(300)),
        stats(3, 1, int(-30), int(10)),
        stats(4, 0, int(i64::MIN), int(i64::MAX)),
        stats(5, 1, Some(Scalar::Float(-2.25)), Some(Scalar::Float(1.5))),
        stats(6, 0, Some(Scalar::Float(-7.5)), Some(Scalar::Float(1e300))),
        stats(7, 0, int(-1), int(19_000)),
        stats(8, 0, int(0), int(86_399_000)),
        stats(9, 1, int(1), int(5)),
        stats(10, 0, int(0), int(86_399_999)),
        stats(11, 0, int(0), int(2)),
        stats(12, 1, text("ab"), text("abcdefghijkl")),
        stats(13, 0, text(""), text("héllo wörld")),
        stats(14, 1, int(-999_999_999_999_999_999), int(12_345)),
        stats(15, 0, int(-5_000), int(7_000)),
        stats(16, 0, int(-1), int(1_700_000_000_123)),
        stats(17, 1, int(1), int(2)),
        stats(18, 0, int(-1), int(1_600_000_000_000)), // micros, floored to millis
        stats(19, 1, int(-1_001), int(123)),           // nanos, floored to millis
        stats(21, 3, None, None),
    ]
}

#[test]
fn computes_every_collected_type() {
    let (schema, batch) = all_types();
    let computed = compute(&schema, &batch).expect("compute");
    assert_eq!(computed.row_count, 3);
    assert_eq!(computed.columns, all_types_expected());
}

#[test]
fn round_trips_every_collected_type() {
    let (schema, batch) = all_types();
    let computed = compute(&schema, &batch).expect("compute");
    let bytes = encoded(&schema, &computed);
    assert_eq!(decode(&schema, &bytes, 3).expect("decode"), computed);
}

#[test]
fn types_not_collected() {
    for ty in [DataType::Bytes, DataType::Binary { length: 3 }, DataType::Decimal { precision: 19, scale: 0 }] {
        assert!(!is_stats_type(&ty), "{ty}");
    }
    for ty in [DataType::Time { precision: 9 }, DataType::TimestampLtz { precision: 9 }] {
        assert!(is_stats_type(&ty), "{ty}");
    }
}

/// `a INT, b STRING`, rows (7, "zebra-crossing"), (-2, "ant"), (null, null), drawn by hand.
#[test]
fn golden_block() {
    let schema = Schema::new(vec![Column::new("a", DataType::Int), Column::new("b", DataType::String)]);
    let batch = batch(
        &schema,
        vec![
            Arc::new(Int32Array::from(vec![Some(7), Some(-2), None])),
            Arc::new(StringArray::from(vec![Some("zebra-crossing"), Some("ant"), None])),
        ],
    );
    let computed = compute(&schema, &batch).expect("compute");
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0x01][..],                               // version
        &[0x02, 0x00],                             // N = 2
        &[0x00, 0x00, 0x01, 0x00],                 // column indexes 0, 1
        &[0x01, 0, 0, 0, 0x01, 0, 0, 0],           // null counts 1, 1
        &[24, 0, 0, 0],                            // min row: 8 null bits + 2 slots
        &[0; 8],                                   //   no nulls
        &[0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0],     //   -2 as i32, zero-padded
        &[b'a', b'n', b't', 0, 0, 0, 0, 0x83],     //   "ant" inline, 0x80 | 3
        &[40, 0, 0, 0],                            // max row: 24 + 16 variable bytes
        &[0; 8],                                   //   no nulls
        &[7, 0, 0, 0, 0, 0, 0, 0],                 //   7
        &[14, 0, 0, 0, 24, 0, 0, 0],               //   length 14 at offset 24
        b"zebra-crossing\0\0",                     //   padded to 16
    ]
    .concat();
    assert_eq!(encoded(&schema, &computed), expected);
    assert_eq!(decode(&schema, &expected, 3).expect("decode"), computed);
}

/// TIMESTAMP(6): scalars are floored millis; the max row covers the whole millisecond.
#[test]
fn precise_timestamp_block() {
    let schema = Schema::new(vec![Column::new("t", DataType::Timestamp { precision: 6 })]);
    let micros = TimestampMicrosecondArray::from(vec![-1, 2_500]);
    let computed = compute(&schema, &batch(&schema, vec![Arc::new(micros)])).expect("compute");
    assert_eq!(computed.columns, vec![stats(0, 0, int(-1), int(2))]);
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0x01, 0x01, 0x00, 0x00, 0x00][..],       // version, N = 1, column 0
        &[0, 0, 0, 0],                             // no nulls
        &[24, 0, 0, 0], &[0; 8],                   // min row: null bits,
        &[0, 0, 0, 0, 16, 0, 0, 0],                //   0 ns, millis at offset 16
        &(-1i64).to_le_bytes(),                    //   -1 ms
        &[24, 0, 0, 0], &[0; 8],                   // max row: null bits,
        &[0x3f, 0x42, 0x0f, 0, 16, 0, 0, 0],       //   999_999 ns, millis at offset 16
        &2i64.to_le_bytes(),                       //   2 ms
    ]
    .concat();
    assert_eq!(encoded(&schema, &computed), expected);
    assert_eq!(decode(&schema, &expected, 2).expect("decode"), computed);
}

#[test]
fn slot_order_is_free() {
    let schema = Schema::new(vec![Column::new("a", DataType::Int), Column::new("b", DataType::BigInt)]);
    let stats = BatchStats { row_count: 2, columns: vec![stats(1, 0, int(1), int(2)), stats(0, 2, None, None)] };
    let bytes = encoded(&schema, &stats);
    assert_eq!(bytes.get(3..7), Some(&[1, 0, 0, 0][..]));
    assert_eq!(decode(&schema, &bytes, 2).expect("decode"), stats);
}

#[test]
fn nothing_to_write_is_written_as_nothing() {
    let schema = Schema::new(vec![Column::new("a", DataType::Int)]);
    let none = BatchStats { row_count: 5, columns: Vec::new() };
    assert!(encoded(&schema, &none).is_empty());
    let no_rows = BatchStats { row_count: 0, columns: vec![stats(0, 0, None, None)] };
    assert!(encoded(&schema, &no_rows).is_empty());
    assert_eq!(decode(&schema, &[], 5).expect("decode"), none);
}

#[test]
fn decodes_java_empty_block() {
    let schema = Schema::new(vec![Column::new("a", DataType::Int)]);
    let java_empty = [&[1u8, 0, 0][..], &[8, 0, 0, 0], &[0; 8], &[8, 0, 0, 0], &[0; 8]].concat();
    assert_eq!(java_empty.len(), 27);
    let decoded = decode(&schema, &java_empty, 9).expect("decode");
    assert_eq!(decoded, BatchStats { row_count: 9, columns: Vec::new() });
}

#[test]
fn unknown_type_slots_decode_with_unknown_bounds() {
    // A Fluss writer may put a BYTES column in the block with null bounds; rill keeps the
    // null count. A non-null bound of such a type is skipped, not interpreted.
    let schema = Schema::new(vec![Column::new("b", DataType::Bytes)]);
    let mut block = [&[1u8, 1, 0, 0, 0, 2, 0, 0, 0][..], &[16, 0, 0, 0]].concat();
    block.extend_from_slice(&[0; 8]);
    block.extend_from_slice(&[b'x', 0, 0, 0, 0, 0, 0, 0x81]);
    block.extend_from_slice(&[16, 0, 0, 0]);
    block.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    block.extend_from_slice(&[0; 8]);
    let decoded = decode(&schema, &block, 4).expect("decode");
    assert_eq!(decoded.columns, vec![stats(0, 2, None, None)]);
}

#[test]
fn encode_rejects_stats_that_do_not_fit_the_schema() {
    let schema = Schema::new(vec![Column::new("a", DataType::TinyInt), Column::new("b", DataType::Bytes)]);
    let bad = [
        stats(2, 0, None, None),           // outside the schema
        stats(0, 4, None, None),           // more nulls than rows
        stats(0, 0, int(1), None),         // only a min
        stats(0, 0, int(1), int(300)),     // beyond TINYINT
        stats(0, 0, text("a"), text("b")), // wrong variant
        stats(0, 0, int(2), int(1)),       // min > max
        stats(1, 0, int(1), int(2)),       // BYTES has no bounds
    ];
    for column in bad {
        let stats = BatchStats { row_count: 3, columns: vec![column.clone()] };
        let mut out = vec![0xAA];
        let result = encode(&schema, &stats, &mut out);
        assert!(matches!(result, Err(Error::InvalidBatch { .. })), "{column:?}");
        assert_eq!(out, [0xAA], "a failed encode leaves the output alone");
    }
    let twice = BatchStats { row_count: 3, columns: vec![stats(0, 0, None, None), stats(0, 0, None, None)] };
    assert!(encode(&schema, &twice, &mut Vec::new()).is_err());
}

fn golden_schema_and_block() -> (Schema, Vec<u8>) {
    let (schema, batch) = all_types();
    let computed = compute(&schema, &batch).expect("compute");
    let bytes = encoded(&schema, &computed);
    (schema, bytes)
}

#[test]
fn decode_rejects_malformed_headers() {
    let (schema, block) = golden_schema_and_block();
    let with = |at: usize, value: &[u8]| {
        let mut bytes = block.clone();
        bytes.splice(at..at + value.len(), value.iter().copied());
        decode(&schema, &bytes, 3)
    };
    assert!(with(0, &[2]).is_err(), "version");
    assert!(with(1, &(-1i16).to_le_bytes()).is_err(), "negative column count");
    assert!(with(3, &(23i16).to_le_bytes()).is_err(), "column outside the schema");
    assert!(with(3, &(1i16).to_le_bytes()).is_err(), "column 1 twice");
    assert!(with(3 + 2 * 21, &(4i32).to_le_bytes()).is_err(), "4 nulls in 3 rows");
    assert!(with(3 + 2 * 21, &(-1i32).to_le_bytes()).is_err(), "negative null count");
    assert!(with(3 + 6 * 21, &(-8i32).to_le_bytes()).is_err(), "negative row length");
    assert!(decode(&schema, &[block.as_slice(), &[0]].concat(), 3).is_err(), "trailing byte");
    assert!(decode(&schema, &block, 2).is_err(), "a null count above the row count");
}

proptest! {
    #[test]
    fn truncated_blocks_are_errors(cut in 1usize..10_000) {
        let (schema, block) = golden_schema_and_block();
        let cut = cut % block.len();
        let result = decode(&schema, block.get(..cut).unwrap_or_default(), 3);
        prop_assert_eq!(result.is_ok(), cut == 0);
    }

    #[test]
    fn flipped_bytes_never_panic(flips in prop::collection::vec((any::<usize>(), 1u8..), 1..4)) {
        let (schema, mut block) = golden_schema_and_block();
        let len = block.len();
        for (at, mask) in flips {
            if let Some(byte) = block.get_mut(at % len) {
                *byte ^= mask;
            }
        }
        // Ok or Err both fine; a panic fails the test.
        let _ = decode(&schema, &block, 3);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), rows in any::<u32>()) {
        let (schema, _) = golden_schema_and_block();
        let _ = decode(&schema, &bytes, rows);
    }

    #[test]
    fn random_columns_round_trip(
        ints in prop::collection::vec(prop::option::of(any::<i64>()), 1..40),
        strings in prop::collection::vec(prop::option::of(".{0,20}"), 1..40),
        micros in prop::collection::vec(any::<i64>(), 1..40),
    ) {
        let schema = Schema::new(vec![
            Column::new("i", DataType::BigInt),
            Column::new("s", DataType::String),
            Column::new("t", DataType::Timestamp { precision: 6 }),
        ]);
        let rows = ints.len().min(strings.len()).min(micros.len());
        let batch = batch(&schema, vec![
            Arc::new(Int64Array::from(ints[..rows].to_vec())),
            Arc::new(StringArray::from(strings[..rows].to_vec())),
            Arc::new(TimestampMicrosecondArray::from(micros[..rows].to_vec())),
        ]);
        let computed = compute(&schema, &batch).expect("compute");
        let bytes = encoded(&schema, &computed);
        prop_assert_eq!(decode(&schema, &bytes, rows as u32).expect("decode"), computed);
    }
}
