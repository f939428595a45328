//! `can_match` against hand-built statistics: every operator, NOT, IN, NOT IN, AND / OR,
//! nulls, missing statistics and float edge cases.

use super::*;
use crate::schema::{Column, DataType, Schema};

fn schema() -> Schema {
    Schema::new(vec![
        Column::new("x", DataType::BigInt),
        Column::new("y", DataType::BigInt),
        Column::new("s", DataType::String),
        Column::new("f", DataType::Double),
        Column::new("b", DataType::Boolean),
    ])
}

fn column(column: u16, null_count: u32, bounds: Option<(Scalar, Scalar)>) -> ColumnStats {
    let (min, max) = match bounds {
        Some((min, max)) => (Some(min), Some(max)),
        None => (None, None),
    };
    ColumnStats { column, null_count, min, max }
}

/// 10 rows: x in [10, 20] without nulls, s in ['apple', 'cherry'], b all true; y unknown.
fn stats() -> BatchStats {
    BatchStats {
        row_count: 10,
        columns: vec![
            column(0, 0, Some((Scalar::Int(10), Scalar::Int(20)))),
            column(2, 2, Some((Scalar::Str("apple".into()), Scalar::Str("cherry".into())))),
            column(4, 0, Some((Scalar::Bool(true), Scalar::Bool(true)))),
        ],
    }
}

fn one_column(null_count: u32, bounds: Option<(Scalar, Scalar)>) -> BatchStats {
    BatchStats { row_count: 10, columns: vec![column(0, null_count, bounds.clone()), column(3, null_count, bounds)] }
}

#[track_caller]
fn check(stats: &BatchStats, cases: &[(&str, bool)]) {
    for (text, expected) in cases {
        let predicate = Predicate::parse(text, &schema()).expect("test predicates parse");
        assert_eq!(predicate.can_match(stats), *expected, "{text}");
    }
}

#[test]
fn comparisons_use_min_and_max() {
    check(
        &stats(),
        &[
            ("x = 5", false),
            ("x = 10", true),
            ("x = 15", true),
            ("x = 21", false),
            ("x != 15", true),
            ("x < 10", false),
            ("x < 11", true),
            ("x <= 10", true),
            ("x <= 9", false),
            ("x > 20", false),
            ("x > 19", true),
            ("x >= 20", true),
            ("x >= 21", false),
        ],
    );
}

#[test]
fn not_equal_prunes_only_a_constant_column() {
    let constant = one_column(0, Some((Scalar::Int(15), Scalar::Int(15))));
    check(&constant, &[("x != 15", false), ("x <> 14", true), ("x = 15", true), ("NOT x = 15", false)]);
}

#[test]
fn negation_inverts_soundly() {
    check(
        &stats(),
        &[
            ("NOT x < 10", true),
            ("NOT x <= 20", false),
            ("NOT x >= 10", false),
            ("NOT x > 9", false),
            ("NOT x = 5", true),
            ("NOT x != 5", false),
            ("NOT NOT x = 5", false),
            ("NOT (x < 5 OR x > 25)", true),
            ("NOT (x > 5 AND x < 30)", false),
            ("NOT (x > 5 AND x < 15)", true),
        ],
    );
}

#[test]
fn in_and_not_in() {
    check(
        &stats(),
        &[
            ("x IN (1, 5)", false),
            ("x IN (1, 15)", true),
            ("x IN (NULL)", false),
            ("x IN (NULL, 20)", true),
            ("x NOT IN (1, 15)", true),
            ("x NOT IN (1, NULL)", false),
            ("NOT x IN (1, NULL)", false),
            ("NOT x IN (1, 2)", true),
            ("s IN ('banana')", true),
            ("s IN ('zebra', 'aardvark')", false),
        ],
    );
    let constant = one_column(0, Some((Scalar::Int(15), Scalar::Int(15))));
    check(&constant, &[("x NOT IN (15)", false), ("x NOT IN (14, 15)", false), ("x NOT IN (14)", true)]);
}

#[test]
fn and_or_combine() {
    check(
        &stats(),
        &[
            ("x > 5 AND x < 8", false),
            ("x > 5 AND x < 12", true),
            ("x < 5 OR x > 25", false),
            ("x < 5 OR x > 15", true),
            ("x > 5 AND y = 3", true),
            ("x > 25 AND y = 3", false),
            ("x > 25 OR y = 3", true),
            ("(x < 5 OR s = 'banana') AND b = true", true),
            ("(x < 5 OR s = 'banana') AND b = false", false),
        ],
    );
}

