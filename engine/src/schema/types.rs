//! Fluss data types and their Arrow mapping (the one the Fluss clients use).

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType as ArrowType, Field, TimeUnit};

use crate::error::{Error, Result};

/// Largest DECIMAL precision Arrow's Decimal128 holds.
pub const DECIMAL_PRECISION_MAX: u8 = 38;
/// Largest fractional-second precision of TIME / TIMESTAMP.
pub const TIME_PRECISION_MAX: u8 = 9;

/// A Fluss data type (nullability lives on the [`Column`](super::Column)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal { precision: u8, scale: u8 },
    Char { length: u32 },
    String,
    Binary { length: u32 },
    Bytes,
    Date,
    Time { precision: u8 },
    Timestamp { precision: u8 },
    TimestampLtz { precision: u8 },
}

impl DataType {
    /// The Arrow type the Fluss clients use for this type.
    pub fn to_arrow(&self) -> ArrowType {
        match *self {
            Self::Boolean => ArrowType::Boolean,
            Self::TinyInt => ArrowType::Int8,
            Self::SmallInt => ArrowType::Int16,
            Self::Int => ArrowType::Int32,
            Self::BigInt => ArrowType::Int64,
            Self::Float => ArrowType::Float32,
            Self::Double => ArrowType::Float64,
            Self::Decimal { precision, scale } => ArrowType::Decimal128(precision, scale as i8),
            Self::Char { .. } | Self::String => ArrowType::Utf8,
            Self::Binary { length } => ArrowType::FixedSizeBinary(length as i32),
            Self::Bytes => ArrowType::Binary,
            Self::Date => ArrowType::Date32,
            Self::Time { precision } => match precision {
                0 => ArrowType::Time32(TimeUnit::Second),
                1..=3 => ArrowType::Time32(TimeUnit::Millisecond),
                4..=6 => ArrowType::Time64(TimeUnit::Microsecond),
                _ => ArrowType::Time64(TimeUnit::Nanosecond),
            },
            Self::Timestamp { precision } => ArrowType::Timestamp(time_unit(precision), None),
            Self::TimestampLtz { precision } => ArrowType::Timestamp(time_unit(precision), Some(Arc::from("UTC"))),
        }
    }

    /// Checks the parameters (precision, scale, length) are in range.
    pub fn validate(&self) -> Result<()> {
        let problem = match *self {
            Self::Decimal { precision, scale }
                if precision == 0 || precision > DECIMAL_PRECISION_MAX || scale > precision =>
            {
                "precision must be 1..=38 and scale <= precision"
            }
            Self::Char { length } | Self::Binary { length } if length == 0 || length > i32::MAX as u32 => {
                "length must be 1..=2147483647"
            }
            Self::Time { precision } | Self::Timestamp { precision } | Self::TimestampLtz { precision }
                if precision > TIME_PRECISION_MAX =>
            {
                "precision must be 0..=9"
            }
            _ => return Ok(()),
        };
        Err(Error::UnsupportedType { type_name: format!("{self}: {problem}") })
    }

