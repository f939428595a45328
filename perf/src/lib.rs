//! rill-perf: the `rill-bench` harness and what the criterion benches share with it.
//!
//! - [`data`]: table schemas and Arrow batches built to a chosen encoded size
//! - [`log_append`]: the durable-append workload on one io_uring log
//! - [`fio`]: the peer measurement (`perf/scripts/fio.sh`) and its JSON
//! - [`machine`]: what the numbers were measured on
//! - [`report`]: results files under `bench-results/` and the cross-run `summary.json`
//! - [`criterion_summary`]: medians of a criterion run as Markdown

pub mod criterion_summary;
pub mod data;
pub mod fio;
pub mod log_append;
pub mod machine;
pub mod report;

/// Error of the harness: what failed, in words (the engine's errors are turned into text).
pub type Result<T> = std::result::Result<T, String>;
