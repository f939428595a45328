//! The per-column functions of the aggregation merge engine, as Fluss's `FieldAggregator`s
//! define them (fluss-server `kv/rowmerger/aggregate/functions/Field*Agg.java`).
//!
//! Each function folds the incoming value into the stored one: `apply(stored, incoming)`.
//! Every function but `last_value` ignores a NULL on either side (the other side wins), so a
//! column's value is the fold of its function over the non-null values written to it.
//!
//! Arithmetic follows Fluss (Java) exactly: TINYINT..BIGINT sums and products wrap around in
//! the column's width (two's complement), FLOAT adds in `f32`, DOUBLE in `f64`, and a DECIMAL
//! result is rounded half-up to the column's scale and becomes NULL when it no longer fits the
//! precision (Fluss's `Decimal.fromBigDecimal` returns null there).

use std::cmp::Ordering;

use arrow_buffer::i256;

use super::datum::{datum_cmp, decimal_fits, Datum};
use crate::schema::DataType;

/// An aggregate function of one column (`fields.<column>.agg`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AggFunction {
    /// `sum`: adds; numeric types.
    Sum,
    /// `product`: multiplies; numeric types.
    Product,
    /// `max`: keeps the larger; orderable types (numbers, strings, DATE, TIME, TIMESTAMPs).
    Max,
    /// `min`: keeps the smaller; the same types as `max`.
    Min,
    /// `last_value`: the latest value, a NULL included.
    LastValue,
    /// `last_value_ignore_nulls` (the default): the latest non-null value.
    LastValueIgnoreNulls,
    /// `first_value`: the stored value while it is not NULL (as Fluss's server does; see
    /// [`AggFunction::apply`]).
    FirstValue,
    /// `first_value_ignore_nulls`: the first non-null value.
    FirstValueIgnoreNulls,
    /// `listagg` / `string_agg`: concatenates with the delimiter; CHAR and STRING.
    ListAgg { delimiter: String },
    /// `bool_and`: logical AND; BOOLEAN.
    BoolAnd,
    /// `bool_or`: logical OR; BOOLEAN.
    BoolOr,
}

/// The names `fields.<column>.agg` accepts (case-insensitive, `-` for `_` allowed).
pub const FUNCTION_NAMES: &[&str] = &[
    "sum",
    "product",
    "max",
    "min",
    "last_value",
    "last_value_ignore_nulls",
    "first_value",
    "first_value_ignore_nulls",
    "listagg",
    "string_agg",
    "bool_and",
    "bool_or",
];

/// The delimiter of `listagg` when none is configured.
pub const LISTAGG_DEFAULT_DELIMITER: &str = ",";