    /// Parses the SQL spelling (`INT`, `DECIMAL(10,2)`, `TIMESTAMP_LTZ(3)`, ...).
    /// Nested types (ARRAY, MAP, ROW) are rejected with [`Error::UnsupportedType`].
    pub fn parse(input: &str) -> Result<Self> {
        let text = input.trim().to_ascii_uppercase();
        let (name, params) = split_params(input, &text)?;
        let p = |i: usize| params.get(i).copied();
        let ty = match (name, params.len()) {
            ("BOOLEAN", 0) => Self::Boolean,
            ("TINYINT", 0) => Self::TinyInt,
            ("SMALLINT", 0) => Self::SmallInt,
            ("INT" | "INTEGER", 0) => Self::Int,
            ("BIGINT", 0) => Self::BigInt,
            ("FLOAT", 0) => Self::Float,
            ("DOUBLE", 0) => Self::Double,
            ("DECIMAL", 0..=2) => Self::Decimal {
                precision: narrow(input, p(0).unwrap_or(10))?,
                scale: narrow(input, p(1).unwrap_or(0))?,
            },
            ("CHAR", 1) => Self::Char { length: narrow(input, p(0).unwrap_or(1))? },
            ("STRING", 0) => Self::String,
            ("BINARY", 0..=1) => Self::Binary { length: narrow(input, p(0).unwrap_or(1))? },
            ("BYTES", 0) => Self::Bytes,
            ("DATE", 0) => Self::Date,
            ("TIME", 0..=1) => Self::Time { precision: narrow(input, p(0).unwrap_or(0))? },
            ("TIMESTAMP", 0..=1) => Self::Timestamp { precision: narrow(input, p(0).unwrap_or(6))? },
            ("TIMESTAMP_LTZ", 0..=1) => Self::TimestampLtz { precision: narrow(input, p(0).unwrap_or(6))? },
            ("ARRAY" | "MAP" | "ROW", _) => return Err(Error::UnsupportedType { type_name: input.trim().to_string() }),
            _ => {
                return Err(Error::Parse {
                    input: input.to_string(),
                    position: 0,
                    reason: "unknown type or wrong number of parameters".into(),
                })
            }
        };
        ty.validate()?;
        Ok(ty)
    }

    /// The Fluss type for an Arrow type, as the Fluss clients map them back.
    pub fn from_arrow(arrow: &ArrowType) -> Result<Self> {
        let precision_of = |unit: &TimeUnit| match unit {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 3,
            TimeUnit::Microsecond => 6,
            TimeUnit::Nanosecond => 9,
        };
        Ok(match arrow {
            ArrowType::Boolean => Self::Boolean,
            ArrowType::Int8 => Self::TinyInt,
            ArrowType::Int16 => Self::SmallInt,
            ArrowType::Int32 => Self::Int,
            ArrowType::Int64 => Self::BigInt,
            ArrowType::Float32 => Self::Float,
            ArrowType::Float64 => Self::Double,
            ArrowType::Decimal128(p, s) if *s >= 0 => Self::Decimal { precision: *p, scale: *s as u8 },
            ArrowType::Utf8 => Self::String,
            ArrowType::FixedSizeBinary(n) if *n > 0 => Self::Binary { length: *n as u32 },
            ArrowType::Binary => Self::Bytes,
            ArrowType::Date32 => Self::Date,
            ArrowType::Time32(u) | ArrowType::Time64(u) => Self::Time { precision: precision_of(u) },
            ArrowType::Timestamp(u, None) => Self::Timestamp { precision: precision_of(u) },
            ArrowType::Timestamp(u, Some(_)) => Self::TimestampLtz { precision: precision_of(u) },
            other => return Err(Error::UnsupportedType { type_name: other.to_string() }),
        })
    }

    /// True for types whose Arrow layout is a single fixed-width value buffer.
    pub fn is_fixed_width(&self) -> bool {
        !matches!(self, Self::Char { .. } | Self::String | Self::Bytes | Self::Boolean)
    }
}

