//! Schema evolution through the handle: add nullable columns at the end of a table's schema.
//! Shard 0 changes and persists the catalog; every shard then installs the new snapshot,
//! reopening its open buckets of the table so they write and read in the new schema (see
//! `ShardContext::install`). Rows written before come back with the new columns null.

use std::sync::Arc;

use crate::runtime::block_on;
use rill_engine::batch::builder::check_schema;
use rill_engine::schema::{Column, Schema};

use super::Rill;
use crate::catalog::{now_ms, TableInfo};
use crate::error::{Error, Result};

impl Rill {
    /// Appends nullable `columns` to `table`'s schema, making schema id + 1. Fails, changing
    /// nothing, for an unknown table, a NOT NULL column (`Unsupported`), a name already used or
    /// an empty list (`InvalidRequest`).
    pub async fn add_columns_async(&self, table: &str, columns: Vec<Column>) -> Result<Arc<TableInfo>> {
        let name = table.to_string();
        let snapshot = self
            .inner
            .runtime
            .call(0, move |ctx| async move { ctx.with_owner(|c| c.add_columns(&name, &columns, now_ms())) })
            .await?;
        self.publish(&snapshot).await?;
        snapshot.table(table).cloned()
    }

    /// Blocking [`Self::add_columns_async`].
    pub fn add_columns(&self, table: &str, columns: Vec<Column>) -> Result<Arc<TableInfo>> {
        block_on(self.add_columns_async(table, columns))
    }

    /// One schema of `table` by id (the current one or an older one).
    pub fn table_schema(&self, table: &str, schema_id: i16) -> Result<Arc<Schema>> {
        let info = self.table(table)?;
        info.schema(schema_id).cloned().ok_or_else(|| Error::InvalidRequest {
            table: table.to_string(),
            reason: format!(
                "no schema with id {schema_id} (the table has ids {:?})",
                info.schemas.keys().collect::<Vec<_>>()
            ),
        })
    }
}

/// The schema `rows` was written in: the newest of the table's schemas (current or older)
/// they match (as `check_schema` matches: column count and types, in order). None matching is
/// an `InvalidRequest` naming the table, the schema ids and the current schema's mismatch.
pub(super) fn schema_of_rows(info: &TableInfo, rows: &arrow_array::RecordBatch) -> Result<Arc<Schema>> {
    if let Some(schema) = info.schemas.values().rev().find(|s| check_schema(s, rows).is_ok()) {
        return Ok(Arc::clone(schema));
    }
    let why = match check_schema(&info.descriptor.schema, rows) {
        Err(e) => e.to_string(),
        Ok(()) => String::from("the current schema is missing from the catalog"),
    };
    Err(Error::InvalidRequest {
        table: info.name().to_string(),
        reason: format!("the rows match none of the schemas {:?}: {why}", info.schemas.keys().collect::<Vec<_>>()),
    })
}
