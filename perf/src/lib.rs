//! rill-perf: the `rill-bench` harness and what the criterion benches share with it.
//!
//! - [`data`]: table schemas and Arrow batches built to a chosen encoded size
//! - [`log_append`]: the durable-append workload on one io_uring log
//! - [`fio`]: the peer measurement (`perf/scripts/fio.sh`) and its JSON
//! - [`machine`]: what the numbers were measured on
//! - [`report`]: results files under `bench-results/` and the cross-run `summary.json`
//! - [`criterion_summary`]: medians of a criterion run as Markdown
//! - [`kv_bench`]: the KV workloads (load, point gets, durable upserts) of rill and RocksDB,
//!   with [`kv_cli`] (options), [`kv_data`], [`kv_proc`], [`kv_rill`], `rocks_peer` (feature `rocksdb`)
//!   and [`kv_report`]
//! - [`embedded_bench`]: the workloads through the embedding API (`rill_shard::Rill`) beside the
//!   same work in-engine ([`embedded_peer`]), with [`embedded_report`]

pub mod criterion_summary;
pub mod cross_core;
pub mod data;
pub mod embedded_bench;
pub mod embedded_lookup_peer;
pub mod embedded_peer;
pub mod embedded_report;
pub mod fio;
pub mod kv_bench;
pub mod kv_cli;
pub mod kv_data;
pub mod kv_offload;
pub mod kv_proc;
pub mod kv_report;
pub mod kv_rill;
mod kv_store;
pub mod log_append;
pub mod machine;
pub mod poll_timer;
pub mod report;
#[cfg(feature = "rocksdb")]
pub mod rocks_peer;

/// Error of the harness: what failed, in words (the engine's errors are turned into text).
pub type Result<T> = std::result::Result<T, String>;
