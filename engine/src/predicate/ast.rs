//! The predicate tree: comparison operators, typed literals and the boolean structure.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// A comparison operator between a column and a literal (`column op literal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` (also spelled `<>`)
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CompareOp {
    /// True when a value ordered `ordering` against the literal satisfies the operator.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Eq => ordering == Ordering::Equal,
            Self::NotEq => ordering != Ordering::Equal,
            Self::Lt => ordering == Ordering::Less,
            Self::LtEq => ordering != Ordering::Greater,
            Self::Gt => ordering == Ordering::Greater,
            Self::GtEq => ordering != Ordering::Less,
        }
    }

    /// The operator as written in the text syntax.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::NotEq => "!=",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
        }
    }
}

/// A literal, already typed against its column by [`Predicate::parse`]: integer-like
/// columns (TINYINT..BIGINT, DATE in days, TIME in millis of day, DECIMAL(p<=18) unscaled,
/// TIMESTAMP / TIMESTAMP_LTZ in epoch millis) hold `Int`, like
/// [`Scalar`](crate::batch::stats::Scalar) does.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// SQL NULL: only inside an IN list (a comparison with NULL is never true).
    Null,
    /// A BOOLEAN value.
    Bool(bool),
    /// An integer-like value (see the type docs for the encodings).
    Int(i64),
    /// A FLOAT or DOUBLE value.
    Float(f64),
    /// A STRING or CHAR value.
    Str(String),
}

/// A boolean predicate over the columns of one schema, with SQL three-valued logic: a row
/// is selected only when the predicate is TRUE; comparing a null is UNKNOWN.
///
/// Column references are schema positions (the batch column with the same index).
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    /// `column op value`.
    Compare {
        /// Schema position of the column.
        column: usize,
        /// The operator, with the column on its left.
        op: CompareOp,
        /// The literal on the right.
        value: Literal,
    },
    /// `column IS NULL`.
    IsNull {
        /// Schema position of the column.
        column: usize,
    },
    /// `column IS NOT NULL`.
    IsNotNull {
        /// Schema position of the column.
        column: usize,
    },
    /// `column [NOT] IN (values...)`.
    In {
        /// Schema position of the column.
        column: usize,
        /// The list; a `Null` in it makes non-matching rows UNKNOWN instead of FALSE.
        values: Vec<Literal>,
        /// True for `NOT IN`.
        negated: bool,
    },
    /// TRUE when every child is TRUE (an empty list is TRUE).
    And(Vec<Predicate>),
    /// TRUE when any child is TRUE (an empty list is FALSE).
    Or(Vec<Predicate>),
    /// TRUE when the child is FALSE (UNKNOWN stays UNKNOWN).
    Not(Box<Predicate>),
}

impl Predicate {
    /// Schema positions of the columns this predicate reads (sorted, deduplicated).
    pub fn columns(&self) -> Vec<usize> {
        let mut out = BTreeSet::new();
        self.collect_columns(&mut out);
        out.into_iter().collect()
    }

    fn collect_columns(&self, out: &mut BTreeSet<usize>) {
        match self {
            Self::Compare { column, .. }
            | Self::IsNull { column }
            | Self::IsNotNull { column }
            | Self::In { column, .. } => {
                out.insert(*column);
            }
            Self::And(children) | Self::Or(children) => {
                children.iter().for_each(|c| c.collect_columns(out));
            }
            Self::Not(child) => child.collect_columns(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_hold_for_the_right_orderings() {
        use Ordering::{Equal, Greater, Less};
        let table = [
            (CompareOp::Eq, [false, true, false]),
            (CompareOp::NotEq, [true, false, true]),
            (CompareOp::Lt, [true, false, false]),
            (CompareOp::LtEq, [true, true, false]),
            (CompareOp::Gt, [false, false, true]),
            (CompareOp::GtEq, [false, true, true]),
        ];
        for (op, expected) in table {
            let got = [op.holds(Less), op.holds(Equal), op.holds(Greater)];
            assert_eq!(got, expected, "{}", op.symbol());
        }
    }

    #[test]
    fn columns_are_sorted_and_deduplicated() {
        let p = Predicate::Or(vec![
            Predicate::Not(Box::new(Predicate::IsNull { column: 4 })),
            Predicate::And(vec![
                Predicate::Compare { column: 2, op: CompareOp::Lt, value: Literal::Int(1) },
                Predicate::In { column: 4, values: vec![Literal::Null], negated: true },
                Predicate::IsNotNull { column: 0 },
            ]),
        ]);
        assert_eq!(p.columns(), vec![0, 2, 4]);
        assert!(Predicate::And(Vec::new()).columns().is_empty());
    }
}
