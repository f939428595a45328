//! Typing a literal from the text against its column: range checks, DECIMAL scaling and
//! DATE / TIME / TIMESTAMP text. Errors are reasons; the parser adds the position.

use super::ast::Literal;
use super::temporal;
use crate::schema::{Column, DataType};

/// Largest DECIMAL precision whose unscaled value fits an i64 (Fluss's compact decimal).
pub(super) const COMPACT_DECIMAL_PRECISION_MAX: u8 = 18;

/// A literal as written, before typing.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum RawLiteral<'a> {
    /// A number as written (`-2`, `1.5`, `1e3`); the lexer checked its shape.
    Number(&'a str),
    /// A quoted string, unescaped.
    Str(String),
    /// TRUE or FALSE.
    Bool(bool),
}

impl RawLiteral<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Number(text) => format!("number {text}"),
            Self::Str(text) => format!("string '{}'", text.replace('\'', "''")),
            Self::Bool(value) => if *value { "TRUE" } else { "FALSE" }.to_string(),
        }
    }
}

/// Types `raw` against `column`, or says why it does not fit.
pub(super) fn type_literal(raw: &RawLiteral<'_>, column: &Column) -> Result<Literal, String> {
    let ty = column.data_type;
    let name = &column.name;
    let mismatch = |expected: &str| {
        let found = raw.describe();
        Err(format!("column '{name}' is {ty}: expected {expected}, found {found}"))
    };
    match (ty, raw) {
        (DataType::Boolean, RawLiteral::Bool(value)) => Ok(Literal::Bool(*value)),
        (DataType::Boolean, _) => mismatch("TRUE or FALSE"),
        (DataType::TinyInt | DataType::SmallInt | DataType::Int | DataType::BigInt, _) => {
            let RawLiteral::Number(text) = raw else {
                return mismatch("an integer");
            };
            integer(text, column).map(Literal::Int)
        }
        (DataType::Decimal { precision, scale }, _) => decimal(raw, column, precision, scale),
        (DataType::Float | DataType::Double, RawLiteral::Number(text)) => float(text, column),
        (DataType::Float | DataType::Double, _) => mismatch("a number"),
        (DataType::Char { .. } | DataType::String, RawLiteral::Str(text)) => Ok(Literal::Str(text.clone())),
        (DataType::Char { .. } | DataType::String, _) => mismatch("a 'string'"),
        (DataType::Date, RawLiteral::Str(text)) => temporal::parse_date(text).map(Literal::Int),
        (DataType::Date, _) => mismatch("a date 'YYYY-MM-DD'"),
        (DataType::Time { .. }, RawLiteral::Str(text)) => temporal::parse_time(text).map(Literal::Int),
        (DataType::Time { .. }, _) => mismatch("a time 'HH:MM:SS[.fff]'"),
        (DataType::Timestamp { .. } | DataType::TimestampLtz { .. }, _) => match raw {
            RawLiteral::Str(text) => temporal::parse_timestamp(text).map(Literal::Int),
            RawLiteral::Number(text) => integer_in(text, column, i64::MIN.into(), i64::MAX.into()).map(Literal::Int),
            RawLiteral::Bool(_) => mismatch("a timestamp 'YYYY-MM-DD HH:MM:SS[.fff]' or millis"),
        },
        (DataType::Binary { .. } | DataType::Bytes, _) => Err(format!(
            "column '{name}' is {ty}: comparisons on binary columns are not supported \
             (IS NULL and IS NOT NULL are)"
        )),
    }
}

