//! Pruning batches by statistics: can any row of a batch make the predicate TRUE?
//!
//! Each node is judged by which truth values its rows may take ([`Outcomes`]): a row is
//! TRUE, FALSE or UNKNOWN (SQL three-valued logic; a comparison with a null is UNKNOWN).
//! NOT swaps "may be TRUE" and "may be FALSE" and leaves UNKNOWN alone, so negation needs
//! no rewriting and stays sound with nulls. Every answer over-approximates: "may" is true
//! whenever the statistics cannot rule it out.

use std::cmp::Ordering;

use super::ast::{CompareOp, Literal, Predicate};
use super::order::{scalar_cmp, scalars_cmp};
use crate::batch::stats::{BatchStats, ColumnStats, Scalar};

/// Which truth values some row of the batch may give a predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcomes {
    /// Some row may be TRUE.
    may_true: bool,
    /// Some row may be FALSE.
    may_false: bool,
}

impl Outcomes {
    const NONE: Self = Self { may_true: false, may_false: false };
    const BOTH: Self = Self { may_true: true, may_false: true };

    fn negated(self) -> Self {
        Self { may_true: self.may_false, may_false: self.may_true }
    }
}

impl Predicate {
    /// Conservative pruning: false only if no row of a batch with these statistics can
    /// make the predicate TRUE. Columns without statistics may match anything; a batch of
    /// zero rows matches nothing. Float bounds are read in the order of `order.rs`
    /// (Java's `Double.compare`), which is how [`Predicate::filter`] compares.
    pub fn can_match(&self, stats: &BatchStats) -> bool {
        stats.row_count > 0 && self.outcomes(stats).may_true
    }

    fn outcomes(&self, stats: &BatchStats) -> Outcomes {
        match self {
            Self::Compare { column, op, value } => leaf(stats, *column, |c| compare(c, *op, value)),
            Self::IsNull { column } => nullness(stats, *column),
            Self::IsNotNull { column } => nullness(stats, *column).negated(),
            Self::In { column, values, negated } => {
                let outcomes = leaf(stats, *column, |c| in_list(c, values));
                if *negated {
                    outcomes.negated()
                } else {
                    outcomes
                }
            }
            Self::And(children) => Outcomes {
                may_true: children.iter().all(|c| c.outcomes(stats).may_true),
                may_false: children.iter().any(|c| c.outcomes(stats).may_false),
            },
            Self::Or(children) => Outcomes {
                may_true: children.iter().any(|c| c.outcomes(stats).may_true),
                may_false: children.iter().all(|c| c.outcomes(stats).may_false),
            },
            Self::Not(child) => child.outcomes(stats).negated(),
        }
    }
}

/// A leaf that is UNKNOWN on null rows: nothing if every row is null, anything without
/// statistics or bounds, else what `judge` concludes from the bounds.
fn leaf(stats: &BatchStats, column: usize, judge: impl FnOnce(Bounds<'_>) -> Outcomes) -> Outcomes {
    let Some(column_stats) = stats.column(column) else {
        return Outcomes::BOTH;
    };
    if column_stats.null_count >= stats.row_count {
        return Outcomes::NONE;
    }
    match Bounds::of(column_stats) {
        Some(bounds) => judge(bounds),
        None => Outcomes::BOTH,
    }
}

/// `column IS NULL`: TRUE on null rows, FALSE on the others.
fn nullness(stats: &BatchStats, column: usize) -> Outcomes {
    match stats.column(column) {
        Some(c) => Outcomes { may_true: c.null_count > 0, may_false: c.null_count < stats.row_count },
        None => Outcomes::BOTH,
    }
}

/// The min and max of the non-null values, widened where statistics writers disagree on
/// floats: a NaN min (as `Math.min` gives) bounds nothing, and a zero bound covers both
/// -0.0 and 0.0.
#[derive(Clone, Copy)]
struct Bounds<'a> {
    min: &'a Scalar,
    max: &'a Scalar,
}

const NEG_INFINITY: Scalar = Scalar::Float(f64::NEG_INFINITY);
const NEG_ZERO: Scalar = Scalar::Float(-0.0);
const POS_ZERO: Scalar = Scalar::Float(0.0);

impl<'a> Bounds<'a> {
    fn of(stats: &'a ColumnStats) -> Option<Self> {
        let (min, max) = (stats.min.as_ref()?, stats.max.as_ref()?);
        let min = match min {
            Scalar::Float(x) if x.is_nan() => &NEG_INFINITY,
            Scalar::Float(x) if *x == 0.0 => &NEG_ZERO,
            other => other,
        };
        let max = match max {
            Scalar::Float(x) if *x == 0.0 => &POS_ZERO,
            other => other,
        };
        // Mixed kinds or min above max: the bounds say nothing trustworthy.
        match scalars_cmp(min, max) {
            Some(Ordering::Less | Ordering::Equal) => Some(Self { min, max }),
            _ => None,
        }
    }

    /// How min and max order against `value`; `None` if they do not compare with it.
    fn against(&self, value: &Literal) -> Option<(Ordering, Ordering)> {
        Some((scalar_cmp(self.min, value)?, scalar_cmp(self.max, value)?))
    }

    /// True when every non-null value equals `value`.
    fn all_equal(&self, value: &Literal) -> bool {
        self.against(value) == Some((Ordering::Equal, Ordering::Equal))
    }
}

/// `column op value` over non-null values in [min, max].
fn compare(bounds: Bounds<'_>, op: CompareOp, value: &Literal) -> Outcomes {
    use Ordering::{Equal, Greater, Less};
    if *value == Literal::Null {
        return Outcomes::NONE;
    }
    let Some((lo, hi)) = bounds.against(value) else {
        return Outcomes::BOTH;
    };
    let within = lo != Greater && hi != Less;
    let all_equal = lo == Equal && hi == Equal;
    let (may_true, may_false) = match op {
        CompareOp::Eq => (within, !all_equal),
        CompareOp::NotEq => (!all_equal, within),
        CompareOp::Lt => (lo == Less, hi != Less),
        CompareOp::LtEq => (lo != Greater, hi == Greater),
        CompareOp::Gt => (hi == Greater, lo != Greater),
        CompareOp::GtEq => (hi != Less, lo == Less),
    };
    Outcomes { may_true, may_false }
}

/// `column IN (values)`: TRUE if equal to one, else FALSE, or UNKNOWN if the list holds NULL.
fn in_list(bounds: Bounds<'_>, values: &[Literal]) -> Outcomes {
    let mut may_true = false;
    let mut all_in_list = false;
    for value in values.iter().filter(|v| **v != Literal::Null) {
        may_true |= match bounds.against(value) {
            Some((lo, hi)) => lo != Ordering::Greater && hi != Ordering::Less,
            None => true,
        };
        all_in_list |= bounds.all_equal(value);
    }
    let has_null = values.contains(&Literal::Null);
    Outcomes { may_true, may_false: !has_null && !all_in_list }
}

#[cfg(test)]
#[path = "prune_tests.rs"]
mod tests;
