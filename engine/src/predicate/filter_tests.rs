//! The row filter over every supported Arrow type, with nulls, three-valued logic,
//! sub-millisecond units, float edge cases, sliced batches and type errors.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, RecordBatch, StringArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};

use crate::error::Error;
use crate::predicate::{CompareOp, Literal, Predicate};
use crate::schema::{Column, DataType, Schema};

/// One column per supported type, three rows each (the third row null where nullable).
fn schema() -> Schema {
    Schema::new(vec![
        Column::new("i8", DataType::TinyInt),
        Column::new("i16", DataType::SmallInt),
        Column::new("i32", DataType::Int),
        Column::new("i64", DataType::BigInt),
        Column::new("f32", DataType::Float),
        Column::new("f64", DataType::Double),
        Column::new("s", DataType::String),
        Column::new("b", DataType::Boolean),
        Column::new("dec", DataType::Decimal { precision: 10, scale: 2 }),
        Column::new("dt", DataType::Date),
        Column::new("t0", DataType::Time { precision: 0 }),
        Column::new("t3", DataType::Time { precision: 3 }),
        Column::new("t6", DataType::Time { precision: 6 }),
        Column::new("t9", DataType::Time { precision: 9 }),
        Column::new("ts0", DataType::Timestamp { precision: 0 }),
        Column::new("ts3", DataType::Timestamp { precision: 3 }),
        Column::new("ltz6", DataType::TimestampLtz { precision: 6 }),
        Column::new("ts9", DataType::Timestamp { precision: 9 }),
        Column::new("bin", DataType::Bytes),
    ])
}

fn batch() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![Some(-1), Some(5), None])),
        Arc::new(Int16Array::from(vec![Some(-1), Some(5), None])),
        Arc::new(Int32Array::from(vec![Some(-1), Some(5), None])),
        Arc::new(Int64Array::from(vec![Some(-1), Some(5), None])),
        Arc::new(Float32Array::from(vec![Some(-1.5), Some(5.0), None])),
        Arc::new(Float64Array::from(vec![Some(-1.5), Some(5.0), None])),
        Arc::new(StringArray::from(vec![Some("apple"), Some("it's"), None])),
        Arc::new(BooleanArray::from(vec![Some(false), Some(true), None])),
        Arc::new(
            Decimal128Array::from(vec![Some(1234), Some(-5), None]).with_precision_and_scale(10, 2).expect("valid"),
        ),
        Arc::new(Date32Array::from(vec![Some(-1), Some(19_723), None])),
        Arc::new(Time32SecondArray::from(vec![Some(1), Some(43_200), None])),
        Arc::new(Time32MillisecondArray::from(vec![Some(1), Some(43_200_250), None])),
        Arc::new(Time64MicrosecondArray::from(vec![Some(999), Some(1_000), None])),
        Arc::new(Time64NanosecondArray::from(vec![Some(999_999), Some(1_000_000), None])),
        Arc::new(TimestampSecondArray::from(vec![Some(-1), Some(86_400), None])),
        Arc::new(TimestampMillisecondArray::from(vec![Some(-1), Some(86_400_001), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(-1), Some(1_500), None]).with_timezone("UTC")),
        Arc::new(TimestampNanosecondArray::from(vec![Some(-1), Some(1_000_000), None])),
        Arc::new(BinaryArray::from(vec![Some(b"x".as_ref()), Some(b"y".as_ref()), None])),
    ];
    RecordBatch::try_new(schema().to_arrow(), columns).expect("the batch matches the schema")
}

fn rows(predicate: &Predicate, batch: &RecordBatch) -> Vec<bool> {
    let selected = predicate.filter(batch).expect("filter runs");
    assert_eq!(selected.null_count(), 0);
    assert_eq!(selected.len(), batch.num_rows());
    selected.iter().map(|v| v == Some(true)).collect()
}

#[track_caller]
fn check(cases: &[(&str, [bool; 3])]) {
    let batch = batch();
    for (text, expected) in cases {
        let predicate = Predicate::parse(text, &schema()).expect("test predicates parse");
        assert_eq!(rows(&predicate, &batch), expected.to_vec(), "{text}");
    }
}

