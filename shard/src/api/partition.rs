//! Partition DDL on the handle: create / drop / list partitions, one auto-partitioning round
//! now, and which partitions a predicate can match (pruning).

use std::sync::Arc;

use crate::runtime::block_on;
use rill_engine::batch::stats::{BatchStats, ColumnStats};
use rill_engine::predicate::Predicate;

use super::Rill;
use crate::catalog::{AutoPartitionChanges, PartitionInfo, TableInfo};
use crate::error::{Error, Result};
use crate::partition_key::{partition_name, scalar_of};
use crate::runtime::coordinator::remove_partition_data;

/// A partition spec as the API takes it: (partition key, value) pairs, any order.
fn owned_spec(spec: &[(&str, &str)]) -> Vec<(String, String)> {
    spec.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Rill {
    /// Creates a partition of a partitioned table from a spec naming every partition key
    /// once, e.g. `[("dt", "2024-01-15"), ("region", "US")]` (partition name
    /// `2024-01-15$US`). Fails with `PartitionExists` (or, with `if_not_exists`, returns the
    /// existing one), `InvalidPartitionSpec` for a missing / unknown key or a value that does
    /// not parse for its column, `TooManyPartitions` over `partitions_per_table_max`.
    pub async fn create_partition_async(
        &self,
        table: &str,
        spec: &[(&str, &str)],
        if_not_exists: bool,
    ) -> Result<Arc<PartitionInfo>> {
        let (owned, spec, now_ms) = (table.to_string(), owned_spec(spec), self.now_ms());
        let resolved = spec.clone();
        let snapshot =
            self.inner
                .runtime
                .call(0, move |ctx| async move {
                    ctx.with_owner(|c| c.create_partition(&owned, &spec, if_not_exists, now_ms))
                })
                .await?;
        self.publish(&snapshot).await?;
        let info = snapshot.table(table)?;
        let values = crate::catalog::partition::resolve_spec(info, &resolved)?;
        snapshot.partition(info, &partition_name(&values)).cloned()
    }

    /// Blocking [`Self::create_partition_async`].
    pub fn create_partition(
        &self,
        table: &str,
        spec: &[(&str, &str)],
        if_not_exists: bool,
    ) -> Result<Arc<PartitionInfo>> {
        block_on(self.create_partition_async(table, spec, if_not_exists))
    }

    /// Drops a partition and deletes its data (requests running on it finish first). A
    /// missing one is `UnknownPartition`, or with `if_exists` nothing happens. Returns whether
    /// a partition was dropped.
    pub async fn drop_partition_async(&self, table: &str, spec: &[(&str, &str)], if_exists: bool) -> Result<bool> {
        let (owned, spec) = (table.to_string(), owned_spec(spec));
        let (snapshot, dropped) = self
            .inner
            .runtime
            .call(0, move |ctx| async move { ctx.with_owner(|c| c.drop_partition(&owned, &spec, if_exists)) })
            .await?;
        self.publish(&snapshot).await?;
        match dropped {
            Some(p) => remove_partition_data(self.data_dir(), &p).map(|()| true),
            None => Ok(false),
        }
    }

    /// Blocking [`Self::drop_partition_async`].
    pub fn drop_partition(&self, table: &str, spec: &[(&str, &str)], if_exists: bool) -> Result<bool> {
        block_on(self.drop_partition_async(table, spec, if_exists))
    }

    /// The partitions of a table, by name (`NotPartitioned` for an unpartitioned table).
    pub fn list_partitions(&self, table: &str) -> Result<Vec<Arc<PartitionInfo>>> {
        let snapshot = self.catalog();
        let info = snapshot.table(table)?;
        if !info.is_partitioned() {
            return Err(Error::NotPartitioned { table: table.to_string() });
        }
        Ok(snapshot.partitions_of(info.id).cloned().collect())
    }

    /// Runs one round of auto-partitioning now, at the configured clock's time: every
    /// auto-partitioned table gets its coming partitions and loses its expired ones (with
    /// their data). Shard 0 also runs it every `auto_partition_check_interval_ms`.
    pub async fn run_auto_partitioning_async(&self) -> Result<AutoPartitionChanges> {
        self.inner.runtime.call(0, move |ctx| async move { ctx.run_auto_partitioning().await }).await
    }

    /// Blocking [`Self::run_auto_partitioning_async`].
    pub fn run_auto_partitioning(&self) -> Result<AutoPartitionChanges> {
        block_on(self.run_auto_partitioning_async())
    }

    /// The partitions of `table` whose values can make `predicate` (rill's predicate syntax
    /// over the table's columns) true, by name; all of them without a predicate. Conditions
    /// on other columns do not prune (they may match any partition).
    pub fn partitions_matching(&self, table: &str, predicate: Option<&str>) -> Result<Vec<Arc<PartitionInfo>>> {
        let snapshot = self.catalog();
        let info = snapshot.table(table)?;
        let all = self.list_partitions(table)?;
        let Some(text) = predicate else { return Ok(all) };
        let predicate = Predicate::parse(text, &info.descriptor.schema)?;
        Ok(all.into_iter().filter(|p| predicate.can_match(&partition_stats(info, p))).collect())
    }
}

/// The statistics of a partition seen as a one-row batch: each partition-key column holds
/// its value; the other columns have no statistics (they may hold anything).
fn partition_stats(table: &TableInfo, partition: &PartitionInfo) -> BatchStats {
    let desc = &table.descriptor;
    let columns = desc
        .partition_keys
        .iter()
        .zip(&partition.values)
        .filter_map(|(key, value)| {
            let at = desc.schema.index_of(key)?;
            let scalar = scalar_of(&desc.schema.columns.get(at)?.data_type, value)?;
            Some(ColumnStats {
                column: u16::try_from(at).ok()?,
                null_count: 0,
                min: Some(scalar.clone()),
                max: Some(scalar),
            })
        })
        .collect();
    BatchStats { row_count: 1, columns }
}
