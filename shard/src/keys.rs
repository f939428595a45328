//! Caller-side key work for primary-key tables: encode each row's primary key and bucket key
//! (Fluss's compacted key encoding), compute its bucket as the Fluss clients do, and group
//! rows per bucket so each owning shard gets one request.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{new_null_array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema};
use rill_engine::row::encode_key;
use rill_engine::schema::TableDescriptor;
use rill_engine::table::pk::physical_key;

use crate::error::{Error, Result};
use crate::route::bucket_for_key;

/// The rows of one bucket: their positions in the request and their encoded keys.
#[derive(Debug, Default)]
pub(crate) struct BucketRows {
    pub(crate) rows: Vec<u32>,
    pub(crate) keys: Vec<Vec<u8>>,
}

/// Encodes rows' primary keys and picks their buckets, as Fluss clients do.
pub(crate) struct KeyEncoder<'a> {
    desc: &'a TableDescriptor,
    key_columns: Vec<usize>,
    /// The bucket key's columns (unused when `bucket_is_key`).
    bucket_columns: Vec<usize>,
    /// The bucket key is the physical primary key (the default): its encoding is the key's.
    bucket_is_key: bool,
    bucket_key: Vec<u8>,
}

impl<'a> KeyEncoder<'a> {
    pub(crate) fn new(desc: &'a TableDescriptor) -> Result<Self> {
        let key_columns = physical_key(desc)?;
        let (bucket_columns, bucket_is_key) = match &desc.bucket_key {
            Some(names) => {
                let columns = names
                    .iter()
                    .map(|name| {
                        desc.schema.index_of(name).ok_or_else(|| invalid(desc, format!("unknown bucket key '{name}'")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let same = columns == key_columns;
                (columns, same)
            }
            // The default bucket key is the physical primary key.
            None => (Vec::new(), true),
        };
        Ok(Self { desc, key_columns, bucket_columns, bucket_is_key, bucket_key: Vec::new() })
    }

    /// The bucket and encoded primary key of row `row` of `columns` (one array per table
    /// column).
    pub(crate) fn encode(&mut self, columns: &[ArrayRef], row: usize) -> Result<(u32, Vec<u8>)> {
        let mut key = Vec::new();
        let bucket = self.encode_into(columns, row, &mut key)?;
        Ok((bucket, key))
    }

    /// [`Self::encode`] into `key` (appended): returns the bucket.
    pub(crate) fn encode_into(&mut self, columns: &[ArrayRef], row: usize, key: &mut Vec<u8>) -> Result<u32> {
        let desc = self.desc;
        let start = key.len();
        encode_key(&desc.schema, &self.key_columns, columns, row, key)?;
        let bucket = if self.bucket_is_key {
            bucket_for_key(key.get(start..).unwrap_or_default(), desc.bucket_count)
        } else {
            self.bucket_key.clear();
            encode_key(&desc.schema, &self.bucket_columns, columns, row, &mut self.bucket_key)?;
            bucket_for_key(&self.bucket_key, desc.bucket_count)
        };
        Ok(bucket)
    }
}

/// The bucket and encoded primary key of a key batch's first row (`keys`: the primary-key
/// columns by name, in key order), for one-key lookups.
pub(crate) fn one_key(desc: &TableDescriptor, keys: &RecordBatch) -> Result<(u32, Vec<u8>)> {
    let mut key = Vec::new();
    let bucket = one_key_into(desc, keys, &mut key)?;
    Ok((bucket, key))
}

/// [`one_key`] into `key` (appended): returns the bucket.
pub(crate) fn one_key_into(desc: &TableDescriptor, keys: &RecordBatch, key: &mut Vec<u8>) -> Result<u32> {
    let spread = spread_keys(desc, keys)?;
    KeyEncoder::new(desc)?.encode_into(&spread, 0, key)
}

/// Groups the rows of `columns` (one array per table column) by bucket.
pub(crate) fn group_by_bucket(desc: &TableDescriptor, columns: &[ArrayRef]) -> Result<BTreeMap<u32, BucketRows>> {
    let mut encoder = KeyEncoder::new(desc)?;
    let rows = columns.first().map_or(0, |c| c.len());
    let mut groups: BTreeMap<u32, BucketRows> = BTreeMap::new();
    for row in 0..rows {
        let (bucket, key) = encoder.encode(columns, row)?;
        let group = groups.entry(bucket).or_default();
        group.rows.push(u32::try_from(row).map_err(|_| invalid(desc, format!("{rows} rows are too many")))?);
        group.keys.push(key);
    }
    Ok(groups)
}

/// The rows at `rows` of `batch`.
pub(crate) fn take_rows(batch: &RecordBatch, rows: &[u32]) -> Result<RecordBatch> {
    let indices = UInt32Array::from(rows.to_vec());
    arrow_select::take::take_record_batch(batch, &indices)
        .map_err(|e| rill_engine::Error::arrow("selecting the rows of a bucket", e).into())
}

/// Widens a batch holding the primary-key columns (by name, in key order; partition keys
/// included, they pick the partition) to the table's full width, other columns null and every
/// field nullable (the shape deletes and key encoding take).
pub(crate) fn widen_keys(desc: &TableDescriptor, keys: &RecordBatch) -> Result<RecordBatch> {
    check_key_names(desc, keys)?;
    Ok(widen(desc, keys)?.0)
}

/// The columns of a key batch (the primary-key columns by name, in key order) spread to their
/// table positions, for [`group_by_bucket`] without building a full-width batch: the other
/// positions repeat the first key column, which key encoding never reads (the primary key and
/// the bucket key, a subset of it, name only key columns).
pub(crate) fn spread_keys(desc: &TableDescriptor, keys: &RecordBatch) -> Result<Vec<ArrayRef>> {
    check_key_names(desc, keys)?;
    let Some(first) = keys.columns().first() else {
        return Err(invalid(desc, "the table has no primary key".into()));
    };
    let mut columns = vec![Arc::clone(first); desc.schema.columns.len()];
    for (field, column) in keys.schema().fields().iter().zip(keys.columns()) {
        let at = desc.schema.index_of(field.name());
        let Some((at, key)) = at.and_then(|at| Some((at, desc.schema.columns.get(at)?))) else {
            return Err(invalid(desc, format!("the table has no column '{}'", field.name())));
        };
        let expected = key.data_type.to_arrow();
        if &expected != column.data_type() {
            return Err(type_mismatch(desc, field.name(), column.data_type(), &expected));
        }
        if let Some(slot) = columns.get_mut(at) {
            *slot = Arc::clone(column);
        }
    }
    Ok(columns)
}

/// `keys` must hold exactly the primary-key columns, by name, in key order.
fn check_key_names(desc: &TableDescriptor, keys: &RecordBatch) -> Result<()> {
    let key_schema = keys.schema_ref();
    let fields = key_schema.fields();
    if fields.len() == desc.primary_key.len() && fields.iter().zip(&desc.primary_key).all(|(f, k)| f.name() == k) {
        return Ok(());
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    let wanted: Vec<&str> = desc.primary_key.iter().map(String::as_str).collect();
    Err(invalid(desc, format!("key columns must be {wanted:?}, got {names:?}")))
}

fn type_mismatch(desc: &TableDescriptor, column: &str, got: &ArrowType, expected: &ArrowType) -> Error {
    invalid(desc, format!("column '{column}' is {got}, expected {expected}"))
}

/// Widens a batch holding some of the table's columns (by name, any order, each at most once)
/// to the full width: missing columns are null and every field is nullable. Also returns the
/// table positions of the given columns, in table order.
pub(crate) fn widen(desc: &TableDescriptor, batch: &RecordBatch) -> Result<(RecordBatch, Vec<usize>)> {
    let table = desc.schema.to_arrow();
    let given = batch.schema();
    for field in given.fields() {
        if desc.schema.index_of(field.name()).is_none() {
            return Err(invalid(desc, format!("the table has no column '{}'", field.name())));
        }
    }
    let mut columns = Vec::with_capacity(table.fields().len());
    let mut fields = Vec::with_capacity(table.fields().len());
    let mut present = Vec::new();
    for (i, field) in table.fields().iter().enumerate() {
        let column = match given.index_of(field.name()) {
            Ok(at) => {
                let column = Arc::clone(batch.column(at));
                if column.data_type() != field.data_type() {
                    return Err(type_mismatch(desc, field.name(), column.data_type(), field.data_type()));
                }
                present.push(i);
                column
            }
            Err(_) => new_null_array(field.data_type(), batch.num_rows()),
        };
        fields.push(Field::new(field.name(), field.data_type().clone(), true));
        columns.push(column);
    }
    if present.len() != given.fields().len() {
        return Err(invalid(desc, "a column is given twice".into()));
    }
    let wide = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)
        .map_err(|e| rill_engine::Error::arrow("widening the batch", e))?;
    Ok((wide, present))
}

fn invalid(desc: &TableDescriptor, reason: String) -> Error {
    Error::InvalidRequest { table: desc.name.clone(), reason }
}
