//! Fluss's JSON shapes of a table, as its metadata APIs carry them (`table_json` of
//! GetTableInfo / PbTableMetadata / CreateTable, `schema_json` of GetTableSchema), matched to
//! the `JsonSerde` impls of fluss-rs 1.0 (`src/metadata/json_serde.rs`):
//!
//! ```text
//! table:  { "version": 1, "schema": <schema>, "partition_key": [..], "bucket_key": [..],
//!           "bucket_count": n, "properties": {..}, "custom_properties": {..} }
//! schema: { "version": 1, "columns": [ { "name", "data_type": <type>, "id" } ],
//!           "primary_key": [..] (PK tables only), "highest_field_id": n }
//! type:   { "type": "BIGINT", "nullable": false (only when NOT NULL), params.. }
//! ```
//!
//! rill keeps one property map; `table.`-prefixed keys go to Fluss's `properties`, the others
//! to `custom_properties` (parsing merges them back). `bucket_key` is the effective bucket key
//! (`[]` for a log table without one) and `bucket_count` is always written (a Fluss client
//! unwraps it). A column's id is its position: columns are only ever appended, so ids never
//! change and `highest_field_id` is the last position. rill stores no comments: none are
//! written, and parsed ones are dropped.

use std::collections::BTreeMap;

use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use serde_json::{json, Map, Value};

use super::TableInfo;
use crate::error::{Error, Result};

/// The `version` Fluss writes in (and expects of) both JSON shapes.
pub const FLUSS_JSON_VERSION: u32 = 1;
/// Largest JSON document parsed, in bytes.
pub const FLUSS_JSON_BYTES_MAX: usize = 1 << 20;

/// The type JSON of a column type (a type Fluss has no JSON for is `Unsupported`).
pub fn data_type_json(data_type: &DataType, nullable: bool) -> Result<Value> {
    let mut obj = Map::new();
    let (root, params): (&str, Vec<(&str, u32)>) = match *data_type {
        DataType::Boolean => ("BOOLEAN", vec![]),
        DataType::TinyInt => ("TINYINT", vec![]),
        DataType::SmallInt => ("SMALLINT", vec![]),
        DataType::Int => ("INTEGER", vec![]),
        DataType::BigInt => ("BIGINT", vec![]),
        DataType::Float => ("FLOAT", vec![]),
        DataType::Double => ("DOUBLE", vec![]),
        DataType::String => ("STRING", vec![]),
        DataType::Bytes => ("BYTES", vec![]),
        DataType::Date => ("DATE", vec![]),
        DataType::Char { length } => ("CHAR", vec![("length", length)]),
        DataType::Binary { length } => ("BINARY", vec![("length", length)]),
        DataType::Decimal { precision, scale } => {
            ("DECIMAL", vec![("precision", precision.into()), ("scale", scale.into())])
        }
        DataType::Time { precision } => ("TIME_WITHOUT_TIME_ZONE", vec![("precision", precision.into())]),
        DataType::Timestamp { precision } => ("TIMESTAMP_WITHOUT_TIME_ZONE", vec![("precision", precision.into())]),
        DataType::TimestampLtz { precision } => {
            ("TIMESTAMP_WITH_LOCAL_TIME_ZONE", vec![("precision", precision.into())])
        }
        _ => return Err(Error::Unsupported { what: format!("type {data_type} in Fluss JSON") }),
    };
    obj.insert("type".into(), json!(root));
    if !nullable {
        obj.insert("nullable".into(), json!(false));
    }
    for (key, value) in params {
        obj.insert(key.into(), json!(value));
    }
    Ok(Value::Object(obj))
}

/// The schema JSON of `schema` in a table whose primary key is `primary_key` (empty for a
/// log table).
pub fn schema_json(schema: &Schema, primary_key: &[String]) -> Result<Value> {
    let columns = schema
        .columns
        .iter()
        .enumerate()
        .map(|(id, c)| Ok(json!({ "name": c.name, "data_type": data_type_json(&c.data_type, c.nullable)?, "id": id })))
        .collect::<Result<Vec<Value>>>()?;
    let mut obj = Map::new();
    obj.insert("version".into(), json!(FLUSS_JSON_VERSION));
    obj.insert("columns".into(), Value::Array(columns));
    if !primary_key.is_empty() {
        obj.insert("primary_key".into(), json!(primary_key));
    }
    obj.insert("highest_field_id".into(), json!(schema.columns.len().saturating_sub(1)));
    Ok(Value::Object(obj))
}

