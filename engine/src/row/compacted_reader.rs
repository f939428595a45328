//! Reading CompactedRows (the KV value format) into Arrow columns.
//!
//! The layout is the one [`super::compacted_writer`] draws: a null bitset sized for every
//! field, then the non-null fields in column order. Reading is strict where Fluss's writers
//! are exact, so corruption shows:
//! - a set null bit on a NOT NULL column is an error (Fluss's reader would ignore the bit);
//! - bytes left after the last field are an error;
//! - BINARY(n) must hold exactly n bytes, strings must be UTF-8, decimals must fit their
//!   precision and nanos-of-millisecond must be 0..=999_999 (fluss-rs checks these too).
//!
//! Lenient where Fluss's reader is: a BOOLEAN byte other than 0 reads as true, CHAR(n) length
//! is not checked, and bits of the last bitset byte past the field count are ignored.

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;

use super::column_builder::{push_var, ColumnBuilder, Values};
use super::compacted_writer::null_bitset_len;
use super::cursor::Cursor;
use super::{decimal, temporal};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Decodes CompactedRows of one schema into an Arrow [`RecordBatch`] of that schema.
pub struct RowDecoder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl RowDecoder {
    /// A decoder for rows of `schema`. The schema must be valid ([`Schema::validate`]).
    pub fn new(schema: &Schema) -> Result<Self> {
        schema.validate("-")?;
        Ok(Self {
            schema: schema.to_arrow(),
            columns: schema.columns.iter().map(ColumnBuilder::new).collect(),
            rows: 0,
        })
    }

    /// Rows appended since the last [`Self::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Decodes one CompactedRow (exactly `bytes`) and appends it. On error nothing is appended.
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        match self.read_row(bytes) {
            Ok(()) => {
                self.rows += 1;
                Ok(())
            }
            Err(e) => {
                for column in &mut self.columns {
                    column.truncate(self.rows);
                }
                Err(e)
            }
        }
    }

    /// The rows appended so far, as a batch of `schema.to_arrow()`; the decoder starts over.
    pub fn finish(&mut self) -> RecordBatch {
        let columns = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        // Cannot fail: every column is built from its schema field, holds `rows` values, and
        // NOT NULL columns never get a null (append refuses them).
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .expect("decoded columns always match the schema")
    }

    fn read_row(&mut self, bytes: &[u8]) -> Result<()> {
        let mut cursor = Cursor::new(bytes);
        let bitset = cursor.take(null_bitset_len(self.columns.len()), "CompactedRow null bitset")?;
        for (index, column) in self.columns.iter_mut().enumerate() {
            let null = bitset.get(index / 8).is_some_and(|byte| byte & (1 << (index % 8)) != 0);
            if null {
                if !column.nullable {
                    return Err(field_error(index, "null bit set on a NOT NULL column".into()));
                }
                column.push_null();
                continue;
            }
            read_value(&mut column.values, &mut cursor).map_err(|e| match e {
                Error::InvalidBatch { reason } => field_error(index, reason),
                other => other,
            })?;
            column.mark_valid();
        }
        if cursor.remaining() != 0 {
            return Err(Error::invalid_batch(format!(
                "CompactedRow has {} bytes after its last field (at byte {} of {})",
                cursor.remaining(),
                cursor.pos(),
                bytes.len()
            )));
        }
        Ok(())
    }
}

fn field_error(index: usize, reason: String) -> Error {
    Error::invalid_batch(format!("CompactedRow field {index}: {reason}"))
}

/// Reads one non-null value and appends it to `values`.
fn read_value(values: &mut Values, cursor: &mut Cursor<'_>) -> Result<()> {
    match values {
        Values::Bool(b) => b.append(cursor.u8("BOOLEAN")? != 0),
        Values::I8(v) => v.push(i8::from_le_bytes(cursor.array("TINYINT")?)),
        Values::I16(v) => v.push(i16::from_le_bytes(cursor.array("SMALLINT")?)),
        Values::I32(v) => v.push(cursor.var_u32("INT / DATE")? as i32),
        Values::I64(v) => v.push(cursor.var_u64("BIGINT")? as i64),
        Values::F32(v) => v.push(f32::from_le_bytes(cursor.array("FLOAT")?)),
        Values::F64(v) => v.push(f64::from_le_bytes(cursor.array("DOUBLE")?)),
        Values::Time32(v, unit) => {
            let time = read_time(cursor, *unit)?;
            // Seconds or milliseconds of a value that came from an i32 of milliseconds.
            v.push(i32::try_from(time).map_err(|_| Error::invalid_batch("TIME out of range"))?);
        }
        Values::Time64(v, unit) => v.push(read_time(cursor, *unit)?),
        Values::Timestamp(v, unit) => v.push(read_timestamp(cursor, *unit)?),
        Values::Decimal(v, precision) => v.push(read_decimal(cursor, *precision)?),
        Values::Utf8(offsets, data) => {
            let bytes = cursor.var_bytes("STRING")?;
            std::str::from_utf8(bytes).map_err(|e| Error::invalid_batch(format!("STRING is not UTF-8: {e}")))?;
            push_var(offsets, data, bytes)?;
        }
        Values::Binary(offsets, data) => push_var(offsets, data, cursor.var_bytes("BYTES")?)?,
        Values::Fixed(width, data) => {
            let bytes = cursor.var_bytes("BINARY")?;
            if bytes.len() != *width {
                return Err(Error::invalid_batch(format!("BINARY({width}) holds {} bytes", bytes.len())));
            }
            data.extend_from_slice(bytes);
        }
    }
    Ok(())
}

fn read_time(cursor: &mut Cursor<'_>, unit: arrow_schema::TimeUnit) -> Result<i64> {
    let millis = cursor.var_u32("TIME")? as i32;
    temporal::millis_to_time(unit, millis)
        .ok_or_else(|| Error::invalid_batch(format!("TIME of {millis} ms has a fraction of a second for TIME(0)")))
}

fn read_timestamp(cursor: &mut Cursor<'_>, unit: arrow_schema::TimeUnit) -> Result<i64> {
    let millis = cursor.var_u64("TIMESTAMP milliseconds")? as i64;
    let nanos = if temporal::is_compact(unit) { 0 } else { cursor.var_u32("TIMESTAMP nanoseconds")? as i32 };
    temporal::parts_to_timestamp(unit, millis, nanos).ok_or_else(|| {
        Error::invalid_batch(format!("TIMESTAMP of {millis} ms + {nanos} ns is out of range for {unit:?}"))
    })
}

fn read_decimal(cursor: &mut Cursor<'_>, precision: u8) -> Result<i128> {
    let unscaled = if decimal::is_compact(precision) {
        i128::from(cursor.var_u64("DECIMAL")? as i64)
    } else {
        let bytes = cursor.var_bytes("DECIMAL")?;
        decimal::from_be_bytes(bytes)
            .ok_or_else(|| Error::invalid_batch(format!("DECIMAL of {} bytes does not fit 128 bits", bytes.len())))?
    };
    if !decimal::fits_precision(unscaled, precision) {
        return Err(Error::invalid_batch(format!(
            "DECIMAL unscaled value {unscaled} has more than {precision} digits"
        )));
    }
    Ok(unscaled)
}
