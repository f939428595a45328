//! CompactedRow round trips, golden bytes and bad input, through `encode_row` and `RowDecoder`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, StringBuilder};
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, Int32Array, Int64Array, PrimitiveArray,
    RecordBatch, StringArray,
};
use arrow_schema::{DataType as ArrowType, TimeUnit};
use proptest::prelude::*;

use super::{encode_row, RowDecoder};
use crate::error::Error;
use crate::schema::{Column, DataType, Schema};

/// Every type and precision class, nullable, plus NOT NULL columns at both ends.
pub(crate) fn all_types_schema() -> Schema {
    let c = Column::new;
    Schema::new(vec![
        Column::not_null("id", DataType::Int),
        c("b", DataType::Boolean),
        c("i8", DataType::TinyInt),
        c("i16", DataType::SmallInt),
        c("i32", DataType::Int),
        c("i64", DataType::BigInt),
        c("f32", DataType::Float),
        c("f64", DataType::Double),
        c("dec5", DataType::Decimal { precision: 5, scale: 2 }),
        c("dec18", DataType::Decimal { precision: 18, scale: 4 }),
        c("dec19", DataType::Decimal { precision: 19, scale: 0 }),
        c("dec38", DataType::Decimal { precision: 38, scale: 10 }),
        c("ch", DataType::Char { length: 8 }),
        c("s", DataType::String),
        c("bin3", DataType::Binary { length: 3 }),
        c("bytes", DataType::Bytes),
        c("date", DataType::Date),
        c("t0", DataType::Time { precision: 0 }),
        c("t3", DataType::Time { precision: 3 }),
        c("t6", DataType::Time { precision: 6 }),
        c("t9", DataType::Time { precision: 9 }),
        c("ts0", DataType::Timestamp { precision: 0 }),
        c("ts3", DataType::Timestamp { precision: 3 }),
        c("ts6", DataType::Timestamp { precision: 6 }),
        c("ts9", DataType::Timestamp { precision: 9 }),
        c("ltz0", DataType::TimestampLtz { precision: 0 }),
        c("ltz3", DataType::TimestampLtz { precision: 3 }),
        c("ltz6", DataType::TimestampLtz { precision: 6 }),
        c("ltz9", DataType::TimestampLtz { precision: 9 }),
        Column::not_null("tail", DataType::String),
    ])
}

/// SplitMix64: deterministic values from a seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `-span..=span`, with the ends and zero more likely.
    fn spread(&mut self, span: i128) -> i128 {
        match self.next() % 8 {
            0 => -span,
            1 => span,
            2 => 0,
            _ => {
                let wide = (u128::from(self.next()) << 64) | u128::from(self.next());
                let (r, span) = (wide % (2 * span as u128 + 1), span as u128);
                if r <= span {
                    r as i128
                } else {
                    -((r - span) as i128)
                }
            }
        }
    }
}

fn prim<T: ArrowPrimitiveType>(
    rows: usize,
    rng: &mut Rng,
    nullable: bool,
    mut f: impl FnMut(&mut Rng) -> T::Native,
) -> PrimitiveArray<T> {
    (0..rows).map(|_| if nullable && rng.next() % 4 == 0 { None } else { Some(f(rng)) }).collect()
}