fn integer(text: &str, column: &Column) -> Result<i64, String> {
    let (min, max): (i128, i128) = match column.data_type {
        DataType::TinyInt => (i8::MIN.into(), i8::MAX.into()),
        DataType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    integer_in(text, column, min, max)
}

fn integer_in(text: &str, column: &Column, min: i128, max: i128) -> Result<i64, String> {
    let ty = column.data_type;
    let value = unscaled(text, 0).map_err(|e| match e {
        Unscaled::Fraction => format!("column '{}' is {ty}: expected an integer, found {text}", column.name),
        Unscaled::TooLarge => out_of_range(text, column, min, max),
    })?;
    if value < min || value > max {
        return Err(out_of_range(text, column, min, max));
    }
    i64::try_from(value).map_err(|_| out_of_range(text, column, min, max))
}

fn out_of_range(text: &str, column: &Column, min: i128, max: i128) -> String {
    format!("{text} is out of range for column '{}' of type {} ({min}..={max})", column.name, column.data_type)
}

fn decimal(raw: &RawLiteral<'_>, column: &Column, precision: u8, scale: u8) -> Result<Literal, String> {
    let ty = column.data_type;
    if precision > COMPACT_DECIMAL_PRECISION_MAX {
        let max = COMPACT_DECIMAL_PRECISION_MAX;
        let name = &column.name;
        return Err(format!(
            "column '{name}' is {ty}: comparisons on DECIMAL with precision over {max} \
             are not supported"
        ));
    }
    let RawLiteral::Number(text) = raw else {
        return Err(format!("column '{}' is {ty}: expected a number, found {}", column.name, raw.describe()));
    };
    let limit = 10_i128.pow(u32::from(precision));
    let value = unscaled(text, u32::from(scale)).map_err(|e| match e {
        Unscaled::Fraction => {
            format!("{text} has more fractional digits than the scale of column '{}' ({ty})", column.name)
        }
        Unscaled::TooLarge => format!("{text} does not fit column '{}' of type {ty}", column.name),
    })?;
    if value.abs() >= limit {
        return Err(format!("{text} does not fit column '{}' of type {ty}", column.name));
    }
    i64::try_from(value).map(Literal::Int).map_err(|_| format!("{text} does not fit column '{}'", column.name))
}

fn float(text: &str, column: &Column) -> Result<Literal, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(Literal::Float(value)),
        _ => Err(format!("{text} is out of range for column '{}' of type {}", column.name, column.data_type)),
    }
}

/// Why a number has no exact unscaled value at a scale.
#[derive(Debug, PartialEq)]
enum Unscaled {
    /// It has non-zero digits below the scale.
    Fraction,
    /// It has more than 38 digits.
    TooLarge,
}

/// The exact value of a number times 10^scale, e.g. (`12.34`, 2) -> 1234, (`1e3`, 0) -> 1000.
fn unscaled(text: &str, scale: u32) -> Result<i128, Unscaled> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or_default()),
        Some(b'+') => (false, text.get(1..).unwrap_or_default()),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().map_err(|_| Unscaled::TooLarge)?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    // value = digits * 10^shift
    let shift = exponent.saturating_add(i64::from(scale)).saturating_sub(fraction.len() as i64);
    let magnitude = shifted(digits, shift)?;
    Ok(if negative { -magnitude } else { magnitude })
}

