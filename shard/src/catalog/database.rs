//! Databases: named groups of tables. A table `db.orders` lives in database `db` (the part of
//! its name before the first `.`); a name without a `.` lives in [`DEFAULT_DATABASE`].
//!
//! A table can only be created in a database that exists; a database holding tables can only
//! be dropped with `cascade`, which drops its tables in the same catalog change.

use std::sync::Arc;

use super::{Catalog, CatalogSnapshot, TableInfo};
use crate::error::{Error, Result};

/// The database a fresh catalog starts with (as in Fluss).
pub const DEFAULT_DATABASE: &str = "fluss";
/// Longest database name, in bytes (as in Fluss).
pub const DATABASE_NAME_BYTES_MAX: usize = 200;

/// One database as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// The database name.
    pub name: String,
    /// Creation time, epoch ms.
    pub created_ms: i64,
}

/// The database a table name belongs to: the part before the first `.`, or
/// [`DEFAULT_DATABASE`] for a name without one.
pub fn database_of(table: &str) -> &str {
    table.split_once('.').map_or(DEFAULT_DATABASE, |(database, _)| database)
}

/// Checks a database name: 1..=200 bytes of ASCII letters, digits, `_` and `-` (Fluss's rule).
pub fn validate_database_name(name: &str) -> Result<()> {
    let invalid = |reason: String| Err(Error::InvalidName { name: name.to_string(), reason });
    if name.is_empty() {
        return invalid("a database name must not be empty".into());
    }
    if name.len() > DATABASE_NAME_BYTES_MAX {
        return invalid(format!("a database name is at most {DATABASE_NAME_BYTES_MAX} bytes, this one {}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return invalid(format!("character {c:?} is not allowed in a database name (only a-z A-Z 0-9 _ -)"));
    }
    Ok(())
}

/// Checks that a table name has a non-empty table part after its database.
pub(super) fn validate_table_name(name: &str) -> Result<()> {
    match name.split_once('.') {
        Some((_, "")) => {
            Err(Error::InvalidName { name: name.to_string(), reason: "the table part after the '.' is empty".into() })
        }
        _ if name.is_empty() => {
            Err(Error::InvalidName { name: name.to_string(), reason: "a table name must not be empty".into() })
        }
        _ => Ok(()),
    }
}

impl Catalog {
    /// Creates a database. If it exists: `DatabaseExists`, or with `if_not_exists` the
    /// unchanged snapshot.
    pub fn create_database(&mut self, name: &str, if_not_exists: bool, now_ms: i64) -> Result<Arc<CatalogSnapshot>> {
        validate_database_name(name)?;
        if self.current.databases.contains_key(name) {
            return match if_not_exists {
                true => Ok(self.snapshot()),
                false => Err(Error::DatabaseExists { name: name.to_string() }),
            };
        }
        let mut next = (*self.current).clone();
        let info = DatabaseInfo { name: name.to_string(), created_ms: now_ms };
        next.databases.insert(info.name.clone(), Arc::new(info));
        self.commit(next)
    }

    /// Drops a database and returns the tables dropped with it (their data is removed by the
    /// caller afterwards). A missing database is `UnknownDatabase`, or with `if_exists` the
    /// unchanged snapshot; one holding tables is `DatabaseNotEmpty` unless `cascade`.
    pub fn drop_database(
        &mut self,
        name: &str,
        if_exists: bool,
        cascade: bool,
    ) -> Result<(Arc<CatalogSnapshot>, Vec<Arc<TableInfo>>)> {
        if !self.current.databases.contains_key(name) {
            return match if_exists {
                true => Ok((self.snapshot(), Vec::new())),
                false => Err(Error::UnknownDatabase { name: name.to_string() }),
            };
        }
        let tables: Vec<Arc<TableInfo>> = self.current.tables_in(name).cloned().collect();
        if !tables.is_empty() && !cascade {
            let tables = tables.iter().map(|t| t.name().to_string()).collect();
            return Err(Error::DatabaseNotEmpty { name: name.to_string(), tables });
        }
        let mut next = (*self.current).clone();
        next.databases.remove(name);
        for table in &tables {
            next.tables.remove(table.name());
            next.partitions.remove(&table.id);
        }
        Ok((self.commit(next)?, tables))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_databases() {
        assert_eq!(database_of("db.orders"), "db");
        assert_eq!(database_of("db.a.b"), "db");
        assert_eq!(database_of("orders"), DEFAULT_DATABASE);
        assert!(validate_table_name("db.").is_err());
        assert!(validate_table_name("").is_err());
        assert!(validate_table_name("t").is_ok());
    }

    #[test]
    fn database_names_follow_fluss_rules() {
        assert!(validate_database_name("sales_2024-eu").is_ok());
        for bad in ["", "a.b", "a b", "ü", &"x".repeat(DATABASE_NAME_BYTES_MAX + 1)] {
            let e = validate_database_name(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e}");
        }
    }
}
