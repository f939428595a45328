//! Schema evolution: a table's schema only grows by nullable columns appended at the end, and
//! each change gets the next schema id. Data written under an older schema is read under a
//! newer one by appending all-null columns ([`widen`]); positions of existing columns never
//! change, so column indexes (projections, predicates, statistics slots) stay valid.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{new_null_array, ArrayRef, RecordBatch};
use arrow_buffer::Buffer;

use super::table::Schema;
use crate::batch::{ipc, BatchView};
use crate::error::{Error, Result};

/// Most schema versions a table may have (ids `0..SCHEMA_VERSIONS_MAX`; batches carry the id
/// as an i16).
pub const SCHEMA_VERSIONS_MAX: usize = 1024;

/// Every schema of a table by id (the newest has the highest id).
pub type Schemas = BTreeMap<i16, Arc<Schema>>;

/// Checks that `newer` is a valid successor of `older` for table `table`: the next id, the same
/// columns in the same order with the same types and nullability, then only nullable columns.
pub fn check_successor(table: &str, older: &Schema, newer: &Schema) -> Result<()> {
    let err = |reason: String| Error::InvalidSchema { table: table.to_string(), reason };
    if i32::from(newer.id) != i32::from(older.id) + 1 {
        return Err(err(format!("schema id {} does not follow schema id {}", newer.id, older.id)));
    }
    if usize::try_from(newer.id).map_or(true, |id| id >= SCHEMA_VERSIONS_MAX) {
        return Err(err(format!("schema id {} is over the limit of {SCHEMA_VERSIONS_MAX} versions", newer.id)));
    }
    for (i, old) in older.columns.iter().enumerate() {
        match newer.columns.get(i) {
            Some(new) if new == old => {}
            Some(new) => {
                return Err(err(format!(
                    "column '{}' ({} {}) cannot change to '{}' ({} {}): only adding nullable columns at the end is supported",
                    old.name,
                    old.data_type,
                    nullability(old.nullable),
                    new.name,
                    new.data_type,
                    nullability(new.nullable)
                )))
            }
            None => {
                return Err(err(format!(
                    "column '{}' cannot be dropped: only adding nullable columns at the end is supported",
                    old.name
                )))
            }
        }
    }
    if let Some(c) = newer.columns.iter().skip(older.columns.len()).find(|c| !c.nullable) {
        return Err(err(format!(
            "added column '{}' must be nullable (rows already stored have no value for it)",
            c.name
        )));
    }
    newer.validate(table)
}

fn nullability(nullable: bool) -> &'static str {
    if nullable {
        "NULL"
    } else {
        "NOT NULL"
    }
}

/// `rows`, decoded under an older schema, as rows of `to`: its columns must be a prefix of
/// `to`'s; the columns `to` added are appended as all-null.
pub fn widen(rows: RecordBatch, to: &Schema) -> Result<RecordBatch> {
    let have = rows.num_columns();
    let mismatch = || Error::InvalidSchema {
        table: String::new(),
        reason: format!("rows with {have} columns do not fit schema {} with {} columns", to.id, to.columns.len()),
    };
    if have == to.columns.len() {
        return Ok(rows);
    }
    if have > to.columns.len() {
        return Err(mismatch());
    }
    widen_to_arrow(&rows, &to.to_arrow())
}

/// `rows` with all-null columns appended up to `to` (an Arrow schema whose first columns are
/// those of `rows`): [`widen`] for callers that hold only the Arrow form.
pub fn widen_to_arrow(rows: &RecordBatch, to: &arrow_schema::SchemaRef) -> Result<RecordBatch> {
    let n = rows.num_rows();
    let mut columns: Vec<ArrayRef> = rows.columns().to_vec();
    for field in to.fields().iter().skip(columns.len()) {
        columns.push(new_null_array(field.data_type(), n));
    }
    RecordBatch::try_new(Arc::clone(to), columns).map_err(|e| Error::arrow("widening rows to a newer schema", e))
}

/// The schema a stored batch names, from `schemas`.
pub fn schema_of<'a>(schemas: &'a Schemas, schema_id: i16, bucket: &str) -> Result<&'a Arc<Schema>> {
    schemas.get(&schema_id).ok_or_else(|| Error::SchemaMismatch {
        bucket: bucket.to_string(),
        expected: format!("one of the schema ids {:?}", schemas.keys().collect::<Vec<_>>()),
        actual: format!("schema id {schema_id}"),
    })
}

