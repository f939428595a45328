//! rill as a `KvStore`: one primary-key table bucket ([`PkTable`]) on io_uring storage,
//! with its compaction running in a background glommio task queue of low shares, as a shard
//! would run it.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use arrow_array::{Array, BinaryArray};
use glommio::{Latency, Shares, Task};
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{system_clock, LogConfig, UringStorage};
use rill_engine::table::{KvWrite, PkConfig, PkTable};

use crate::kv_bench::KvConfig;
use crate::kv_data;
use crate::kv_offload::CompactionHelper;
use crate::kv_store::KvStore;
use crate::poll_timer::{timed, PollStats};
use crate::Result;

/// How long the compaction task sleeps when nothing is due.
const COMPACTION_IDLE: Duration = Duration::from_millis(10);
/// How often the flush task looks at the memtable.
const FLUSH_POLL: Duration = Duration::from_millis(5);
/// The memtable limit handed to the engine, never reached: the flush task flushes at the
/// budget instead, so a write never waits for a flush (as a shard runs it).
const ENGINE_MEMTABLE_BYTES_MAX: usize = usize::MAX / 8;
/// Shares of the compaction task queue (the default queue, where the benchmark runs, has 1000).
const COMPACTION_SHARES: usize = 250;

type Table = PkTable<UringStorage>;

/// An open rill table and its background tasks (flush, compaction).
pub struct RillStore {
    table: Rc<Table>,
    compactor: Cell<Option<Compactor>>,
    /// Flush beyond this many memtable bytes (`LsmConfig::default().memtable_bytes_max`);
    /// writers wait for a flush only beyond twice it.
    memtable_budget: usize,
    /// The largest memtable seen after a write since open (its budget is
    /// `LsmConfig::memtable_bytes_max`; a flush is skipped while a compaction runs).
    memtable_peak_bytes: Cell<usize>,
    /// Poll times of the background tasks (since the last settle).
    polls: TaskPolls,
    /// Where compaction merges run when not here (`KvConfig::rill_compaction_cpu`).
    helper: Option<Rc<CompactionHelper>>,
}

/// Poll times of the compaction and the flush task.
#[derive(Default)]
struct TaskPolls {
    compaction: Rc<PollStats>,
    flush: Rc<PollStats>,
}

impl TaskPolls {
    fn reset(&self) {
        self.compaction.reset();
        self.flush.reset();
    }
}

struct Compactor {
    stop: Rc<Cell<bool>>,
    task: Task<Result<usize>>,
    flusher: Task<Result<usize>>,
    zeroer: Task<Result<u64>>,
}

impl RillStore {
    fn start_compactor(
        table: &Rc<Table>,
        memtable_budget: usize,
        polls: &TaskPolls,
        helper: &Option<Rc<CompactionHelper>>,
    ) -> Result<Compactor> {
        let queue = glommio::executor().create_task_queue(
            Shares::Static(COMPACTION_SHARES),
            Latency::NotImportant,
            "compaction",
        );
        let stop = Rc::new(Cell::new(false));
        let (t, s, h) = (Rc::clone(table), Rc::clone(&stop), helper.clone());
        let task = glommio::spawn_local_into(timed(compact_until(t, s, h), Rc::clone(&polls.compaction)), queue)
            .map_err(|e| format!("spawning the compaction task: {e}"))?;
        let (t, s) = (Rc::clone(table), Rc::clone(&stop));
        let flusher =
            glommio::spawn_local_into(timed(flush_until(t, s, memtable_budget), Rc::clone(&polls.flush)), queue)
                .map_err(|e| format!("spawning the flush task: {e}"))?;
        let (t, s) = (Rc::clone(table), Rc::clone(&stop));
        let zeroer = glommio::spawn_local_into(zero_fill_until(t, s), queue)
            .map_err(|e| format!("spawning the zero fill task: {e}"))?;
        Ok(Compactor { stop, task, flusher, zeroer })
    }

    async fn stop_compactor(&self) -> Result<()> {
        if let Some(c) = self.compactor.take() {
            c.stop.set(true);
            c.task.await?;
            c.flusher.await?;
            c.zeroer.await?;
        }
        Ok(())
    }

    /// The table (for the criterion benches and tests).
    pub fn table(&self) -> &Table {
        &self.table
    }
}

/// Flushes the memtable whenever it is over `budget`, until told to stop; returns the
/// number of flushes.
async fn flush_until(table: Rc<Table>, stop: Rc<Cell<bool>>, budget: usize) -> Result<usize> {
    let mut flushes = 0;
    while !stop.get() {
        if table.lsm().memtable_bytes() > budget {
            table.flush().await.map_err(|e| format!("flush: {e}"))?;
            flushes += 1;
        } else {
            glommio::timer::sleep(FLUSH_POLL).await;
        }
    }
    Ok(flushes)
}

