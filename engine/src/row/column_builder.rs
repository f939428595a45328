//! Growable Arrow columns for decoded rows, one per Fluss column, that can be cut back.
//!
//! The row decoder appends a row field by field; if a later field of the row turns out to be
//! malformed, every column is truncated back to the last whole row, so a failed append leaves
//! no trace. Arrow's own builders cannot shrink, hence these plain vectors.
//!
//! Storage by Fluss type (values are already in the Arrow column's unit):
//! BOOLEAN bits; TINYINT i8; SMALLINT i16; INT / DATE i32; BIGINT i64; FLOAT f32; DOUBLE f64;
//! TIME(0..=3) i32 s / ms; TIME(4..=9) i64 µs / ns; TIMESTAMP[_LTZ] i64 in its unit;
//! DECIMAL i128 unscaled; CHAR / STRING / BYTES i32 offsets + bytes; BINARY(n) n bytes per row
//! (n zero bytes for a null).

use std::mem;
use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, StringArray,
};
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType as ArrowType, TimeUnit};

use super::temporal;
use crate::error::{Error, Result};
use crate::schema::{Column, DataType};

/// The values of one column, typed by how the row format and Arrow store them.
pub(crate) enum Values {
    Bool(BooleanBufferBuilder),
    I8(Vec<i8>),
    I16(Vec<i16>),
    /// INT or DATE.
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Time32(Vec<i32>, TimeUnit),
    Time64(Vec<i64>, TimeUnit),
    Timestamp(Vec<i64>, TimeUnit),
    Decimal(Vec<i128>, u8),
    Utf8(Vec<i32>, Vec<u8>),
    Binary(Vec<i32>, Vec<u8>),
    Fixed(usize, Vec<u8>),
}

/// One output column: its values, its validity bits and its Arrow type.
pub(crate) struct ColumnBuilder {
    pub(crate) values: Values,
    pub(crate) nullable: bool,
    validity: BooleanBufferBuilder,
    arrow: ArrowType,
}

impl ColumnBuilder {
    /// An empty column for `column`.
    pub(crate) fn new(column: &Column) -> Self {
        let values = match column.data_type {
            DataType::Boolean => Values::Bool(BooleanBufferBuilder::new(0)),
            DataType::TinyInt => Values::I8(Vec::new()),
            DataType::SmallInt => Values::I16(Vec::new()),
            DataType::Int | DataType::Date => Values::I32(Vec::new()),
            DataType::BigInt => Values::I64(Vec::new()),
            DataType::Float => Values::F32(Vec::new()),
            DataType::Double => Values::F64(Vec::new()),
            DataType::Time { precision } => match temporal::unit_of(precision) {
                unit @ (TimeUnit::Second | TimeUnit::Millisecond) => Values::Time32(Vec::new(), unit),
                unit => Values::Time64(Vec::new(), unit),
            },
            DataType::Timestamp { precision } | DataType::TimestampLtz { precision } => {
                Values::Timestamp(Vec::new(), temporal::unit_of(precision))
            }
            DataType::Decimal { precision, .. } => Values::Decimal(Vec::new(), precision),
            DataType::Char { .. } | DataType::String => Values::Utf8(vec![0], Vec::new()),
            DataType::Bytes => Values::Binary(vec![0], Vec::new()),
            DataType::Binary { length } => Values::Fixed(length as usize, Vec::new()),
        };
        Self {
            values,
            nullable: column.nullable,
            validity: BooleanBufferBuilder::new(0),
            arrow: column.data_type.to_arrow(),
        }
    }

    /// Marks the value just appended to [`Self::values`] as present.
    pub(crate) fn mark_valid(&mut self) {
        self.validity.append(true);
    }

    /// Appends a null (a placeholder value and a cleared validity bit).
    pub(crate) fn push_null(&mut self) {
        match &mut self.values {
            Values::Bool(b) => b.append(false),
            Values::I8(v) => v.push(0),
            Values::I16(v) => v.push(0),
            Values::I32(v) | Values::Time32(v, _) => v.push(0),
            Values::I64(v) | Values::Time64(v, _) | Values::Timestamp(v, _) => v.push(0),
            Values::F32(v) => v.push(0.0),
            Values::F64(v) => v.push(0.0),
            Values::Decimal(v, _) => v.push(0),
            Values::Utf8(offsets, _) | Values::Binary(offsets, _) => {
                let end = offsets.last().copied().unwrap_or(0);
                offsets.push(end);
            }
            Values::Fixed(width, data) => data.resize(data.len() + *width, 0),
        }
        self.validity.append(false);
    }