fn shifted(digits: &str, shift: i64) -> Result<i128, Unscaled> {
    if digits.is_empty() {
        return Ok(0);
    }
    let kept = if shift < 0 {
        let drop = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
        let (kept, dropped) = digits.split_at(digits.len().saturating_sub(drop));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(Unscaled::Fraction);
        }
        kept.to_string()
    } else {
        if digits.len() as i64 + shift > 38 {
            return Err(Unscaled::TooLarge);
        }
        format!("{digits}{}", "0".repeat(shift as usize))
    };
    if kept.len() > 38 {
        return Err(Unscaled::TooLarge);
    }
    kept.parse().map_err(|_| Unscaled::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str, ty: DataType) -> Result<Literal, String> {
        let raw = if text.starts_with('\'') {
            RawLiteral::Str(text.trim_matches('\'').to_string())
        } else if text == "TRUE" || text == "FALSE" {
            RawLiteral::Bool(text == "TRUE")
        } else {
            RawLiteral::Number(text)
        };
        type_literal(&raw, &Column::new("c", ty))
    }

    #[test]
    fn unscaled_values_are_exact() {
        assert_eq!(unscaled("12.34", 2), Ok(1234));
        assert_eq!(unscaled("-12.3", 2), Ok(-1230));
        assert_eq!(unscaled("1e3", 0), Ok(1000));
        assert_eq!(unscaled("1.50", 1), Ok(15));
        assert_eq!(unscaled("1500e-2", 0), Ok(15));
        assert_eq!(unscaled(".5", 1), Ok(5));
        assert_eq!(unscaled("0.000", 0), Ok(0));
        assert_eq!(unscaled("+7", 0), Ok(7));
        assert_eq!(unscaled("12.345", 2), Err(Unscaled::Fraction));
        assert_eq!(unscaled("1e-9", 2), Err(Unscaled::Fraction));
        assert_eq!(unscaled("1e40", 0), Err(Unscaled::TooLarge));
        assert_eq!(unscaled("1e999999999999999999999", 0), Err(Unscaled::TooLarge));
        assert_eq!(unscaled("0e999999999", 0), Ok(0));
    }

    #[test]
    fn integers_are_range_checked_per_type() {
        assert_eq!(typed("127", DataType::TinyInt), Ok(Literal::Int(127)));
        assert!(typed("128", DataType::TinyInt).is_err_and(|e| e.contains("out of range") && e.contains("-128..=127")));
        assert_eq!(typed("-32768", DataType::SmallInt), Ok(Literal::Int(-32768)));
        assert_eq!(typed("1e3", DataType::Int), Ok(Literal::Int(1000)));
        assert_eq!(typed("-9223372036854775808", DataType::BigInt), Ok(Literal::Int(i64::MIN)));
        assert!(typed("9223372036854775808", DataType::BigInt).is_err());
        assert!(typed("1.5", DataType::Int).is_err_and(|e| e.contains("expected an integer")));
        assert!(typed("'5'", DataType::Int).is_err_and(|e| e.contains("found string '5'")));
    }

    #[test]
    fn decimals_become_unscaled() {
        let ty = DataType::Decimal { precision: 6, scale: 2 };
        assert_eq!(typed("12.34", ty), Ok(Literal::Int(1234)));
        assert_eq!(typed("-2", ty), Ok(Literal::Int(-200)));
        assert_eq!(typed("9999.99", ty), Ok(Literal::Int(999_999)));
        assert!(typed("12.345", ty).is_err_and(|e| e.contains("more fractional digits")));
        assert!(typed("10000", ty).is_err_and(|e| e.contains("does not fit")));
        let wide = DataType::Decimal { precision: 20, scale: 2 };
        assert!(typed("1", wide).is_err_and(|e| e.contains("precision over 18")));
    }

    #[test]
    fn other_types_take_their_spellings() {
        assert_eq!(typed("1.5", DataType::Double), Ok(Literal::Float(1.5)));
        assert_eq!(typed("-2", DataType::Float), Ok(Literal::Float(-2.0)));
        assert!(typed("1e999", DataType::Double).is_err());
        assert_eq!(typed("TRUE", DataType::Boolean), Ok(Literal::Bool(true)));
        assert!(typed("1", DataType::Boolean).is_err());
        assert_eq!(typed("'x'", DataType::Char { length: 3 }), Ok(Literal::Str("x".into())));
        assert_eq!(typed("'1970-01-02'", DataType::Date), Ok(Literal::Int(1)));
        assert!(typed("1", DataType::Date).is_err());
        assert_eq!(typed("'00:00:01'", DataType::Time { precision: 3 }), Ok(Literal::Int(1000)));
        let ts = DataType::Timestamp { precision: 6 };
        assert_eq!(typed("'1970-01-01 00:00:01'", ts), Ok(Literal::Int(1000)));
        assert_eq!(typed("-5", ts), Ok(Literal::Int(-5)));
        assert_eq!(typed("'1970-01-01 00:00:01'", DataType::TimestampLtz { precision: 3 }), Ok(Literal::Int(1000)));
        assert!(typed("'x'", DataType::Bytes).is_err_and(|e| e.contains("binary columns are not supported")));
    }
}