/// Zeroes ahead of the changelog's data (`Log::zero_fill_step`, as a shard's maintenance
/// does) until told to stop; returns the bytes zeroed.
async fn zero_fill_until(table: Rc<Table>, stop: Rc<Cell<bool>>) -> Result<u64> {
    let mut zeroed = 0;
    while !stop.get() {
        match table.log().zero_fill_step().await.map_err(|e| format!("zero fill: {e}"))? {
            0 => glommio::timer::sleep(FLUSH_POLL).await,
            n => zeroed += n,
        }
    }
    Ok(zeroed)
}

/// Runs one compaction step, its merge on `helper` when there is one; returns whether it did
/// anything.
async fn compact_step(table: &Table, helper: Option<&CompactionHelper>) -> Result<bool> {
    let stepped = match helper {
        Some(h) => table.lsm().compact_once_with(|job| h.run(job)).await,
        None => table.lsm().compact_once().await,
    };
    stepped.map_err(|e| format!("compaction: {e}"))
}

/// Runs compaction steps until told to stop; returns the number of steps.
async fn compact_until(table: Rc<Table>, stop: Rc<Cell<bool>>, helper: Option<Rc<CompactionHelper>>) -> Result<usize> {
    let mut steps = 0;
    while !stop.get() {
        if compact_step(&table, helper.as_deref()).await? {
            steps += 1;
        } else {
            glommio::timer::sleep(COMPACTION_IDLE).await;
        }
    }
    Ok(steps)
}

impl KvStore for RillStore {
    type Batch = KvWrite;

    async fn open(dir: &Path, cache_bytes: usize, config: &KvConfig) -> Result<Self> {
        let storage = UringStorage::open(dir).await.map_err(|e| format!("opening {}: {e}", dir.display()))?;
        let desc = kv_data::kv_descriptor(config.changelog_image.as_deref());
        let mut log = LogConfig::new(format!("{}/b0", kv_data::TABLE), kv_data::kv_schema());
        log.zero_fill_bytes = config.rill_zero_fill_bytes;
        let pk = PkConfig { log, lsm: lsm_config(config) };
        let cache = Rc::new(BlockCache::new(cache_bytes));
        let table = PkTable::open(storage, desc, pk, cache, system_clock())
            .await
            .map_err(|e| format!("opening the rill table in {}: {e}", dir.display()))?;
        let table = Rc::new(table);
        let memtable_budget = LsmConfig::default().memtable_bytes_max;
        let polls = TaskPolls::default();
        let helper = match config.rill_compaction_cpu {
            Some(cpu) => Some(Rc::new(CompactionHelper::start(cpu, dir.to_path_buf()).await?)),
            None => None,
        };
        let compactor = Self::start_compactor(&table, memtable_budget, &polls, &helper)?;
        Ok(Self {
            table,
            compactor: Cell::new(Some(compactor)),
            memtable_budget,
            memtable_peak_bytes: Cell::new(0),
            polls,
            helper,
        })
    }

    fn name(&self) -> &'static str {
        "rill"
    }

    fn prepare(&self, ids: &[u64], version: u64, value_bytes: usize) -> Result<KvWrite> {
        let (keys, rows) = kv_data::rows(ids, version, value_bytes)?;
        Ok(KvWrite {
            keys,
            rows,
            deleted: vec![false; ids.len()],
            target_columns: None,
            writer_id: -1,
            batch_sequence: -1,
        })
    }

    async fn write(&self, batch: KvWrite) -> Result<()> {
        self.table.write(batch).await.map_err(|e| format!("rill write: {e}"))?;
        let memtable = self.table.lsm().memtable_bytes();
        self.memtable_peak_bytes.set(self.memtable_peak_bytes.get().max(memtable));
        if memtable > 2 * self.memtable_budget {
            // Writes outran the flush task: wait for a flush (memory stays bounded).
            self.table.flush().await.map_err(|e| format!("rill flush: {e}"))?;
        }
        Ok(())
    }

    async fn get(&self, key: &[u8], expect: Option<&[u8]>) -> Result<bool> {
        let keys = [key.to_vec()];
        let found = self.table.lookup(&keys).await.map_err(|e| format!("rill lookup: {e}"))?;
        let hit = found.found.first().copied().unwrap_or(false);
        if let (true, Some(expected)) = (hit, expect) {
            let values = found.rows.column(1).as_any().downcast_ref::<BinaryArray>();
            let value = values.filter(|v| !v.is_empty() && v.is_valid(0)).map(|v| v.value(0));
            if value != Some(expected) {
                return Err(format!("rill lookup of key {key:02x?} returned a wrong value"));
            }
        }
        Ok(hit)
    }

    async fn settle(&self) -> Result<()> {
        self.stop_compactor().await?;
        self.table.flush().await.map_err(|e| format!("rill flush: {e}"))?;
        while compact_step(&self.table, self.helper.as_deref()).await? {}
        self.polls.reset();
        self.compactor.set(Some(Self::start_compactor(&self.table, self.memtable_budget, &self.polls, &self.helper)?));
        Ok(())
    }

    fn shape(&self) -> String {
        let lsm = self.table.lsm();
        let files = lsm.level_sizes();
        let bytes = lsm.level_bytes();
        let levels: Vec<String> = files
            .iter()
            .zip(&bytes)
            .enumerate()
            .filter(|(_, (f, _))| **f > 0)
            .map(|(l, (f, b))| format!("L{l}: {f} SSTs, {:.1} MiB", *b as f64 / (1 << 20) as f64))
            .collect();
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        format!(
            "{}; memtable {:.1} MiB (largest after a write since open: {:.1} MiB, budget {} MiB); log {} segments; {}; polls of the compaction task since the last settle: {}; of the flush task: {}",
            if levels.is_empty() { "no SSTs".to_string() } else { levels.join(", ") },
            mib(lsm.memtable_bytes()),
            mib(self.memtable_peak_bytes.get()),
            self.memtable_budget >> 20,
            self.table.log().segment_count(),
            self.cache_note(),
            self.polls.compaction.describe(),
            self.polls.flush.describe()
        )
    }

    fn cache_note(&self) -> String {
        let s = self.table.lsm().cache().stats();
        format!(
            "block cache: {} blocks, {:.1} MiB used; {} hits, {} misses, {} evictions since open",
            s.entries,
            s.bytes as f64 / (1 << 20) as f64,
            s.hits,
            s.misses,
            s.evictions
        )
    }

    fn is_data_file(name: &str) -> bool {
        name.ends_with(".sst")
    }

    async fn close(self) -> Result<()> {
        self.stop_compactor().await?;
        let table = Rc::try_unwrap(self.table).map_err(|_| "the rill table is still shared at close".to_string())?;
        table.close().await.map_err(|e| format!("closing the rill table: {e}"))
    }
}

