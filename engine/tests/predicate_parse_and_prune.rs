//! Predicates end to end: parsed from text, pruning batches by statistics and filtering rows.
//!
//! Properties over random small Int64 / Utf8 batches with nulls and random predicates:
//! - pruning is sound: if `filter` selects a row, `can_match` on the batch's statistics
//!   (exact, loosened, or partly missing) is true;
//! - `filter` agrees with a row-by-row SQL three-valued evaluator written here;
//! - `display_with` prints text that parses back to the same predicate.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use proptest::prelude::*;
use rill_engine::batch::stats::{BatchStats, ColumnStats, Scalar};
use rill_engine::predicate::{CompareOp, Literal, Predicate};
use rill_engine::schema::{Column, DataType, Schema};

fn schema() -> Schema {
    Schema::new(vec![
        Column::new("a", DataType::BigInt),
        Column::new("b", DataType::BigInt),
        Column::new("s", DataType::String),
    ])
}

/// One row: a, b, s.
type Row = (Option<i64>, Option<i64>, Option<String>);

fn to_batch(rows: &[Row]) -> RecordBatch {
    let a: Int64Array = rows.iter().map(|r| r.0).collect();
    let b: Int64Array = rows.iter().map(|r| r.1).collect();
    let s: StringArray = rows.iter().map(|r| r.2.as_deref()).collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(a), Arc::new(b), Arc::new(s)];
    RecordBatch::try_new(schema().to_arrow(), columns).expect("rows match the schema")
}

/// How the test's statistics differ from exact ones.
#[derive(Clone, Debug)]
struct StatsShape {
    /// Per column: collect statistics at all.
    collected: [bool; 3],
    /// Widen integer bounds by this much on each side (still valid bounds).
    slack: i64,
    /// Replace string minimums by "" (still a valid lower bound).
    loose_string_min: bool,
}

/// min / max / null count per column, as a statistics writer would collect them.
fn stats_of(rows: &[Row], shape: &StatsShape) -> BatchStats {
    let ints = |pick: fn(&Row) -> Option<i64>| -> (u32, Option<(Scalar, Scalar)>) {
        let values: Vec<i64> = rows.iter().filter_map(pick).collect();
        let nulls = (rows.len() - values.len()) as u32;
        let bounds = match (values.iter().min(), values.iter().max()) {
            (Some(min), Some(max)) => Some((Scalar::Int(min - shape.slack), Scalar::Int(max + shape.slack))),
            _ => None,
        };
        (nulls, bounds)
    };
    let strings = || -> (u32, Option<(Scalar, Scalar)>) {
        let values: Vec<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
        let nulls = (rows.len() - values.len()) as u32;
        let bounds = match (values.iter().min(), values.iter().max()) {
            (Some(min), Some(max)) => {
                let min = if shape.loose_string_min { "" } else { min };
                Some((Scalar::Str(min.to_string()), Scalar::Str(max.to_string())))
            }
            _ => None,
        };
        (nulls, bounds)
    };
    let all = [ints(|r| r.0), ints(|r| r.1), strings()];
    let columns = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shape.collected[*i])
        .map(|(i, (null_count, bounds))| ColumnStats {
            column: i as u16,
            null_count,
            min: bounds.as_ref().map(|b| b.0.clone()),
            max: bounds.map(|b| b.1),
        })
        .collect();
    BatchStats { row_count: rows.len() as u32, columns }
}

/// A cell of a row as the evaluator sees it.
enum Cell<'a> {
    Int(i64),
    Str(&'a str),
}

fn cell(row: &Row, column: usize) -> Option<Cell<'_>> {
    match column {
        0 => row.0.map(Cell::Int),
        1 => row.1.map(Cell::Int),
        _ => row.2.as_deref().map(Cell::Str),
    }
}

fn order(cell: &Cell<'_>, literal: &Literal) -> Option<Ordering> {
    match (cell, literal) {
        (Cell::Int(v), Literal::Int(l)) => Some(v.cmp(l)),
        (Cell::Str(v), Literal::Str(l)) => Some(v.as_bytes().cmp(l.as_bytes())),
        _ => None,
    }
}

