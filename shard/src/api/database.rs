//! Database DDL: create / drop (with if-exists, if-not-exists and cascade) / list / describe,
//! run like table DDL: shard 0 changes and persists the catalog, every shard installs it.

use std::sync::Arc;

use crate::runtime::block_on;

use super::Rill;
use crate::catalog::{DatabaseInfo, TableInfo};
use crate::error::Result;

impl Rill {
    /// Creates a database. Fails with `DatabaseExists` if the name is taken (with
    /// `if_not_exists`, returns the existing one) and `InvalidName` unless the name is 1..=200
    /// of `a-z A-Z 0-9 _ -`.
    pub async fn create_database_async(&self, name: &str, if_not_exists: bool) -> Result<Arc<DatabaseInfo>> {
        let owned = name.to_string();
        let now_ms = self.now_ms();
        let snapshot = self
            .inner
            .runtime
            .call(0, move |ctx| async move { ctx.with_owner(|c| c.create_database(&owned, if_not_exists, now_ms)) })
            .await?;
        self.publish(&snapshot).await?;
        snapshot.database(name).cloned()
    }

    /// Blocking [`Self::create_database_async`].
    pub fn create_database(&self, name: &str, if_not_exists: bool) -> Result<Arc<DatabaseInfo>> {
        block_on(self.create_database_async(name, if_not_exists))
    }

    /// Drops a database. Fails with `UnknownDatabase` if there is none (with `if_exists`,
    /// does nothing) and `DatabaseNotEmpty` if it holds tables, unless `cascade`: then its
    /// tables are dropped with it, in one catalog change, and their data deleted as
    /// [`Self::drop_table_async`] does.
    pub async fn drop_database_async(&self, name: &str, if_exists: bool, cascade: bool) -> Result<()> {
        let owned = name.to_string();
        let (snapshot, dropped) = self
            .inner
            .runtime
            .call(0, move |ctx| async move { ctx.with_owner(|c| c.drop_database(&owned, if_exists, cascade)) })
            .await?;
        self.publish(&snapshot).await?;
        remove_all(self, &dropped)
    }

    /// Blocking [`Self::drop_database_async`].
    pub fn drop_database(&self, name: &str, if_exists: bool, cascade: bool) -> Result<()> {
        block_on(self.drop_database_async(name, if_exists, cascade))
    }

    /// Every database, by name.
    pub fn list_databases(&self) -> Vec<Arc<DatabaseInfo>> {
        self.catalog().databases().cloned().collect()
    }

    /// One database's catalog entry.
    pub fn describe_database(&self, name: &str) -> Result<Arc<DatabaseInfo>> {
        self.catalog().database(name).cloned()
    }

    /// The tables of one database, by name; `UnknownDatabase` if there is no such database.
    pub fn list_tables_in(&self, database: &str) -> Result<Vec<Arc<TableInfo>>> {
        let catalog = self.catalog();
        catalog.database(database)?;
        Ok(catalog.tables_in(database).cloned().collect())
    }
}

/// Deletes the data of every dropped table; reports the first failure after trying all.
fn remove_all(rill: &Rill, dropped: &[Arc<TableInfo>]) -> Result<()> {
    let mut outcome = Ok(());
    for table in dropped {
        if let (Err(e), true) = (rill.remove_table_data(table), outcome.is_ok()) {
            outcome = Err(e);
        }
    }
    outcome
}