const F: bool = false;
const T: bool = true;

#[test]
fn integer_types_compare_and_skip_nulls() {
    for column in ["i8", "i16", "i32", "i64"] {
        check(&[
            (&format!("{column} > 0"), [F, T, F]),
            (&format!("{column} <= 5"), [T, T, F]),
            (&format!("{column} != 5"), [T, F, F]),
            (&format!("{column} = -1"), [T, F, F]),
            (&format!("{column} < -1"), [F, F, F]),
            (&format!("{column} >= -1"), [T, T, F]),
            (&format!("{column} IN (5, 7)"), [F, T, F]),
            (&format!("{column} IS NULL"), [F, F, T]),
        ]);
    }
}

#[test]
fn three_valued_logic_keeps_unknown_unselected() {
    check(&[
        ("NOT i64 > 0", [T, F, F]),
        ("i64 > 0 OR i64 IS NULL", [F, T, T]),
        ("NOT (i64 > 0 AND i64 IS NOT NULL)", [T, F, T]),
        ("NOT (i64 > 0 OR i32 = 5)", [T, F, F]),
        ("i64 IN (-1, NULL)", [T, F, F]),
        ("i64 NOT IN (-1, NULL)", [F, F, F]),
        ("i64 NOT IN (-1)", [F, T, F]),
        ("NOT i64 IN (5, NULL)", [F, F, F]),
        ("i64 IS NOT NULL AND NOT i64 IS NULL", [T, T, F]),
        ("NOT NOT i64 = 5", [F, T, F]),
    ]);
    let batch = batch();
    assert_eq!(rows(&Predicate::And(Vec::new()), &batch), vec![T, T, T]);
    assert_eq!(rows(&Predicate::Or(Vec::new()), &batch), vec![F, F, F]);
    let null_compare = Predicate::Compare { column: 3, op: CompareOp::NotEq, value: Literal::Null };
    assert_eq!(rows(&null_compare, &batch), vec![F, F, F]);
    assert_eq!(rows(&Predicate::Not(Box::new(null_compare)), &batch), vec![F, F, F]);
}

#[test]
fn floats_strings_booleans_and_decimals() {
    check(&[
        ("f32 < 0", [T, F, F]),
        ("f32 = 5", [F, T, F]),
        ("f64 >= -1.5", [T, T, F]),
        ("f64 IN (5.0, 7)", [F, T, F]),
        ("s = 'it''s'", [F, T, F]),
        ("s < 'b'", [T, F, F]),
        ("s IN ('apple', 'pear')", [T, F, F]),
        ("s NOT IN ('apple')", [F, T, F]),
        ("b = true", [F, T, F]),
        ("b != true", [T, F, F]),
        ("b < true", [T, F, F]),
        ("dec = 12.34", [T, F, F]),
        ("dec < 0", [F, T, F]),
        ("dec IN (-0.05)", [F, T, F]),
    ]);
}

#[test]
fn dates_times_and_timestamps_compare_in_millis() {
    check(&[
        ("dt = '1969-12-31'", [T, F, F]),
        ("dt >= '2024-01-01'", [F, T, F]),
        ("t0 = '00:00:01'", [T, F, F]),
        ("t0 > '11:59:59.999'", [F, T, F]),
        ("t3 = '12:00:00.250'", [F, T, F]),
        ("t3 < '00:00:00.002'", [T, F, F]),
        // 999 us and 999_999 ns floor to 0 ms; 1_000 us and 1_000_000 ns are 1 ms.
        ("t6 = '00:00:00'", [T, F, F]),
        ("t6 = '00:00:00.001'", [F, T, F]),
        ("t9 < '00:00:00.001'", [T, F, F]),
        ("t9 >= '00:00:00.001'", [F, T, F]),
        ("ts0 = '1969-12-31 23:59:59'", [T, F, F]),
        ("ts0 = 86400000", [F, T, F]),
        ("ts3 = '1970-01-02 00:00:00.001'", [F, T, F]),
        ("ts3 < 0", [T, F, F]),
        // -1 us and -1 ns floor to -1 ms (toward negative infinity).
        ("ltz6 = -1", [T, F, F]),
        ("ltz6 = '1970-01-01 00:00:00.001'", [F, T, F]),
        ("ts9 = '1969-12-31 23:59:59.999'", [T, F, F]),
        ("ts9 > '1969-12-31 23:59:59.999'", [F, T, F]),
    ]);
}

