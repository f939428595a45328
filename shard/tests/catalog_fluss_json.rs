//! The catalog's Fluss JSON (`table_json`, `schema_json`) against fixtures derived from
//! fluss-rs 1.0's `JsonSerde` impls (`metadata/json_serde.rs`: `TableDescriptor`, `Schema`,
//! `Column`, `DataType`), parsed by fluss-rs itself, and parsed back by rill.
#![allow(clippy::unwrap_used)]

mod common;

use fluss::metadata::{JsonSerde, Schema as FlussSchema, TableDescriptor as FlussDescriptor};
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_shard::catalog::fluss_json::parse_table_json;
use serde_json::{json, Value};

fn orders() -> TableDescriptor {
    let schema = Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::not_null("dt", DataType::Char { length: 10 }),
        Column::new("price", DataType::Decimal { precision: 10, scale: 2 }),
        Column::new("at", DataType::TimestampLtz { precision: 3 }),
        Column::new("local", DataType::Timestamp { precision: 6 }),
        Column::new("t", DataType::Time { precision: 0 }),
        Column::new("raw", DataType::Binary { length: 4 }),
        Column::new("ok", DataType::Boolean),
        Column::new("n", DataType::Int),
        Column::new("s", DataType::String),
    ]);
    let mut d = TableDescriptor::log_table("db.orders", schema);
    d.primary_key = vec!["id".into(), "dt".into()];
    d.bucket_count = 3;
    d.properties.insert("table.log.arrow.compression.type".into(), "LZ4_FRAME".into());
    d.properties.insert("owner".into(), "ops".into());
    d
}

