//! Parser tests: the tree each syntax gives, precedence, literal typing, round trips
//! through `display_with`, and every error with its position and message.

use super::*;
use crate::error::Error;
use crate::schema::{Column, DataType, Schema};

fn schema() -> Schema {
    Schema::new(vec![
        Column::new("a", DataType::BigInt),                                 // 0
        Column::new("b", DataType::String),                                 // 1
        Column::new("c", DataType::Int),                                    // 2
        Column::new("d", DataType::Double),                                 // 3
        Column::new("e", DataType::Boolean),                                // 4
        Column::new("s", DataType::String),                                 // 5
        Column::new("t", DataType::TinyInt),                                // 6
        Column::new("dec", DataType::Decimal { precision: 10, scale: 2 }),  // 7
        Column::new("dt", DataType::Date),                                  // 8
        Column::new("tm", DataType::Time { precision: 3 }),                 // 9
        Column::new("ts", DataType::Timestamp { precision: 3 }),            // 10
        Column::new("ltz", DataType::TimestampLtz { precision: 6 }),        // 11
        Column::new("bin", DataType::Bytes),                                // 12
        Column::new("my col", DataType::Int),                               // 13
        Column::new("AND", DataType::Int),                                  // 14
        Column::new("wide", DataType::Decimal { precision: 20, scale: 2 }), // 15
        Column::new("f", DataType::Float),                                  // 16
        Column::new("ch", DataType::Char { length: 3 }),                    // 17
        Column::new("q\"uote", DataType::SmallInt),                         // 18
    ])
}

