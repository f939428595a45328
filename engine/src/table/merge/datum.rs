//! One cell of a row as the merge engines see it, and the conversions between Arrow record
//! batches and rows of cells.
//!
//! A [`Datum`] keeps a value in the unit its Arrow column stores, so a batch converts to rows
//! and back bit for bit: DATE is days, TIME and TIMESTAMP are counts of the column's Arrow
//! unit (second, milli, micro or nano, from the precision), DECIMAL is the unscaled Decimal128
//! value, FLOAT is widened to `f64` exactly. [`DatumReader`] downcasts each column once; use it
//! for many rows of one batch ([`row_datums`] is the one-row convenience).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch, RecordBatchOptions,
    StringArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType as ArrowType, TimeUnit};

use crate::error::{Error, Result};
use crate::schema::{Column, DataType, Schema};

/// One value of a row. Which variant a column holds follows from its Fluss type.
#[derive(Clone, Debug)]
pub enum Datum {
    /// SQL NULL, in any column.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// TINYINT, SMALLINT, INT, BIGINT; DATE (days since the epoch); TIME and TIMESTAMP /
    /// TIMESTAMP_LTZ as counts of the column's Arrow time unit.
    Int(i64),
    /// FLOAT (widened exactly) and DOUBLE.
    Float(f64),
    /// DECIMAL(p, s): the unscaled value, as Decimal128 stores it.
    Decimal(i128),
    /// CHAR(n) and STRING.
    Str(String),
    /// BINARY(n) and BYTES.
    Bytes(Vec<u8>),
}