/// SQL three-valued evaluation of one row: `None` is UNKNOWN.
fn eval(predicate: &Predicate, row: &Row) -> Option<bool> {
    match predicate {
        Predicate::Compare { column, op, value } => {
            let ord = order(&cell(row, *column)?, value)?;
            Some(match op {
                CompareOp::Eq => ord == Ordering::Equal,
                CompareOp::NotEq => ord != Ordering::Equal,
                CompareOp::Lt => ord == Ordering::Less,
                CompareOp::LtEq => ord != Ordering::Greater,
                CompareOp::Gt => ord == Ordering::Greater,
                CompareOp::GtEq => ord != Ordering::Less,
            })
        }
        Predicate::IsNull { column } => Some(cell(row, *column).is_none()),
        Predicate::IsNotNull { column } => Some(cell(row, *column).is_some()),
        Predicate::In { column, values, negated } => {
            let value = cell(row, *column)?;
            let found = values.iter().any(|l| order(&value, l) == Some(Ordering::Equal));
            let in_list = if found {
                Some(true)
            } else if values.contains(&Literal::Null) {
                None
            } else {
                Some(false)
            };
            in_list.map(|v| v != *negated)
        }
        Predicate::And(children) => {
            let results: Vec<Option<bool>> = children.iter().map(|c| eval(c, row)).collect();
            if results.contains(&Some(false)) {
                Some(false)
            } else if results.iter().all(|r| *r == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        Predicate::Or(children) => {
            let results: Vec<Option<bool>> = children.iter().map(|c| eval(c, row)).collect();
            if results.contains(&Some(true)) {
                Some(true)
            } else if results.iter().all(|r| *r == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
        Predicate::Not(child) => eval(child, row).map(|v| !v),
    }
}

const WORDS: [&str; 6] = ["", "a", "ab", "b", "ba", "c"];

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    let int = || prop::option::weighted(0.8, -4i64..=4);
    let text = prop::option::weighted(0.8, prop::sample::select(WORDS.to_vec()).prop_map(String::from));
    prop::collection::vec((int(), int(), text), 0..12)
}

/// A non-null literal for `column` (a little wider than the data, to test both edges).
fn literal(column: usize) -> BoxedStrategy<Literal> {
    if column < 2 {
        (-6i64..=6).prop_map(Literal::Int).boxed()
    } else {
        prop::sample::select(vec!["", "a", "aa", "ab", "b", "bb", "ba", "c", "d"])
            .prop_map(|s| Literal::Str(s.to_string()))
            .boxed()
    }
}

fn op() -> impl Strategy<Value = CompareOp> {
    use CompareOp::*;
    prop::sample::select(vec![Eq, NotEq, Lt, LtEq, Gt, GtEq])
}

fn leaf(column: usize) -> BoxedStrategy<Predicate> {
    let in_value = prop_oneof![6 => literal(column), 1 => Just(Literal::Null)];
    prop_oneof![
        4 => (op(), literal(column))
            .prop_map(move |(op, value)| Predicate::Compare { column, op, value }),
        1 => Just(Predicate::IsNull { column }),
        1 => Just(Predicate::IsNotNull { column }),
        2 => (prop::collection::vec(in_value, 1..4), any::<bool>())
            .prop_map(move |(values, negated)| Predicate::In { column, values, negated }),
    ]
    .boxed()
}

fn predicate_strategy() -> impl Strategy<Value = Predicate> {
    let leaves = (0usize..3).prop_flat_map(leaf);
    leaves.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Predicate::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Predicate::Or),
            inner.prop_map(|p| Predicate::Not(Box::new(p))),
        ]
    })
}

fn shape_strategy() -> impl Strategy<Value = StatsShape> {
    let collected = prop::array::uniform3(prop::bool::weighted(0.85));
    (collected, 0i64..=2, prop::bool::weighted(0.2)).prop_map(|(collected, slack, loose_string_min)| StatsShape {
        collected,
        slack,
        loose_string_min,
    })
}

fn selected(predicate: &Predicate, batch: &RecordBatch) -> Vec<bool> {
    let mask = predicate.filter(batch).expect("the filter runs on its own schema");
    assert_eq!(mask.null_count(), 0, "the mask has no nulls");
    assert_eq!(mask.len(), batch.num_rows());
    mask.iter().map(|v| v == Some(true)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pruning_never_drops_a_batch_the_filter_selects_from(
        rows in rows_strategy(),
        predicate in predicate_strategy(),
        shape in shape_strategy(),
    ) {
        let selected = selected(&predicate, &to_batch(&rows));
        let exact = StatsShape { collected: [true; 3], slack: 0, loose_string_min: false };
        if selected.contains(&true) {
            for stats in [stats_of(&rows, &shape), stats_of(&rows, &exact)] {
                let text = predicate.display_with(&schema()).to_string();
                prop_assert!(predicate.can_match(&stats), "{} pruned a match: {:?}", text, stats);
            }
        }
    }

    #[test]
    fn filter_agrees_with_a_row_by_row_evaluator(
        rows in rows_strategy(),
        predicate in predicate_strategy(),
    ) {
        let expected: Vec<bool> =
            rows.iter().map(|row| eval(&predicate, row) == Some(true)).collect();
        let text = predicate.display_with(&schema()).to_string();
        prop_assert_eq!(selected(&predicate, &to_batch(&rows)), expected, "{}", text);
    }

    #[test]
    fn printed_predicates_parse_back(predicate in predicate_strategy()) {
        let text = predicate.display_with(&schema()).to_string();
        let parsed = Predicate::parse(&text, &schema());
        prop_assert!(parsed.is_ok(), "{text}: {:?}", parsed);
        prop_assert_eq!(parsed.ok(), Some(predicate), "{}", text);
    }
}

#[test]
fn parsed_text_prunes_and_filters_a_batch() {
    let rows: Vec<Row> =
        vec![(Some(1), Some(10), Some("apple".into())), (Some(2), None, Some("banana".into())), (None, Some(30), None)];
    let batch = to_batch(&rows);
    let exact = StatsShape { collected: [true; 3], slack: 0, loose_string_min: false };
    let stats = stats_of(&rows, &exact);
    let cases = [
        ("a > 1 AND s IN ('banana', 'cherry')", true, [false, true, false]),
        ("a > 2", false, [false, false, false]),
        ("NOT a <= 2", false, [false, false, false]),
        ("b IS NULL OR s < 'b'", true, [true, true, false]),
        ("s NOT IN ('apple', NULL)", false, [false, false, false]),
        // Row 2: a = 1 is FALSE but b is null, so the OR is UNKNOWN and so is its NOT.
        ("NOT (a = 1 OR b = 30)", true, [false, false, false]),
        ("NOT (a >= 1 OR a IS NULL)", false, [false, false, false]),
        ("a IS NULL AND b >= 30", true, [false, false, true]),
    ];
    for (text, may_match, expected) in cases {
        let predicate = Predicate::parse(text, &schema()).expect("parses");
        assert_eq!(predicate.can_match(&stats), may_match, "{text}");
        assert_eq!(selected(&predicate, &batch), expected.to_vec(), "{text}");
    }
}
