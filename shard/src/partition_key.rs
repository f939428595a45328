//! Partition-key values: which column types can be partition keys, how a value is written
//! as text (Fluss's partition-name conventions, checked against fluss-rs
//! `util::partition::convert_value_of_type`), reading it back, and reading it from a row.
//!
//! A partition name is the values in partition-key order joined by `$`; each value follows
//! Fluss's name rule (1..=200 bytes of ASCII letters, digits, `_` and `-`, not `.`/`..`).
//!
//! | type | text | example |
//! |---|---|---|
//! | STRING, CHAR | the string itself | `eu-west` |
//! | BOOLEAN | `true` / `false` | `true` |
//! | TINYINT .. BIGINT | decimal | `-42` |
//! | DATE | `yyyy-MM-dd` | `2024-01-15` |
//! | BINARY, BYTES | lowercase hex | `0aff` |
//!
//! Not yet (Fluss has them): FLOAT, DOUBLE, TIME, TIMESTAMP, TIMESTAMP_LTZ partition keys.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int16Type, Int32Type, Int64Type, Int8Type};
use arrow_array::{Array, ArrayRef};
use rill_engine::batch::stats::Scalar;
use rill_engine::schema::{DataType, TableDescriptor};

use crate::civil;
use crate::error::{Error, Result};

/// Joins partition values into a partition name (Fluss's `PARTITION_SPEC_SEPARATOR`).
pub const PARTITION_SEPARATOR: char = '$';
/// Longest partition value, in bytes (Fluss's `MAX_NAME_LENGTH`).
pub const VALUE_BYTES_MAX: usize = 200;

/// The name of the partition holding `values` (in partition-key order).
pub fn partition_name(values: &[String]) -> String {
    values.join(&PARTITION_SEPARATOR.to_string())
}

/// True for the column types rill accepts as partition keys.
pub fn is_partition_key_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::String
            | DataType::Char { .. }
            | DataType::Boolean
            | DataType::TinyInt
            | DataType::SmallInt
            | DataType::Int
            | DataType::BigInt
            | DataType::Date
            | DataType::Binary { .. }
            | DataType::Bytes
    )
}

/// Checks that every partition key has a supported type (the descriptor's own validation
/// already checked that they are columns).
pub fn check_key_types(desc: &TableDescriptor) -> Result<()> {
    for key in &desc.partition_keys {
        let Some(column) = desc.schema.columns.iter().find(|c| &c.name == key) else {
            return Err(Error::InvalidPartitionSpec {
                table: desc.name.clone(),
                reason: format!("partition key '{key}' is not a column"),
            });
        };
        if !is_partition_key_type(&column.data_type) {
            return Err(Error::Unsupported {
                what: format!(
                    "partition key '{key}' of table '{}' has type {}: partition keys of that type",
                    desc.name, column.data_type
                ),
            });
        }
    }
    Ok(())
}

/// Checks Fluss's name rule on one value; the reason if it breaks it.
fn name_rule(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("the empty string is not allowed".into());
    }
    if value == "." || value == ".." {
        return Some(format!("'{value}' is not allowed"));
    }
    if value.len() > VALUE_BYTES_MAX {
        return Some(format!("'{value}' is longer than {VALUE_BYTES_MAX} bytes"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Some(format!("'{value}' contains characters other than ASCII letters, digits, '_' and '-'"));
    }
    None
}

/// Checks that `text` is the canonical text of a value of `data_type`; the reason if not.
pub fn check_value(data_type: &DataType, text: &str) -> Result<(), String> {
    if let Some(reason) = name_rule(text) {
        return Err(reason);
    }
    let canonical = match data_type {
        DataType::String | DataType::Char { .. } => return Ok(()),
        DataType::Boolean => matches!(text, "true" | "false"),
        DataType::TinyInt | DataType::SmallInt | DataType::Int | DataType::BigInt => {
            let (min, max) = int_range(data_type);
            text.parse::<i64>().is_ok_and(|v| (min..=max).contains(&v) && v.to_string() == text)
        }
        DataType::Date => civil::parse_date(text).is_some(),
        DataType::Binary { length } => is_hex(text) && text.len() == 2 * usize::try_from(*length).unwrap_or(usize::MAX),
        DataType::Bytes => is_hex(text),
        other => return Err(format!("type {other} cannot be a partition key")),
    };
    match canonical {
        true => Ok(()),
        false => Err(format!("'{text}' is not a {data_type} value written as a partition value ({})", how(data_type))),
    }
}

fn how(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Boolean => "true or false",
        DataType::Date => "yyyy-MM-dd",
        DataType::Binary { .. } | DataType::Bytes => "lowercase hex, two digits per byte",
        _ => "decimal digits without leading zeros or '+'",
    }
}