/// Random values for `column`; TIME(4..=9) values are whole milliseconds (Fluss keeps no more).
pub(crate) fn sample_column(column: &Column, rows: usize, rng: &mut Rng) -> ArrayRef {
    let n = column.nullable;
    let arrow = column.data_type.to_arrow();
    match (column.data_type, &arrow) {
        (DataType::Boolean, _) => Arc::new(
            (0..rows).map(|_| (!n || rng.next() % 4 != 0).then(|| rng.next() % 2 == 0)).collect::<BooleanArray>(),
        ),
        (DataType::TinyInt, _) => Arc::new(prim::<Int8Type>(rows, rng, n, |r| r.next() as i8)),
        (DataType::SmallInt, _) => Arc::new(prim::<Int16Type>(rows, rng, n, |r| r.spread(i16::MAX.into()) as i16)),
        (DataType::Int, _) => Arc::new(prim::<Int32Type>(rows, rng, n, |r| r.spread(i32::MAX.into()) as i32)),
        (DataType::BigInt, _) => Arc::new(prim::<Int64Type>(rows, rng, n, |r| r.spread(i64::MAX.into()) as i64)),
        (DataType::Float, _) => Arc::new(prim::<Float32Type>(rows, rng, n, |r| f32::from_bits(r.next() as u32))),
        (DataType::Double, _) => Arc::new(prim::<Float64Type>(rows, rng, n, |r| f64::from_bits(r.next()))),
        (DataType::Decimal { precision, scale }, _) => {
            let span = 10i128.pow(u32::from(precision)) - 1;
            Arc::new(
                prim::<Decimal128Type>(rows, rng, n, |r| r.spread(span))
                    .with_precision_and_scale(precision, scale as i8)
                    .unwrap(),
            )
        }
        (DataType::Char { .. } | DataType::String, _) => {
            let mut b = StringBuilder::new();
            for row in 0..rows {
                if n && rng.next() % 4 == 0 {
                    b.append_null();
                } else {
                    b.append_value(sample_string(row, rng));
                }
            }
            Arc::new(b.finish())
        }
        (DataType::Bytes, _) => Arc::new(
            (0..rows)
                .map(|_| {
                    (!n || rng.next() % 4 != 0)
                        .then(|| (0..rng.next() % 300).map(|_| rng.next() as u8).collect::<Vec<_>>())
                })
                .collect::<BinaryArray>(),
        ),
        (DataType::Binary { length }, _) => {
            let mut b = FixedSizeBinaryBuilder::new(length as i32);
            for _ in 0..rows {
                if n && rng.next() % 4 == 0 {
                    b.append_null();
                } else {
                    b.append_value((0..length).map(|_| rng.next() as u8).collect::<Vec<_>>()).unwrap();
                }
            }
            Arc::new(b.finish())
        }
        (DataType::Date, _) => Arc::new(prim::<Date32Type>(rows, rng, n, |r| r.spread(3_000_000) as i32)),
        (DataType::Time { .. }, ArrowType::Time32(TimeUnit::Second)) => {
            Arc::new(prim::<Time32SecondType>(rows, rng, n, |r| (r.next() % 86_400) as i32))
        }
        (DataType::Time { .. }, ArrowType::Time32(_)) => {
            Arc::new(prim::<Time32MillisecondType>(rows, rng, n, |r| (r.next() % 86_400_000) as i32))
        }
        (DataType::Time { .. }, ArrowType::Time64(TimeUnit::Microsecond)) => {
            Arc::new(prim::<Time64MicrosecondType>(rows, rng, n, |r| (r.next() % 86_400_000) as i64 * 1_000))
        }
        (DataType::Time { .. }, _) => {
            Arc::new(prim::<Time64NanosecondType>(rows, rng, n, |r| (r.next() % 86_400_000) as i64 * 1_000_000))
        }
        (_, ArrowType::Timestamp(unit, tz)) => {
            let span: i128 = match unit {
                TimeUnit::Second => 9_000_000_000_000_000,
                _ => 9_000_000_000_000_000_000,
            };
            let tz = tz.clone();
            let f = |r: &mut Rng| r.spread(span) as i64;
            match unit {
                TimeUnit::Second => Arc::new(prim::<TimestampSecondType>(rows, rng, n, f).with_timezone_opt(tz)),
                TimeUnit::Millisecond => {
                    Arc::new(prim::<TimestampMillisecondType>(rows, rng, n, f).with_timezone_opt(tz))
                }
                TimeUnit::Microsecond => {
                    Arc::new(prim::<TimestampMicrosecondType>(rows, rng, n, f).with_timezone_opt(tz))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(prim::<TimestampNanosecondType>(rows, rng, n, f).with_timezone_opt(tz))
                }
            }
        }
        (other, _) => panic!("no sample for {other}"),
    }
}