fn parse(text: &str) -> Predicate {
    match Predicate::parse(text, &schema()) {
        Ok(p) => p,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn cmp(column: usize, op: CompareOp, value: Literal) -> Predicate {
    Predicate::Compare { column, op, value }
}

fn int(column: usize, op: CompareOp, value: i64) -> Predicate {
    cmp(column, op, Literal::Int(value))
}

fn str_lit(text: &str) -> Literal {
    Literal::Str(text.to_string())
}

use CompareOp::{Eq, Gt, GtEq, Lt, LtEq, NotEq};

#[test]
fn parses_the_documented_examples() {
    let expected = Predicate::Or(vec![
        Predicate::And(vec![
            int(0, Gt, 5),
            Predicate::In { column: 1, values: vec![str_lit("x"), str_lit("y")], negated: false },
        ]),
        Predicate::Not(Box::new(Predicate::IsNull { column: 2 })),
    ]);
    assert_eq!(parse("a > 5 AND b IN ('x','y') OR NOT (c IS NULL)"), expected);
    assert_eq!(parse("d >= 1.5"), cmp(3, GtEq, Literal::Float(1.5)));
    assert_eq!(parse("e = true"), cmp(4, Eq, Literal::Bool(true)));
    assert_eq!(parse("s != 'it''s'"), cmp(5, NotEq, str_lit("it's")));
}

#[test]
fn not_binds_tighter_than_and_tighter_than_or() {
    let (a1, a2, a3) = (int(0, Eq, 1), int(0, Eq, 2), int(0, Eq, 3));
    let not = |p: &Predicate| Predicate::Not(Box::new(p.clone()));
    let and = |v: &[&Predicate]| Predicate::And(v.iter().map(|p| (*p).clone()).collect());
    let or = |v: &[&Predicate]| Predicate::Or(v.iter().map(|p| (*p).clone()).collect());
    assert_eq!(parse("a = 1 OR a = 2 AND a = 3"), or(&[&a1, &and(&[&a2, &a3])]));
    assert_eq!(parse("a = 1 AND a = 2 OR a = 3"), or(&[&and(&[&a1, &a2]), &a3]));
    assert_eq!(parse("(a = 1 OR a = 2) AND a = 3"), and(&[&or(&[&a1, &a2]), &a3]));
    assert_eq!(parse("a = 1 AND a = 2 AND a = 3"), and(&[&a1, &a2, &a3]));
    assert_eq!(parse("a = 1 AND (a = 2 AND a = 3)"), and(&[&a1, &and(&[&a2, &a3])]));
    assert_eq!(parse("NOT a = 1 AND a = 2"), and(&[&not(&a1), &a2]));
    assert_eq!(parse("NOT (a = 1 AND a = 2)"), not(&and(&[&a1, &a2])));
    assert_eq!(parse("NOT NOT a = 1 OR a = 2"), or(&[&not(&not(&a1)), &a2]));
    assert_eq!(parse("((a = 1))"), a1);
}

#[test]
fn keywords_are_case_insensitive_and_names_are_not() {
    let expected = Predicate::Or(vec![
        Predicate::And(vec![
            Predicate::IsNotNull { column: 0 },
            Predicate::In { column: 1, values: vec![str_lit("x"), Literal::Null], negated: true },
        ]),
        cmp(4, Eq, Literal::Bool(false)),
    ]);
    assert_eq!(parse("a is not null and b not in ('x', null) Or e = FaLsE"), expected);
    assert_eq!(parse("\"my col\" = 3"), int(13, Eq, 3));
    assert_eq!(parse("\"AND\" < 2"), int(14, Lt, 2));
    assert_eq!(parse("\"a\" <= 2"), int(0, LtEq, 2));
    assert_eq!(parse("\"q\"\"uote\" <> 2"), int(18, NotEq, 2));
    assert_eq!(parse("  a\t==\n-7  "), int(0, Eq, -7));
}

#[test]
fn literals_are_typed_against_their_column() {
    assert_eq!(parse("dec = 12.34"), int(7, Eq, 1234));
    assert_eq!(parse("dec > -2"), int(7, Gt, -200));
    assert_eq!(parse("dt >= '2024-01-01'"), int(8, GtEq, 19_723));
    assert_eq!(parse("tm < '12:00:00.250'"), int(9, Lt, 43_200_250));
    assert_eq!(parse("ts = '1970-01-02 00:00:00.001'"), int(10, Eq, 86_400_001));
    assert_eq!(parse("ltz > 1700000000000"), int(11, Gt, 1_700_000_000_000));
    assert_eq!(parse("d = 1e3"), cmp(3, Eq, Literal::Float(1000.0)));
    assert_eq!(parse("d = -2"), cmp(3, Eq, Literal::Float(-2.0)));
    assert_eq!(parse("f < .5"), cmp(16, Lt, Literal::Float(0.5)));
    assert_eq!(parse("ch = 'abc'"), cmp(17, Eq, str_lit("abc")));
    assert_eq!(parse("t IN (1, NULL, -128)").columns(), vec![6]);
    assert_eq!(parse("bin IS NULL"), Predicate::IsNull { column: 12 });
    assert_eq!(parse("c = 1e2"), int(2, Eq, 100));
}

#[test]
fn display_with_the_schema_parses_back_to_the_same_tree() {
    let texts = [
        "a > 5 AND b IN ('x', 'y') OR NOT (c IS NULL)",
        "(a = 1 OR a = 2) AND (a = 3 AND a = 4)",
        "NOT (a = 1 AND NOT a != 2) OR NOT NOT a IS NOT NULL",
        "s != 'it''s' AND e = FALSE AND d >= 1.5 AND f < -0.25",
        "dec IN (12.34, -0.05, 0) AND dt = '1969-12-31' AND tm >= '23:59:59.999'",
        "ts < '2024-05-06 07:08:09.010' AND ltz > 253402300800000 AND ltz < -1",
        "\"my col\" NOT IN (1, NULL) AND \"AND\" = 1 AND \"q\"\"uote\" = 2",
        "NOT b IN ('a') AND b NOT IN ('b') AND bin IS NOT NULL",
        "d = 1e300 OR d = 5e-324 OR d = -0.0",
    ];
    for text in texts {
        let parsed = parse(text);
        let printed = parsed.display_with(&schema()).to_string();
        assert_eq!(parse(&printed), parsed, "{text} printed as {printed}");
    }
    let printed = parse("a>5 and b in ('x','y') or not(c is null)").display_with(&schema()).to_string();
    assert_eq!(printed, "(a > 5 AND b IN ('x', 'y')) OR NOT c IS NULL");
    let printed = parse("dec = 12.3 AND ts = '2024-01-01T00:00:00'").display_with(&schema()).to_string();
    assert_eq!(printed, "dec = 12.30 AND ts = '2024-01-01 00:00:00'");
    assert_eq!(parse("a = 1 AND \"my col\" = 2").to_string(), "#0 = 1 AND #13 = 2");
}

#[track_caller]
fn fails(text: &str, position: usize, needle: &str) {
    match Predicate::parse(text, &schema()) {
        Err(Error::Parse { input, position: at, reason }) => {
            assert_eq!(input, text);
            assert_eq!(at, position, "{text}: {reason}");
            assert!(reason.contains(needle), "{text}: '{reason}' lacks '{needle}'");
        }
        other => panic!("{text}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn syntax_errors_say_what_was_expected_and_found_where() {
    fails("", 0, "expected a column name, '(' or NOT, found end of input");
    fails("a foo", 2, "expected a comparison operator, IS or IN after column 'a', found 'foo'");
    fails("a >", 3, "expected a literal (number, 'string', TRUE or FALSE) after '>', found end of input");
    fails("a > > 1", 4, "after '>', found '>'");
    fails("a = 1 b = 2", 6, "expected AND, OR or the end of the predicate, found 'b'");
    fails("(a = 1", 6, "expected AND, OR or ')' to close the '(' at position 0, found end of input");
    fails("a = 1)", 5, "this ')' closes nothing");
    fails("a IS 5", 5, "expected NULL or NOT NULL after IS, found '5'");
    fails("a IS NOT 5", 9, "expected NULL after IS NOT, found '5'");
    fails("a NOT 5", 6, "expected IN after 'a NOT', found '5'");
    fails("a IN 5", 5, "expected '(' after IN, found '5'");
    fails("a IN ()", 6, "in the IN list, found ')'");
    fails("a IN (1 2)", 8, "expected ',' or ')' in the IN list, found '2'");
    fails("a IN (1,", 8, "found end of input");
    fails("a = 1 AND", 9, "expected a column name, '(' or NOT, found end of input");
    fails("AND = 1", 0, "expected a column name, '(' or NOT, found 'AND'");
    fails("NOT", 3, "found end of input");
    fails("5 = a", 0, "expected a column name, '(' or NOT, found '5'");
}

#[test]
fn lexical_errors_point_at_the_bad_text() {
    fails("a = 'abc", 4, "unterminated string");
    fails("\"my col = 1", 0, "unterminated quoted column name");
    fails("a = 1 ; ", 6, "unexpected character ';'");
    fails("a = 12abc", 4, "invalid number '12abc'");
    fails("a = 1e", 4, "expected digits after the exponent");
    fails("a ! 1", 2, "did you mean '!='?");
    // The earliest error wins: the parser stops before lexing further.
    fails("a foo 'unterminated", 2, "found 'foo'");
}

#[test]
fn names_and_nulls_are_checked() {
    fails("x = 1", 0, "unknown column 'x'");
    fails("a = 1 OR A = 1", 9, "unknown column 'A' (did you mean 'a'? column names are case-sensitive)");
    fails("a = NULL", 4, "a comparison with NULL is never true: use 'a IS NULL'");
    fails("a <> NULL", 5, "use 'a IS NOT NULL'");
    fails("a < NULL", 4, "use IS NULL or IS NOT NULL");
}

#[test]
fn literal_errors_name_the_column_and_type() {
    fails("a = 'x'", 4, "column 'a' is BIGINT: expected an integer, found string 'x'");
    fails("a IN (1, 'x')", 9, "expected an integer, found string 'x'");
    fails("c = 1.5", 4, "expected an integer, found 1.5");
    fails("t = 300", 4, "300 is out of range for column 't' of type TINYINT (-128..=127)");
    fails("dec = 1.234", 6, "1.234 has more fractional digits than the scale of column 'dec' (DECIMAL(10, 2))");
    fails("dec = 123456789", 6, "does not fit column 'dec' of type DECIMAL(10, 2)");
    fails("wide = 1", 7, "precision over 18 are not supported");
    fails("dt = '2024-02-30'", 5, "not a valid date");
    fails("dt = 20240101", 5, "expected a date 'YYYY-MM-DD'");
    fails("tm = '25:00:00'", 5, "not a valid time");
    fails("ts = '2024-01-01 00:00:00.0001'", 5, "millisecond precision");
    fails("ts = 'yesterday'", 5, "expected 'YYYY-MM-DD HH:MM:SS[.fff]'");
    fails("bin = 'x'", 6, "binary columns are not supported (IS NULL and IS NOT NULL are)");
    fails("e = 1", 4, "expected TRUE or FALSE, found number 1");
    fails("s = 1", 4, "expected a 'string', found number 1");
    fails("d = 'x'", 4, "expected a number");
    fails("d = 1e999", 4, "out of range");
}

#[test]
fn nesting_is_limited() {
    let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
    fails(&deep, NESTING_MAX, "nesting deeper than 128 levels");
    let nots = format!("{}a = 1", "NOT ".repeat(200));
    fails(&nots, 4 * NESTING_MAX, "nesting deeper than 128 levels");
    let fine = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(parse(&fine), int(0, Eq, 1));
}

#[test]
fn errors_display_with_their_position() {
    let err = Predicate::parse("a foo", &schema()).expect_err("bad syntax");
    assert_eq!(
        err.to_string(),
        "cannot parse 'a foo' at position 2: \
         expected a comparison operator, IS or IN after column 'a', found 'foo'"
    );
}
