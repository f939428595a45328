//! One field's bytes, written from an Arrow column: the per-type rules shared by CompactedRow
//! values and compacted keys.
//!
//! | Fluss type | Arrow column | bytes |
//! |---|---|---|
//! | BOOLEAN | Boolean | 1 byte, 0 or 1 |
//! | TINYINT | Int8 | 1 byte |
//! | SMALLINT | Int16 | 2 bytes little-endian (Java writes native order: LE on x86/ARM) |
//! | INT, DATE | Int32, Date32 | varint of the i32's bit pattern (negatives take 5 bytes) |
//! | TIME(p) | Time32(s/ms), Time64(µs/ns) | varint i32 of milliseconds of the day |
//! | BIGINT | Int64 | varint of the i64's bit pattern (negatives take 10 bytes) |
//! | FLOAT / DOUBLE | Float32 / Float64 | 4 / 8 bytes little-endian IEEE 754 |
//! | DECIMAL(p<=18) | Decimal128 | varint i64 of the unscaled value |
//! | DECIMAL(p>18) | Decimal128 | varint length + minimal big-endian two's complement |
//! | CHAR, STRING | Utf8 | varint length + UTF-8 bytes |
//! | BYTES, BINARY(n) | Binary, FixedSizeBinary(n) | varint length + bytes |
//! | TIMESTAMP(_LTZ)(p<=3) | Timestamp(s/ms) | varint i64 epoch milliseconds |
//! | TIMESTAMP(_LTZ)(p>3) | Timestamp(µs/ns) | varint i64 epoch ms + varint i32 nanos of the ms |
//!
//! See [`super::temporal`] and [`super::decimal`] for the conversions. A value that cannot be
//! written (a decimal with more than p digits, a time that overflows) is an
//! [`Error::SchemaMismatch`] naming the column and row.

use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrowPrimitiveType, BinaryArray, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, StringArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType as ArrowType, TimeUnit};

use super::{decimal, temporal, varint};
use crate::error::{Error, Result};
use crate::schema::{Column, DataType};

/// An Arrow column checked against a Fluss column and viewed as that field's values.
/// Building one does not allocate.
pub(crate) struct FieldValues<'a> {
    nulls: Option<&'a NullBuffer>,
    len: usize,
    data: Data<'a>,
}