fn time_unit(precision: u8) -> TimeUnit {
    match precision {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

fn split_params<'a>(input: &str, text: &'a str) -> Result<(&'a str, Vec<u64>)> {
    let Some(open) = text.find(['(', '<']) else {
        return Ok((text, Vec::new()));
    };
    let name = text[..open].trim();
    if text.as_bytes().get(open) == Some(&b'<') || matches!(name, "ARRAY" | "MAP" | "ROW") {
        return Ok((name, vec![0]));
    }
    let inner = text[open + 1..].strip_suffix(')').ok_or_else(|| Error::Parse {
        input: input.to_string(),
        position: text.len(),
        reason: "missing ')'".into(),
    })?;
    let mut params = Vec::new();
    for part in inner.split(',') {
        let value = part.trim().parse::<u64>().map_err(|e| Error::Parse {
            input: input.to_string(),
            position: open + 1,
            reason: format!("parameter '{}' is not a number: {e}", part.trim()),
        })?;
        params.push(value);
    }
    Ok((name, params))
}

fn narrow<T: TryFrom<u64>>(input: &str, value: u64) -> Result<T> {
    T::try_from(value).map_err(|_| Error::Parse {
        input: input.to_string(),
        position: 0,
        reason: format!("parameter {value} is out of range"),
    })
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("BOOLEAN"),
            Self::TinyInt => f.write_str("TINYINT"),
            Self::SmallInt => f.write_str("SMALLINT"),
            Self::Int => f.write_str("INT"),
            Self::BigInt => f.write_str("BIGINT"),
            Self::Float => f.write_str("FLOAT"),
            Self::Double => f.write_str("DOUBLE"),
            Self::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            Self::Char { length } => write!(f, "CHAR({length})"),
            Self::String => f.write_str("STRING"),
            Self::Binary { length } => write!(f, "BINARY({length})"),
            Self::Bytes => f.write_str("BYTES"),
            Self::Date => f.write_str("DATE"),
            Self::Time { precision } => write!(f, "TIME({precision})"),
            Self::Timestamp { precision } => write!(f, "TIMESTAMP({precision})"),
            Self::TimestampLtz { precision } => write!(f, "TIMESTAMP_LTZ({precision})"),
        }
    }
}

/// A named column of a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
}

impl Column {
    /// A nullable column.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Self { name: name.into(), data_type, nullable: true }
    }
    /// A NOT NULL column.
    pub fn not_null(name: impl Into<String>, data_type: DataType) -> Self {
        Self { name: name.into(), data_type, nullable: false }
    }
    /// The Arrow field for this column.
    pub fn to_arrow(&self) -> Field {
        Field::new(&self.name, self.data_type.to_arrow(), self.nullable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sql_spellings() {
        assert_eq!(DataType::parse("int").ok(), Some(DataType::Int));
        assert_eq!(DataType::parse("DECIMAL(10, 2)").ok(), Some(DataType::Decimal { precision: 10, scale: 2 }));
        assert_eq!(DataType::parse("timestamp_ltz(3)").ok(), Some(DataType::TimestampLtz { precision: 3 }));
    }

    #[test]
    fn rejects_nested_and_bad_parameters() {
        assert!(matches!(DataType::parse("ARRAY<INT>"), Err(Error::UnsupportedType { .. })));
        assert!(matches!(DataType::parse("MAP<INT, STRING>"), Err(Error::UnsupportedType { .. })));
        assert!(matches!(DataType::parse("DECIMAL(40, 2)"), Err(Error::UnsupportedType { .. })));
        assert!(matches!(DataType::parse("TIME(12)"), Err(Error::UnsupportedType { .. })));
        assert!(matches!(DataType::parse("VARCHAR"), Err(Error::Parse { .. })));
        assert!(matches!(DataType::parse("CHAR(x)"), Err(Error::Parse { .. })));
    }

    #[test]
    fn arrow_mapping_round_trips() {
        for ty in [
            DataType::Boolean,
            DataType::TinyInt,
            DataType::SmallInt,
            DataType::Int,
            DataType::BigInt,
            DataType::Float,
            DataType::Double,
            DataType::Decimal { precision: 20, scale: 4 },
            DataType::String,
            DataType::Binary { length: 16 },
            DataType::Bytes,
            DataType::Date,
            DataType::Time { precision: 3 },
            DataType::Timestamp { precision: 6 },
            DataType::TimestampLtz { precision: 9 },
        ] {
            assert_eq!(DataType::from_arrow(&ty.to_arrow()).ok(), Some(ty), "{ty}");
        }
        assert!(DataType::from_arrow(&ArrowType::LargeUtf8).is_err());
    }
}