impl Datum {
    /// True for [`Datum::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Equality is bit equality for floats (NaN equals a NaN with the same bits, -0.0 differs
/// from 0.0): two rows are equal exactly when they would encode to the same bytes.
impl PartialEq for Datum {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Float(a), Self::Float(b)) => a.to_bits() == b.to_bits(),
            (Self::Decimal(a), Self::Decimal(b)) => a == b,
            (Self::Str(a), Self::Str(b)) => a == b,
            (Self::Bytes(a), Self::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Datum {}

/// Java's `Double.compare` (what Fluss's `InternalRowUtils.compare` uses): a total order with
/// every NaN equal and greatest, and -0.0 below 0.0.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// Orders two non-null values of one column as Fluss does: numbers numerically, floats like
/// Java's `compare`, strings and bytes by their bytes, `false < true`. `None` when the two
/// are of different kinds or either is NULL.
pub(super) fn datum_cmp(a: &Datum, b: &Datum) -> Option<Ordering> {
    match (a, b) {
        (Datum::Bool(a), Datum::Bool(b)) => Some(a.cmp(b)),
        (Datum::Int(a), Datum::Int(b)) => Some(a.cmp(b)),
        (Datum::Float(a), Datum::Float(b)) => Some(float_cmp(*a, *b)),
        (Datum::Decimal(a), Datum::Decimal(b)) => Some(a.cmp(b)),
        (Datum::Str(a), Datum::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Datum::Bytes(a), Datum::Bytes(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Checks that a non-null `datum` fits a column of type `ty`: the right variant, an integer in
/// the type's range, a FLOAT exactly representable as `f32`, a DECIMAL within its precision,
/// a BINARY(n) of n bytes. NULL always fits (nullability is checked by the caller).
pub(super) fn check_datum(ty: &DataType, datum: &Datum) -> std::result::Result<(), String> {
    let fits = match (ty, datum) {
        (_, Datum::Null) => true,
        (DataType::Boolean, Datum::Bool(_)) => true,
        (DataType::TinyInt, Datum::Int(v)) => i8::try_from(*v).is_ok(),
        (DataType::SmallInt, Datum::Int(v)) => i16::try_from(*v).is_ok(),
        (DataType::Int | DataType::Date, Datum::Int(v)) => i32::try_from(*v).is_ok(),
        (DataType::Time { precision }, Datum::Int(v)) => *precision > 3 || i32::try_from(*v).is_ok(),
        (DataType::BigInt | DataType::Timestamp { .. } | DataType::TimestampLtz { .. }, Datum::Int(_)) => true,
        (DataType::Float, Datum::Float(v)) => v.is_nan() || f64::from(*v as f32).to_bits() == v.to_bits(),
        (DataType::Double, Datum::Float(_)) => true,
        (DataType::Decimal { precision, .. }, Datum::Decimal(v)) => decimal_fits(*v, *precision),
        (DataType::Char { .. } | DataType::String, Datum::Str(_)) => true,
        (DataType::Binary { length }, Datum::Bytes(b)) => b.len() == *length as usize,
        (DataType::Bytes, Datum::Bytes(_)) => true,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{datum:?} does not fit {ty}"))
    }
}

/// True when `|unscaled| < 10^precision`.
pub(super) fn decimal_fits(unscaled: i128, precision: u8) -> bool {
    match 10i128.checked_pow(u32::from(precision)) {
        Some(limit) => unscaled.unsigned_abs() < limit.unsigned_abs(),
        None => true, // precision 39+ does not exist; Decimal128 holds anything then
    }
}

/// Reads rows of one batch as datums, with every column downcast once.
pub struct DatumReader<'a> {
    columns: Vec<ColumnReader<'a>>,
    rows: usize,
}

/// The values and validity of a primitive column (offset already applied by Arrow).
struct Values<'a, T> {
    values: &'a [T],
    nulls: Option<&'a NullBuffer>,
}

impl<T: Copy> Values<'_, T> {
    fn get(&self, row: usize) -> Option<T> {
        if self.nulls.is_some_and(|n| n.is_null(row)) {
            return None;
        }
        self.values.get(row).copied()
    }
}

enum ColumnReader<'a> {
    Bool(&'a BooleanArray),
    I8(Values<'a, i8>),
    I16(Values<'a, i16>),
    I32(Values<'a, i32>),
    I64(Values<'a, i64>),
    F32(Values<'a, f32>),
    F64(Values<'a, f64>),
    Decimal(Values<'a, i128>),
    Str(&'a StringArray),
    FixedBinary(&'a FixedSizeBinaryArray),
    Binary(&'a BinaryArray),
}

impl<'a> DatumReader<'a> {
    /// Prepares to read `batch`; every column must be of a type [`DataType::to_arrow`] produces.
    pub fn new(batch: &'a RecordBatch) -> Result<Self> {
        let columns = batch.columns().iter().map(|c| column_reader(c.as_ref())).collect::<Result<_>>()?;
        Ok(Self { columns, rows: batch.num_rows() })
    }

    /// The number of rows in the batch.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The datums of row `row`, one per column.
    pub fn row(&self, row: usize) -> Result<Vec<Datum>> {
        if row >= self.rows {
            return Err(Error::invalid_batch(format!("row {row} is out of range (batch has {} rows)", self.rows)));
        }
        Ok(self.columns.iter().map(|c| c.datum(row)).collect())
    }
}

/// The datums of row `row` of `batch` (downcasts every column; prefer [`DatumReader`] for
/// many rows of one batch).
pub fn row_datums(batch: &RecordBatch, row: usize) -> Result<Vec<Datum>> {
    DatumReader::new(batch)?.row(row)
}

fn values<T: ArrowPrimitiveType>(array: &dyn Array) -> Option<Values<'_, T::Native>> {
    let array = array.as_any().downcast_ref::<PrimitiveArray<T>>()?;
    Some(Values { values: array.values(), nulls: array.nulls() })
}

fn column_reader(array: &dyn Array) -> Result<ColumnReader<'_>> {
    let any = array.as_any();
    let reader = match array.data_type() {
        ArrowType::Boolean => any.downcast_ref().map(ColumnReader::Bool),
        ArrowType::Int8 => values::<Int8Type>(array).map(ColumnReader::I8),
        ArrowType::Int16 => values::<Int16Type>(array).map(ColumnReader::I16),
        ArrowType::Int32 => values::<Int32Type>(array).map(ColumnReader::I32),
        ArrowType::Int64 => values::<Int64Type>(array).map(ColumnReader::I64),
        ArrowType::Float32 => values::<Float32Type>(array).map(ColumnReader::F32),
        ArrowType::Float64 => values::<Float64Type>(array).map(ColumnReader::F64),
        ArrowType::Decimal128(..) => values::<Decimal128Type>(array).map(ColumnReader::Decimal),
        ArrowType::Utf8 => any.downcast_ref().map(ColumnReader::Str),
        ArrowType::FixedSizeBinary(_) => any.downcast_ref().map(ColumnReader::FixedBinary),
        ArrowType::Binary => any.downcast_ref().map(ColumnReader::Binary),
        ArrowType::Date32 => values::<Date32Type>(array).map(ColumnReader::I32),
        ArrowType::Time32(TimeUnit::Second) => values::<Time32SecondType>(array).map(ColumnReader::I32),
        ArrowType::Time32(TimeUnit::Millisecond) => values::<Time32MillisecondType>(array).map(ColumnReader::I32),
        ArrowType::Time64(TimeUnit::Microsecond) => values::<Time64MicrosecondType>(array).map(ColumnReader::I64),
        ArrowType::Time64(TimeUnit::Nanosecond) => values::<Time64NanosecondType>(array).map(ColumnReader::I64),
        ArrowType::Timestamp(TimeUnit::Second, _) => values::<TimestampSecondType>(array).map(ColumnReader::I64),
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => {
            values::<TimestampMillisecondType>(array).map(ColumnReader::I64)
        }
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => {
            values::<TimestampMicrosecondType>(array).map(ColumnReader::I64)
        }
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => {
            values::<TimestampNanosecondType>(array).map(ColumnReader::I64)
        }
        _ => None,
    };
    reader.ok_or_else(|| Error::UnsupportedType { type_name: array.data_type().to_string() })
}

impl ColumnReader<'_> {
    fn datum(&self, row: usize) -> Datum {
        let datum = match self {
            Self::Bool(a) => a.is_valid(row).then(|| Datum::Bool(a.value(row))),
            Self::I8(v) => v.get(row).map(|x| Datum::Int(i64::from(x))),
            Self::I16(v) => v.get(row).map(|x| Datum::Int(i64::from(x))),
            Self::I32(v) => v.get(row).map(|x| Datum::Int(i64::from(x))),
            Self::I64(v) => v.get(row).map(Datum::Int),
            Self::F32(v) => v.get(row).map(|x| Datum::Float(f64::from(x))),
            Self::F64(v) => v.get(row).map(Datum::Float),
            Self::Decimal(v) => v.get(row).map(Datum::Decimal),
            Self::Str(a) => a.is_valid(row).then(|| Datum::Str(a.value(row).to_string())),
            Self::FixedBinary(a) => a.is_valid(row).then(|| Datum::Bytes(a.value(row).to_vec())),
            Self::Binary(a) => a.is_valid(row).then(|| Datum::Bytes(a.value(row).to_vec())),
        };
        datum.unwrap_or(Datum::Null)
    }
}

/// Builds a batch of `schema` (its [`Schema::to_arrow`]) from rows of datums. Every row must
/// have one datum per column, of the column's kind and range (see [`Datum`]); a NULL in a
/// NOT NULL column is an error naming the column and the row.
pub fn datums_to_batch(schema: &Schema, rows: &[Vec<Datum>]) -> Result<RecordBatch> {
    let width = schema.columns.len();
    if let Some((r, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != width) {
        return Err(mismatch(format!("{width} values per row"), format!("{} values in row {r}", row.len())));
    }
    let columns = schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            check_column(column, i, rows)?;
            build_column(column, i, rows)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema.to_arrow(), columns, &options)
        .map_err(|e| Error::arrow("building a batch from rows", e))
}

fn mismatch(expected: String, actual: String) -> Error {
    Error::SchemaMismatch { bucket: "(rows to batch)".into(), expected, actual }
}

fn check_column(column: &Column, index: usize, rows: &[Vec<Datum>]) -> Result<()> {
    for (r, row) in rows.iter().enumerate() {
        let datum = cell(row, index);
        if datum.is_null() && !column.nullable {
            return Err(mismatch(format!("a value in NOT NULL column '{}'", column.name), format!("NULL in row {r}")));
        }
        check_datum(&column.data_type, datum).map_err(|reason| {
            mismatch(format!("{} in column '{}'", column.data_type, column.name), format!("{reason} in row {r}"))
        })?;
    }
    Ok(())
}

/// Builds one column; the datums were checked by [`check_column`], so a datum of another kind
/// cannot occur here (it would become NULL).
fn build_column<'a>(column: &Column, index: usize, rows: &'a [Vec<Datum>]) -> Result<ArrayRef> {
    let arrow_type = column.data_type.to_arrow();
    let at = |row: &'a Vec<Datum>| cell(row, index);
    let int = |d: &Datum| match d {
        Datum::Int(v) => Some(*v),
        _ => None,
    };
    let array: ArrayRef = match &arrow_type {
        ArrowType::Boolean => Arc::new(
            rows.iter()
                .map(|r| match at(r) {
                    Datum::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        ArrowType::Int8 => primitive::<Int8Type>(rows, index, |d| int(d).map(|v| v as i8), &arrow_type),
        ArrowType::Int16 => primitive::<Int16Type>(rows, index, |d| int(d).map(|v| v as i16), &arrow_type),
        ArrowType::Int32 => primitive::<Int32Type>(rows, index, |d| int(d).map(|v| v as i32), &arrow_type),
        ArrowType::Int64 => primitive::<Int64Type>(rows, index, int, &arrow_type),
        ArrowType::Float32 => primitive::<Float32Type>(
            rows,
            index,
            |d| match d {
                Datum::Float(v) => Some(*v as f32),
                _ => None,
            },
            &arrow_type,
        ),
        ArrowType::Float64 => primitive::<Float64Type>(
            rows,
            index,
            |d| match d {
                Datum::Float(v) => Some(*v),
                _ => None,
            },
            &arrow_type,
        ),
        ArrowType::Decimal128(..) => primitive::<Decimal128Type>(
            rows,
            index,
            |d| match d {
                Datum::Decimal(v) => Some(*v),
                _ => None,
            },
            &arrow_type,
        ),
        ArrowType::Date32 => primitive::<Date32Type>(rows, index, |d| int(d).map(|v| v as i32), &arrow_type),
        ArrowType::Time32(TimeUnit::Second) => {
            primitive::<Time32SecondType>(rows, index, |d| int(d).map(|v| v as i32), &arrow_type)
        }
        ArrowType::Time32(_) => {
            primitive::<Time32MillisecondType>(rows, index, |d| int(d).map(|v| v as i32), &arrow_type)
        }
        ArrowType::Time64(TimeUnit::Microsecond) => primitive::<Time64MicrosecondType>(rows, index, int, &arrow_type),
        ArrowType::Time64(_) => primitive::<Time64NanosecondType>(rows, index, int, &arrow_type),
        ArrowType::Timestamp(TimeUnit::Second, _) => primitive::<TimestampSecondType>(rows, index, int, &arrow_type),
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => {
            primitive::<TimestampMillisecondType>(rows, index, int, &arrow_type)
        }
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => {
            primitive::<TimestampMicrosecondType>(rows, index, int, &arrow_type)
        }
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => {
            primitive::<TimestampNanosecondType>(rows, index, int, &arrow_type)
        }
        ArrowType::Utf8 => Arc::new(
            rows.iter()
                .map(|r| match at(r) {
                    Datum::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<StringArray>(),
        ),
        ArrowType::Binary => Arc::new(rows.iter().map(|r| bytes(at(r))).collect::<BinaryArray>()),
        ArrowType::FixedSizeBinary(size) => Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(rows.iter().map(|r| bytes(at(r))), *size)
                .map_err(|e| Error::arrow(format!("building column '{}'", column.name), e))?,
        ),
        other => return Err(Error::UnsupportedType { type_name: other.to_string() }),
    };
    Ok(array)
}

fn bytes(datum: &Datum) -> Option<&[u8]> {
    match datum {
        Datum::Bytes(b) => Some(b.as_slice()),
        _ => None,
    }
}

fn cell(row: &[Datum], index: usize) -> &Datum {
    row.get(index).unwrap_or(&Datum::Null)
}

fn primitive<T: ArrowPrimitiveType>(
    rows: &[Vec<Datum>],
    index: usize,
    native: impl Fn(&Datum) -> Option<T::Native>,
    arrow_type: &ArrowType,
) -> ArrayRef {
    let array: PrimitiveArray<T> = rows.iter().map(|r| native(cell(r, index))).collect();
    Arc::new(array.with_data_type(arrow_type.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_types_schema() -> Schema {
        let types = [
            DataType::Boolean,
            DataType::TinyInt,
            DataType::SmallInt,
            DataType::Int,
            DataType::BigInt,
            DataType::Float,
            DataType::Double,
            DataType::Decimal { precision: 38, scale: 4 },
            DataType::Char { length: 3 },
            DataType::String,
            DataType::Binary { length: 2 },
            DataType::Bytes,
            DataType::Date,
            DataType::Time { precision: 0 },
            DataType::Time { precision: 3 },
            DataType::Time { precision: 6 },
            DataType::Time { precision: 9 },
            DataType::Timestamp { precision: 0 },
            DataType::Timestamp { precision: 3 },
            DataType::Timestamp { precision: 6 },
            DataType::TimestampLtz { precision: 9 },
        ];
        let mut columns: Vec<Column> =
            types.iter().enumerate().map(|(i, t)| Column::new(format!("c{i}"), *t)).collect();
        columns.push(Column::not_null("id", DataType::BigInt));
        Schema::new(columns)
    }

    fn full_row(seed: i64) -> Vec<Datum> {
        vec![
            Datum::Bool(seed % 2 == 0),
            Datum::Int(-128 + seed),
            Datum::Int(i64::from(i16::MIN) + seed),
            Datum::Int(i64::from(i32::MAX) - seed),
            Datum::Int(i64::MIN + seed),
            Datum::Float(f64::from(1.5f32) * seed as f64),
            Datum::Float(-0.0),
            Datum::Decimal(-(10i128.pow(38) - 1)),
            Datum::Str("abc".into()),
            Datum::Str(format!("héllo {seed}")),
            Datum::Bytes(vec![0, 255]),
            Datum::Bytes(vec![seed as u8; seed as usize]),
            Datum::Int(-719_162),
            Datum::Int(86_399),
            Datum::Int(86_399_999),
            Datum::Int(86_399_999_999),
            Datum::Int(86_399_999_999_999),
            Datum::Int(-1),
            Datum::Int(1_700_000_000_000),
            Datum::Int(i64::MAX),
            Datum::Int(i64::MIN),
            Datum::Int(seed),
        ]
    }

    fn build(schema: &Schema, rows: &[Vec<Datum>]) -> RecordBatch {
        match datums_to_batch(schema, rows) {
            Ok(batch) => batch,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn every_type_round_trips_exactly() {
        let schema = all_types_schema();
        let mut nulls = vec![Datum::Null; schema.columns.len()];
        nulls[schema.columns.len() - 1] = Datum::Int(99);
        let rows = vec![full_row(1), nulls, full_row(4)];
        let batch = build(&schema, &rows);
        assert_eq!(batch.schema(), schema.to_arrow());
        let reader = DatumReader::new(&batch).ok();
        let back: Vec<Vec<Datum>> =
            (0..rows.len()).filter_map(|r| reader.as_ref().and_then(|reader| reader.row(r).ok())).collect();
        assert_eq!(back, rows);
        assert_eq!(row_datums(&batch, 2).ok(), Some(rows[2].clone()));
        assert!(row_datums(&batch, 3).is_err());
    }

    #[test]
    fn sliced_batches_read_the_right_rows() {
        let schema = all_types_schema();
        let rows: Vec<Vec<Datum>> = (0..5).map(full_row).collect();
        let batch = build(&schema, &rows).slice(2, 2);
        assert_eq!(row_datums(&batch, 0).ok(), Some(rows[2].clone()));
        assert_eq!(row_datums(&batch, 1).ok(), Some(rows[3].clone()));
    }

    #[test]
    fn nan_and_negative_zero_survive_and_compare_by_bits() {
        let schema = Schema::new(vec![Column::new("f", DataType::Float), Column::new("d", DataType::Double)]);
        let rows = vec![vec![Datum::Float(f64::NAN), Datum::Float(-0.0)]];
        let batch = build(&schema, &rows);
        let back = row_datums(&batch, 0).ok();
        assert!(
            matches!(back.as_deref(), Some([Datum::Float(f), Datum::Float(d)]) if f.is_nan() && d.to_bits() == (-0.0f64).to_bits())
        );
        assert_ne!(Datum::Float(0.0), Datum::Float(-0.0));
        assert_eq!(Datum::Float(f64::NAN), Datum::Float(f64::NAN));
    }

    fn error_of(schema: &Schema, rows: &[Vec<Datum>]) -> String {
        match datums_to_batch(schema, rows) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_rows_are_rejected_with_the_column_and_row() {
        let schema = Schema::new(vec![
            Column::not_null("id", DataType::Int),
            Column::new("t", DataType::TinyInt),
            Column::new("f", DataType::Float),
            Column::new("b", DataType::Binary { length: 2 }),
            Column::new("d", DataType::Decimal { precision: 3, scale: 1 }),
        ]);
        let ok = || vec![Datum::Int(1), Datum::Null, Datum::Null, Datum::Null, Datum::Null];
        assert_eq!(error_of(&schema, &[ok()]), "accepted");
        let with = |i: usize, d: Datum| {
            let mut row = ok();
            row[i] = d;
            vec![ok(), row]
        };
        let null_id = error_of(&schema, &with(0, Datum::Null));
        assert!(null_id.contains("NOT NULL column 'id'") && null_id.contains("row 1"), "{null_id}");
        assert!(error_of(&schema, &with(0, Datum::Str("1".into()))).contains("column 'id'"));
        assert!(error_of(&schema, &with(1, Datum::Int(128))).contains("column 't'"));
        assert!(error_of(&schema, &with(2, Datum::Float(0.1))).contains("column 'f'"));
        assert!(error_of(&schema, &with(3, Datum::Bytes(vec![1]))).contains("column 'b'"));
        assert!(error_of(&schema, &with(4, Datum::Decimal(1000))).contains("column 'd'"));
        assert!(error_of(&schema, &[vec![Datum::Int(1)]]).contains("5 values per row"));
        assert_eq!(error_of(&schema, &[]), "accepted");
    }

    #[test]
    fn unsupported_arrow_types_are_named() {
        let array: ArrayRef = Arc::new(arrow_array::LargeStringArray::from(vec!["x"]));
        let batch = RecordBatch::try_from_iter([("s", array)]).ok();
        let err = batch.map(|b| DatumReader::new(&b).err().map(|e| e.to_string()));
        assert!(matches!(err, Some(Some(e)) if e.contains("LargeUtf8")));
    }
}
