//! Typed kernels: which rows of one Arrow column satisfy a comparison or an IN list.
//! Values under nulls are compared too; the caller masks them out.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_buffer::BooleanBuffer;
use arrow_schema::{DataType as ArrowType, TimeUnit};

use super::ast::{CompareOp, Literal};
use super::order::float_cmp;
use crate::error::{Error, Result};

/// What a leaf asks of each value (literals are never NULL here).
pub(super) enum Test<'a> {
    /// `value op literal`.
    Compare(CompareOp, &'a Literal),
    /// `value` equals one of the literals.
    In(Vec<&'a Literal>),
}

/// A [`Test`] with its literals converted to the column's comparison key.
enum Typed<K> {
    Compare(CompareOp, K),
    /// Sorted by the key order, for binary search.
    In(Vec<K>),
}

impl<K> Typed<K> {
    fn holds(&self, value: &K, cmp: impl Fn(&K, &K) -> Ordering) -> bool {
        match self {
            Self::Compare(op, literal) => op.holds(cmp(value, literal)),
            Self::In(list) => list.binary_search_by(|probe| cmp(probe, value)).is_ok(),
        }
    }
}

impl<'a> Test<'a> {
    /// Converts the literals with `key`; the first one it refuses is the error.
    fn typed<K>(
        &self,
        key: impl Fn(&'a Literal) -> Option<K>,
        cmp: impl Fn(&K, &K) -> Ordering,
    ) -> Result<Typed<K>, &'a Literal> {
        match self {
            Self::Compare(op, literal) => key(literal).map(|k| Typed::Compare(*op, k)).ok_or(*literal),
            Self::In(list) => {
                let mut keys = list.iter().map(|l| key(l).ok_or(*l)).collect::<Result<Vec<K>, _>>()?;
                keys.sort_by(&cmp);
                Ok(Typed::In(keys))
            }
        }
    }
}

/// Bit `i` set when row `i` of `array` satisfies `test` (whatever its validity).
pub(super) fn matches(array: &dyn Array, test: &Test<'_>, column: usize) -> Result<BooleanBuffer> {
    let ms = |v: i64| i128::from(v);
    match array.data_type() {
        ArrowType::Boolean => booleans(array, test, column),
        ArrowType::Int8 => integers::<Int8Type>(array, test, column, i128::from),
        ArrowType::Int16 => integers::<Int16Type>(array, test, column, i128::from),
        ArrowType::Int32 => integers::<Int32Type>(array, test, column, i128::from),
        ArrowType::Int64 => integers::<Int64Type>(array, test, column, i128::from),
        ArrowType::Decimal128(_, _) => integers::<Decimal128Type>(array, test, column, |v| v),
        ArrowType::Date32 => integers::<Date32Type>(array, test, column, i128::from),
        ArrowType::Time32(TimeUnit::Second) => {
            integers::<Time32SecondType>(array, test, column, |v| i128::from(v) * 1000)
        }
        ArrowType::Time32(TimeUnit::Millisecond) => integers::<Time32MillisecondType>(array, test, column, i128::from),
        ArrowType::Time64(TimeUnit::Microsecond) => {
            integers::<Time64MicrosecondType>(array, test, column, |v| ms(v.div_euclid(1000)))
        }
        ArrowType::Time64(TimeUnit::Nanosecond) => {
            integers::<Time64NanosecondType>(array, test, column, |v| ms(v.div_euclid(1_000_000)))
        }
        ArrowType::Timestamp(TimeUnit::Second, _) => {
            integers::<TimestampSecondType>(array, test, column, |v| ms(v) * 1000)
        }
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => integers::<TimestampMillisecondType>(array, test, column, ms),
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => {
            integers::<TimestampMicrosecondType>(array, test, column, |v| ms(v.div_euclid(1000)))
        }
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => {
            integers::<TimestampNanosecondType>(array, test, column, |v| ms(v.div_euclid(1_000_000)))
        }
        ArrowType::Float32 => floats::<Float32Type>(array, test, column, f64::from),
        ArrowType::Float64 => floats::<Float64Type>(array, test, column, |v| v),
        ArrowType::Utf8 => strings(array, test, column),
        other => Err(Error::Predicate {
            reason: format!("column {column} is {other}: comparisons on this Arrow type are not supported"),
        }),
    }
}

fn mismatch(array: &dyn Array, column: usize, literal: &Literal) -> Error {
    Error::Predicate { reason: format!("column {column} is {}: cannot compare it with {literal}", array.data_type()) }
}

/// Integer-like columns, each value mapped to the literal's unit by `key` (exactly, in i128).
fn integers<T: ArrowPrimitiveType>(
    array: &dyn Array,
    test: &Test<'_>,
    column: usize,
    key: impl Fn(T::Native) -> i128,
) -> Result<BooleanBuffer> {
    let typed = test
        .typed(
            |l| {
                if let Literal::Int(v) = l {
                    Some(i128::from(*v))
                } else {
                    None
                }
            },
            Ord::cmp,
        )
        .map_err(|l| mismatch(array, column, l))?;
    let values = array.as_primitive_opt::<T>().ok_or_else(|| wrong_layout(array, column))?.values();
    Ok(values.iter().map(|v| typed.holds(&key(*v), Ord::cmp)).collect())
}

/// FLOAT / DOUBLE columns, compared as f64 in Java's `Double.compare` order.
fn floats<T: ArrowPrimitiveType>(
    array: &dyn Array,
    test: &Test<'_>,
    column: usize,
    key: impl Fn(T::Native) -> f64,
) -> Result<BooleanBuffer> {
    let cmp = |a: &f64, b: &f64| float_cmp(*a, *b);
    let literal_key = |l: &Literal| match l {
        Literal::Float(v) => Some(*v),
        Literal::Int(v) => Some(*v as f64),
        _ => None,
    };
    let typed = test.typed(literal_key, cmp).map_err(|l| mismatch(array, column, l))?;
    let values = array.as_primitive_opt::<T>().ok_or_else(|| wrong_layout(array, column))?.values();
    Ok(values.iter().map(|v| typed.holds(&key(*v), cmp)).collect())
}

fn booleans(array: &dyn Array, test: &Test<'_>, column: usize) -> Result<BooleanBuffer> {
    let typed = test
        .typed(
            |l| {
                if let Literal::Bool(v) = l {
                    Some(*v)
                } else {
                    None
                }
            },
            Ord::cmp,
        )
        .map_err(|l| mismatch(array, column, l))?;
    let values = array.as_boolean_opt().ok_or_else(|| wrong_layout(array, column))?.values();
    Ok(values.iter().map(|v| typed.holds(&v, Ord::cmp)).collect())
}

/// STRING / CHAR columns, compared by UTF-8 bytes.
fn strings(array: &dyn Array, test: &Test<'_>, column: usize) -> Result<BooleanBuffer> {
    let typed = test
        .typed(
            |l| {
                if let Literal::Str(v) = l {
                    Some(v.as_str())
                } else {
                    None
                }
            },
            |a: &&str, b: &&str| a.cmp(b),
        )
        .map_err(|l| mismatch(array, column, l))?;
    let strings = array.as_string_opt::<i32>().ok_or_else(|| wrong_layout(array, column))?;
    Ok(strings.iter().map(|v| v.is_some_and(|s| typed.holds(&s, |a, b| a.cmp(b)))).collect())
}

fn wrong_layout(array: &dyn Array, column: usize) -> Error {
    Error::Predicate { reason: format!("column {column} claims type {} but has another layout", array.data_type()) }
}
