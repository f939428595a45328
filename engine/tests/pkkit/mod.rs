//! Shared pieces of the primary-key table tests: the `id BIGINT` PK + `v STRING` table, its
//! encoded keys, and the small LSM the flush and compaction tests run on.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::LogConfig;
use rill_engine::row::key::encode_key;
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_engine::table::{KvWrite, PkConfig};

/// `id BIGINT NOT NULL` (the primary key) + `v STRING`.
pub fn schema() -> Schema {
    Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::new("v", DataType::String)])
}

/// The encoded primary keys of `ids`.
pub fn keys(ids: &[i64]) -> Vec<Vec<u8>> {
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(vec![""; ids.len()]))];
    (0..ids.len())
        .map(|i| {
            let mut k = Vec::new();
            encode_key(&schema(), &[0], &columns, i, &mut k).unwrap();
            k
        })
        .collect()
}

/// A write of rows `ids` with `values` (upserts, or deletes with `delete`), no writer id.
pub fn write_of(ids: &[i64], values: &[String], delete: bool) -> KvWrite {
    let rows = RecordBatch::try_new(
        schema().to_arrow(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(values)) as ArrayRef,
        ],
    )
    .unwrap();
    KvWrite {
        keys: keys(ids),
        deleted: vec![delete; ids.len()],
        rows,
        target_columns: None,
        writer_id: -1,
        batch_sequence: -1,
    }
}

/// Values `<tag>-<id>` of `ids`.
pub fn tagged(ids: &[i64], tag: &str) -> Vec<String> {
    ids.iter().map(|i| format!("{tag}-{i}")).collect()
}

/// Table `db.t` keyed by `id`, its changelog kept forever, over an LSM of small memtables,
/// levels and SSTs (32 KiB memtables, L0 trigger 3, L1 64 KiB x3, 32 KiB SSTs).
pub fn small_table() -> (TableDescriptor, PkConfig) {
    let mut desc = TableDescriptor::log_table("db.t", schema());
    desc.primary_key = vec!["id".into()];
    let mut log = LogConfig::new("db.t/b0", schema());
    log.retention_ms_max = None;
    let lsm = LsmConfig {
        memtable_bytes_max: 32 * 1024,
        l0_compaction_trigger: 3,
        l1_bytes_target: 64 * 1024,
        level_size_multiplier: 3,
        sst_bytes_target: 32 * 1024,
        merge_chunk_rows: 256,
        ..LsmConfig::default()
    };
    (desc, PkConfig { log, lsm })
}
