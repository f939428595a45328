//! Schemas (columns + schema id) and table descriptors with their validation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_schema::{Schema as ArrowSchema, SchemaRef};

use super::types::Column;
use crate::error::{Error, Result};

/// Most columns a table may have.
pub const COLUMNS_MAX: usize = 4096;
/// Most buckets a table may have.
pub const BUCKETS_MAX: u32 = 1 << 16;

/// A table schema: ordered columns and the id that names this version of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// Grows by one on every evolution; stored in each batch header as an i16.
    pub id: i16,
    pub columns: Vec<Column>,
}

impl Schema {
    /// A schema with id 0.
    pub fn new(columns: Vec<Column>) -> Self {
        Self { id: 0, columns }
    }

    /// The Arrow schema batches of this table carry.
    pub fn to_arrow(&self) -> SchemaRef {
        Arc::new(ArrowSchema::new(self.columns.iter().map(Column::to_arrow).collect::<Vec<_>>()))
    }

    /// The position of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Checks names, types and limits.
    pub fn validate(&self, table: &str) -> Result<()> {
        let err = |reason: String| Error::InvalidSchema { table: table.to_string(), reason };
        if self.columns.is_empty() {
            return Err(err("a schema needs at least one column".into()));
        }
        if self.columns.len() > COLUMNS_MAX {
            return Err(err(format!("{} columns is over the limit of {COLUMNS_MAX}", self.columns.len())));
        }
        if self.id < 0 {
            return Err(err(format!("schema id {} is negative", self.id)));
        }
        let mut seen = BTreeSet::new();
        for column in &self.columns {
            if column.name.is_empty() {
                return Err(err("a column has an empty name".into()));
            }
            if !seen.insert(column.name.as_str()) {
                return Err(err(format!("duplicate column name '{}'", column.name)));
            }
            column.data_type.validate()?;
        }
        Ok(())
    }
}

/// Everything that defines a table's storage: schema, keys, buckets, partitions, properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDescriptor {
    pub name: String,
    pub schema: Schema,
    /// Empty for a log table.
    pub primary_key: Vec<String>,
    /// `None` = default (the PK minus partition keys; round-robin for a log table).
    pub bucket_key: Option<Vec<String>>,
    pub bucket_count: u32,
    pub partition_keys: Vec<String>,
    pub properties: BTreeMap<String, String>,
}

impl TableDescriptor {
    /// A log table with one bucket and no keys.
    pub fn log_table(name: impl Into<String>, schema: Schema) -> Self {
        Self {
            name: name.into(),
            schema,
            primary_key: Vec::new(),
            bucket_key: None,
            bucket_count: 1,
            partition_keys: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// True when the table has a primary key.
    pub fn has_primary_key(&self) -> bool {
        !self.primary_key.is_empty()
    }

    /// The bucket key in effect (explicit, or the PK minus partition keys, or none).
    pub fn effective_bucket_key(&self) -> Vec<String> {
        match &self.bucket_key {
            Some(key) => key.clone(),
            None => self.primary_key.iter().filter(|k| !self.partition_keys.contains(k)).cloned().collect(),
        }
    }

    /// Validates the whole descriptor; the message names the table and the offending column.
    pub fn validate(&self) -> Result<()> {
        let err = |reason: String| Error::InvalidSchema { table: self.name.clone(), reason };
        self.schema.validate(&self.name)?;
        if self.bucket_count == 0 || self.bucket_count > BUCKETS_MAX {
            return Err(err(format!("bucket count {} must be 1..={BUCKETS_MAX}", self.bucket_count)));
        }
        let known = |cols: &[String], what: &str| -> Result<()> {
            let mut seen = BTreeSet::new();
            for name in cols {
                if self.schema.index_of(name).is_none() {
                    return Err(err(format!("{what} names unknown column '{name}'")));
                }
                if !seen.insert(name) {
                    return Err(err(format!("{what} names column '{name}' twice")));
                }
            }
            Ok(())
        };
        known(&self.primary_key, "primary key")?;
        known(&self.partition_keys, "partition key")?;
        for name in &self.primary_key {
            let column = self.schema.columns.iter().find(|c| &c.name == name);
            if column.is_some_and(|c| c.nullable) {
                return Err(err(format!("primary key column '{name}' must be NOT NULL")));
            }
        }
        if let Some(bucket_key) = &self.bucket_key {
            known(bucket_key, "bucket key")?;
            if bucket_key.is_empty() {
                return Err(err("an explicit bucket key must name at least one column".into()));
            }
            if self.has_primary_key() {
                if let Some(k) = bucket_key.iter().find(|k| !self.primary_key.contains(k)) {
                    return Err(err(format!("bucket key column '{k}' is not part of the primary key")));
                }
                if let Some(k) = bucket_key.iter().find(|k| self.partition_keys.contains(k)) {
                    return Err(err(format!("bucket key column '{k}' is a partition key")));
                }
            }
        }
        if self.has_primary_key() {
            if let Some(p) = self.partition_keys.iter().find(|p| !self.primary_key.contains(p)) {
                return Err(err(format!("partition key '{p}' of a primary key table must be in the primary key")));
            }
            if self.effective_bucket_key().is_empty() {
                return Err(err("the primary key must have a column that is not a partition key".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::DataType;

    fn pk_table() -> TableDescriptor {
        let mut t = TableDescriptor::log_table(
            "orders",
            Schema::new(vec![
                Column::not_null("id", DataType::BigInt),
                Column::not_null("dt", DataType::String),
                Column::new("amount", DataType::Double),
            ]),
        );
        t.primary_key = vec!["id".into(), "dt".into()];
        t.partition_keys = vec!["dt".into()];
        t
    }

    #[test]
    fn accepts_a_valid_pk_table() {
        let t = pk_table();
        assert!(t.validate().is_ok());
        assert_eq!(t.effective_bucket_key(), vec!["id".to_string()]);
    }

    fn reason(t: &TableDescriptor) -> String {
        match t.validate() {
            Err(e) => e.to_string(),
            Ok(()) => String::from("accepted"),
        }
    }

    #[test]
    fn rejects_bad_descriptors_with_clear_messages() {
        let mut t = pk_table();
        t.schema.columns[0].nullable = true;
        assert!(reason(&t).contains("'id' must be NOT NULL"), "{}", reason(&t));

        let mut t = pk_table();
        t.bucket_key = Some(vec!["amount".into()]);
        assert!(reason(&t).contains("'amount' is not part of the primary key"));

        let mut t = pk_table();
        t.primary_key.push("nope".into());
        assert!(reason(&t).contains("unknown column 'nope'"));

        let mut t = pk_table();
        t.schema.columns.push(Column::new("id", DataType::Int));
        assert!(reason(&t).contains("duplicate column name 'id'"));

        let mut t = pk_table();
        t.bucket_count = 0;
        assert!(reason(&t).contains("bucket count 0"));
    }
}
