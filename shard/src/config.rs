//! Configuration of an embedded rill.

use std::path::PathBuf;

/// How to open a [`crate::Rill`]. Every limit has its unit in its name.
#[derive(Clone, Debug)]
pub struct RillConfig {
    /// Root of all data: `LOCK`, `catalog.json` and `tables/<table id>/b<bucket>/`.
    pub data_dir: PathBuf,
    /// Number of shards (executor threads). Pinned one per CPU when `shards <= nproc`,
    /// unbound otherwise (tests run 4 shards on 2 cores).
    pub shards: usize,
    /// Most requests waiting in one shard's queue; beyond it calls fail with `QueueFull`.
    pub queue_depth_max: usize,
    /// The block cache of each shard, shared by all its primary-key buckets.
    pub block_cache_bytes_per_shard: usize,
    /// Memtable size per primary-key bucket before it is flushed.
    pub memtable_bytes_max: usize,
    /// Memory glommio registers with io_uring per shard.
    pub io_memory_bytes: usize,
}

impl RillConfig {
    /// Defaults: one shard per available CPU.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue_depth_max: 4096,
            block_cache_bytes_per_shard: 64 << 20,
            memtable_bytes_max: 16 << 20,
            io_memory_bytes: 2 << 20,
        }
    }

    /// The same with `shards` shards.
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }
}