/// Decodes the Arrow rows of a stored batch (`bytes` = the whole batch) under the schema its
/// header names, then widens them to `latest`.
pub fn decode_as(bytes: &Buffer, schemas: &Schemas, latest: &Schema, bucket: &str) -> Result<RecordBatch> {
    let view = BatchView::parse(bytes.as_slice())?;
    let schema = schema_of(schemas, view.header.schema_id, bucket)?;
    let range = view.ipc_range();
    let rows = ipc::decode(&bytes.slice_with_length(range.start, range.len()), schema.to_arrow(), false)?;
    widen(rows, latest)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schema::{Column, DataType};

    fn v0() -> Schema {
        Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::new("v", DataType::String)])
    }

    fn v1() -> Schema {
        let mut s = v0();
        s.id = 1;
        s.columns.push(Column::new("extra", DataType::Int));
        s
    }

    #[test]
    fn accepts_nullable_columns_at_the_end() {
        check_successor("t", &v0(), &v1()).unwrap();
    }

    #[test]
    fn rejects_every_other_change_naming_the_column() {
        let reason = |s: &Schema| check_successor("t", &v0(), s).unwrap_err().to_string();
        let mut s = v1();
        s.columns[2].nullable = false;
        assert!(reason(&s).contains("'extra' must be nullable"), "{}", reason(&s));
        let mut s = v1();
        s.columns.remove(1);
        assert!(reason(&s).contains("column 'v'"), "{}", reason(&s));
        let mut s = v1();
        s.columns[1].data_type = DataType::Int;
        assert!(reason(&s).contains("column 'v'"), "{}", reason(&s));
        let mut s = v0();
        s.id = 1;
        s.columns.truncate(1);
        assert!(reason(&s).contains("'v' cannot be dropped"), "{}", reason(&s));
        let mut s = v1();
        s.id = 2;
        assert!(reason(&s).contains("does not follow"), "{}", reason(&s));
        let mut s = v1();
        s.columns[2].name = "v".into();
        assert!(reason(&s).contains("duplicate column name 'v'"), "{}", reason(&s));
    }

    #[test]
    fn widen_appends_null_columns() {
        use arrow_array::{Array, Int64Array, StringArray};
        let rows = RecordBatch::try_new(
            v0().to_arrow(),
            vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(StringArray::from(vec![Some("a"), None]))],
        )
        .unwrap();
        let wide = widen(rows, &v1()).unwrap();
        assert_eq!(wide.schema(), v1().to_arrow());
        assert_eq!(wide.column(2).null_count(), 2);
        let narrow = RecordBatch::new_empty(v1().to_arrow());
        assert!(widen(narrow, &v0()).is_err());
    }

    #[test]
    fn a_stored_batch_of_an_older_schema_decodes_in_the_newest() {
        use crate::batch::{build, BuildOptions};
        use arrow_array::{Array, Int64Array, StringArray};
        let rows = RecordBatch::try_new(
            v0().to_arrow(),
            vec![Arc::new(Int64Array::from(vec![7, 8])), Arc::new(StringArray::from(vec!["a", "b"]))],
        )
        .unwrap();
        let bytes = Buffer::from_vec(build(&v0(), &rows, None, &BuildOptions::default()).unwrap());
        let schemas: Schemas = [(0, Arc::new(v0())), (1, Arc::new(v1()))].into_iter().collect();
        let wide = decode_as(&bytes, &schemas, &v1(), "b0").unwrap();
        assert_eq!(wide.schema(), v1().to_arrow());
        assert_eq!(wide.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values(), &[7, 8]);
        assert_eq!(wide.column(2).null_count(), 2);
        let same = decode_as(&bytes, &schemas, &v0(), "b0").unwrap();
        assert_eq!(same, rows);
        let only_new: Schemas = [(1, Arc::new(v1()))].into_iter().collect();
        let err = decode_as(&bytes, &only_new, &v1(), "b0").unwrap_err().to_string();
        assert!(err.contains("schema id 0"), "{err}");
    }
}
