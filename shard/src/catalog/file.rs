//! `catalog.json`: the catalog persisted as one small JSON document, replaced atomically
//! (write `catalog.json.tmp`, fsync it, rename over `catalog.json`, fsync the directory).
//!
//! ```text
//! { "format": 1, "version": 3, "next_table_id": 2,
//!   "databases": [ { "name": "db", "created_ms": 1764000000000 } ],
//!   "tables": [ { "id": 1, "name": "db.orders", "created_ms": 1764000000000,
//!                 "schema_id": 0,
//!                 "columns": [ { "name": "id", "type": "BIGINT", "nullable": false } ],
//!                 "primary_key": ["id"], "bucket_key": null, "bucket_count": 4,
//!                 "partition_keys": [], "properties": { "k": "v" },
//!                 "modified_ms": 1764000500000,
//!                 "old_schemas": [ { "schema_id": 0, "columns": [ ... ] } ] } ],
//!   "next_partition_id": 3,
//!   "partitions": [ { "id": 2, "table_id": 1, "name": "20241111", "values": ["20241111"],
//!                     "created_ms": 1764000000000 } ] }
//! ```
//!
//! `next_partition_id` and `partitions` came with partitioned tables: a file without them has
//! no partitions (and the next partition id is 1).
//!
//! `schema_id` and `columns` are the current schema. `modified_ms` and `old_schemas` (every
//! older schema of the table, oldest first; see [`super::schemas`]) came with schema
//! evolution: a file without them loads with `modified_ms = created_ms` and the current
//! schema as the only one.
//!
//! `databases` came after the first files: a file without it gets [`DEFAULT_DATABASE`] plus
//! every database its tables name (created when their first table was), so old data dirs open
//! unchanged. With it, a table in a database it does not list is a malformed file.
//!
//! Types are spelled as SQL (`DataType`'s `Display`, read back with `DataType::parse`).
//! Fluss's own JSON shapes (for its metadata APIs) are produced by [`super::fluss_json`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rill_engine::schema::evolution::check_successor;
use rill_engine::schema::{Column, DataType, Schema, Schemas, TableDescriptor};
use serde::{Deserialize, Serialize};

use super::{database_of, CatalogSnapshot, DatabaseInfo, PartitionInfo, TableInfo, DEFAULT_DATABASE};
use crate::error::{Error, Result};
use crate::partition_key::partition_name;

/// File name of the catalog inside the data directory.
pub const CATALOG_FILE: &str = "catalog.json";
/// The format version written.
pub const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct FileCatalog {
    format: u32,
    version: u64,
    next_table_id: u64,
    /// Absent in files written before databases existed.
    #[serde(default)]
    databases: Option<Vec<FileDatabase>>,
    tables: Vec<FileTable>,
    /// Absent in files written before partitions existed.
    #[serde(default)]
    next_partition_id: Option<u64>,
    #[serde(default)]
    partitions: Vec<FilePartition>,
}

