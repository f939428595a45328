//! Merge engines of primary-key tables: how a write to a key combines with its stored row.
//!
//! - `datum`: [`Datum`], one value of a row, and the exact conversions between Arrow record
//!   batches and rows ([`DatumReader`], [`row_datums`], [`datums_to_batch`]).
//! - `properties`: the table properties that choose and configure the engine
//!   (`table.merge-engine`, `table.delete.behavior`, `fields.<column>.agg`, ...).
//! - `aggregate`: the per-column functions of the aggregation engine ([`AggFunction`]).
//! - `engine`: [`MergeEngine`], the upsert and delete rules of the four engines.

mod aggregate;
mod datum;
mod engine;
mod properties;

pub use aggregate::{AggFunction, FUNCTION_NAMES, LISTAGG_DEFAULT_DELIMITER};
pub use datum::{datums_to_batch, row_datums, Datum, DatumReader};
pub use engine::{MergeEngine, MergeKind, Outcome};
pub use properties::{DeleteBehavior, DELETE_BEHAVIOR, MERGE_ENGINE, VERSION_COLUMN};

#[cfg(test)]
mod engine_tests;
