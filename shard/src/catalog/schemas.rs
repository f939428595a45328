//! Schema evolution in the catalog: a table keeps every schema it had, by id, and
//! [`Catalog::add_columns`] appends nullable columns as the next schema.
//!
//! The rules (checked here, and again by the engine's `check_successor`):
//! - only nullable columns, appended after the existing ones, with names not already used;
//! - nothing else changes: no drops, renames, type or nullability changes, no key or
//!   partition-key changes (columns added here are never keys);
//! - each change makes schema `id + 1` (at most [`SCHEMA_VERSIONS_MAX`] versions, at most
//!   [`COLUMNS_MAX`] columns) and sets the table's `modified_ms`.
//!
//! Old schemas stay in the catalog for as long as the table exists: buckets decode data
//! written under them (widened with null columns), and Fluss clients fetch them by id
//! (GetTableSchema) to decode rows that name them.

use std::collections::BTreeSet;
use std::sync::Arc;

use rill_engine::schema::evolution::check_successor;
use rill_engine::schema::{Column, Schema, Schemas, COLUMNS_MAX, SCHEMA_VERSIONS_MAX};

use super::{Catalog, CatalogSnapshot, TableInfo};
use crate::error::{Error, Result};

/// Most columns one `add_columns` call may add.
pub const ADDED_COLUMNS_MAX: usize = 256;

impl TableInfo {
    /// The current schema's id.
    pub fn schema_id(&self) -> i16 {
        self.descriptor.schema.id
    }

    /// The table's schema with this id (the current one or an older one).
    pub fn schema(&self, id: i16) -> Option<&Arc<Schema>> {
        self.schemas.get(&id)
    }
}

/// The schema history of a table created with `schema` (its only schema).
pub(crate) fn history_of(schema: &Schema) -> Schemas {
    Schemas::from([(schema.id, Arc::new(schema.clone()))])
}

/// The next schema of `table` with `added` appended, or why it cannot be.
fn next_schema(table: &TableInfo, added: &[Column]) -> Result<Schema> {
    let name = table.name();
    let invalid = |reason: String| Error::InvalidRequest { table: name.to_string(), reason };
    if added.is_empty() {
        return Err(invalid("add_columns needs at least one column".into()));
    }
    if added.len() > ADDED_COLUMNS_MAX {
        return Err(invalid(format!("{} columns in one change is over the limit of {ADDED_COLUMNS_MAX}", added.len())));
    }
    let current = &table.descriptor.schema;
    if current.columns.len() + added.len() > COLUMNS_MAX {
        return Err(invalid(format!(
            "{} + {} columns is over the limit of {COLUMNS_MAX}",
            current.columns.len(),
            added.len()
        )));
    }
    if table.schemas.len() >= SCHEMA_VERSIONS_MAX {
        return Err(invalid(format!("the table has {} schema versions, the limit", table.schemas.len())));
    }
    let mut names: BTreeSet<&str> = current.columns.iter().map(|c| c.name.as_str()).collect();
    for column in added {
        if column.name.is_empty() {
            return Err(invalid("an added column has an empty name".into()));
        }
        if !names.insert(&column.name) {
            return Err(invalid(format!("column '{}' already exists", column.name)));
        }
        if !column.nullable {
            return Err(Error::Unsupported {
                what: format!(
                    "adding NOT NULL column '{}' to table '{name}' (rows already stored have no value for it; add it as nullable)",
                    column.name
                ),
            });
        }
    }
    let mut next = current.clone();
    next.id = current.id.checked_add(1).ok_or_else(|| invalid("the schema id would overflow".into()))?;
    next.columns.extend(added.iter().cloned());
    check_successor(name, current, &next)?;
    Ok(next)
}

impl Catalog {
    /// Appends nullable `columns` to table `name` as its next schema (id + 1), keeping the
    /// older schemas. Fails, changing nothing, for an unknown table, a NOT NULL or duplicate
    /// column, or a limit.
    pub fn add_columns(&mut self, name: &str, columns: &[Column], now_ms: i64) -> Result<Arc<CatalogSnapshot>> {
        let table = self.current.table(name)?;
        let schema = next_schema(table, columns)?;
        let mut info = TableInfo::clone(table);
        info.schemas.insert(schema.id, Arc::new(schema.clone()));
        info.descriptor.schema = schema;
        info.modified_ms = now_ms.max(info.created_ms);
        info.descriptor.validate()?;
        let mut next = (*self.current).clone();
        next.tables.insert(name.to_string(), Arc::new(info));
        self.commit(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rill_engine::schema::{DataType, TableDescriptor};

    use super::*;
    use crate::catalog::file;

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog::open(dir.path()).unwrap();
        let schema = Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::new("v", DataType::String)]);
        let mut desc = TableDescriptor::log_table("t", schema);
        desc.primary_key = vec!["id".into()];
        catalog.create_table(desc, false, 10).unwrap();
        (dir, catalog)
    }

    #[test]
    fn each_change_is_the_next_schema_and_all_are_kept_and_persisted() {
        let (dir, mut catalog) = catalog();
        catalog.add_columns("t", &[Column::new("a", DataType::Int)], 20).unwrap();
        let snap = catalog.add_columns("t", &[Column::new("b", DataType::Double)], 30).unwrap();
        let t = snap.table("t").unwrap();
        assert_eq!(t.schema_id(), 2);
        assert_eq!((t.created_ms, t.modified_ms), (10, 30));
        assert_eq!(t.schemas.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(t.schema(1).unwrap().columns.len(), 3);
        assert_eq!(t.schema(0).unwrap().columns.len(), 2);
        let loaded = file::load(&dir.path().join(file::CATALOG_FILE)).unwrap().unwrap();
        assert_eq!(loaded.table("t").unwrap(), t);
    }

    #[test]
    fn bad_changes_are_refused_and_change_nothing() {
        let (_dir, mut catalog) = catalog();
        let before = catalog.snapshot();
        let err = |c: &mut Catalog, cols: &[Column]| c.add_columns("t", cols, 20).unwrap_err().to_string();
        let e = err(&mut catalog, &[Column::not_null("a", DataType::Int)]);
        assert!(e.contains("NOT NULL column 'a'") && e.contains("'t'"), "{e}");
        let e = err(&mut catalog, &[Column::new("v", DataType::Int)]);
        assert!(e.contains("column 'v' already exists"), "{e}");
        let e = err(&mut catalog, &[Column::new("a", DataType::Int), Column::new("a", DataType::Int)]);
        assert!(e.contains("column 'a' already exists"), "{e}");
        let e = err(&mut catalog, &[]);
        assert!(e.contains("at least one column"), "{e}");
        let e = catalog.add_columns("nope", &[Column::new("a", DataType::Int)], 20).unwrap_err().to_string();
        assert!(e.contains("unknown table 'nope'"), "{e}");
        assert_eq!(catalog.snapshot().version, before.version);
        assert_eq!(catalog.snapshot().table("t").unwrap(), before.table("t").unwrap());
    }
}
