//! The catalog: databases, tables by name with their id, descriptor and kind, and the
//! partitions of partitioned tables.
//!
//! Shard 0 owns the mutable [`Catalog`]; it persists every change to `catalog.json` (see
//! [`file`]) before publishing a new immutable [`CatalogSnapshot`] that every shard installs.
//! Every table belongs to a database ([`database`]) and keeps every schema it had
//! ([`schemas`]: adding nullable columns makes the next schema id); a partitioned table has
//! partitions ([`partition`]), created explicitly or by auto-partitioning ([`auto_partition`]).
//! Fluss's JSON shapes for the metadata APIs are in [`fluss_json`]. Not yet: table and
//! database property changes.

pub mod auto_partition;
pub mod database;
pub mod file;
pub mod fluss_json;
pub mod partition;
pub mod schemas;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rill_engine::schema::{Schemas, TableDescriptor};

pub use database::{database_of, DatabaseInfo, DEFAULT_DATABASE};
pub use partition::{AutoPartitionChanges, PartitionInfo};

use crate::error::{Error, Result};

/// Now, epoch ms (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Default cap on partitions per table (Fluss's `max.partition.num` default).
pub const DEFAULT_PARTITIONS_PER_TABLE_MAX: usize = 1000;

/// What a table stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Append-only log table.
    Log,
    /// Primary-key table (upsert / delete / lookup, changelog in the log).
    PrimaryKey,
}

/// One table as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// Assigned at creation, never reused.
    pub id: u64,
    /// Schema (the current one), keys, buckets and properties.
    pub descriptor: TableDescriptor,
    /// Creation time, epoch ms.
    pub created_ms: i64,
    /// Time of the last change (creation, then each schema change), epoch ms.
    pub modified_ms: i64,
    /// Every schema the table had, by id, the current one included ([`schemas`]).
    pub schemas: Schemas,
}

impl TableInfo {
    /// Log or primary-key table.
    pub fn kind(&self) -> TableKind {
        if self.descriptor.has_primary_key() {
            TableKind::PrimaryKey
        } else {
            TableKind::Log
        }
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.descriptor.name
    }

    /// The database the table belongs to.
    pub fn database(&self) -> &str {
        database_of(self.name())
    }

    /// True when the table has partition keys.
    pub fn is_partitioned(&self) -> bool {
        !self.descriptor.partition_keys.is_empty()
    }
}

/// An immutable view of the catalog; shards swap in a new one on every change.
#[derive(Clone, Debug, Default)]
pub struct CatalogSnapshot {
    /// Grows by one on every change (a shard ignores a snapshot older than its own).
    pub version: u64,
    /// The id the next created table gets.
    pub next_table_id: u64,
    /// The id the next created partition gets (of any table).
    pub next_partition_id: u64,
    databases: BTreeMap<String, Arc<DatabaseInfo>>,
    tables: BTreeMap<String, Arc<TableInfo>>,
    /// Partitions by table id, then by name.
    partitions: BTreeMap<u64, partition::TablePartitions>,
}

impl CatalogSnapshot {
    /// A table by name.
    pub fn table(&self, name: &str) -> Result<&Arc<TableInfo>> {
        self.tables.get(name).ok_or_else(|| Error::UnknownTable { name: name.to_string() })
    }

    /// A table by id.
    pub fn table_by_id(&self, id: u64) -> Option<&Arc<TableInfo>> {
        self.tables.values().find(|t| t.id == id)
    }

    /// All tables, by name.
    pub fn tables(&self) -> impl Iterator<Item = &Arc<TableInfo>> {
        self.tables.values()
    }

    /// A database by name.
    pub fn database(&self, name: &str) -> Result<&Arc<DatabaseInfo>> {
        self.databases.get(name).ok_or_else(|| Error::UnknownDatabase { name: name.to_string() })
    }

    /// All databases, by name.
    pub fn databases(&self) -> impl Iterator<Item = &Arc<DatabaseInfo>> {
        self.databases.values()
    }

    /// The tables of one database, by name (none for an unknown database).
    pub fn tables_in<'a>(&'a self, database: &'a str) -> impl Iterator<Item = &'a Arc<TableInfo>> + 'a {
        self.tables.values().filter(move |t| t.database() == database)
    }
}

impl CatalogSnapshot {
    /// A new catalog at version 0 holding only [`DEFAULT_DATABASE`].
    fn fresh(now_ms: i64) -> Self {
        let default = DatabaseInfo { name: DEFAULT_DATABASE.to_string(), created_ms: now_ms };
        let databases = BTreeMap::from([(default.name.clone(), Arc::new(default))]);
        Self {
            version: 0,
            next_table_id: 1,
            next_partition_id: 1,
            databases,
            tables: BTreeMap::new(),
            partitions: BTreeMap::new(),
        }
    }
}

