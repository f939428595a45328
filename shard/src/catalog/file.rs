//! `catalog.json`: the catalog persisted as one small JSON document, replaced atomically
//! (write `catalog.json.tmp`, fsync it, rename over `catalog.json`, fsync the directory).
//!
//! ```text
//! { "format": 1, "version": 3, "next_table_id": 2,
//!   "tables": [ { "id": 1, "name": "db.orders", "created_ms": 1764000000000,
//!                 "schema_id": 0,
//!                 "columns": [ { "name": "id", "type": "BIGINT", "nullable": false } ],
//!                 "primary_key": ["id"], "bucket_key": null, "bucket_count": 4,
//!                 "partition_keys": [], "properties": { "k": "v" } } ] }
//! ```
//!
//! Types are spelled as SQL (`DataType`'s `Display`, read back with `DataType::parse`).
//! Fluss's own JSON shapes (for its metadata APIs) come with the protocol work.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use serde::{Deserialize, Serialize};

use super::{CatalogSnapshot, TableInfo};
use crate::error::{Error, Result};

/// File name of the catalog inside the data directory.
pub const CATALOG_FILE: &str = "catalog.json";
/// The format version written.
pub const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct FileCatalog {
    format: u32,
    version: u64,
    next_table_id: u64,
    tables: Vec<FileTable>,
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
                columns: d
                    .schema
                    .columns
                    .iter()
                    .map(|c| FileColumn {
                        name: c.name.clone(),
                        data_type: c.data_type.to_string(),
                        nullable: c.nullable,
                    })
                    .collect(),
                primary_key: d.primary_key.clone(),
                bucket_key: d.bucket_key.clone(),
                bucket_count: d.bucket_count,
                partition_keys: d.partition_keys.clone(),
                properties: d.properties.clone(),
            }
        })
        .collect();
    FileCatalog { format: FORMAT, version: snapshot.version, next_table_id: snapshot.next_table_id, tables }
}

fn from_file(file: FileCatalog) -> Result<CatalogSnapshot> {
    let mut tables = BTreeMap::new();
    for t in file.tables {
        let columns = t
            .columns
            .into_iter()
            .map(|c| Ok(Column { name: c.name, data_type: DataType::parse(&c.data_type)?, nullable: c.nullable }))
            .collect::<Result<Vec<_>, rill_engine::Error>>()?;
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
        tables.insert(t.name, Arc::new(TableInfo { id: t.id, descriptor, created_ms: t.created_ms }));
    }
    Ok(CatalogSnapshot { version: file.version, next_table_id: file.next_table_id.max(1), tables })
}

/// Reads the catalog at `path`; a missing file is an empty catalog.
pub fn load(path: &Path) -> Result<CatalogSnapshot> {
    let bad = |reason: String| Error::Catalog { path: path.display().to_string(), reason };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CatalogSnapshot { next_table_id: 1, ..CatalogSnapshot::default() })
        }
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let file: FileCatalog = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if file.format != FORMAT {
        return Err(bad(format!("format {} is not the supported format {FORMAT}", file.format)));
    }
    from_file(file)
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
        catalog.create_table(pk, 5).unwrap();
        catalog.create_table(TableDescriptor::log_table("db.log", schema), 6).unwrap();
        let saved = catalog.snapshot();
        let loaded = load(&dir.path().join(CATALOG_FILE)).unwrap();
        assert_eq!(loaded.version, 2);
        assert_eq!(loaded.next_table_id, 3);
        let a: Vec<_> = saved.tables().cloned().collect();
        let b: Vec<_> = loaded.tables().cloned().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_a_malformed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        std::fs::write(&path, b"{not json").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("catalog"), "{err}");
    }
}