impl AggFunction {
    /// The canonical name (`listagg` for both `listagg` and `string_agg`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Product => "product",
            Self::Max => "max",
            Self::Min => "min",
            Self::LastValue => "last_value",
            Self::LastValueIgnoreNulls => "last_value_ignore_nulls",
            Self::FirstValue => "first_value",
            Self::FirstValueIgnoreNulls => "first_value_ignore_nulls",
            Self::ListAgg { .. } => "listagg",
            Self::BoolAnd => "bool_and",
            Self::BoolOr => "bool_or",
        }
    }

    /// True when the function takes a column of type `ty` (Fluss's
    /// `AggFunctionType.getSupportedDataTypeRoots`).
    pub fn accepts(&self, ty: &DataType) -> bool {
        use DataType as T;
        let numeric =
            matches!(ty, T::TinyInt | T::SmallInt | T::Int | T::BigInt | T::Float | T::Double | T::Decimal { .. });
        match self {
            Self::Sum | Self::Product => numeric,
            Self::Max | Self::Min => {
                numeric
                    || matches!(
                        ty,
                        T::Char { .. }
                            | T::String
                            | T::Date
                            | T::Time { .. }
                            | T::Timestamp { .. }
                            | T::TimestampLtz { .. }
                    )
            }
            Self::ListAgg { .. } => matches!(ty, T::Char { .. } | T::String),
            Self::BoolAnd | Self::BoolOr => matches!(ty, T::Boolean),
            Self::LastValue | Self::LastValueIgnoreNulls | Self::FirstValue | Self::FirstValueIgnoreNulls => true,
        }
    }

    /// Folds `incoming` into `stored` for a column of type `ty`; the error says which datums
    /// did not fit the function.
    ///
    /// `first_value` keeps the stored value unless it is NULL, exactly like Fluss's
    /// `FieldFirstValueAgg` (so it behaves as `first_value_ignore_nulls` once a row exists; the
    /// Fluss docs' "a NULL received first is retained" is not what its server does).
    pub fn apply(&self, ty: &DataType, stored: &Datum, incoming: &Datum) -> Result<Datum, String> {
        match self {
            Self::LastValue => return Ok(incoming.clone()),
            Self::LastValueIgnoreNulls if incoming.is_null() => return Ok(stored.clone()),
            Self::LastValueIgnoreNulls => return Ok(incoming.clone()),
            Self::FirstValue | Self::FirstValueIgnoreNulls if stored.is_null() => return Ok(incoming.clone()),
            Self::FirstValue | Self::FirstValueIgnoreNulls => return Ok(stored.clone()),
            _ => {}
        }
        // Every other function ignores NULLs.
        if incoming.is_null() {
            return Ok(stored.clone());
        }
        if stored.is_null() {
            return Ok(incoming.clone());
        }
        let merged = match self {
            Self::Sum => sum(ty, stored, incoming),
            Self::Product => product(ty, stored, incoming),
            Self::Max => extreme(stored, incoming, Ordering::Less),
            Self::Min => extreme(stored, incoming, Ordering::Greater),
            Self::ListAgg { delimiter } => match (stored, incoming) {
                (Datum::Str(a), Datum::Str(b)) => Some(Datum::Str(format!("{a}{delimiter}{b}"))),
                _ => None,
            },
            Self::BoolAnd | Self::BoolOr => match (stored, incoming) {
                (Datum::Bool(a), Datum::Bool(b)) => {
                    Some(Datum::Bool(if *self == Self::BoolAnd { *a && *b } else { *a || *b }))
                }
                _ => None,
            },
            _ => None,
        };
        merged.ok_or_else(|| format!("{} over {ty} cannot fold {incoming:?} into {stored:?}", self.name()))
    }
}

/// `max` (replace when `stored` orders `replace_when` against `incoming`) and `min`. A tie
/// keeps the stored value for `max` and takes the incoming one for `min`, as Fluss does (the
/// two are the same value, bit for bit, for every type but NaN payloads).
fn extreme(stored: &Datum, incoming: &Datum, replace_when: Ordering) -> Option<Datum> {
    let order = datum_cmp(stored, incoming)?;
    let take_incoming = if replace_when == Ordering::Less { order == Ordering::Less } else { order != Ordering::Less };
    Some(if take_incoming { incoming.clone() } else { stored.clone() })
}

/// Wraps an integer result into the column's width (Java's narrowing casts).
fn wrap(ty: &DataType, value: i64) -> i64 {
    match ty {
        DataType::TinyInt => i64::from(value as i8),
        DataType::SmallInt => i64::from(value as i16),
        DataType::Int => i64::from(value as i32),
        _ => value,
    }
}

fn sum(ty: &DataType, a: &Datum, b: &Datum) -> Option<Datum> {
    Some(match (ty, a, b) {
        (DataType::TinyInt | DataType::SmallInt | DataType::Int | DataType::BigInt, Datum::Int(a), Datum::Int(b)) => {
            Datum::Int(wrap(ty, a.wrapping_add(*b)))
        }
        (DataType::Float, Datum::Float(a), Datum::Float(b)) => Datum::Float(f64::from(*a as f32 + *b as f32)),
        (DataType::Double, Datum::Float(a), Datum::Float(b)) => Datum::Float(a + b),
        (DataType::Decimal { precision, .. }, Datum::Decimal(a), Datum::Decimal(b)) => {
            decimal_or_null(a.checked_add(*b), *precision)
        }
        _ => return None,
    })
}

