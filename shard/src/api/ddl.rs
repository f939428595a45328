//! Table DDL: shard 0 changes and persists the catalog, then every shard installs the new
//! snapshot (opening or closing its buckets) before the call returns. Database DDL is in
//! [`super::database`].

use std::sync::Arc;

use crate::runtime::block_on;
use rill_engine::schema::TableDescriptor;

use super::Rill;
use crate::bucket::table_dir;
use crate::catalog::{CatalogSnapshot, TableInfo};
use crate::error::{Error, Result};

impl Rill {
    /// Creates a table (log table without primary key, or primary-key table) in the database
    /// its name starts with (`db.table`; a name without `.` is in `fluss`). Fails with
    /// `UnknownDatabase` if that database does not exist, `TableExists` if the name is taken.
    /// A partitioned table starts without partitions unless it is auto-partitioned (then its
    /// first ones are created with it); see [`Self::create_partition`].
    pub async fn create_table_async(&self, descriptor: TableDescriptor) -> Result<Arc<TableInfo>> {
        self.create_table_with(descriptor, false).await
    }

    /// Blocking [`Self::create_table_async`].
    pub fn create_table(&self, descriptor: TableDescriptor) -> Result<Arc<TableInfo>> {
        block_on(self.create_table_async(descriptor))
    }

    /// [`Self::create_table_async`], but a taken name returns the existing table unchanged
    /// (its descriptor is not compared with `descriptor`).
    pub async fn create_table_if_not_exists_async(&self, descriptor: TableDescriptor) -> Result<Arc<TableInfo>> {
        self.create_table_with(descriptor, true).await
    }

    /// Blocking [`Self::create_table_if_not_exists_async`].
    pub fn create_table_if_not_exists(&self, descriptor: TableDescriptor) -> Result<Arc<TableInfo>> {
        block_on(self.create_table_if_not_exists_async(descriptor))
    }

    async fn create_table_with(&self, descriptor: TableDescriptor, if_not_exists: bool) -> Result<Arc<TableInfo>> {
        let name = descriptor.name.clone();
        let now_ms = self.now_ms();
        let snapshot = self
            .inner
            .runtime
            .call(0, move |ctx| async move { ctx.with_owner(|c| c.create_table(descriptor, if_not_exists, now_ms)) })
            .await?;
        // Published even when nothing changed: the table may come from a concurrent create
        // whose snapshot not every shard has installed yet.
        self.publish(&snapshot).await?;
        snapshot.table(&name).cloned()
    }

    /// Drops a table and deletes its data. Requests already running on it finish first.
    pub async fn drop_table_async(&self, name: &str) -> Result<()> {
        let owned = name.to_string();
        let (snapshot, dropped) =
            self.inner.runtime.call(0, move |ctx| async move { ctx.with_owner(|c| c.drop_table(&owned)) }).await?;
        self.publish(&snapshot).await?;
        self.remove_table_data(&dropped)
    }

    /// Deletes a dropped table's directory (a crash before this leaves an orphan that the
    /// next open removes).
    pub(super) fn remove_table_data(&self, dropped: &TableInfo) -> Result<()> {
        let dir = table_dir(self.data_dir(), dropped.id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing {}", dir.display()), e))
            }
            _ => Ok(()),
        }
    }

    /// Blocking [`Self::drop_table_async`].
    pub fn drop_table(&self, name: &str) -> Result<()> {
        block_on(self.drop_table_async(name))
    }

    /// Every table, by name.
    pub fn list_tables(&self) -> Vec<Arc<TableInfo>> {
        self.catalog().tables().cloned().collect()
    }

    /// One table's catalog entry.
    pub fn describe(&self, name: &str) -> Result<Arc<TableInfo>> {
        self.table(name)
    }

    /// Has every shard install `snapshot`; reports the first failure after all answered.
    pub(super) async fn publish(&self, snapshot: &Arc<CatalogSnapshot>) -> Result<()> {
        let calls: Vec<_> = (0..self.shards())
            .map(|shard| {
                let snapshot = Arc::clone(snapshot);
                self.inner.runtime.call(shard, move |ctx| async move { ctx.install(snapshot).await })
            })
            .collect();
        let mut outcome = Ok(());
        for call in calls {
            if let (Err(e), true) = (call.await, outcome.is_ok()) {
                outcome = Err(e);
            }
        }
        self.remember(snapshot);
        outcome
    }
}