/// `LsmConfig::default()`, with the block size of `--rill-block-bytes`, flushing left to the
/// flush task.
fn lsm_config(config: &KvConfig) -> LsmConfig {
    let mut lsm = LsmConfig { memtable_bytes_max: ENGINE_MEMTABLE_BYTES_MAX, ..LsmConfig::default() };
    if let Some(bytes) = config.rill_block_bytes {
        lsm.sst.block_bytes_target = bytes;
    }
    lsm
}

/// How the rill table is set up, in words (for the results).
pub fn setup(config: &KvConfig) -> Vec<String> {
    let lsm = LsmConfig { memtable_bytes_max: LsmConfig::default().memtable_bytes_max, ..lsm_config(config) };
    vec![
        format!(
            "PkTable `id BIGINT NOT NULL` PK + `v BYTES`, default merge engine, table.changelog.image {}, changelog ZSTD, validate_payload off (the default), changelog zero_fill_bytes {}",
            config.changelog_image.as_deref().unwrap_or("FULL (default)"),
            match config.rill_zero_fill_bytes {
                0 => "0 (off, the default)".to_string(),
                n => format!("{n} (a background task runs the steps)"),
            }
        ),
        format!(
            "LsmConfig{}: memtable {} MiB, L0 trigger {}, L1 {} MiB x{}, SSTs {} MiB, blocks {} KiB, bloom {} bits/key, block compression {:?}, written blocks cached {:?}, compacted blocks warmed {}",
            if config.rill_block_bytes.is_some() { " (default but the block size)" } else { "::default()" },
            lsm.memtable_bytes_max >> 20,
            lsm.l0_compaction_trigger,
            lsm.l1_bytes_target >> 20,
            lsm.level_size_multiplier,
            lsm.sst_bytes_target >> 20,
            lsm.sst.block_bytes_target >> 10,
            lsm.sst.bloom_bits_per_key,
            lsm.sst.compression,
            lsm.cache_written_blocks,
            if lsm.warm_compacted_blocks { "on (the key ranges the cache held of the inputs, into the room they leave)" } else { "off" }
        ),
        "UringStorage (io_uring, O_DIRECT: no page cache); each write resolves after its changelog batch is fdatasynced (group commit)".into(),
        format!("compaction and flushes: tasks in a glommio task queue of {COMPACTION_SHARES} shares on the same executor (one core), as a shard runs them; compaction idle poll {} ms; the memtable is flushed when over its budget (polled every {} ms), writers wait for a flush only beyond twice the budget", COMPACTION_IDLE.as_millis(), FLUSH_POLL.as_millis()),
        match config.rill_compaction_cpu {
            Some(cpu) => format!("compaction merges (reading the inputs, merging, writing and syncing the outputs) run on a helper executor pinned to CPU {cpu}, as a peer shard runs them (`Lsm::compact_once_with` + `CompactionJob::execute`); the table's executor plans each step and installs it (manifest edit, opening the outputs); the settle's compactions too"),
            None => "compaction merges run on the table's executor".into(),
        },
        match config.cpu {
            Some(cpu) => format!(
                "executor pinned to CPU {cpu}, polls {} µs for completions before it parks (a shard's shard_spin_us)",
                config.rill_spin_us
            ),
            None => "executor not pinned, parks at once when idle (a shard's default shard_spin_us = 0)".into(),
        },
        "settle before gets: stop compaction task, PkTable::flush, compaction steps until no level is over its target".into(),
        "get = PkTable::lookup with one key (returns an Arrow batch of the found row)".into(),
    ]
}
