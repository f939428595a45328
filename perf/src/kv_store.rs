//! The seam between the KV benchmark and a store: rill's primary-key table
//! ([`crate::kv_rill::RillStore`]) or RocksDB ([`crate::rocks_peer::RocksStore`], behind the
//! `rocksdb` feature). The workload code in [`crate::kv_bench`] is written once against it, so
//! both stores are driven by the same loops and timed the same way.

use std::path::Path;

use crate::kv_bench::KvConfig;
use crate::Result;

/// A key-value store under test. Methods are `async` because rill's are; RocksDB's futures
/// are ready at once (its calls block the executor thread, which runs nothing else).
pub(crate) trait KvStore: Sized {
    /// A write built ahead of the timed call.
    type Batch;

    /// Opens (creating) the store in `dir` with a block cache of `cache_bytes`.
    async fn open(dir: &Path, cache_bytes: usize, config: &KvConfig) -> Result<Self>;

    /// The store as results name it (`rill`, `rocksdb`).
    fn name(&self) -> &'static str;

    /// Builds the write of `ids` at `version` (values from [`crate::kv_data::fill_value`]).
    fn prepare(&self, ids: &[u64], version: u64, value_bytes: usize) -> Result<Self::Batch>;

    /// Writes `batch`; returns once it is durable (synced).
    async fn write(&self, batch: Self::Batch) -> Result<()>;

    /// Point get of one key: whether it was found. With `expect`, a found value must equal it.
    async fn get(&self, key: &[u8], expect: Option<&[u8]>) -> Result<bool>;

    /// Flushes the memtable and waits until no compaction is due (the state gets start from).
    async fn settle(&self) -> Result<()>;

    /// The LSM's shape: files and bytes per level, in words.
    fn shape(&self) -> String;

    /// Block cache counters or usage, in words.
    fn cache_note(&self) -> String;

    /// Whether `name` (a file under the store's directory) holds table data (an SST), as
    /// opposed to the log/WAL, manifest or other files.
    fn is_data_file(name: &str) -> bool;

    /// Closes the store (rill flushes its memtable first).
    async fn close(self) -> Result<()>;
}