/// The mutable catalog, owned by shard 0: every change is persisted before it is published.
#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    current: Arc<CatalogSnapshot>,
    /// Most partitions per table.
    partitions_per_table_max: usize,
}

impl Catalog {
    /// Loads `catalog.json` from `data_dir`. Without one, starts (and saves) a catalog holding
    /// only [`DEFAULT_DATABASE`].
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(file::CATALOG_FILE);
        let current = match file::load(&path)? {
            Some(snapshot) => snapshot,
            None => {
                let fresh = CatalogSnapshot::fresh(now_ms());
                file::save(&path, &fresh)?;
                fresh
            }
        };
        Ok(Self { path, current: Arc::new(current), partitions_per_table_max: DEFAULT_PARTITIONS_PER_TABLE_MAX })
    }

    /// Sets the cap on partitions per table (`RillConfig::partitions_per_table_max`).
    pub fn with_partitions_per_table_max(mut self, partitions_max: usize) -> Self {
        self.partitions_per_table_max = partitions_max;
        self
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<CatalogSnapshot> {
        Arc::clone(&self.current)
    }

    /// Creates a table in its database, which must exist. Fails if the descriptor is invalid
    /// or the name is taken (with `if_not_exists`, a taken name returns the unchanged snapshot).
    /// An auto-partitioned table gets its first partitions in the same change.
    pub fn create_table(
        &mut self,
        descriptor: TableDescriptor,
        if_not_exists: bool,
        now_ms: i64,
    ) -> Result<Arc<CatalogSnapshot>> {
        validate_partitioning(&descriptor)?;
        descriptor.validate()?;
        crate::table_props::log_retention_ms(&descriptor)?;
        database::validate_table_name(&descriptor.name)?;
        self.current.database(database_of(&descriptor.name))?;
        if self.current.tables.contains_key(&descriptor.name) {
            return match if_not_exists {
                true => Ok(self.snapshot()),
                false => Err(Error::TableExists { name: descriptor.name }),
            };
        }
        let mut next = (*self.current).clone();
        let schemas = schemas::history_of(&descriptor.schema);
        let info = Arc::new(TableInfo {
            id: next.next_table_id,
            descriptor,
            created_ms: now_ms,
            modified_ms: now_ms,
            schemas,
        });
        next.next_table_id += 1;
        next.tables.insert(info.descriptor.name.clone(), Arc::clone(&info));
        self.auto_partition_table(&mut next, &info, now_ms, &mut AutoPartitionChanges::default())?;
        self.commit(next)
    }

    /// Drops a table from the catalog (its data is removed by the caller afterwards).
    pub fn drop_table(&mut self, name: &str) -> Result<(Arc<CatalogSnapshot>, Arc<TableInfo>)> {
        let mut next = (*self.current).clone();
        let dropped = next.tables.remove(name).ok_or_else(|| Error::UnknownTable { name: name.to_string() })?;
        next.partitions.remove(&dropped.id);
        Ok((self.commit(next)?, dropped))
    }

    fn commit(&mut self, mut next: CatalogSnapshot) -> Result<Arc<CatalogSnapshot>> {
        next.version += 1;
        file::save(&self.path, &next)?;
        self.current = Arc::new(next);
        Ok(Arc::clone(&self.current))
    }
}

/// The partitioning rules Fluss applies at table creation (the descriptor's own validation
/// covers "partition keys are columns" and "a primary key includes the partition keys").
fn validate_partitioning(desc: &TableDescriptor) -> Result<()> {
    if desc.partition_keys.is_empty() {
        // Fails when auto-partitioning is enabled: it needs partition keys.
        auto_partition::settings(desc)?;
        return Ok(());
    }
    let invalid = |reason: String| Error::InvalidPartitionSpec { table: desc.name.clone(), reason };
    if let Some(p) = desc.partition_keys.iter().find(|p| desc.schema.index_of(p).is_none()) {
        return Err(invalid(format!("partition key '{p}' is not a column")));
    }
    if desc.has_primary_key() {
        if let Some(p) = desc.partition_keys.iter().find(|p| !desc.primary_key.contains(p)) {
            return Err(invalid(format!("partition key '{p}' must be part of the primary key {:?}", desc.primary_key)));
        }
    }
    if let Some(k) = desc.bucket_key.iter().flatten().find(|k| desc.partition_keys.contains(k)) {
        return Err(invalid(format!("bucket key column '{k}' is a partition key")));
    }
    crate::partition_key::check_key_types(desc)?;
    auto_partition::settings(desc)?;
    Ok(())
}
