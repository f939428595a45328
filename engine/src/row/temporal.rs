//! TIME and TIMESTAMP values between Arrow's units and the KV formats' fields.
//!
//! - TIME(p), any p, is stored as an i32 of milliseconds of the day. Arrow holds seconds
//!   (p = 0), milliseconds (1..=3), microseconds (4..=6) or nanoseconds (7..=9). Going to the
//!   row, finer units are cut to whole milliseconds toward zero, as fluss-rs does (Fluss keeps
//!   TIME only to the millisecond). Coming back, a p = 0 value with a fraction of a second is an
//!   error (fluss-rs refuses it too).
//! - TIMESTAMP(p) / TIMESTAMP_LTZ(p) are stored as epoch milliseconds (i64) and, when p > 3, the
//!   nanoseconds within that millisecond (0..=999_999, so the milliseconds are floored: -1 µs
//!   is millisecond -1 plus 999_000 ns). Coming back to Arrow seconds, the milliseconds are
//!   divided toward zero, as fluss-rs does.
//!
//! Every function returns `None` when the value does not fit the target.

use arrow_schema::TimeUnit;

/// Largest nanos-of-millisecond value.
pub const NANOS_OF_MILLI_MAX: i32 = 999_999;

/// Arrow TIME value in `unit` to milliseconds of the day.
pub fn time_to_millis(unit: TimeUnit, value: i64) -> Option<i32> {
    let millis = match unit {
        TimeUnit::Second => value.checked_mul(1_000)?,
        TimeUnit::Millisecond => value,
        TimeUnit::Microsecond => value / 1_000,
        TimeUnit::Nanosecond => value / 1_000_000,
    };
    i32::try_from(millis).ok()
}

/// Milliseconds of the day to an Arrow TIME value in `unit`.
pub fn millis_to_time(unit: TimeUnit, millis: i32) -> Option<i64> {
    let millis = i64::from(millis);
    match unit {
        TimeUnit::Second => (millis % 1_000 == 0).then_some(millis / 1_000),
        TimeUnit::Millisecond => Some(millis),
        TimeUnit::Microsecond => Some(millis * 1_000),
        TimeUnit::Nanosecond => Some(millis * 1_000_000),
    }
}

/// Arrow TIMESTAMP value in `unit` to (epoch millis, nanos of milli).
///
/// Values within one millisecond of `i64::MIN` in µs or ns are refused: their floored
/// milliseconds cannot be converted back (fluss-rs writes them but then fails to read them).
pub fn timestamp_to_parts(unit: TimeUnit, value: i64) -> Option<(i64, i32)> {
    let parts = match unit {
        TimeUnit::Second => (value.checked_mul(1_000)?, 0),
        TimeUnit::Millisecond => (value, 0),
        TimeUnit::Microsecond => (value.div_euclid(1_000), (value.rem_euclid(1_000) * 1_000) as i32),
        TimeUnit::Nanosecond => (value.div_euclid(1_000_000), value.rem_euclid(1_000_000) as i32),
    };
    parts_to_timestamp(unit, parts.0, parts.1).map(|_| parts)
}

/// (epoch millis, nanos of milli) to an Arrow TIMESTAMP value in `unit`.
pub fn parts_to_timestamp(unit: TimeUnit, millis: i64, nanos: i32) -> Option<i64> {
    if !(0..=NANOS_OF_MILLI_MAX).contains(&nanos) {
        return None;
    }
    match unit {
        TimeUnit::Second => Some(millis / 1_000),
        TimeUnit::Millisecond => Some(millis),
        TimeUnit::Microsecond => millis.checked_mul(1_000)?.checked_add(i64::from(nanos / 1_000)),
        TimeUnit::Nanosecond => millis.checked_mul(1_000_000)?.checked_add(i64::from(nanos)),
    }
}

/// The Arrow unit of TIME(p) / TIMESTAMP(p) (the mapping of `DataType::to_arrow`).
pub fn unit_of(precision: u8) -> TimeUnit {
    match precision {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

/// True when TIMESTAMP(p) keeps only milliseconds (p <= 3), i.e. the Arrow unit is s or ms.
pub fn is_compact(unit: TimeUnit) -> bool {
    matches!(unit, TimeUnit::Second | TimeUnit::Millisecond)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const UNITS: [TimeUnit; 4] = [TimeUnit::Second, TimeUnit::Millisecond, TimeUnit::Microsecond, TimeUnit::Nanosecond];

    #[test]
    fn time_conversions() {
        assert_eq!(time_to_millis(TimeUnit::Second, 86_399), Some(86_399_000));
        assert_eq!(time_to_millis(TimeUnit::Microsecond, 1_999), Some(1));
        assert_eq!(time_to_millis(TimeUnit::Nanosecond, 45_296_789_123_456), Some(45_296_789));
        assert_eq!(time_to_millis(TimeUnit::Second, i64::from(i32::MAX)), None);
        assert_eq!(millis_to_time(TimeUnit::Second, 1_500), None);
        assert_eq!(millis_to_time(TimeUnit::Second, 3_000), Some(3));
        assert_eq!(millis_to_time(TimeUnit::Nanosecond, 1), Some(1_000_000));
    }

    #[test]
    fn timestamp_parts_floor_before_the_epoch() {
        assert_eq!(timestamp_to_parts(TimeUnit::Microsecond, -1), Some((-1, 999_000)));
        assert_eq!(timestamp_to_parts(TimeUnit::Nanosecond, -1), Some((-1, 999_999)));
        assert_eq!(timestamp_to_parts(TimeUnit::Nanosecond, 1_234_567), Some((1, 234_567)));
        assert_eq!(timestamp_to_parts(TimeUnit::Second, i64::MAX), None);
        assert_eq!(timestamp_to_parts(TimeUnit::Nanosecond, i64::MIN), None);
        assert_eq!(
            timestamp_to_parts(TimeUnit::Nanosecond, i64::MAX),
            Some((i64::MAX / 1_000_000, 854_775_807 % 1_000_000))
        );
        assert_eq!(parts_to_timestamp(TimeUnit::Microsecond, -1, 999_000), Some(-1));
        assert_eq!(parts_to_timestamp(TimeUnit::Second, -1_500, 0), Some(-1), "toward zero like fluss-rs");
        assert_eq!(parts_to_timestamp(TimeUnit::Nanosecond, 0, 1_000_000), None);
        assert_eq!(parts_to_timestamp(TimeUnit::Nanosecond, 0, -1), None);
        assert_eq!(parts_to_timestamp(TimeUnit::Nanosecond, i64::MAX / 1_000, 0), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn timestamps_round_trip_in_every_unit(value: i64, unit in 0usize..4) {
            let unit = UNITS[unit];
            if let Some((millis, nanos)) = timestamp_to_parts(unit, value) {
                prop_assert!((0..=NANOS_OF_MILLI_MAX).contains(&nanos));
                prop_assert_eq!(parts_to_timestamp(unit, millis, nanos), Some(value));
            }
        }

        #[test]
        fn times_of_whole_millis_round_trip(millis in 0i32..86_400_000, unit in 1usize..4) {
            let unit = UNITS[unit];
            let value = millis_to_time(unit, millis);
            prop_assert_eq!(value.and_then(|v| time_to_millis(unit, v)), Some(millis));
        }
    }
}