#[test]
fn floats_order_like_java_double_compare() {
    let schema = Schema::new(vec![Column::new("f", DataType::Double)]);
    let values = Float64Array::from(vec![Some(f64::NAN), Some(-0.0), Some(0.0), Some(1.5), None]);
    let batch = RecordBatch::try_new(schema.to_arrow(), vec![Arc::new(values)]).expect("valid");
    let select = |text: &str| rows(&Predicate::parse(text, &schema).expect("parses"), &batch);
    assert_eq!(select("f = 0"), vec![F, F, T, F, F]);
    assert_eq!(select("f = -0.0"), vec![F, T, F, F, F]);
    assert_eq!(select("f > 1e300"), vec![T, F, F, F, F]);
    assert_eq!(select("f != 1.5"), vec![T, T, T, F, F]);
    assert_eq!(select("NOT f < 1.5"), vec![T, F, F, T, F]);
    let nan = Predicate::Compare { column: 0, op: CompareOp::Eq, value: Literal::Float(f64::NAN) };
    assert_eq!(rows(&nan, &batch), vec![T, F, F, F, F]);
}

#[test]
fn binary_columns_take_only_null_tests() {
    check(&[("bin IS NULL", [F, F, T]), ("bin IS NOT NULL", [T, T, F])]);
    let bytes = Predicate::Compare { column: 18, op: CompareOp::Eq, value: Literal::Str("x".into()) };
    let err = bytes.filter(&batch()).expect_err("binary comparisons are unsupported");
    assert!(matches!(&err, Error::Predicate { reason } if reason.contains("column 18 is Binary")), "{err}");
    let only_null = Predicate::In { column: 18, values: vec![Literal::Null], negated: true };
    assert_eq!(rows(&only_null, &batch()), vec![F, F, F]);
}

#[test]
fn sliced_batches_keep_their_offsets() {
    let sliced = batch().slice(1, 2);
    let predicate = Predicate::parse("i64 = 5 OR s IS NULL", &schema()).expect("parses");
    assert_eq!(rows(&predicate, &sliced), vec![T, T]);
    let predicate = Predicate::parse("NOT b = true", &schema()).expect("parses");
    assert_eq!(rows(&predicate, &sliced), vec![F, F]);
}

#[test]
fn mismatches_are_errors_not_panics() {
    let batch = batch();
    let missing = Predicate::IsNull { column: 99 };
    let err = missing.filter(&batch).expect_err("no column 99");
    assert!(err.to_string().contains("reads column 99, the batch has 19 columns"), "{err}");
    let wrong = Predicate::Compare { column: 3, op: CompareOp::Eq, value: Literal::Str("5".into()) };
    let err = wrong.filter(&batch).expect_err("string against Int64");
    assert!(err.to_string().contains("column 3 is Int64: cannot compare it with '5'"), "{err}");
    let wrong = Predicate::In { column: 6, values: vec![Literal::Str("a".into()), Literal::Int(1)], negated: false };
    let err = wrong.filter(&batch).expect_err("integer against Utf8");
    assert!(err.to_string().contains("column 6 is Utf8: cannot compare it with 1"), "{err}");
    let nested = Predicate::Or(vec![Predicate::IsNull { column: 0 }, wrong]);
    assert!(nested.filter(&batch).is_err());
}

#[test]
fn empty_batches_give_empty_selections() {
    let empty = batch().slice(0, 0);
    let predicate = Predicate::parse("i64 > 0 OR NOT s IS NULL", &schema()).expect("parses");
    assert!(rows(&predicate, &empty).is_empty());
}