fn sample_string(row: usize, rng: &mut Rng) -> String {
    match rng.next() % 6 {
        0 => String::new(),
        1 => "héllo wörld ✓".into(),
        2 => "日本語".repeat(1 + row % 3),
        3 => "x".repeat(200 + (rng.next() % 300) as usize),
        _ => format!("row {row} {}", rng.next()),
    }
}

pub(crate) fn sample_batch(schema: &Schema, rows: usize, seed: u64) -> RecordBatch {
    let mut rng = Rng(seed);
    let columns = schema.columns.iter().map(|c| sample_column(c, rows, &mut rng)).collect();
    RecordBatch::try_new(schema.to_arrow(), columns).unwrap()
}

fn encode_all(schema: &Schema, batch: &RecordBatch) -> Vec<Vec<u8>> {
    (0..batch.num_rows())
        .map(|row| {
            let mut out = Vec::new();
            encode_row(schema, batch.columns(), row, &mut out).unwrap();
            out
        })
        .collect()
}

fn decode_all(schema: &Schema, rows: &[Vec<u8>]) -> RecordBatch {
    let mut decoder = RowDecoder::new(schema).unwrap();
    for row in rows {
        decoder.append(row).unwrap();
    }
    decoder.finish()
}

/// Same schema and, column by column, the same values and nulls (floats by bit pattern).
fn assert_same(expected: &RecordBatch, actual: &RecordBatch) {
    assert_eq!(expected.schema(), actual.schema());
    assert_eq!(expected.num_rows(), actual.num_rows());
    for (field, (e, a)) in expected.schema().fields().iter().zip(expected.columns().iter().zip(actual.columns())) {
        assert!(e.as_ref() == a.as_ref(), "column {} differs:\n{e:?}\n{a:?}", field.name());
    }
}

#[test]
fn every_type_round_trips_with_nulls_and_extremes() {
    let schema = all_types_schema();
    for seed in 0..4 {
        let batch = sample_batch(&schema, 64, seed);
        let rows = encode_all(&schema, &batch);
        assert_same(&batch, &decode_all(&schema, &rows));
    }
}

#[test]
fn golden_bytes() {
    let schema = Schema::new(vec![
        Column::new("a", DataType::Int),
        Column::new("b", DataType::String),
        Column::new("c", DataType::BigInt),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1, 300])),
        Arc::new(StringArray::from(vec![None, Some("hé")])),
        Arc::new(Int64Array::from(vec![-1, 5])),
    ];
    let mut out = Vec::new();
    encode_row(&schema, &columns, 0, &mut out).unwrap();
    assert_eq!(out, [&[0b010, 0x01][..], &[0xFF; 9], &[0x01]].concat());
    out.clear();
    encode_row(&schema, &columns, 1, &mut out).unwrap();
    assert_eq!(out, [0x00, 0xAC, 0x02, 0x03, b'h', 0xC3, 0xA9, 0x05]);
}

