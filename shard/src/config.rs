//! Configuration of an embedded rill.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The wall clock rill reads for catalog times (created times, auto-partitioning), epoch ms.
/// Tests swap in a controllable one.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now_ms))
    }

    /// The system clock.
    pub fn system() -> Self {
        Self::new(crate::catalog::now_ms)
    }

    /// Now, epoch ms.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock(now_ms = {})", self.now_ms())
    }
}

/// How to open a [`crate::Rill`]. Every limit has its unit in its name.
#[derive(Clone, Debug)]
pub struct RillConfig {
    /// Root of all data: `LOCK`, `catalog.json`, `tables/<table id>/b<bucket>/` and, for
    /// partitioned tables, `tables/<table id>/p<partition id>/b<bucket>/`.
    pub data_dir: PathBuf,
    /// Number of shards (executor threads). Pinned one per CPU (see `shard_cpus`) when there
    /// are enough CPUs, unbound otherwise (tests run 4 shards on 2 cores).
    pub shards: usize,
    /// The CPUs the shards are pinned to: shard `i` on `shard_cpus[i]` (one per shard, no CPU
    /// twice, each online and in the process's cgroup cpuset; otherwise `Rill::open` fails
    /// before touching the directory). Empty (the default): the first `shards` of those CPUs
    /// in order, when there are enough; unbound otherwise. The calling thread's own affinity
    /// does not narrow them. Shards that read from disk do best on the CPUs that take the
    /// device's interrupts (docs/operations.md).
    pub shard_cpus: Vec<usize>,
    /// Most requests waiting in one shard's queue; beyond it calls fail with `QueueFull`.
    pub queue_depth_max: usize,
    /// The block cache of each shard, shared by all its primary-key buckets.
    pub block_cache_bytes_per_shard: usize,
    /// Memtable size per primary-key bucket beyond which the shard queues a flush (the
    /// writer does not wait for it; `memtable_bytes_max_per_shard` bounds the total).
    pub memtable_bytes_max: usize,
    /// `LogConfig::zero_fill_bytes` of every bucket's log, a log table's or a primary-key
    /// table's changelog (8 MiB; 0 = off): while a log's writes are small, background
    /// maintenance keeps this much of its active segment zeroed ahead of the data, so each
    /// durable append syncs with a cache flush instead of a metadata commit
    /// (docs/operations.md).
    pub log_zero_fill_bytes: u64,
    /// Memory glommio registers with io_uring per shard.
    pub io_memory_bytes: usize,
    /// Sum of the memtables of one shard's primary-key buckets. A write that finds the shard
    /// over it first has the largest memtables flushed (it waits, bounded by
    /// `write_stall_ms_max`); a write under it never waits.
    pub memtable_bytes_max_per_shard: usize,
    /// Longest a write waits for the shard to get back under `memtable_bytes_max_per_shard`;
    /// beyond it the write fails with `Error::WriteStalled` (nothing is written).
    pub write_stall_ms_max: u64,
    /// Pause between two rounds of background maintenance (flush, compaction, garbage
    /// collection) on each shard.
    pub maintenance_interval_ms: u64,
    /// A non-empty memtable that received no write for this long is flushed in the
    /// background (so recovery has little to replay).
    pub memtable_idle_flush_ms: u64,
    /// How often each shard enforces log retention on every bucket it owns (log tables and
    /// the changelogs of primary-key tables).
    pub retention_check_interval_ms: u64,
    /// How long an idle shard keeps polling (busy, no system calls) for new requests and I/O
    /// completions before it parks. A request that arrives meanwhile costs no wake-up on
    /// either side; one that arrives later pays a cross-thread wake-up (an eventfd write and
    /// an inter-processor interrupt, ~15 µs in a VM). 0 (the default) parks at once. The core
    /// is busy for at most this long after each burst of work, and a spinning shard does not
    /// give way to other threads on its core: set it only when callers run on cores no shard
    /// is pinned to (e.g. `shards` = nproc - 1 and the callers on the last core). While set,
    /// the shard also answers requests inline and polls its queue itself (see
    /// `runtime/shard.rs`: round trip ~1.6 µs instead of ~7 µs). Only pinned shards spin
    /// (glommio ignores it for unbound ones: more shards than CPUs).
    pub shard_spin_us: u64,
    /// Run the merge of each compaction step (read the inputs, merge, write and sync the
    /// outputs) on the next shard (`index + 1` mod `shards`) instead of the bucket's own; the
    /// owner still plans the step and installs its outputs (`runtime/merge_peer.rs`). A bucket
    /// whose writes keep its core busy then does not also merge on it (on by default; a single
    /// shard merges on itself either way).
    pub compaction_merges_on_peer: bool,
    /// How often shard 0 runs a round of auto-partitioning (pre-create the coming partitions,
    /// drop expired ones) for tables with `table.auto-partition.enabled`.
    pub auto_partition_check_interval_ms: u64,
    /// Most partitions one table may have (Fluss's `max.partition.num`); creating one more is
    /// `Error::TooManyPartitions`.
    pub partitions_per_table_max: usize,
    /// The clock for created times and auto-partitioning (default: system time).
    pub clock: Clock,
}

impl RillConfig {
    /// Defaults: one shard per available CPU.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shard_cpus: Vec::new(),
            queue_depth_max: 4096,
            block_cache_bytes_per_shard: 64 << 20,
            memtable_bytes_max: 16 << 20,
            log_zero_fill_bytes: 8 << 20,
            io_memory_bytes: 2 << 20,
            memtable_bytes_max_per_shard: 256 << 20,
            write_stall_ms_max: 10_000,
            maintenance_interval_ms: 100,
            memtable_idle_flush_ms: 60_000,
            retention_check_interval_ms: 300_000,
            shard_spin_us: 0,
            compaction_merges_on_peer: true,
            auto_partition_check_interval_ms: 60_000,
            partitions_per_table_max: 1000,
            clock: Clock::system(),
        }
    }

    /// The same with `shards` shards.
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// The CPU each shard of a `Rill` opened with this configuration will run on (`None`: not
    /// pinned, when there are more shards than allowed CPUs), by the rule `Rill::open` applies
    /// (`shard_cpus`, else the first allowed CPUs in order; see
    /// [`crate::runtime::allowed_cpus`]). A program embedding rill uses it to keep its own
    /// threads off the shards' CPUs. Fails as `Rill::open` would for a `shard_cpus` that does
    /// not fit.
    pub fn planned_shard_cpus(&self) -> crate::Result<Vec<Option<usize>>> {
        let allowed = crate::runtime::allowed_cpus();
        let placements = crate::runtime::placement::placements(self.shards.max(1), &self.shard_cpus, &allowed)?;
        Ok(placements
            .into_iter()
            .map(|p| match p {
                glommio::Placement::Fixed(cpu) => Some(cpu),
                _ => None,
            })
            .collect())
    }

    /// The same with `clock` for created times and auto-partitioning.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}
