//! How a collected type sits in its AlignedRow slot, and which [`Scalar`]s it accepts.

use std::cmp::Ordering;

use super::Scalar;
use crate::schema::DataType;

/// Largest DECIMAL precision stored compactly (unscaled value in an i64 slot).
const DECIMAL_COMPACT_PRECISION_MAX: u8 = 18;
/// Largest TIMESTAMP precision stored compactly (epoch millis in an i64 slot).
const TIMESTAMP_COMPACT_PRECISION_MAX: u8 = 3;

/// The slot encoding of one collected column type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Int8,
    Int16,
    /// INT, DATE (days) and TIME (millis of day).
    Int32,
    /// BIGINT, compact DECIMAL (unscaled) and compact TIMESTAMP (epoch millis).
    Int64,
    Float32,
    Float64,
    /// CHAR and STRING.
    Str,
    /// TIMESTAMP(p > 3): epoch millis in the variable area, nanos of the milli in the slot.
    /// The scalar is the epoch millis, floored.
    PreciseTimestamp,
}

impl Kind {
    /// The slot encoding of `data_type`, or `None` when rill does not collect it.
    pub(super) fn of(data_type: &DataType) -> Option<Kind> {
        Some(match *data_type {
            DataType::Boolean => Kind::Bool,
            DataType::TinyInt => Kind::Int8,
            DataType::SmallInt => Kind::Int16,
            DataType::Int | DataType::Date | DataType::Time { .. } => Kind::Int32,
            DataType::BigInt => Kind::Int64,
            DataType::Float => Kind::Float32,
            DataType::Double => Kind::Float64,
            DataType::Char { .. } | DataType::String => Kind::Str,
            DataType::Decimal { precision, .. } if precision <= DECIMAL_COMPACT_PRECISION_MAX => Kind::Int64,
            DataType::Timestamp { precision } | DataType::TimestampLtz { precision } => timestamp_kind(precision),
            _ => return None,
        })
    }

    /// True when `value` is the right variant for this kind and fits its slot.
    pub(super) fn fits(self, value: &Scalar) -> bool {
        match (self, value) {
            (Kind::Bool, Scalar::Bool(_)) => true,
            (Kind::Int8, Scalar::Int(v)) => i8::try_from(*v).is_ok(),
            (Kind::Int16, Scalar::Int(v)) => i16::try_from(*v).is_ok(),
            (Kind::Int32, Scalar::Int(v)) => i32::try_from(*v).is_ok(),
            (Kind::Int64 | Kind::PreciseTimestamp, Scalar::Int(_)) => true,
            (Kind::Float32, Scalar::Float(v)) => v.is_nan() || f64::from(*v as f32) == *v,
            (Kind::Float64, Scalar::Float(_)) => true,
            (Kind::Str, Scalar::Str(_)) => true,
            _ => false,
        }
    }
}

fn timestamp_kind(precision: u8) -> Kind {
    if precision <= TIMESTAMP_COMPACT_PRECISION_MAX {
        Kind::Int64
    } else {
        Kind::PreciseTimestamp
    }
}

/// Java's `Double.compare`: `-0.0 < 0.0`, and every NaN is equal to itself and above `+inf`.
pub(super) fn java_float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_limits_match_fluss() {
        assert_eq!(Kind::of(&DataType::Decimal { precision: 18, scale: 2 }), Some(Kind::Int64));
        assert_eq!(Kind::of(&DataType::Decimal { precision: 19, scale: 2 }), None);
        assert_eq!(Kind::of(&DataType::Timestamp { precision: 3 }), Some(Kind::Int64));
        assert_eq!(Kind::of(&DataType::Timestamp { precision: 4 }), Some(Kind::PreciseTimestamp));
        assert_eq!(Kind::of(&DataType::TimestampLtz { precision: 9 }), Some(Kind::PreciseTimestamp));
        assert_eq!(Kind::of(&DataType::Time { precision: 9 }), Some(Kind::Int32));
        assert_eq!(Kind::of(&DataType::Bytes), None);
        assert_eq!(Kind::of(&DataType::Binary { length: 4 }), None);
    }

    #[test]
    fn fits_checks_variant_and_range() {
        assert!(Kind::Int8.fits(&Scalar::Int(-128)));
        assert!(!Kind::Int8.fits(&Scalar::Int(128)));
        assert!(!Kind::Int32.fits(&Scalar::Str("1".into())));
        assert!(Kind::Float32.fits(&Scalar::Float(1.5)));
        assert!(Kind::Float32.fits(&Scalar::Float(f64::NAN)));
        assert!(!Kind::Float32.fits(&Scalar::Float(0.1)));
    }

    #[test]
    fn java_order_puts_nan_on_top_and_negative_zero_below_zero() {
        assert_eq!(java_float_cmp(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(java_float_cmp(-f64::NAN, f64::NAN), Ordering::Equal);
        assert_eq!(java_float_cmp(-0.0, 0.0), Ordering::Less);
        assert_eq!(java_float_cmp(-1.0, 2.0), Ordering::Less);
    }
}