#[test]
fn golden_bytes_of_the_other_types() {
    let schema = Schema::new(vec![
        Column::not_null("b", DataType::Boolean),
        Column::not_null("s", DataType::SmallInt),
        Column::not_null("f", DataType::Float),
        Column::not_null("d5", DataType::Decimal { precision: 5, scale: 2 }),
        Column::not_null("d20", DataType::Decimal { precision: 20, scale: 2 }),
        Column::not_null("t6", DataType::Time { precision: 6 }),
        Column::not_null("ts6", DataType::Timestamp { precision: 6 }),
        Column::not_null("bin2", DataType::Binary { length: 2 }),
    ]);
    let decimal = |v: i128, p: u8| {
        Arc::new(PrimitiveArray::<Decimal128Type>::from(vec![v]).with_precision_and_scale(p, 2).unwrap()) as ArrayRef
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BooleanArray::from(vec![true])),
        Arc::new(PrimitiveArray::<Int16Type>::from(vec![-2])),
        Arc::new(PrimitiveArray::<Float32Type>::from(vec![1.5])),
        decimal(-12_345, 5),
        decimal(128, 20),
        Arc::new(PrimitiveArray::<Time64MicrosecondType>::from(vec![1_999])),
        Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(vec![-1])),
        Arc::new(arrow_array::FixedSizeBinaryArray::try_from_iter([[0xABu8, 0xCD]].into_iter()).unwrap()),
    ];
    let mut out = Vec::new();
    encode_row(&schema, &columns, 0, &mut out).unwrap();
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0x00][..],                     // 8 fields: one bitset byte, nothing null
        &[0x01],                         // true
        &[0xFE, 0xFF],                   // -2 as i16 LE
        &1.5f32.to_le_bytes(),           // 00 00 C0 3F
        &[0xC7, 0x9F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], // -12345 as varint u64
        &[0x02, 0x00, 0x80],             // 128: length 2, 00 80
        &[0x01],                         // 1999 µs = 1 ms
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], // -1 µs: millis -1 ...
        &[0xD8, 0xFC, 0x3C],             // ... + 999000 ns
        &[0x02, 0xAB, 0xCD],             // BINARY(2)
    ].concat();
    assert_eq!(out, expected);
    let decoded = decode_all(&schema, &[out]);
    let t6 = decoded.column(5).as_any().downcast_ref::<PrimitiveArray<Time64MicrosecondType>>().unwrap();
    assert_eq!(t6.value(0), 1_000, "TIME keeps whole milliseconds");
    let ts6 = decoded.column(6).as_any().downcast_ref::<PrimitiveArray<TimestampMicrosecondType>>().unwrap();
    assert_eq!(ts6.value(0), -1, "TIMESTAMP(6) is exact");
}

#[test]
fn nulls_in_not_null_columns_are_errors_both_ways() {
    let schema = Schema::new(vec![Column::not_null("a", DataType::Int), Column::new("b", DataType::Int)]);
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int32Array::from(vec![None, Some(1)])), Arc::new(Int32Array::from(vec![1, 2]))];
    let mut out = vec![0xEE];
    let err = encode_row(&schema, &columns, 0, &mut out).unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err}");
    assert_eq!(out, [0xEE], "out is left as it was");
    let mut decoder = RowDecoder::new(&schema).unwrap();
    let err = decoder.append(&[0b01, 0x02]).unwrap_err();
    assert!(matches!(err, Error::InvalidBatch { .. }) && err.to_string().contains("field 0"), "{err}");
    decoder.append(&[0b10, 0x02]).unwrap();
    assert_eq!(decoder.finish().num_rows(), 1);
}

#[test]
fn wrong_columns_are_schema_mismatches() {
    let schema = Schema::new(vec![Column::new("a", DataType::Int)]);
    let wrong: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![1]))];
    assert!(matches!(encode_row(&schema, &wrong, 0, &mut Vec::new()), Err(Error::SchemaMismatch { .. })));
    let right: Vec<ArrayRef> = vec![Arc::new(Int32Array::from(vec![1]))];
    assert!(matches!(encode_row(&schema, &right, 1, &mut Vec::new()), Err(Error::SchemaMismatch { .. })));
    assert!(matches!(encode_row(&schema, &[], 0, &mut Vec::new()), Err(Error::SchemaMismatch { .. })));
    let dec = Schema::new(vec![Column::new("d", DataType::Decimal { precision: 3, scale: 0 })]);
    let too_wide: Vec<ArrayRef> =
        vec![Arc::new(PrimitiveArray::<Decimal128Type>::from(vec![1000]).with_precision_and_scale(3, 0).unwrap())];
    let err = encode_row(&dec, &too_wide, 0, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("more than 3 digits"), "{err}");
}