/// What fluss-rs writes for `orders()` (JsonSerde: `nullable` only when false; DECIMAL has
/// precision and scale; CHAR/BINARY a length; the time types a precision; every column an id).
fn orders_schema_fixture(extra: &[Value]) -> Value {
    let mut columns = vec![
        json!({"name": "id", "data_type": {"type": "BIGINT", "nullable": false}, "id": 0}),
        json!({"name": "dt", "data_type": {"type": "CHAR", "nullable": false, "length": 10}, "id": 1}),
        json!({"name": "price", "data_type": {"type": "DECIMAL", "precision": 10, "scale": 2}, "id": 2}),
        json!({"name": "at", "data_type": {"type": "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "precision": 3}, "id": 3}),
        json!({"name": "local", "data_type": {"type": "TIMESTAMP_WITHOUT_TIME_ZONE", "precision": 6}, "id": 4}),
        json!({"name": "t", "data_type": {"type": "TIME_WITHOUT_TIME_ZONE", "precision": 0}, "id": 5}),
        json!({"name": "raw", "data_type": {"type": "BINARY", "length": 4}, "id": 6}),
        json!({"name": "ok", "data_type": {"type": "BOOLEAN"}, "id": 7}),
        json!({"name": "n", "data_type": {"type": "INTEGER"}, "id": 8}),
        json!({"name": "s", "data_type": {"type": "STRING"}, "id": 9}),
    ];
    columns.extend(extra.iter().cloned());
    json!({
        "version": 1,
        "columns": columns,
        "primary_key": ["id", "dt"],
        "highest_field_id": columns.len() - 1,
    })
}

fn orders_table_fixture(schema: Value) -> Value {
    json!({
        "version": 1,
        "schema": schema,
        "partition_key": [],
        "bucket_key": ["id", "dt"],
        "bucket_count": 3,
        "properties": {"table.log.arrow.compression.type": "LZ4_FRAME"},
        "custom_properties": {"owner": "ops"},
    })
}

#[test]
fn table_and_schema_json_match_fluss_and_parse_with_fluss_rs() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    let info = rill.create_table(orders()).unwrap();
    let table: Value = serde_json::from_str(&info.table_json().unwrap()).unwrap();
    assert_eq!(table, orders_table_fixture(orders_schema_fixture(&[])));
    let schema: Value = serde_json::from_str(&info.schema_json(0).unwrap()).unwrap();
    assert_eq!(schema, orders_schema_fixture(&[]));
    assert_eq!((info.fluss_table_id(), info.created_ms), (1, info.modified_ms));

    // fluss-rs parses both, and writes them back identically.
    let parsed = FlussDescriptor::deserialize_json(&table).unwrap();
    assert_eq!(parsed.serialize_json().unwrap(), table);
    assert_eq!(parsed.table_distribution().unwrap().bucket_count(), Some(3));
    let parsed = FlussSchema::deserialize_json(&schema).unwrap();
    assert_eq!(parsed.serialize_json().unwrap(), schema);
    assert_eq!(parsed.primary_key_column_names(), ["id", "dt"]);

    // rill parses its own JSON back to the same descriptor.
    assert_eq!(parse_table_json("db.orders", info.table_json().unwrap().as_bytes()).unwrap(), info.descriptor);

    // After a change: the new schema has the next column id; the old one is still served.
    let evolved = rill.add_columns("db.orders", vec![Column::new("note", DataType::String)]).unwrap();
    let note = json!({"name": "note", "data_type": {"type": "STRING"}, "id": 10});
    let schema1: Value = serde_json::from_str(&evolved.schema_json(1).unwrap()).unwrap();
    assert_eq!(schema1, orders_schema_fixture(std::slice::from_ref(&note)));
    let table1: Value = serde_json::from_str(&evolved.table_json().unwrap()).unwrap();
    assert_eq!(table1, orders_table_fixture(orders_schema_fixture(&[note])));
    assert_eq!(FlussDescriptor::deserialize_json(&table1).unwrap().serialize_json().unwrap(), table1);
    let schema0: Value = serde_json::from_str(&evolved.schema_json(0).unwrap()).unwrap();
    assert_eq!(schema0, schema);
    assert!(evolved.schema_json(2).unwrap_err().to_string().contains("no schema with id 2"));
    rill.shutdown();
}

#[test]
fn a_log_table_has_an_empty_bucket_key_and_no_primary_key() {
    let mut d = common::log_table("db.events", 2);
    d.bucket_key = Some(vec!["id".into()]);
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    let info = rill.create_table(d).unwrap();
    let table: Value = serde_json::from_str(&info.table_json().unwrap()).unwrap();
    let expected = json!({
        "version": 1,
        "schema": {"version": 1, "columns": [
            {"name": "id", "data_type": {"type": "BIGINT", "nullable": false}, "id": 0},
            {"name": "city", "data_type": {"type": "STRING"}, "id": 1}], "highest_field_id": 1},
        "partition_key": [], "bucket_key": ["id"], "bucket_count": 2,
        "properties": {}, "custom_properties": {},
    });
    assert_eq!(table, expected);
    assert_eq!(FlussDescriptor::deserialize_json(&table).unwrap().serialize_json().unwrap(), table);
    let plain = rill.create_table(common::log_table("db.plain", 1)).unwrap();
    let table: Value = serde_json::from_str(&plain.table_json().unwrap()).unwrap();
    assert_eq!(table["bucket_key"], json!([]));
    assert_eq!(parse_table_json("db.plain", plain.table_json().unwrap().as_bytes()).unwrap(), plain.descriptor);
    rill.shutdown();
}

#[test]
fn bad_fluss_json_is_refused() {
    let bad = |json: &str| parse_table_json("db.t", json.as_bytes()).unwrap_err().to_string();
    assert!(bad("{").contains("Fluss JSON"));
    assert!(bad(r#"{"version":1,"partition_key":[],"properties":{},"custom_properties":{}}"#).contains("\"schema\""));
    let with_type = |t: &str| {
        format!(
            r#"{{"version":1,"schema":{{"version":1,"columns":[{{"name":"a","data_type":{t}}}]}},
               "partition_key":[],"properties":{{}},"custom_properties":{{}}}}"#
        )
    };
    assert!(bad(&with_type(r#"{"type":"NOPE"}"#)).contains("unknown type \"NOPE\""));
    assert!(bad(&with_type(r#"{"type":"CHAR"}"#)).contains("CHAR needs \"length\""));
    assert!(bad(&with_type(r#"{"type":"ARRAY","element_type":{"type":"INTEGER"}}"#)).contains("ARRAY"));
    let ok = parse_table_json("db.t", with_type(r#"{"type":"DECIMAL","precision":5}"#).as_bytes()).unwrap();
    assert_eq!(ok.schema.columns[0].data_type, DataType::Decimal { precision: 5, scale: 0 });
    assert_eq!(ok.bucket_count, 1);
}