#[test]
fn null_counts_decide_is_null() {
    check(&stats(), &[("x IS NULL", false), ("x IS NOT NULL", true), ("s IS NULL", true), ("NOT s IS NULL", true)]);
    let all_null = one_column(10, None);
    check(
        &all_null,
        &[
            ("x IS NULL", true),
            ("x IS NOT NULL", false),
            ("NOT x IS NULL", false),
            ("x = 5", false),
            ("x != 5", false),
            ("NOT x = 5", false),
            ("x IN (5, NULL)", false),
            ("x NOT IN (5)", false),
            ("x IS NULL AND x = 5", false),
            ("x IS NULL OR x = 5", true),
        ],
    );
}

#[test]
fn null_rows_are_unknown_not_false() {
    let some_null = one_column(3, Some((Scalar::Int(15), Scalar::Int(15))));
    check(
        &some_null,
        &[
            ("NOT x = 15", false),
            ("x IS NULL OR x != 15", true),
            ("x = 15", true),
            ("NOT (x = 15 AND x IS NOT NULL)", true),
        ],
    );
}

#[test]
fn missing_statistics_may_match_anything() {
    check(&stats(), &[("y = 1", true), ("NOT y = 1", true), ("y IS NULL", true), ("y IS NOT NULL", true)]);
    let no_bounds = one_column(2, None);
    check(&no_bounds, &[("x = 1", true), ("NOT x = 1", true), ("x IS NULL", true)]);
}

#[test]
fn an_empty_batch_matches_nothing() {
    let empty = BatchStats { row_count: 0, columns: Vec::new() };
    check(&empty, &[("y = 1", false), ("y IS NULL", false), ("NOT y IS NULL", false)]);
    assert!(!Predicate::And(Vec::new()).can_match(&empty));
    assert!(Predicate::And(Vec::new()).can_match(&stats()));
    assert!(!Predicate::Or(Vec::new()).can_match(&stats()));
}

#[test]
fn strings_and_booleans_prune() {
    check(
        &stats(),
        &[
            ("s = 'banana'", true),
            ("s < 'apple'", false),
            ("s <= 'apple'", true),
            ("s >= 'd'", false),
            ("b = false", false),
            ("b = true", true),
            ("b != true", false),
        ],
    );
}

#[test]
fn float_bounds_are_widened_where_writers_differ() {
    let zeros = one_column(0, Some((Scalar::Float(0.0), Scalar::Float(0.0))));
    check(&zeros, &[("f = 0.0", true), ("f < 0.0", true), ("f > 0.0", false), ("f != 0", true)]);
    let nan_min = one_column(0, Some((Scalar::Float(f64::NAN), Scalar::Float(f64::NAN))));
    check(&nan_min, &[("f < 1", true), ("f > 1e300", true)]);
    let nan_max = one_column(0, Some((Scalar::Float(1.0), Scalar::Float(f64::NAN))));
    check(&nan_max, &[("f > 1e300", true), ("f < 1", false), ("f <= 1", true)]);
    let plain = one_column(0, Some((Scalar::Float(1.5), Scalar::Float(2.5))));
    check(&plain, &[("f > 2.5", false), ("f >= 2.5", true), ("f IN (1, 3)", false)]);
}

#[test]
fn untrustworthy_bounds_prune_nothing() {
    let mixed = one_column(0, Some((Scalar::Int(1), Scalar::Str("z".into()))));
    check(&mixed, &[("x = 100", true), ("NOT x = 100", true)]);
    let inverted = one_column(0, Some((Scalar::Int(20), Scalar::Int(10))));
    check(&inverted, &[("x = 15", true), ("x < 0", true)]);
    let wrong_kind = one_column(0, Some((Scalar::Str("a".into()), Scalar::Str("b".into()))));
    check(&wrong_kind, &[("x = 1", true), ("x IN (1)", true), ("x NOT IN (1)", true)]);
}

#[test]
fn null_literals_built_by_hand_are_unknown() {
    let compare_null = Predicate::Compare { column: 0, op: CompareOp::NotEq, value: Literal::Null };
    assert!(!compare_null.can_match(&stats()));
    assert!(!Predicate::Not(Box::new(compare_null)).can_match(&stats()));
}
