//! Partitions of partitioned tables: each has an id that is never reused (the catalog-wide
//! `next_partition_id`), a name (its values in partition-key order joined by `$`, as Fluss
//! names them), its values and its creation time. Its buckets live in
//! `tables/<table id>/p<partition id>/b<bucket>/`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::auto_partition::{self, Plan};
use super::{Catalog, CatalogSnapshot, TableInfo};
use crate::error::{Error, Result};
use crate::partition_key::{check_value, partition_name};

/// One partition as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Assigned at creation, never reused (across all tables).
    pub id: u64,
    /// The table it belongs to.
    pub table_id: u64,
    /// The values joined by `$`, e.g. `2024-01-15$US`.
    pub name: String,
    /// One value per partition key, in key order.
    pub values: Vec<String>,
    /// Creation time, epoch ms.
    pub created_ms: i64,
}

/// Partitions of one table, by name.
pub(super) type TablePartitions = BTreeMap<String, Arc<PartitionInfo>>;

/// What an auto-partitioning round changed.
#[derive(Clone, Debug, Default)]
pub struct AutoPartitionChanges {
    /// Names of the partitions created, with their table.
    pub created: Vec<(String, String)>,
    /// The partitions dropped (their data is removed by the caller afterwards).
    pub dropped: Vec<Arc<PartitionInfo>>,
}

/// Resolves a spec (key = value pairs, any order) into values in partition-key order, each
/// checked against its column type.
pub fn resolve_spec(table: &TableInfo, spec: &[(String, String)]) -> Result<Vec<String>> {
    let desc = &table.descriptor;
    let invalid = |reason: String| Error::InvalidPartitionSpec { table: desc.name.clone(), reason };
    if desc.partition_keys.is_empty() {
        return Err(Error::NotPartitioned { table: desc.name.clone() });
    }
    if let Some((key, _)) = spec.iter().find(|(k, _)| !desc.partition_keys.contains(k)) {
        return Err(invalid(format!("'{key}' is not a partition key (the keys are {:?})", desc.partition_keys)));
    }
    let mut values = Vec::with_capacity(desc.partition_keys.len());
    for key in &desc.partition_keys {
        let mut given = spec.iter().filter(|(k, _)| k == key);
        let value = match (given.next(), given.next()) {
            (Some((_, v)), None) => v,
            (None, _) => return Err(invalid(format!("the spec has no value for partition key '{key}'"))),
            (Some(_), Some(_)) => return Err(invalid(format!("the spec gives partition key '{key}' twice"))),
        };
        let column = desc.schema.columns.iter().find(|c| &c.name == key);
        if let Some(column) = column {
            check_value(&column.data_type, value).map_err(|r| invalid(format!("partition key '{key}': {r}")))?;
        }
        values.push(value.clone());
    }
    Ok(values)
}

impl CatalogSnapshot {
    /// The partitions of a table, by name (none for an unpartitioned or unknown table).
    pub fn partitions_of(&self, table_id: u64) -> impl Iterator<Item = &Arc<PartitionInfo>> {
        self.partitions.get(&table_id).into_iter().flat_map(|p| p.values())
    }

    /// A partition of `table` by name.
    pub fn partition(&self, table: &TableInfo, name: &str) -> Result<&Arc<PartitionInfo>> {
        self.partitions
            .get(&table.id)
            .and_then(|p| p.get(name))
            .ok_or_else(|| Error::UnknownPartition { table: table.name().to_string(), partition: name.to_string() })
    }

    /// A partition by table id and partition id.
    pub fn partition_by_id(&self, table_id: u64, partition_id: u64) -> Option<&Arc<PartitionInfo>> {
        self.partitions_of(table_id).find(|p| p.id == partition_id)
    }
}

impl Catalog {
    /// Creates a partition of `table` from a spec. If it exists: `PartitionExists`, or with
    /// `if_not_exists` the unchanged snapshot.
    pub fn create_partition(
        &mut self,
        table: &str,
        spec: &[(String, String)],
        if_not_exists: bool,
        now_ms: i64,
    ) -> Result<Arc<CatalogSnapshot>> {
        let info = Arc::clone(self.current.table(table)?);
        let values = resolve_spec(&info, spec)?;
        let name = partition_name(&values);
        if self.current.partition(&info, &name).is_ok() {
            return match if_not_exists {
                true => Ok(self.snapshot()),
                false => Err(Error::PartitionExists { table: table.to_string(), partition: name }),
            };
        }
        let mut next = (*self.current).clone();
        self.add_partitions(&mut next, &info, vec![values], now_ms)?;
        self.commit(next)
    }

