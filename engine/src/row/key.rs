//! The compacted key: the bytes a primary key (or bucket key) is stored, looked up and hashed
//! by, for tables without a lake format (`table.kv.format-version` 1, Fluss's default).
//!
//! A key is the key columns' fields, in key order, each written with the CompactedRow field
//! rules (the table in [`super::field_writer`]), concatenated, with **no null bitset** and no
//! lengths or separators beyond what each field carries. Example: key (INT 7, STRING "ab") is
//! `[0x07, 0x02, b'a', b'b']`.
//!
//! Key values may not be null (Fluss rejects them on the client too).
//!
//! **Prefix property.** Because the fields are simply concatenated, the key of the first k key
//! columns is a byte prefix of the key of all of them. A prefix lookup (by the leading key
//! columns) can therefore scan the keys that start with the prefix key's bytes.
//!
//! Lake-format tables (`paimon`, `iceberg`) encode keys differently; rill does not support them.

use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use super::compacted_writer::{check_column_count, check_row};
use super::field_writer::{null_error, value_error, FieldValues};
use crate::error::{Error, Result};
use crate::schema::{Column, Schema};

/// Appends the key of row `row` to `out`. `columns` holds one array per schema column (the
/// whole row); `key_columns` are the schema positions of the key columns in key order.
/// On error `out` is left as it was.
pub fn encode_key(
    schema: &Schema,
    key_columns: &[usize],
    columns: &[ArrayRef],
    row: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    let result = key_fields(schema, key_columns, columns).and_then(|fields| {
        for field in fields {
            let (index, column, values) = field?;
            write_field(index, column, &values, row, out)?;
        }
        Ok(())
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The keys of every row of `columns`, as a Binary array (row i's key at index i).
pub fn encode_keys(schema: &Schema, key_columns: &[usize], columns: &[ArrayRef]) -> Result<Arc<BinaryArray>> {
    let fields = key_fields(schema, key_columns, columns)?.collect::<Result<Vec<_>>>()?;
    let rows = fields.first().map_or(0, |(_, _, values)| values.len());
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0i32);
    let mut data = Vec::new();
    for row in 0..rows {
        for (index, column, values) in &fields {
            write_field(*index, column, values, row, &mut data)?;
        }
        let end = i32::try_from(data.len()).map_err(|_| Error::SchemaMismatch {
            bucket: "-".into(),
            expected: format!("keys of at most {} bytes in all", i32::MAX),
            actual: format!("more by row {row} of {rows}"),
        })?;
        offsets.push(end);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Ok(Arc::new(BinaryArray::new(offsets, Buffer::from_vec(data), None)))
}

type KeyField<'a> = (usize, &'a Column, FieldValues<'a>);

/// Checks the key column list and views each key column (lazily, so `encode_key` allocates
/// nothing).
fn key_fields<'a>(
    schema: &'a Schema,
    key_columns: &'a [usize],
    columns: &'a [ArrayRef],
) -> Result<impl Iterator<Item = Result<KeyField<'a>>> + 'a> {
    check_column_count(schema, columns.len())?;
    if key_columns.is_empty() {
        return Err(Error::SchemaMismatch {
            bucket: "-".into(),
            expected: "a key of at least one column".into(),
            actual: "no key columns".into(),
        });
    }
    Ok(key_columns.iter().map(move |&index| {
        let (Some(column), Some(array)) = (schema.columns.get(index), columns.get(index)) else {
            return Err(Error::SchemaMismatch {
                bucket: "-".into(),
                expected: format!("key column positions below {}", schema.columns.len()),
                actual: format!("position {index}"),
            });
        };
        Ok((index, column, FieldValues::new(index, column, array.as_ref())?))
    }))
}

fn write_field(index: usize, column: &Column, values: &FieldValues<'_>, row: usize, out: &mut Vec<u8>) -> Result<()> {
    check_row(row, values.len())?;
    if values.is_null(row) {
        return Err(null_error(index, column, row, "key"));
    }
    values.write(row, out).map_err(|problem| value_error(index, column, row, problem))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow_array::{Array, Int32Array, RecordBatch, StringArray};
    use proptest::prelude::*;

    use super::*;
    use crate::row::compacted_tests::{all_types_schema, sample_batch};
    use crate::schema::DataType;

    fn not_null_schema() -> Schema {
        let mut schema = all_types_schema();
        for column in &mut schema.columns {
            column.nullable = false;
        }
        schema
    }

    fn key(schema: &Schema, keys: &[usize], batch: &RecordBatch, row: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(schema, keys, batch.columns(), row, &mut out).unwrap();
        out
    }

    #[test]
    fn golden_bytes_have_no_bitset() {
        let schema = Schema::new(vec![
            Column::new("v", DataType::Double),
            Column::not_null("id", DataType::Int),
            Column::not_null("name", DataType::String),
        ]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(arrow_array::Float64Array::from(vec![None::<f64>])),
            Arc::new(Int32Array::from(vec![7])),
            Arc::new(StringArray::from(vec!["ab"])),
        ];
        let mut out = vec![0xEE];
        encode_key(&schema, &[1, 2], &columns, 0, &mut out).unwrap();
        assert_eq!(out, [0xEE, 0x07, 0x02, b'a', b'b']);
        let keys = encode_keys(&schema, &[2, 1], &columns).unwrap();
        assert_eq!(keys.value(0), [0x02, b'a', b'b', 0x07]);
    }

    #[test]
    fn null_and_bad_key_columns_are_errors() {
        let schema = Schema::new(vec![Column::new("a", DataType::Int), Column::new("b", DataType::Int)]);
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(Int32Array::from(vec![Some(1), None]))];
        let mut out = vec![9];
        let err = encode_key(&schema, &[0, 1], &columns, 1, &mut out).unwrap_err();
        assert!(matches!(err, Error::SchemaMismatch { .. }) && err.to_string().contains("null at row 1"), "{err}");
        assert_eq!(out, [9], "out is left as it was");
        assert!(encode_keys(&schema, &[0, 1], &columns).is_err());
        assert!(encode_key(&schema, &[], &columns, 0, &mut out).is_err());
        assert!(encode_key(&schema, &[2], &columns, 0, &mut out).is_err());
        assert!(encode_key(&schema, &[0], &columns, 2, &mut out).is_err());
        assert!(encode_key(&schema, &[0], &columns[..1], 0, &mut out).is_err());
        assert_eq!(out, [9]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The key of the first k key columns is a byte prefix of the full key, for any k and
        /// any choice and order of key columns.
        #[test]
        fn a_key_prefix_is_a_byte_prefix(seed: u64, order in Just((0..30usize).collect::<Vec<_>>()).prop_shuffle(), len in 1usize..30) {
            let schema = not_null_schema();
            let batch = sample_batch(&schema, 3, seed);
            let keys = &order[..len];
            let batch_keys = encode_keys(&schema, keys, batch.columns()).unwrap();
            prop_assert_eq!(batch_keys.len(), 3);
            for row in 0..3 {
                let full = key(&schema, keys, &batch, row);
                prop_assert_eq!(batch_keys.value(row), &full[..]);
                for k in 1..len {
                    let prefix = key(&schema, &keys[..k], &batch, row);
                    prop_assert!(full.starts_with(&prefix), "key of {} columns is not a prefix", k);
                }
            }
        }
    }
}