/// The table-descriptor JSON of `desc` (its current schema).
pub fn table_json(desc: &TableDescriptor) -> Result<Value> {
    let (fluss, custom): (BTreeMap<_, _>, BTreeMap<_, _>) =
        desc.properties.iter().partition(|(k, _)| k.starts_with("table."));
    Ok(json!({
        "version": FLUSS_JSON_VERSION,
        "schema": schema_json(&desc.schema, &desc.primary_key)?,
        "partition_key": desc.partition_keys,
        "bucket_key": desc.effective_bucket_key(),
        "bucket_count": desc.bucket_count,
        "properties": fluss,
        "custom_properties": custom,
    }))
}

/// What Fluss's metadata APIs answer about a table (GetTableInfoResponse, PbTableMetadata).
impl TableInfo {
    /// `table_id` (rill's ids are small: they fit an i64).
    pub fn fluss_table_id(&self) -> i64 {
        i64::try_from(self.id).unwrap_or(i64::MAX)
    }

    /// `table_json`: the descriptor with the current schema, UTF-8.
    pub fn table_json(&self) -> Result<String> {
        Ok(table_json(&self.descriptor)?.to_string())
    }

    /// `schema_json` of schema `schema_id` (GetTableSchema); an unknown id is an
    /// `InvalidRequest`.
    pub fn schema_json(&self, schema_id: i16) -> Result<String> {
        let schema = self.schema(schema_id).ok_or_else(|| {
            bad(
                self.name(),
                format!("no schema with id {schema_id} (ids {:?})", self.schemas.keys().collect::<Vec<_>>()),
            )
        })?;
        Ok(schema_json(schema, &self.descriptor.primary_key)?.to_string())
    }
}

fn bad(table: &str, reason: impl Into<String>) -> Error {
    Error::InvalidRequest { table: table.to_string(), reason: format!("Fluss JSON: {}", reason.into()) }
}

/// Parses a type JSON (the types rill stores; ARRAY, MAP and ROW are refused).
pub fn parse_data_type(table: &str, node: &Value) -> Result<(DataType, bool)> {
    let root = node.get("type").and_then(Value::as_str).ok_or_else(|| bad(table, "a type without \"type\""))?;
    let nullable = match node.get("nullable") {
        None => true,
        Some(v) => v.as_bool().ok_or_else(|| bad(table, "\"nullable\" must be a boolean"))?,
    };
    let param = |key: &str, default: Option<u32>| -> Result<u32> {
        match node.get(key) {
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(table, format!("{root}: \"{key}\" must be a non-negative integer"))),
            None => default.ok_or_else(|| bad(table, format!("{root} needs \"{key}\""))),
        }
    };
    let small = |key: &str, default: Option<u32>| -> Result<u8> {
        u8::try_from(param(key, default)?).map_err(|_| bad(table, format!("{root}: \"{key}\" is out of range")))
    };
    let data_type = match root {
        "BOOLEAN" => DataType::Boolean,
        "TINYINT" => DataType::TinyInt,
        "SMALLINT" => DataType::SmallInt,
        "INTEGER" => DataType::Int,
        "BIGINT" => DataType::BigInt,
        "FLOAT" => DataType::Float,
        "DOUBLE" => DataType::Double,
        "STRING" => DataType::String,
        "BYTES" => DataType::Bytes,
        "DATE" => DataType::Date,
        "CHAR" => DataType::Char { length: param("length", None)? },
        "BINARY" => DataType::Binary { length: param("length", Some(1))? },
        "DECIMAL" => DataType::Decimal { precision: small("precision", None)?, scale: small("scale", Some(0))? },
        "TIME_WITHOUT_TIME_ZONE" => DataType::Time { precision: small("precision", Some(0))? },
        "TIMESTAMP_WITHOUT_TIME_ZONE" => DataType::Timestamp { precision: small("precision", Some(6))? },
        "TIMESTAMP_WITH_LOCAL_TIME_ZONE" => DataType::TimestampLtz { precision: small("precision", Some(6))? },
        "ARRAY" | "MAP" | "ROW" => {
            return Err(Error::Unsupported { what: format!("{root} columns (table '{table}')") })
        }
        other => return Err(bad(table, format!("unknown type \"{other}\""))),
    };
    data_type.validate()?;
    Ok((data_type, nullable))
}

