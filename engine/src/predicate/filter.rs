//! The exact row filter: evaluates a predicate over a `RecordBatch` with SQL three-valued
//! logic, keeping per row a TRUE bit and a FALSE bit (neither set = UNKNOWN).

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_buffer::BooleanBuffer;

use super::ast::{Literal, Predicate};
use super::kernels::{matches, Test};
use crate::error::{Error, Result};

/// Per row: TRUE bits and FALSE bits; a row with neither is UNKNOWN. Never both.
struct Truth {
    is_true: BooleanBuffer,
    is_false: BooleanBuffer,
}

impl Truth {
    fn constant(rows: usize, value: Option<bool>) -> Self {
        let bits = |set: bool| {
            if set {
                BooleanBuffer::new_set(rows)
            } else {
                BooleanBuffer::new_unset(rows)
            }
        };
        Self { is_true: bits(value == Some(true)), is_false: bits(value == Some(false)) }
    }

    /// A leaf that is UNKNOWN on null rows, TRUE where `matched`, and otherwise FALSE
    /// (or UNKNOWN when `unmatched_is_false` is not set, as for an IN list holding NULL).
    fn of_leaf(matched: &BooleanBuffer, valid: &BooleanBuffer, unmatched_is_false: bool) -> Self {
        let is_false = if unmatched_is_false { &!matched & valid } else { BooleanBuffer::new_unset(valid.len()) };
        Self { is_true: matched & valid, is_false }
    }

    fn and(self, other: &Self) -> Self {
        Self { is_true: &self.is_true & &other.is_true, is_false: &self.is_false | &other.is_false }
    }

    fn or(self, other: &Self) -> Self {
        Self { is_true: &self.is_true | &other.is_true, is_false: &self.is_false & &other.is_false }
    }

    fn not(self) -> Self {
        Self { is_true: self.is_false, is_false: self.is_true }
    }
}

impl Predicate {
    /// The exact row filter with SQL semantics: one entry per row, TRUE only where the
    /// predicate is TRUE (UNKNOWN from nulls is not selected); the result has no nulls.
    ///
    /// Column `i` of the predicate is column `i` of `batch` (the full schema, unprojected).
    /// Supported Arrow types: Boolean, Int8/16/32/64, Float32/64, Utf8, Decimal128 (its
    /// unscaled values against the literal, so the batch must have the schema's scale),
    /// Date32, Time32(s/ms), Time64(us/ns) and Timestamp (any unit, any zone). TIME and
    /// TIMESTAMP values are floored to milliseconds before comparing, the precision of
    /// literals and statistics: `ts = '2024-01-01 00:00:00'` also selects
    /// `00:00:00.000999`. Floats compare like Java's `Double.compare` (see `order.rs`).
    /// IS [NOT] NULL works on any type.
    pub fn filter(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let truth = self.truth(batch)?;
        debug_assert_eq!(truth.is_true.len(), batch.num_rows());
        debug_assert!(!(&truth.is_true & &truth.is_false).has_true(), "a row is TRUE and FALSE");
        Ok(BooleanArray::new(truth.is_true, None))
    }

    fn truth(&self, batch: &RecordBatch) -> Result<Truth> {
        let rows = batch.num_rows();
        match self {
            Self::Compare { column, op, value } => {
                let array = column_of(batch, *column)?;
                if *value == Literal::Null {
                    return Ok(Truth::constant(rows, None));
                }
                let matched = matches(array.as_ref(), &Test::Compare(*op, value), *column)?;
                Ok(Truth::of_leaf(&matched, &validity(array), true))
            }
            Self::IsNull { column } => Ok(null_truth(column_of(batch, *column)?)),
            Self::IsNotNull { column } => Ok(null_truth(column_of(batch, *column)?).not()),
            Self::In { column, values, negated } => {
                let truth = in_truth(column_of(batch, *column)?, values, *column)?;
                Ok(if *negated { truth.not() } else { truth })
            }
            Self::And(children) => {
                children.iter().try_fold(Truth::constant(rows, Some(true)), |acc, c| Ok(acc.and(&c.truth(batch)?)))
            }
            Self::Or(children) => {
                children.iter().try_fold(Truth::constant(rows, Some(false)), |acc, c| Ok(acc.or(&c.truth(batch)?)))
            }
            Self::Not(child) => Ok(child.truth(batch)?.not()),
        }
    }
}

fn column_of(batch: &RecordBatch, column: usize) -> Result<&ArrayRef> {
    batch.columns().get(column).ok_or_else(|| Error::Predicate {
        reason: format!("the predicate reads column {column}, the batch has {} columns", batch.num_columns()),
    })
}

/// The rows that are not null.
fn validity(array: &ArrayRef) -> BooleanBuffer {
    match array.logical_nulls() {
        Some(nulls) => nulls.inner().clone(),
        None => BooleanBuffer::new_set(array.len()),
    }
}

fn null_truth(array: &ArrayRef) -> Truth {
    let valid = validity(array);
    Truth { is_true: !&valid, is_false: valid }
}

fn in_truth(array: &ArrayRef, values: &[Literal], column: usize) -> Result<Truth> {
    let listed: Vec<&Literal> = values.iter().filter(|v| **v != Literal::Null).collect();
    let matched = if listed.is_empty() {
        BooleanBuffer::new_unset(array.len())
    } else {
        matches(array.as_ref(), &Test::In(listed), column)?
    };
    let has_null = values.contains(&Literal::Null);
    Ok(Truth::of_leaf(&matched, &validity(array), !has_null))
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
