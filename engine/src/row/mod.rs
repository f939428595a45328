//! Fluss's row formats for primary-key tables, byte for byte as fluss-rs 1.0.0 writes them.
//!
//! - [`varint`]: unsigned LEB128, the integer encoding used throughout.
//! - [`compacted_writer`] / [`compacted_reader`]: CompactedRow, the KV value format (null
//!   bitset + packed fields), from and to Arrow columns. [`field_writer`] tables the per-type
//!   byte rules, with [`decimal`] and [`temporal`] for the conversions. (Private: the
//!   decoder's output columns and a bounds-checked byte cursor.)
//! - [`key`]: the compacted key (the fields without a bitset); a key prefix is a byte prefix.
//! - [`bucket`]: Fluss's Murmur3-based bucket of a key.
//! - [`kv_batch`]: KvRecordBatch, what PutKv carries: parse with validation, and a builder.
//! - [`lookup_value`](mod@lookup_value): `[schema_id][row]`, what Lookup answers with.

pub mod bucket;
mod column_builder;
pub mod compacted_reader;
pub mod compacted_writer;
mod cursor;
pub mod decimal;
pub mod field_writer;
pub mod key;
pub mod kv_batch;
pub mod lookup_value;
pub mod temporal;
pub mod varint;

#[cfg(test)]
mod compacted_tests;

pub use bucket::bucket_of;
pub use compacted_reader::RowDecoder;
pub use compacted_writer::{encode_row, null_bitset_len};
pub use key::{encode_key, encode_keys};
pub use kv_batch::{KvBatch, KvBatchBuilder, KvRecord, KvRecords, KEY_BYTES_MAX};
pub use lookup_value::{encode_lookup_value, lookup_value, split_lookup_value};