fn strings(table: &str, node: Option<&Value>, what: &str) -> Result<Option<Vec<String>>> {
    let Some(node) = node else { return Ok(None) };
    let array = node.as_array().ok_or_else(|| bad(table, format!("\"{what}\" must be an array")))?;
    let names = array
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(table, format!("\"{what}\" holds a non-string"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(names))
}

/// Parses a schema JSON: the columns (schema id 0; the id is not part of the JSON) and the
/// primary key (empty when absent).
pub fn parse_schema_json(table: &str, node: &Value) -> Result<(Schema, Vec<String>)> {
    let columns = node.get("columns").and_then(Value::as_array).ok_or_else(|| bad(table, "no \"columns\" array"))?;
    let columns = columns
        .iter()
        .map(|c| {
            let name = c.get("name").and_then(Value::as_str).ok_or_else(|| bad(table, "a column without \"name\""))?;
            let data_type =
                c.get("data_type").ok_or_else(|| bad(table, format!("column '{name}' has no \"data_type\"")))?;
            let (data_type, nullable) = parse_data_type(table, data_type)?;
            Ok(Column { name: name.to_string(), data_type, nullable })
        })
        .collect::<Result<Vec<_>>>()?;
    let primary_key = strings(table, node.get("primary_key"), "primary_key")?.unwrap_or_default();
    let mut schema = Schema::new(columns);
    // As Fluss's schema builder does: primary-key columns are NOT NULL.
    for c in schema.columns.iter_mut().filter(|c| primary_key.contains(&c.name)) {
        c.nullable = false;
    }
    Ok((schema, primary_key))
}

/// Parses a table-descriptor JSON (e.g. a CreateTable request's `table_json`) into a
/// validated descriptor named `name`.
pub fn parse_table_json(name: &str, bytes: &[u8]) -> Result<TableDescriptor> {
    if bytes.len() > FLUSS_JSON_BYTES_MAX {
        return Err(bad(name, format!("{} bytes is over the limit of {FLUSS_JSON_BYTES_MAX}", bytes.len())));
    }
    let node: Value = serde_json::from_slice(bytes).map_err(|e| bad(name, e.to_string()))?;
    let schema = node.get("schema").ok_or_else(|| bad(name, "no \"schema\""))?;
    let (schema, primary_key) = parse_schema_json(name, schema)?;
    let partition_keys =
        strings(name, node.get("partition_key"), "partition_key")?.ok_or_else(|| bad(name, "no \"partition_key\""))?;
    let bucket_key = strings(name, node.get("bucket_key"), "bucket_key")?.filter(|k| !k.is_empty());
    let bucket_count = match node.get("bucket_count") {
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| bad(name, "bad \"bucket_count\""))?,
        None => 1,
    };
    let mut properties = BTreeMap::new();
    for key in ["properties", "custom_properties"] {
        let map = node.get(key).and_then(Value::as_object).ok_or_else(|| bad(name, format!("no \"{key}\" object")))?;
        for (k, v) in map {
            let v = v.as_str().ok_or_else(|| bad(name, format!("property '{k}' is not a string")))?;
            properties.insert(k.clone(), v.to_string());
        }
    }
    let mut desc = TableDescriptor::log_table(name, schema);
    desc.primary_key = primary_key;
    desc.partition_keys = partition_keys;
    desc.bucket_count = bucket_count;
    desc.properties = properties;
    // The default bucket key of a PK table is kept implicit, as rill stores it.
    desc.bucket_key = bucket_key.filter(|k| *k != desc.effective_bucket_key());
    desc.validate()?;
    Ok(desc)
}
