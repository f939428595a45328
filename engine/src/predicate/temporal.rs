//! DATE, TIME and TIMESTAMP literals: text <-> days since epoch / millis (UTC, proleptic
//! Gregorian calendar, years 0000..=9999 in text).

/// Milliseconds in a day.
pub(super) const MILLIS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count (Howard Hinnant's `civil_from_days`).
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub(super) fn parse_date(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not a date: expected 'YYYY-MM-DD'");
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (year, month, day) = (fixed(y, 4).ok_or_else(bad)?, fixed(m, 2).ok_or_else(bad)?, fixed(d, 2).ok_or_else(bad)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(year), month) {
        return Err(format!("'{text}' is not a valid date: month or day out of range"));
    }
    Ok(days_from_civil(i64::from(year), month, day))
}

/// Why a time of day did not parse.
enum TimeError {
    Malformed,
    OutOfRange,
    SubMillis,
}

/// Parses `HH:MM:SS[.fffffffff]` into millis of the day; digits below the millisecond
/// must be zero (literals have millisecond precision).
pub(super) fn parse_time(text: &str) -> Result<i64, String> {
    time_of_day(text).map_err(|e| match e {
        TimeError::Malformed => format!("'{text}' is not a time: expected 'HH:MM:SS[.fff]'"),
        TimeError::OutOfRange => {
            format!("'{text}' is not a valid time: hour, minute or second out of range")
        }
        TimeError::SubMillis => sub_millis(text),
    })
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fff]` (or with `T` between) into epoch millis, as UTC.
pub(super) fn parse_timestamp(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not a timestamp: expected 'YYYY-MM-DD HH:MM:SS[.fff]'");
    let (Some(date), Some(time)) = (text.get(..10), text.get(11..)) else {
        return Err(bad());
    };
    if !matches!(text.as_bytes().get(10), Some(b' ' | b'T')) {
        return Err(bad());
    }
    let days = parse_date(date).map_err(|_| bad())?;
    let millis = time_of_day(time).map_err(|e| match e {
        TimeError::SubMillis => sub_millis(text),
        TimeError::Malformed | TimeError::OutOfRange => bad(),
    })?;
    Ok(days * MILLIS_PER_DAY + millis)
}

fn time_of_day(text: &str) -> Result<i64, TimeError> {
    let (hms, fraction) = match text.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (text, None),
    };
    let mut parts = hms.split(':');
    let (Some(h), Some(m), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TimeError::Malformed);
    };
    let field = |text| fixed(text, 2).ok_or(TimeError::Malformed);
    let (hour, minute, second) = (field(h)?, field(m)?, field(s)?);
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimeError::OutOfRange);
    }
    let millis = match fraction {
        Some(f) => fraction_millis(f)?,
        None => 0,
    };
    Ok(((i64::from(hour) * 60 + i64::from(minute)) * 60 + i64::from(second)) * 1000 + millis)
}

/// `YYYY-MM-DD` of a day count.
pub(super) fn format_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `HH:MM:SS` or `HH:MM:SS.fff` of millis of the day.
pub(super) fn format_time(millis: i64) -> String {
    let (seconds, fraction) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if fraction == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{fraction:03}")
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` of epoch millis, or `None` when the year is outside 0..=9999.
pub(super) fn format_timestamp(millis: i64) -> Option<String> {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let (year, _, _) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!("{} {}", format_date(days), format_time(millis.rem_euclid(MILLIS_PER_DAY))))
}

fn sub_millis(text: &str) -> String {
    format!("'{text}' has digits below the millisecond: literals have millisecond precision")
}

/// Exactly `width` ASCII digits.
fn fixed(text: &str, width: usize) -> Option<u32> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Millis of a 1..=9 digit fraction of a second.
fn fraction_millis(fraction: &str) -> Result<i64, TimeError> {
    if fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::Malformed);
    }
    let nanos: i64 = format!("{fraction:0<9}").parse().map_err(|_| TimeError::Malformed)?;
    if nanos % 1_000_000 != 0 {
        return Err(TimeError::SubMillis);
    }
    Ok(nanos / 1_000_000)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2000-03-01"), Ok(11_017));
        assert_eq!(parse_date("1969-12-31"), Ok(-1));
        assert_eq!(parse_date("2024-02-29"), Ok(19_782));
        assert_eq!(parse_date("0000-01-01"), Ok(-719_528));
        for days in [-719_528, -1, 0, 1, 11_016, 19_782, 2_932_896] {
            assert_eq!(parse_date(&format_date(days)), Ok(days), "{days}");
        }
    }

    #[test]
    fn bad_dates_are_rejected() {
        for text in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "24-01-01", "2024/01/01", ""] {
            assert!(parse_date(text).is_err(), "{text}");
        }
        assert!(parse_date("1900-02-29").is_err());
    }

    #[test]
    fn times_convert_both_ways() {
        assert_eq!(parse_time("00:00:00"), Ok(0));
        assert_eq!(parse_time("23:59:59.999"), Ok(MILLIS_PER_DAY - 1));
        assert_eq!(parse_time("12:30:00.5"), Ok(45_000_500));
        assert_eq!(parse_time("12:30:00.500000000"), Ok(45_000_500));
        assert!(parse_time("12:30:00.0001").is_err_and(|e| e.contains("millisecond precision")));
        for text in ["24:00:00", "12:60:00", "1:00:00", "12:00", "12:00:00.", "12:00:00.1234567890"] {
            assert!(parse_time(text).is_err(), "{text}");
        }
        for millis in [0, 1, 45_000_500, MILLIS_PER_DAY - 1] {
            assert_eq!(parse_time(&format_time(millis)), Ok(millis));
        }
    }

    #[test]
    fn timestamps_convert_both_ways() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5"), Ok(1500));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59.999"), Ok(-1));
        assert_eq!(parse_timestamp("2024-05-06 07:08:09.010"), Ok(1_714_979_289_010));
        assert!(parse_timestamp("2024-05-06").is_err());
        assert!(parse_timestamp("2024-05-06 07:08:09.0101").is_err_and(|e| e.contains("millisecond")));
        for millis in [-1, 0, 1500, 1_714_979_289_010, -62_167_219_200_000] {
            let text = format_timestamp(millis).expect("in range");
            assert_eq!(parse_timestamp(&text), Ok(millis), "{text}");
        }
        assert_eq!(format_timestamp(i64::MAX), None);
    }
}