    /// Drops a partition of `table` by spec; returns it (its data is removed by the caller
    /// afterwards). A missing one is `UnknownPartition`, or with `if_exists` nothing.
    pub fn drop_partition(
        &mut self,
        table: &str,
        spec: &[(String, String)],
        if_exists: bool,
    ) -> Result<(Arc<CatalogSnapshot>, Option<Arc<PartitionInfo>>)> {
        let info = Arc::clone(self.current.table(table)?);
        let name = partition_name(&resolve_spec(&info, spec)?);
        if let Err(e) = self.current.partition(&info, &name) {
            return match if_exists {
                true => Ok((self.snapshot(), None)),
                false => Err(e),
            };
        }
        let mut next = (*self.current).clone();
        let dropped = next.partitions.get_mut(&info.id).and_then(|p| p.remove(&name));
        Ok((self.commit(next)?, dropped))
    }

    /// Adds partitions with `values` (already checked, not existing) to `table` in `next`,
    /// within the cap.
    pub(super) fn add_partitions(
        &self,
        next: &mut CatalogSnapshot,
        table: &TableInfo,
        values: Vec<Vec<String>>,
        now_ms: i64,
    ) -> Result<()> {
        let partitions = next.partitions.entry(table.id).or_default();
        let total = partitions.len() + values.len();
        if total > self.partitions_per_table_max {
            return Err(Error::TooManyPartitions {
                table: table.name().to_string(),
                partitions: total,
                partitions_max: self.partitions_per_table_max,
            });
        }
        for values in values {
            let name = partition_name(&values);
            let id = next.next_partition_id;
            next.next_partition_id += 1;
            let info = PartitionInfo { id, table_id: table.id, name: name.clone(), values, created_ms: now_ms };
            debug_assert!(!partitions.contains_key(&name), "partition {name} created twice");
            partitions.insert(name, Arc::new(info));
        }
        Ok(())
    }

    /// Plans and applies one round of auto-partitioning of `table` into `next` (shared by
    /// table creation and the periodic rounds).
    pub(super) fn auto_partition_table(
        &self,
        next: &mut CatalogSnapshot,
        table: &TableInfo,
        now_ms: i64,
        changes: &mut AutoPartitionChanges,
    ) -> Result<()> {
        let Some(settings) = auto_partition::settings(&table.descriptor)? else { return Ok(()) };
        let existing: BTreeMap<String, Vec<String>> =
            next.partitions_of(table.id).map(|p| (p.name.clone(), p.values.clone())).collect();
        let Plan { create, drop } = plan_for(&settings, &existing, table, now_ms);
        if let Some(partitions) = next.partitions.get_mut(&table.id) {
            for name in drop {
                changes.dropped.extend(partitions.remove(&name));
            }
        }
        changes.created.extend(create.iter().map(|v| (table.name().to_string(), partition_name(v))));
        self.add_partitions(next, table, create, now_ms)
    }

    /// One round of auto-partitioning over every table; `None` when nothing changed. A table
    /// whose round fails (over its cap) is skipped with a warning; the others go ahead.
    pub fn auto_partition(&mut self, now_ms: i64) -> Result<Option<(Arc<CatalogSnapshot>, AutoPartitionChanges)>> {
        let mut next = (*self.current).clone();
        let mut changes = AutoPartitionChanges::default();
        let tables: Vec<Arc<TableInfo>> = self.current.tables().cloned().collect();
        for table in tables {
            let mut attempt = next.clone();
            let mut table_changes = AutoPartitionChanges::default();
            match self.auto_partition_table(&mut attempt, &table, now_ms, &mut table_changes) {
                Ok(()) => {
                    next = attempt;
                    changes.created.append(&mut table_changes.created);
                    changes.dropped.append(&mut table_changes.dropped);
                }
                Err(e) => tracing::warn!(table = %table.name(), error = %e, "auto-partitioning skipped this table"),
            }
        }
        if changes.created.is_empty() && changes.dropped.is_empty() {
            return Ok(None);
        }
        Ok(Some((self.commit(next)?, changes)))
    }
}

fn plan_for(
    settings: &auto_partition::AutoPartition,
    existing: &BTreeMap<String, Vec<String>>,
    table: &TableInfo,
    now_ms: i64,
) -> Plan {
    auto_partition::plan(settings, existing, table.descriptor.partition_keys.len(), now_ms)
}