    /// Drops every row from `rows` on.
    pub(crate) fn truncate(&mut self, rows: usize) {
        match &mut self.values {
            Values::Bool(b) => b.truncate(rows),
            Values::I8(v) => v.truncate(rows),
            Values::I16(v) => v.truncate(rows),
            Values::I32(v) | Values::Time32(v, _) => v.truncate(rows),
            Values::I64(v) | Values::Time64(v, _) | Values::Timestamp(v, _) => v.truncate(rows),
            Values::F32(v) => v.truncate(rows),
            Values::F64(v) => v.truncate(rows),
            Values::Decimal(v, _) => v.truncate(rows),
            Values::Utf8(offsets, data) | Values::Binary(offsets, data) => {
                offsets.truncate(rows + 1);
                let end = offsets.last().copied().unwrap_or(0);
                data.truncate(usize::try_from(end).unwrap_or(0));
            }
            Values::Fixed(width, data) => data.truncate(rows * *width),
        }
        self.validity.truncate(rows);
    }

    /// Takes the rows so far as an Arrow array of the column's type; the builder is empty after.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        let validity = self.validity.finish();
        let nulls = Some(NullBuffer::new(validity)).filter(|n| self.nullable && n.null_count() > 0);
        match &mut self.values {
            Values::Bool(b) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            Values::I8(v) => primitive::<Int8Type>(v, nulls),
            Values::I16(v) => primitive::<Int16Type>(v, nulls),
            Values::I32(v) if self.arrow == ArrowType::Date32 => primitive::<Date32Type>(v, nulls),
            Values::I32(v) => primitive::<Int32Type>(v, nulls),
            Values::I64(v) => primitive::<Int64Type>(v, nulls),
            Values::F32(v) => primitive::<Float32Type>(v, nulls),
            Values::F64(v) => primitive::<Float64Type>(v, nulls),
            Values::Time32(v, TimeUnit::Second) => primitive::<Time32SecondType>(v, nulls),
            Values::Time32(v, _) => primitive::<Time32MillisecondType>(v, nulls),
            Values::Time64(v, TimeUnit::Microsecond) => primitive::<Time64MicrosecondType>(v, nulls),
            Values::Time64(v, _) => primitive::<Time64NanosecondType>(v, nulls),
            Values::Timestamp(v, unit) => timestamp(*unit, v, nulls, &self.arrow),
            Values::Decimal(v, _) => Arc::new(
                PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(mem::take(v)), nulls)
                    .with_data_type(self.arrow.clone()),
            ),
            Values::Utf8(offsets, data) => {
                let (offsets, data) = take_var(offsets, data);
                Arc::new(StringArray::new(offsets, data, nulls))
            }
            Values::Binary(offsets, data) => {
                let (offsets, data) = take_var(offsets, data);
                Arc::new(BinaryArray::new(offsets, data, nulls))
            }
            Values::Fixed(width, data) => {
                Arc::new(FixedSizeBinaryArray::new(*width as i32, Buffer::from_vec(mem::take(data)), nulls))
            }
        }
    }
}

/// Appends one variable-length value; fails if the column would pass 2 GiB (i32 offsets).
pub(crate) fn push_var(offsets: &mut Vec<i32>, data: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let end = i32::try_from(data.len() + bytes.len())
        .map_err(|_| Error::invalid_batch(format!("decoded column would pass {} bytes (i32 offsets)", i32::MAX)))?;
    data.extend_from_slice(bytes);
    offsets.push(end);
    Ok(())
}

fn primitive<T: ArrowPrimitiveType>(values: &mut Vec<T::Native>, nulls: Option<NullBuffer>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(mem::take(values)), nulls))
}

fn timestamp(unit: TimeUnit, values: &mut Vec<i64>, nulls: Option<NullBuffer>, arrow: &ArrowType) -> ArrayRef {
    let tz = match arrow {
        ArrowType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let values = ScalarBuffer::from(mem::take(values));
    match unit {
        TimeUnit::Second => Arc::new(PrimitiveArray::<TimestampSecondType>::new(values, nulls).with_timezone_opt(tz)),
        TimeUnit::Millisecond => {
            Arc::new(PrimitiveArray::<TimestampMillisecondType>::new(values, nulls).with_timezone_opt(tz))
        }
        TimeUnit::Microsecond => {
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::new(values, nulls).with_timezone_opt(tz))
        }
        TimeUnit::Nanosecond => {
            Arc::new(PrimitiveArray::<TimestampNanosecondType>::new(values, nulls).with_timezone_opt(tz))
        }
    }
}

fn take_var(offsets: &mut Vec<i32>, data: &mut Vec<u8>) -> (OffsetBuffer<i32>, Buffer) {
    let taken = mem::replace(offsets, vec![0]);
    (OffsetBuffer::new(ScalarBuffer::from(taken)), Buffer::from_vec(mem::take(data)))
}