fn is_hex(text: &str) -> bool {
    text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn int_range(data_type: &DataType) -> (i64, i64) {
    match data_type {
        DataType::TinyInt => (i8::MIN.into(), i8::MAX.into()),
        DataType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The statistics value of a checked partition value (for pruning with
/// `Predicate::can_match`); `None` for types without statistics (BINARY, BYTES).
pub fn scalar_of(data_type: &DataType, text: &str) -> Option<Scalar> {
    match data_type {
        DataType::String | DataType::Char { .. } => Some(Scalar::Str(text.to_string())),
        DataType::Boolean => Some(Scalar::Bool(text == "true")),
        DataType::TinyInt | DataType::SmallInt | DataType::Int | DataType::BigInt => text.parse().ok().map(Scalar::Int),
        DataType::Date => civil::parse_date(text).map(Scalar::Int),
        _ => None,
    }
}

/// The partition text of row `row` of `column` (a column of `data_type`); the reason if the
/// value is null or breaks the name rule.
pub fn text_of(data_type: &DataType, column: &ArrayRef, row: usize) -> Result<String, String> {
    if column.is_null(row) {
        return Err("a partition key value is null".into());
    }
    let text = match data_type {
        DataType::String | DataType::Char { .. } => column.as_string_opt::<i32>().map(|a| a.value(row).to_string()),
        DataType::Boolean => column.as_boolean_opt().map(|a| a.value(row).to_string()),
        DataType::TinyInt => column.as_primitive_opt::<Int8Type>().map(|a| a.value(row).to_string()),
        DataType::SmallInt => column.as_primitive_opt::<Int16Type>().map(|a| a.value(row).to_string()),
        DataType::Int => column.as_primitive_opt::<Int32Type>().map(|a| a.value(row).to_string()),
        DataType::BigInt => column.as_primitive_opt::<Int64Type>().map(|a| a.value(row).to_string()),
        DataType::Date => column.as_primitive_opt::<Date32Type>().map(|a| civil::format_date(a.value(row).into())),
        DataType::Binary { .. } => column.as_fixed_size_binary_opt().map(|a| hex(a.value(row))),
        DataType::Bytes => column.as_binary_opt::<i32>().map(|a| hex(a.value(row))),
        _ => None,
    };
    let text = text.ok_or_else(|| format!("a {data_type} partition key column holds {}", column.data_type()))?;
    match name_rule(&text) {
        Some(reason) => Err(reason),
        None => Ok(text),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{BinaryArray, Date32Array, Int32Array, StringArray};

    use super::*;

    #[test]
    fn values_are_checked_per_type() {
        assert!(check_value(&DataType::Int, "-42").is_ok());
        assert!(check_value(&DataType::Int, "042").is_err());
        assert!(check_value(&DataType::TinyInt, "300").is_err());
        assert!(check_value(&DataType::Date, "2024-01-15").is_ok());
        assert!(check_value(&DataType::Date, "2024-02-30").is_err());
        assert!(check_value(&DataType::Boolean, "TRUE").is_err());
        assert!(check_value(&DataType::String, "eu west").is_err());
        assert!(check_value(&DataType::String, "a$b").is_err());
        assert!(check_value(&DataType::Bytes, "0aff").is_ok());
        assert!(check_value(&DataType::Binary { length: 1 }, "0aff").is_err());
    }

    #[test]
    fn row_values_are_written_like_fluss() {
        let date: ArrayRef = Arc::new(Date32Array::from(vec![19_737]));
        assert_eq!(text_of(&DataType::Date, &date, 0).unwrap(), "2024-01-15");
        let int: ArrayRef = Arc::new(Int32Array::from(vec![Some(-7), None]));
        assert_eq!(text_of(&DataType::Int, &int, 0).unwrap(), "-7");
        assert!(text_of(&DataType::Int, &int, 1).is_err());
        let bytes: ArrayRef = Arc::new(BinaryArray::from_vec(vec![&[0x10, 0xff]]));
        assert_eq!(text_of(&DataType::Bytes, &bytes, 0).unwrap(), "10ff");
        let s: ArrayRef = Arc::new(StringArray::from(vec!["a.b"]));
        assert!(text_of(&DataType::String, &s, 0).is_err());
        assert_eq!(partition_name(&["2024-01-15".into(), "US".into()]), "2024-01-15$US");
    }
}