enum Data<'a> {
    Bool(&'a BooleanArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    /// INT and DATE.
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Time32(&'a [i32], TimeUnit),
    Time64(&'a [i64], TimeUnit),
    Timestamp(&'a [i64], TimeUnit),
    Decimal(&'a [i128], u8),
    /// Utf8 or Binary: offsets into `data`.
    Var(&'a [i32], &'a [u8]),
    Fixed(&'a FixedSizeBinaryArray),
}

impl<'a> FieldValues<'a> {
    /// Views `array` as the values of `column` (`index` is only for the error message).
    pub(crate) fn new(index: usize, column: &Column, array: &'a dyn Array) -> Result<Self> {
        let data = view(column.data_type, array).ok_or_else(|| Error::SchemaMismatch {
            bucket: "-".into(),
            expected: format!(
                "column {index} '{}' {} as Arrow {}",
                column.name,
                column.data_type,
                column.data_type.to_arrow()
            ),
            actual: format!("Arrow {}", array.data_type()),
        })?;
        Ok(Self { nulls: array.nulls(), len: array.len(), data })
    }

    /// Rows in the column.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when row `row` is null (`row` must be below [`Self::len`]).
    #[inline]
    pub(crate) fn is_null(&self, row: usize) -> bool {
        self.nulls.is_some_and(|n| row < n.len() && n.is_null(row))
    }

    /// Appends the bytes of the non-null value at `row`. On error `out` may hold part of it.
    pub(crate) fn write(&self, row: usize, out: &mut Vec<u8>) -> std::result::Result<(), String> {
        let missing = || format!("row {row} is past the column's {} rows", self.len);
        macro_rules! at {
            ($values:expr) => {
                *$values.get(row).ok_or_else(missing)?
            };
        }
        match self.data {
            Data::Bool(a) => {
                if row >= a.len() {
                    return Err(missing());
                }
                out.push(u8::from(a.value(row)));
            }
            Data::I8(v) => out.push(at!(v) as u8),
            Data::I16(v) => out.extend_from_slice(&at!(v).to_le_bytes()),
            Data::I32(v) => varint::put_u32(at!(v) as u32, out),
            Data::I64(v) => varint::put_u64(at!(v) as u64, out),
            Data::F32(v) => out.extend_from_slice(&at!(v).to_le_bytes()),
            Data::F64(v) => out.extend_from_slice(&at!(v).to_le_bytes()),
            Data::Time32(v, unit) => write_time(unit, i64::from(at!(v)), out)?,
            Data::Time64(v, unit) => write_time(unit, at!(v), out)?,
            Data::Timestamp(v, unit) => write_timestamp(unit, at!(v), out)?,
            Data::Decimal(v, precision) => write_decimal(precision, at!(v), out)?,
            Data::Var(offsets, data) => {
                let (start, end) = (at!(offsets), *offsets.get(row + 1).ok_or_else(missing)?);
                let bytes = usize::try_from(start)
                    .ok()
                    .zip(usize::try_from(end).ok())
                    .and_then(|(s, e)| data.get(s..e))
                    .ok_or_else(|| format!("row {row} has bad offsets {start}..{end}"))?;
                put_len_bytes(bytes, out)?;
            }
            Data::Fixed(a) => {
                if row >= a.len() {
                    return Err(missing());
                }
                put_len_bytes(a.value(row), out)?;
            }
        }
        Ok(())
    }
}

fn view(data_type: DataType, array: &dyn Array) -> Option<Data<'_>> {
    let arrow = array.data_type();
    Some(match (data_type, arrow) {
        (DataType::Boolean, ArrowType::Boolean) => Data::Bool(array.as_any().downcast_ref::<BooleanArray>()?),
        (DataType::TinyInt, ArrowType::Int8) => Data::I8(values::<Int8Type>(array)?),
        (DataType::SmallInt, ArrowType::Int16) => Data::I16(values::<Int16Type>(array)?),
        (DataType::Int, ArrowType::Int32) => Data::I32(values::<Int32Type>(array)?),
        (DataType::Date, ArrowType::Date32) => Data::I32(values::<Date32Type>(array)?),
        (DataType::BigInt, ArrowType::Int64) => Data::I64(values::<Int64Type>(array)?),
        (DataType::Float, ArrowType::Float32) => Data::F32(values::<Float32Type>(array)?),
        (DataType::Double, ArrowType::Float64) => Data::F64(values::<Float64Type>(array)?),
        (DataType::Decimal { precision, scale }, &ArrowType::Decimal128(p, s))
            if p == precision && i16::from(s) == i16::from(scale) =>
        {
            Data::Decimal(values::<Decimal128Type>(array)?, precision)
        }
        (DataType::Char { .. } | DataType::String, ArrowType::Utf8) => {
            let a = array.as_any().downcast_ref::<StringArray>()?;
            Data::Var(a.value_offsets(), a.value_data())
        }
        (DataType::Bytes, ArrowType::Binary) => {
            let a = array.as_any().downcast_ref::<BinaryArray>()?;
            Data::Var(a.value_offsets(), a.value_data())
        }
        (DataType::Binary { length }, &ArrowType::FixedSizeBinary(n)) if i64::from(n) == i64::from(length) => {
            Data::Fixed(array.as_any().downcast_ref::<FixedSizeBinaryArray>()?)
        }
        (DataType::Time { precision }, ArrowType::Time32(unit) | ArrowType::Time64(unit))
            if *unit == temporal::unit_of(precision) =>
        {
            match unit {
                TimeUnit::Second => Data::Time32(values::<Time32SecondType>(array)?, *unit),
                TimeUnit::Millisecond => Data::Time32(values::<Time32MillisecondType>(array)?, *unit),
                TimeUnit::Microsecond => Data::Time64(values::<Time64MicrosecondType>(array)?, *unit),
                TimeUnit::Nanosecond => Data::Time64(values::<Time64NanosecondType>(array)?, *unit),
            }
        }
        (DataType::Timestamp { precision }, ArrowType::Timestamp(unit, None))
        | (DataType::TimestampLtz { precision }, ArrowType::Timestamp(unit, Some(_)))
            if *unit == temporal::unit_of(precision) =>
        {
            let values = match unit {
                TimeUnit::Second => values::<TimestampSecondType>(array)?,
                TimeUnit::Millisecond => values::<TimestampMillisecondType>(array)?,
                TimeUnit::Microsecond => values::<TimestampMicrosecondType>(array)?,
                TimeUnit::Nanosecond => values::<TimestampNanosecondType>(array)?,
            };
            Data::Timestamp(values, *unit)
        }
        _ => return None,
    })
}

fn values<T: ArrowPrimitiveType>(array: &dyn Array) -> Option<&[T::Native]> {
    array.as_any().downcast_ref::<PrimitiveArray<T>>().map(|a| a.values().as_ref())
}

fn write_time(unit: TimeUnit, value: i64, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let millis = temporal::time_to_millis(unit, value)
        .ok_or_else(|| format!("TIME value {value} ({unit:?}) does not fit an i32 of milliseconds"))?;
    varint::put_u32(millis as u32, out);
    Ok(())
}

fn write_timestamp(unit: TimeUnit, value: i64, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let (millis, nanos) = temporal::timestamp_to_parts(unit, value)
        .ok_or_else(|| format!("TIMESTAMP value {value} ({unit:?}) is out of range"))?;
    varint::put_u64(millis as u64, out);
    if !temporal::is_compact(unit) {
        varint::put_u32(nanos as u32, out);
    }
    Ok(())
}

fn write_decimal(precision: u8, unscaled: i128, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    if !decimal::fits_precision(unscaled, precision) {
        return Err(format!("unscaled DECIMAL value {unscaled} has more than {precision} digits"));
    }
    if decimal::is_compact(precision) {
        // At most 18 digits, so it fits an i64.
        varint::put_u64(unscaled as i64 as u64, out);
    } else {
        decimal::put_unscaled_bytes(unscaled, out);
    }
    Ok(())
}

fn put_len_bytes(bytes: &[u8], out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let len = i32::try_from(bytes.len()).map_err(|_| format!("{} bytes do not fit an i32 length", bytes.len()))?;
    varint::put_u32(len as u32, out);
    out.extend_from_slice(bytes);
    Ok(())
}

/// The error for a value of `column` at `row` that cannot be written.
pub(crate) fn value_error(index: usize, column: &Column, row: usize, problem: String) -> Error {
    Error::SchemaMismatch {
        bucket: "-".into(),
        expected: format!("column {index} '{}' {}", column.name, column.data_type),
        actual: format!("row {row}: {problem}"),
    }
}

/// The error for a null where none may be.
pub(crate) fn null_error(index: usize, column: &Column, row: usize, what: &str) -> Error {
    Error::SchemaMismatch {
        bucket: "-".into(),
        expected: format!("{what} column {index} '{}' {} without nulls", column.name, column.data_type),
        actual: format!("null at row {row}"),
    }
}