#[test]
fn a_failed_append_leaves_no_trace() {
    let schema = all_types_schema();
    let batch = sample_batch(&schema, 3, 9);
    let rows = encode_all(&schema, &batch);
    let mut decoder = RowDecoder::new(&schema).unwrap();
    decoder.append(&rows[0]).unwrap();
    let cut = &rows[1][..rows[1].len() - 1];
    assert!(decoder.append(cut).is_err());
    let mut longer = rows[1].clone();
    longer.push(0);
    assert!(decoder.append(&longer).unwrap_err().to_string().contains("after its last field"));
    decoder.append(&rows[2]).unwrap();
    let decoded = decoder.finish();
    assert_eq!(decoded.num_rows(), 2);
    assert_same(&batch.slice(0, 1), &decoded.slice(0, 1));
    assert_same(&batch.slice(2, 1), &decoded.slice(1, 1));
    assert!(decoder.is_empty(), "finish starts over");
}

#[test]
fn malformed_values_are_errors() {
    let one = |data_type: DataType, bytes: &[u8]| {
        let mut decoder = RowDecoder::new(&Schema::new(vec![Column::new("x", data_type)])).unwrap();
        decoder.append(bytes).map(|()| decoder.finish())
    };
    assert!(one(DataType::String, &[0x00, 0x02, 0xC3, 0x28]).is_err(), "not UTF-8");
    assert!(one(DataType::Binary { length: 3 }, &[0x00, 0x02, 1, 2]).is_err(), "BINARY(3) of 2 bytes");
    assert!(one(DataType::Decimal { precision: 2, scale: 0 }, &[0x00, 100]).is_err(), "3 digits");
    assert!(one(DataType::Decimal { precision: 20, scale: 0 }, &[0x00, 0x00]).is_err(), "empty bytes");
    assert!(one(DataType::Time { precision: 0 }, &[0x00, 0x01]).is_err(), "1 ms in TIME(0)");
    let nanos_too_big = [0x00, 0x00, 0xC0, 0x84, 0x3D]; // millis 0, nanos 1_000_000
    assert!(one(DataType::Timestamp { precision: 9 }, &nanos_too_big).is_err());
    assert!(one(DataType::Int, &[0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F]).is_err(), "int overflow");
    assert!(one(DataType::Boolean, &[0x00, 0x07]).is_ok_and(|b| b.num_rows() == 1), "non-zero is true");
    assert!(one(DataType::Int, &[0xFE, 0x05]).is_ok(), "unused bitset bits are ignored");
}

#[test]
fn decoder_needs_a_valid_schema() {
    assert!(RowDecoder::new(&Schema::new(vec![])).is_err());
    assert!(RowDecoder::new(&Schema::new(vec![Column::new("b", DataType::Binary { length: 0 })])).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_rows_round_trip(seed: u64, rows in 1usize..8) {
        let schema = all_types_schema();
        let batch = sample_batch(&schema, rows, seed);
        let encoded = encode_all(&schema, &batch);
        assert_same(&batch, &decode_all(&schema, &encoded));
    }

    #[test]
    fn every_strict_prefix_of_a_row_is_an_error(seed: u64) {
        let schema = all_types_schema();
        let row = encode_all(&schema, &sample_batch(&schema, 1, seed)).remove(0);
        let mut decoder = RowDecoder::new(&schema).unwrap();
        for cut in 0..row.len() {
            prop_assert!(decoder.append(&row[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
        prop_assert!(decoder.is_empty());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let schema = all_types_schema();
        let mut decoder = RowDecoder::new(&schema).unwrap();
        let ok = decoder.append(&bytes).is_ok();
        let batch = decoder.finish();
        prop_assert_eq!(batch.num_rows(), usize::from(ok));
    }

    #[test]
    fn mutated_rows_never_panic(seed: u64, at: usize, xor in 1u8..=255) {
        let schema = all_types_schema();
        let mut row = encode_all(&schema, &sample_batch(&schema, 1, seed)).remove(0);
        let at = at % row.len();
        row[at] ^= xor;
        let mut decoder = RowDecoder::new(&schema).unwrap();
        let ok = decoder.append(&row).is_ok();
        prop_assert_eq!(decoder.finish().num_rows(), usize::from(ok));
    }
}
