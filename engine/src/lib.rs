//! rill-engine: the storage of one shard.
//!
//! - [`schema`]: Fluss data types, schemas and table descriptors.
//! - [`batch`]: Fluss's LogRecordBatch, byte for byte, with statistics and zero-copy projection.
//! - [`predicate`]: predicates over columns, for batch pruning and exact row filters.
//! - [`log`]: the append log of one bucket behind a `Storage` seam (io_uring or simulated).
//!
//! No threads and no sockets live here: the shard crate drives this code on its executor.

pub mod batch;
pub mod error;
pub mod kv;
pub mod log;
pub mod predicate;
pub mod row;
pub mod schema;
pub mod table;

pub use error::{Error, Result};
