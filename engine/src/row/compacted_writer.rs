//! Writing a CompactedRow (the KV value format) from one row of Arrow columns.
//!
//! ```text
//! [null bitset: ceil(fields / 8) bytes][field 0][field 1]...[field n-1]
//! ```
//! - The bitset has a bit for every field of the schema: field i is bit `i % 8` (least
//!   significant first) of byte `i / 8`. A set bit means null.
//! - The non-null fields follow in column order, with no offsets, padding or trailing bytes.
//!   A null field writes nothing. Each field uses the per-type rules tabled in
//!   [`super::field_writer`].
//!
//! Example: (INT 1, STRING null, BIGINT -1) is `[0b010, 0x01, 0xFF x9, 0x01]`:
//! one bitset byte with bit 1 set, varint 1, then the 10-byte varint of -1 as a u64.

use arrow_array::ArrayRef;

use super::field_writer::{null_error, value_error, FieldValues};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Bytes of the null bitset of a row with `fields` fields.
pub fn null_bitset_len(fields: usize) -> usize {
    fields.div_ceil(8)
}

/// Appends row `row` of `columns` (one per schema column, with the Arrow types of
/// [`crate::schema::DataType::to_arrow`]) to `out` as a CompactedRow.
///
/// A null in a NOT NULL column, a column of the wrong type, or a value the format cannot hold
/// is an [`Error::SchemaMismatch`]; `out` is then left as it was. Nothing is allocated
/// besides the growth of `out`.
pub fn encode_row(schema: &Schema, columns: &[ArrayRef], row: usize, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    let result = write_row(schema, columns, row, out, start);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_row(schema: &Schema, columns: &[ArrayRef], row: usize, out: &mut Vec<u8>, start: usize) -> Result<()> {
    check_column_count(schema, columns.len())?;
    out.resize(start + null_bitset_len(schema.columns.len()), 0);
    for (index, (column, array)) in schema.columns.iter().zip(columns).enumerate() {
        let values = FieldValues::new(index, column, array.as_ref())?;
        check_row(row, values.len())?;
        if values.is_null(row) {
            if !column.nullable {
                return Err(null_error(index, column, row, "NOT NULL"));
            }
            if let Some(byte) = out.get_mut(start + index / 8) {
                *byte |= 1 << (index % 8);
            }
            continue;
        }
        values.write(row, out).map_err(|problem| value_error(index, column, row, problem))?;
    }
    Ok(())
}

/// `columns` must hold exactly one array per schema column.
pub(crate) fn check_column_count(schema: &Schema, columns: usize) -> Result<()> {
    if columns != schema.columns.len() {
        return Err(Error::SchemaMismatch {
            bucket: "-".into(),
            expected: format!("{} columns (schema {})", schema.columns.len(), schema.id),
            actual: format!("{columns} columns"),
        });
    }
    Ok(())
}

/// `row` must be a row of a column of `len` rows.
pub(crate) fn check_row(row: usize, len: usize) -> Result<()> {
    if row >= len {
        return Err(Error::SchemaMismatch {
            bucket: "-".into(),
            expected: format!("a row below {len}"),
            actual: format!("row {row}"),
        });
    }
    Ok(())
}