fn product(ty: &DataType, a: &Datum, b: &Datum) -> Option<Datum> {
    Some(match (ty, a, b) {
        (DataType::TinyInt | DataType::SmallInt | DataType::Int | DataType::BigInt, Datum::Int(a), Datum::Int(b)) => {
            Datum::Int(wrap(ty, a.wrapping_mul(*b)))
        }
        (DataType::Float, Datum::Float(a), Datum::Float(b)) => Datum::Float(f64::from(*a as f32 * *b as f32)),
        (DataType::Double, Datum::Float(a), Datum::Float(b)) => Datum::Float(a * b),
        (DataType::Decimal { precision, scale }, Datum::Decimal(a), Datum::Decimal(b)) => {
            decimal_or_null(decimal_mul(*a, *b, *scale), *precision)
        }
        _ => return None,
    })
}

/// A DECIMAL result, or NULL when it overflowed or does not fit the precision.
fn decimal_or_null(value: Option<i128>, precision: u8) -> Datum {
    match value {
        Some(v) if decimal_fits(v, precision) => Datum::Decimal(v),
        _ => Datum::Null,
    }
}

/// `a * b` of two unscaled decimals of scale `scale`, back at scale `scale`, rounded half away
/// from zero (Java's `RoundingMode.HALF_UP`). `None` when it does not fit an `i128`.
fn decimal_mul(a: i128, b: i128, scale: u8) -> Option<i128> {
    let product = i256::from_i128(a).checked_mul(i256::from_i128(b))?;
    let divisor = i256::from_i128(10).checked_pow(u32::from(scale))?;
    let quotient = product.checked_div(divisor)?;
    let remainder = product.checked_rem(divisor)?;
    let twice = remainder.wrapping_abs().checked_mul(i256::from_i128(2))?;
    let rounded = if twice >= divisor { quotient.checked_add(product.signum())? } else { quotient };
    rounded.to_i128()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(f: &AggFunction, ty: DataType, a: Datum, b: Datum) -> Datum {
        match f.apply(&ty, &a, &b) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    const DEC: DataType = DataType::Decimal { precision: 5, scale: 2 };

    #[test]
    fn sum_ignores_nulls_and_wraps_in_the_column_width() {
        let f = AggFunction::Sum;
        assert_eq!(apply(&f, DataType::Int, Datum::Int(2), Datum::Int(3)), Datum::Int(5));
        assert_eq!(apply(&f, DataType::Int, Datum::Null, Datum::Int(3)), Datum::Int(3));
        assert_eq!(apply(&f, DataType::Int, Datum::Int(2), Datum::Null), Datum::Int(2));
        assert_eq!(apply(&f, DataType::Int, Datum::Null, Datum::Null), Datum::Null);
        assert_eq!(apply(&f, DataType::TinyInt, Datum::Int(127), Datum::Int(1)), Datum::Int(-128));
        assert_eq!(apply(&f, DataType::SmallInt, Datum::Int(32767), Datum::Int(2)), Datum::Int(-32767));
        assert_eq!(apply(&f, DataType::Int, Datum::Int(i32::MAX.into()), Datum::Int(1)), Datum::Int(i32::MIN.into()));
        assert_eq!(apply(&f, DataType::BigInt, Datum::Int(i64::MAX), Datum::Int(1)), Datum::Int(i64::MIN));
    }

    #[test]
    fn float_sums_round_in_their_own_width() {
        let f = AggFunction::Sum;
        let (a, b) = (f64::from(0.1f32), f64::from(0.2f32));
        assert_eq!(
            apply(&f, DataType::Float, Datum::Float(a), Datum::Float(b)),
            Datum::Float(f64::from(0.1f32 + 0.2f32))
        );
        assert_eq!(apply(&f, DataType::Double, Datum::Float(0.1), Datum::Float(0.2)), Datum::Float(0.1 + 0.2));
    }

    #[test]
    fn decimal_sum_keeps_the_scale_and_overflows_to_null() {
        let f = AggFunction::Sum;
        // 100.50 + 200.75 = 301.25 at scale 2.
        assert_eq!(apply(&f, DEC, Datum::Decimal(10050), Datum::Decimal(20075)), Datum::Decimal(30125));
        // 999.99 + 0.01 = 1000.00 needs precision 6: NULL, as Fluss's Decimal.fromBigDecimal.
        assert_eq!(apply(&f, DEC, Datum::Decimal(99999), Datum::Decimal(1)), Datum::Null);
        assert_eq!(apply(&f, DEC, Datum::Decimal(-99999), Datum::Decimal(-1)), Datum::Null);
        let wide = DataType::Decimal { precision: 38, scale: 0 };
        let max = 10i128.pow(38) - 1;
        assert_eq!(apply(&f, wide, Datum::Decimal(max), Datum::Decimal(max)), Datum::Null);
    }

    #[test]
    fn products_wrap_and_decimals_round_half_up() {
        let f = AggFunction::Product;
        assert_eq!(apply(&f, DataType::Int, Datum::Int(6), Datum::Int(7)), Datum::Int(42));
        assert_eq!(apply(&f, DataType::TinyInt, Datum::Int(16), Datum::Int(16)), Datum::Int(0));
        assert_eq!(apply(&f, DataType::Double, Datum::Float(0.9), Datum::Float(0.8)), Datum::Float(0.9 * 0.8));
        // 1.25 * 1.10 = 1.375 -> 1.38; -1.25 * 1.10 = -1.375 -> -1.38.
        assert_eq!(apply(&f, DEC, Datum::Decimal(125), Datum::Decimal(110)), Datum::Decimal(138));
        assert_eq!(apply(&f, DEC, Datum::Decimal(-125), Datum::Decimal(110)), Datum::Decimal(-138));
        // 1.24 * 1.10 = 1.364 -> 1.36.
        assert_eq!(apply(&f, DEC, Datum::Decimal(124), Datum::Decimal(110)), Datum::Decimal(136));
        // 500.00 * 3.00 = 1500.00 does not fit DECIMAL(5, 2).
        assert_eq!(apply(&f, DEC, Datum::Decimal(50000), Datum::Decimal(300)), Datum::Null);
        let wide = DataType::Decimal { precision: 38, scale: 10 };
        let big = 10i128.pow(37);
        assert_eq!(apply(&f, wide, Datum::Decimal(big), Datum::Decimal(big)), Datum::Null);
        assert_eq!(decimal_mul(big, 10i128.pow(10), 10), Some(big));
    }

    #[test]
    fn max_and_min_follow_the_column_order() {
        assert_eq!(apply(&AggFunction::Max, DataType::Int, Datum::Int(3), Datum::Int(9)), Datum::Int(9));
        assert_eq!(apply(&AggFunction::Max, DataType::Int, Datum::Int(3), Datum::Null), Datum::Int(3));
        assert_eq!(apply(&AggFunction::Min, DataType::Int, Datum::Int(3), Datum::Int(9)), Datum::Int(3));
        assert_eq!(apply(&AggFunction::Min, DataType::Int, Datum::Null, Datum::Int(9)), Datum::Int(9));
        let s = |v: &str| Datum::Str(v.into());
        assert_eq!(apply(&AggFunction::Max, DataType::String, s("apple"), s("banana")), s("banana"));
        assert_eq!(apply(&AggFunction::Min, DataType::String, s("apple"), s("banana")), s("apple"));
        // Java's Double.compare: NaN is the largest, -0.0 is below 0.0.
        let nan = apply(&AggFunction::Max, DataType::Double, Datum::Float(1.0), Datum::Float(f64::NAN));
        assert!(matches!(nan, Datum::Float(v) if v.is_nan()));
        assert_eq!(
            apply(&AggFunction::Min, DataType::Double, Datum::Float(0.0), Datum::Float(-0.0)),
            Datum::Float(-0.0)
        );
        assert_eq!(apply(&AggFunction::Max, DEC, Datum::Decimal(-5), Datum::Decimal(-7)), Datum::Decimal(-5));
    }

    #[test]
    fn value_functions_handle_nulls_as_fluss() {
        let (a, b) = (Datum::Int(1), Datum::Int(2));
        let t = DataType::Int;
        assert_eq!(apply(&AggFunction::LastValue, t, a.clone(), Datum::Null), Datum::Null);
        assert_eq!(apply(&AggFunction::LastValue, t, a.clone(), b.clone()), b);
        assert_eq!(apply(&AggFunction::LastValueIgnoreNulls, t, a.clone(), Datum::Null), a);
        assert_eq!(apply(&AggFunction::LastValueIgnoreNulls, t, a.clone(), b.clone()), b);
        assert_eq!(apply(&AggFunction::FirstValue, t, a.clone(), b.clone()), a);
        assert_eq!(apply(&AggFunction::FirstValue, t, Datum::Null, b.clone()), b);
        assert_eq!(apply(&AggFunction::FirstValueIgnoreNulls, t, a.clone(), Datum::Null), a);
        assert_eq!(apply(&AggFunction::FirstValueIgnoreNulls, t, Datum::Null, b.clone()), b);
    }

    #[test]
    fn listagg_joins_with_its_delimiter_and_skips_nulls() {
        let f = AggFunction::ListAgg { delimiter: ";".into() };
        let s = |v: &str| Datum::Str(v.into());
        assert_eq!(apply(&f, DataType::String, s("a"), s("b")), s("a;b"));
        assert_eq!(apply(&f, DataType::String, s("a;b"), Datum::Null), s("a;b"));
        assert_eq!(apply(&f, DataType::String, Datum::Null, s("c")), s("c"));
        assert_eq!(apply(&f, DataType::String, s(""), s("c")), s(";c"));
    }

    #[test]
    fn bool_functions_ignore_nulls() {
        let t = DataType::Boolean;
        let (yes, no) = (Datum::Bool(true), Datum::Bool(false));
        assert_eq!(apply(&AggFunction::BoolAnd, t, yes.clone(), no.clone()), no);
        assert_eq!(apply(&AggFunction::BoolAnd, t, yes.clone(), Datum::Null), yes);
        assert_eq!(apply(&AggFunction::BoolOr, t, no.clone(), yes.clone()), yes);
        assert_eq!(apply(&AggFunction::BoolOr, t, Datum::Null, no.clone()), no);
    }

    #[test]
    fn type_rules_match_fluss() {
        assert!(AggFunction::Sum.accepts(&DEC));
        assert!(!AggFunction::Sum.accepts(&DataType::String));
        assert!(!AggFunction::Sum.accepts(&DataType::Date));
        assert!(AggFunction::Max.accepts(&DataType::Timestamp { precision: 3 }));
        assert!(!AggFunction::Max.accepts(&DataType::Boolean));
        assert!(!AggFunction::Max.accepts(&DataType::Bytes));
        assert!(AggFunction::ListAgg { delimiter: ",".into() }.accepts(&DataType::Char { length: 3 }));
        assert!(!AggFunction::ListAgg { delimiter: ",".into() }.accepts(&DataType::Bytes));
        assert!(AggFunction::BoolOr.accepts(&DataType::Boolean));
        assert!(!AggFunction::BoolOr.accepts(&DataType::Int));
        assert!(AggFunction::FirstValue.accepts(&DataType::Bytes));
    }

    #[test]
    fn mismatched_datums_are_reported() {
        let err = AggFunction::Sum.apply(&DataType::Int, &Datum::Int(1), &Datum::Str("x".into()));
        assert!(matches!(err, Err(e) if e.contains("sum over INT")));
    }
}