#[derive(Serialize, Deserialize)]
struct FilePartition {
    id: u64,
    table_id: u64,
    name: String,
    values: Vec<String>,
    created_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct FileDatabase {
    name: String,
    created_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct FileTable {
    id: u64,
    name: String,
    created_ms: i64,
    schema_id: i16,
    columns: Vec<FileColumn>,
    primary_key: Vec<String>,
    bucket_key: Option<Vec<String>>,
    bucket_count: u32,
    partition_keys: Vec<String>,
    properties: BTreeMap<String, String>,
    /// Absent in files written before schema evolution.
    #[serde(default)]
    modified_ms: Option<i64>,
    /// Absent in files written before schema evolution (= no older schema).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    old_schemas: Vec<FileSchema>,
}

#[derive(Serialize, Deserialize)]
struct FileSchema {
    schema_id: i16,
    columns: Vec<FileColumn>,
}

#[derive(Serialize, Deserialize)]
struct FileColumn {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    nullable: bool,
}

fn to_file(snapshot: &CatalogSnapshot) -> FileCatalog {
    let tables = snapshot
        .tables()
        .map(|t| {
            let d = &t.descriptor;
            FileTable {
                id: t.id,
                name: d.name.clone(),
                created_ms: t.created_ms,
                schema_id: d.schema.id,
                columns: to_file_columns(&d.schema),
                primary_key: d.primary_key.clone(),
                bucket_key: d.bucket_key.clone(),
                bucket_count: d.bucket_count,
                partition_keys: d.partition_keys.clone(),
                properties: d.properties.clone(),
                modified_ms: Some(t.modified_ms),
                old_schemas: t
                    .schemas
                    .values()
                    .filter(|s| s.id != d.schema.id)
                    .map(|s| FileSchema { schema_id: s.id, columns: to_file_columns(s) })
                    .collect(),
            }
        })
        .collect();
    let databases =
        snapshot.databases().map(|d| FileDatabase { name: d.name.clone(), created_ms: d.created_ms }).collect();
    FileCatalog {
        format: FORMAT,
        version: snapshot.version,
        next_table_id: snapshot.next_table_id,
        databases: Some(databases),
        tables,
        next_partition_id: Some(snapshot.next_partition_id),
        partitions: snapshot
            .tables()
            .flat_map(|t| snapshot.partitions_of(t.id))
            .map(|p| FilePartition {
                id: p.id,
                table_id: p.table_id,
                name: p.name.clone(),
                values: p.values.clone(),
                created_ms: p.created_ms,
            })
            .collect(),
    }
}

fn to_file_columns(schema: &Schema) -> Vec<FileColumn> {
    schema
        .columns
        .iter()
        .map(|c| FileColumn { name: c.name.clone(), data_type: c.data_type.to_string(), nullable: c.nullable })
        .collect()
}

fn from_file_columns(columns: Vec<FileColumn>) -> Result<Vec<Column>> {
    let columns = columns
        .into_iter()
        .map(|c| Ok(Column { name: c.name, data_type: DataType::parse(&c.data_type)?, nullable: c.nullable }))
        .collect::<Result<Vec<_>, rill_engine::Error>>()?;
    Ok(columns)
}

/// The table's schemas by id: the older ones, each a valid predecessor of the next, then the
/// current one.
fn schema_history(name: &str, old: Vec<FileSchema>, current: &Schema, path: &Path) -> Result<Schemas> {
    let mut schemas = Schemas::new();
    for s in old {
        let schema = Schema { id: s.schema_id, columns: from_file_columns(s.columns)? };
        schemas.insert(schema.id, Arc::new(schema));
    }
    schemas.insert(current.id, Arc::new(current.clone()));
    for (older, newer) in schemas.values().zip(schemas.values().skip(1)) {
        check_successor(name, older, newer).map_err(|e| Error::Catalog {
            path: path.display().to_string(),
            reason: format!("schema history of table '{name}': {e}"),
        })?;
    }
    Ok(schemas)
}

fn from_file(file: FileCatalog, path: &Path) -> Result<CatalogSnapshot> {
    let listed = file.databases.is_some();
    // An older file gets the default database, as old as its oldest table.
    let oldest_ms = file.tables.iter().map(|t| t.created_ms).min().unwrap_or(0);
    let mut databases: BTreeMap<String, Arc<DatabaseInfo>> = file
        .databases
        .unwrap_or_else(|| vec![FileDatabase { name: DEFAULT_DATABASE.into(), created_ms: oldest_ms }])
        .into_iter()
        .map(|d| (d.name.clone(), Arc::new(DatabaseInfo { name: d.name, created_ms: d.created_ms })))
        .collect();
    let mut tables = BTreeMap::new();
    for t in file.tables {
        let columns = from_file_columns(t.columns)?;
        let descriptor = TableDescriptor {
            name: t.name.clone(),
            schema: Schema { id: t.schema_id, columns },
            primary_key: t.primary_key,
            bucket_key: t.bucket_key,
            bucket_count: t.bucket_count,
            partition_keys: t.partition_keys,
            properties: t.properties,
        };
        descriptor.validate()?;
        let database = database_of(&t.name);
        if listed && !databases.contains_key(database) {
            return Err(Error::Catalog {
                path: path.display().to_string(),
                reason: format!("table '{}' is in database '{database}', which the file does not list", t.name),
            });
        }
        if !listed {
            // An older file: the database was created with its first table.
            let info = databases
                .entry(database.to_string())
                .or_insert_with(|| Arc::new(DatabaseInfo { name: database.to_string(), created_ms: t.created_ms }));
            if info.created_ms > t.created_ms {
                *info = Arc::new(DatabaseInfo { name: database.to_string(), created_ms: t.created_ms });
            }
        }
        let schemas = schema_history(&t.name, t.old_schemas, &descriptor.schema, path)?;
        let modified_ms = t.modified_ms.unwrap_or(t.created_ms);
        let info = TableInfo { id: t.id, descriptor, created_ms: t.created_ms, modified_ms, schemas };
        tables.insert(t.name, Arc::new(info));
    }
    let partitions = partitions_from_file(file.partitions, &tables, path)?;
    let highest = partitions.values().flat_map(|p| p.values()).map(|p| p.id).max().unwrap_or(0);
    Ok(CatalogSnapshot {
        version: file.version,
        next_table_id: file.next_table_id.max(1),
        next_partition_id: file.next_partition_id.unwrap_or(1).max(highest + 1),
        databases,
        tables,
        partitions,
    })
}

/// The partitions of a file by table id, checked against their tables.
fn partitions_from_file(
    file: Vec<FilePartition>,
    tables: &BTreeMap<String, Arc<TableInfo>>,
    path: &Path,
) -> Result<BTreeMap<u64, BTreeMap<String, Arc<PartitionInfo>>>> {
    let bad = |reason: String| Error::Catalog { path: path.display().to_string(), reason };
    let mut out: BTreeMap<u64, BTreeMap<String, Arc<PartitionInfo>>> = BTreeMap::new();
    for p in file {
        let table = tables.values().find(|t| t.id == p.table_id);
        let Some(table) = table.filter(|t| t.descriptor.partition_keys.len() == p.values.len()) else {
            return Err(bad(format!("partition '{}' (id {}) names no partitioned table {}", p.name, p.id, p.table_id)));
        };
        if partition_name(&p.values) != p.name {
            return Err(bad(format!("partition '{}' of '{}' has values {:?}", p.name, table.name(), p.values)));
        }
        let info =
            PartitionInfo { id: p.id, table_id: p.table_id, name: p.name, values: p.values, created_ms: p.created_ms };
        out.entry(p.table_id).or_default().insert(info.name.clone(), Arc::new(info));
    }
    Ok(out)
}

/// Reads the catalog at `path`; `None` if there is no file.
pub fn load(path: &Path) -> Result<Option<CatalogSnapshot>> {
    let bad = |reason: String| Error::Catalog { path: path.display().to_string(), reason };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let file: FileCatalog = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if file.format != FORMAT {
        return Err(bad(format!("format {} is not the supported format {FORMAT}", file.format)));
    }
    from_file(file, path).map(Some)
}

/// Writes `snapshot` to `path` atomically and durably.
pub fn save(path: &Path, snapshot: &CatalogSnapshot) -> Result<()> {
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {}", path.display()), e);
    let bytes = serde_json::to_vec_pretty(&to_file(snapshot))
        .map_err(|e| Error::Catalog { path: path.display().to_string(), reason: e.to_string() })?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating a temporary file for", e))?;
    f.write_all(&bytes).map_err(|e| io("writing", e))?;
    f.sync_all().map_err(|e| io("syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("renaming over", e))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing the directory of", e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn round_trips_tables_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog::open(dir.path()).unwrap();
        let schema = Schema::new(vec![
            Column::not_null("id", DataType::BigInt),
            Column::new("price", DataType::Decimal { precision: 10, scale: 2 }),
            Column::new("at", DataType::TimestampLtz { precision: 3 }),
        ]);
        let mut pk = TableDescriptor::log_table("db.pk", schema.clone());
        pk.primary_key = vec!["id".into()];
        pk.bucket_count = 3;
        pk.properties.insert("table.merge-engine".into(), "first_row".into());
        catalog.create_database("db", false, 4).unwrap();
        catalog.create_table(pk, false, 5).unwrap();
        catalog.create_table(TableDescriptor::log_table("db.log", schema), false, 6).unwrap();
        let saved = catalog.snapshot();
        let loaded = load(&dir.path().join(CATALOG_FILE)).unwrap().unwrap();
        assert_eq!(loaded.version, 3);
        assert_eq!(loaded.next_table_id, 3);
        let a: Vec<_> = saved.tables().cloned().collect();
        let b: Vec<_> = loaded.tables().cloned().collect();
        assert_eq!(a, b);
        let a: Vec<_> = saved.databases().cloned().collect();
        let b: Vec<_> = loaded.databases().cloned().collect();
        assert_eq!(a, b);
        assert_eq!(b.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["db", DEFAULT_DATABASE]);
    }

    fn old_file(tables: &[(&str, i64)], databases: &str) -> String {
        let tables: Vec<String> = tables
            .iter()
            .map(|(name, ms)| {
                format!(
                    r#"{{ "id": {ms}, "name": "{name}", "created_ms": {ms}, "schema_id": 0,
                    "columns": [ {{ "name": "id", "type": "BIGINT", "nullable": false }} ],
                    "primary_key": [], "bucket_key": null, "bucket_count": 1,
                    "partition_keys": [], "properties": {{}} }}"#
                )
            })
            .collect();
        format!(r#"{{ "format": 1, "version": 7, "next_table_id": 9, {databases} "tables": [{}] }}"#, tables.join(","))
    }

    #[test]
    fn a_file_from_before_databases_gets_them_from_its_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        std::fs::write(&path, old_file(&[("db.b", 30), ("db.a", 20), ("t", 50), ("x.y", 40)], "")).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        let databases: Vec<_> = loaded.databases().map(|d| (d.name.as_str(), d.created_ms)).collect();
        assert_eq!(databases, [("db", 20), (DEFAULT_DATABASE, 20), ("x", 40)]);
        assert_eq!(loaded.tables_in(DEFAULT_DATABASE).map(|t| t.name()).collect::<Vec<_>>(), ["t"]);
        assert_eq!(loaded.tables().count(), 4);
        // Written before schema evolution: one schema, modified when created.
        let t = loaded.table("db.b").unwrap();
        assert_eq!((t.schemas.keys().copied().collect::<Vec<_>>(), t.modified_ms), (vec![0], 30));
    }

    #[test]
    fn rejects_a_table_in_an_unlisted_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        let listed = r#""databases": [ { "name": "db", "created_ms": 1 } ],"#;
        std::fs::write(&path, old_file(&[("db.a", 2), ("gone.b", 3)], listed)).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("'gone.b' is in database 'gone'"), "{err}");
    }

    #[test]
    fn rejects_a_malformed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        std::fs::write(&path, b"{not json").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("catalog"), "{err}");
    }

    #[test]
    fn round_trips_partitions_and_their_next_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog::open(dir.path()).unwrap();
        let mut t = TableDescriptor::log_table(
            "events",
            Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::not_null("dt", DataType::String)]),
        );
        t.partition_keys = vec!["dt".into()];
        catalog.create_table(t, false, 1).unwrap();
        let spec = |v: &str| vec![("dt".to_string(), v.to_string())];
        catalog.create_partition("events", &spec("a"), false, 2).unwrap();
        catalog.create_partition("events", &spec("b"), false, 3).unwrap();
        catalog.drop_partition("events", &spec("b"), false).unwrap();
        let saved = catalog.snapshot();
        let loaded = load(&dir.path().join(CATALOG_FILE)).unwrap().unwrap();
        assert_eq!(loaded.next_partition_id, 3, "the dropped partition's id is not handed out again");
        let table = loaded.table("events").unwrap();
        let a: Vec<_> = saved.partitions_of(table.id).cloned().collect();
        let b: Vec<_> = loaded.partitions_of(table.id).cloned().collect();
        assert_eq!(a, b);
        assert_eq!((b[0].name.as_str(), b[0].id, b[0].created_ms), ("a", 1, 2));
    }

    #[test]
    fn a_file_from_before_partitions_loads_without_any() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        std::fs::write(&path, old_file(&[("db.a", 2)], "")).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.next_partition_id, 1);
        assert_eq!(loaded.partitions_of(2).count(), 0);
    }

    #[test]
    fn rejects_a_partition_of_an_unknown_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        let text = old_file(&[("db.a", 2)], "").trim_end().trim_end_matches('}').to_string()
            + r#", "partitions": [ { "id": 1, "table_id": 9, "name": "x", "values": ["x"], "created_ms": 0 } ] }"#;
        std::fs::write(&path, text).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("partition 'x'"), "{err}");
    }
}
