//! The KV workloads (`kv-load`, `kv-get`, `kv-upsert`) of one store, run in one process.
//!
//! Phases, in order, on one glommio executor (the store under test is the only thing on it;
//! RocksDB's own background threads run beside it):
//!
//! 1. **load**: keys `0..keys` in batches of `load_batch` rows, each write durable, then
//!    `KvStore::settle` (flush + compactions until none is due). Write amplification =
//!    `/proc/self/io` `write_bytes` over the load and settle / logical bytes (key + value);
//!    space amplification = bytes of all files in the directory / logical bytes (and of the
//!    SSTs alone).
//! 2. **gets**, per cache size (smallest first): reopen the store with that block cache, warm
//!    it (cache >= data: one get of every key; else `warmup_ops` gets of the distribution),
//!    then per distribution `get_ops` single-key gets one at a time (or `get_seconds`), each
//!    timed from the call until the result.
//! 3. **upserts** on the store of the last (largest) cache: writes of `batch` random existing
//!    keys with new values, one at a time, each durable before the next starts.
//!
//! Peak RSS (`VmHWM`) is reset before each phase and read after it, so each phase has its
//! own peak; the process peak is the largest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::kv_data::{self, Distribution, KeyChooser};
use crate::kv_proc::{self, IoCounters};
use crate::kv_store::KvStore;
use crate::Result;

/// Gets between two checks of the clock and of a found value.
const CHECK_EVERY: u64 = 1024;

/// What to run (the same for every store; serialized to hand it to a child process).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KvConfig {
    /// The store's directory (emptied first, removed afterwards unless `keep`).
    pub dir: PathBuf,
    pub keys: u64,
    pub value_bytes: usize,
    /// Rows per write while loading.
    pub load_batch: usize,
    /// Rows per upsert write (each write durable).
    pub batch: usize,
    pub distributions: Vec<Distribution>,
    /// Block cache sizes to run the gets with.
    pub cache_bytes: Vec<u64>,
    /// Gets per (cache, distribution) run, and a time limit for it.
    pub get_ops: u64,
    pub get_seconds: f64,
    /// Gets of the distribution before measuring, when the cache is smaller than the data.
    pub warmup_ops: u64,
    /// Upsert phase length, and an optional write count limit.
    pub upsert_seconds: f64,
    pub upsert_writes: Option<u64>,
    pub upsert_distribution: Distribution,
    /// Zipfian skew.
    pub theta: f64,
    /// rill only: `table.changelog.image` (`FULL` by default, `WAL` skips reading old rows).
    pub changelog_image: Option<String>,
    /// rill only: `SstOptions::block_bytes_target` (the default, 4 KiB, when not given).
    pub rill_block_bytes: Option<usize>,
    /// rill's `LogConfig::zero_fill_bytes` for the changelog.
    #[serde(default)]
    pub rill_zero_fill_bytes: u64,
    /// rill only: how long its idle executor polls for completions before it parks (µs;
    /// glommio's `spin_before_park`, a shard's `shard_spin_us`). Needs `cpu`.
    #[serde(default)]
    pub rill_spin_us: u64,
    /// The CPU the system's benchmark thread is pinned to (its executor; RocksDB's own
    /// background threads stay unpinned); `None` = not pinned. rill's; the peers take
    /// `peer_cpu` instead.
    #[serde(default)]
    pub cpu: Option<usize>,
    /// The peers' `cpu`.
    #[serde(default)]
    pub peer_cpu: Option<usize>,
    /// rill only: run compaction merges on a helper executor pinned to this CPU (as a peer
    /// shard runs them); `None` = on the table's own executor.
    #[serde(default)]
    pub rill_compaction_cpu: Option<usize>,
    /// RocksDB only: `use_direct_reads` (O_DIRECT reads as rill's; off = RocksDB's default,
    /// reads through the page cache).
    pub rocks_direct_reads: bool,
    pub seed: u64,
    /// Keep the store's directory afterwards.
    pub keep: bool,
}

impl KvConfig {
    /// Logical bytes of the loaded data (encoded keys + values).
    pub fn logical_bytes(&self) -> u64 {
        kv_data::logical_bytes(self.keys, self.value_bytes)
    }

    /// How a cache size relates to the data: `cache-2x-data`, `data-4x-cache`.
    pub fn cache_label(&self, cache_bytes: u64) -> String {
        let data = self.logical_bytes().max(1) as f64;
        let c = cache_bytes as f64;
        let ratio = |r: f64| if (r - r.round()).abs() < 0.05 { format!("{}", r.round()) } else { format!("{r:.2}") };
        if c >= data {
            format!("cache-{}x-data", ratio(c / data))
        } else {
            format!("data-{}x-cache", ratio(data / c.max(1.0)))
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct LatencyUs {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl LatencyUs {
    /// The percentiles of a histogram of nanoseconds.
    pub fn of(hist: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        Self {
            p50: us(hist.value_at_quantile(0.50)),
            p90: us(hist.value_at_quantile(0.90)),
            p99: us(hist.value_at_quantile(0.99)),
            p999: us(hist.value_at_quantile(0.999)),
            max: us(hist.max()),
            mean: hist.mean() / 1000.0,
        }
    }
}

/// The load and what it left on disk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadResult {
    pub rows: u64,
    pub logical_bytes: u64,
    /// Time of the writes alone, and of the settle after them (flush + compactions).
    pub ingest_s: f64,
    pub settle_s: f64,
    /// Rows per second of the writes alone.
    pub rows_per_s: f64,
    pub cpu_s: f64,
    pub io: IoCounters,
    /// `write_bytes` / logical bytes.
    pub write_amp: f64,
    /// Every file in the directory (log/WAL, SSTs, manifest, ...), and the SSTs alone.
    pub dir_bytes: u64,
    pub sst_bytes: u64,
    pub space_amp: f64,
    pub space_amp_sst: f64,
    pub shape: String,
    pub peak_rss_bytes: u64,
}

/// One warm-up of a reopened store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WarmResult {
    pub cache_bytes: u64,
    pub cache_label: String,
    pub reopen_s: f64,
    pub what: String,
    pub ops: u64,
    pub elapsed_s: f64,
}

/// One run of single-key gets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GetResult {
    pub workload: String,
    pub distribution: Distribution,
    pub cache_bytes: u64,
    pub cache_label: String,
    pub ops: u64,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub latency_us: LatencyUs,
    /// CPU seconds of the process (all threads) per get, in microseconds.
    pub cpu_us_per_op: f64,
    /// `read_bytes` from storage during the run (page-cache hits are not counted).
    pub read_bytes: u64,
    pub cache_note: String,
    pub peak_rss_bytes: u64,
}

/// The upsert run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpsertResult {
    pub workload: String,
    pub distribution: Distribution,
    pub rows_per_write: usize,
    pub writes: u64,
    pub rows: u64,
    pub elapsed_s: f64,
    pub rows_per_s: f64,
    pub writes_per_s: f64,
    /// Per write, from the call until it is durable.
    pub latency_us: LatencyUs,
    pub cpu_us_per_row: f64,
    pub io: IoCounters,
    /// `write_bytes` / logical bytes upserted.
    pub write_amp: f64,
    pub shape_after: String,
    pub peak_rss_bytes: u64,
}

/// Everything one store measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemRun {
    pub system: String,
    /// How the store was set up, in words.
    pub setup: Vec<String>,
    pub load: LoadResult,
    pub warms: Vec<WarmResult>,
    pub gets: Vec<GetResult>,
    pub upsert: Option<UpsertResult>,
    /// The largest per-phase peak.
    pub peak_rss_bytes: u64,
    /// Whether `VmHWM` could be reset between phases (else every peak is the process's so far).
    pub peak_rss_per_phase: bool,
    /// /proc/loadavg before and after (other work on the machine skews the numbers).
    pub loadavg_before: String,
    pub loadavg_after: String,
}

/// Runs every phase on store `S`, on a fresh glommio executor in this thread's process.
/// `spin_us`: how long the idle executor polls before it parks (a shard's `shard_spin_us`).
pub(crate) fn run_on_executor<S: KvStore + 'static>(
    config: &KvConfig,
    spin_us: u64,
    setup: Vec<String>,
) -> Result<SystemRun> {
    let cpu = config.cpu;
    let config = config.clone();
    let builder = match cpu {
        Some(cpu) => glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu)),
        None => glommio::LocalExecutorBuilder::default(),
    };
    // glommio spins only on a pinned executor (it ignores the setting otherwise).
    builder
        .spin_before_park(std::time::Duration::from_micros(spin_us))
        .name("rill-kv")
        .spawn(move || async move { run::<S>(&config, setup).await })
        .map_err(|e| {
            let pinned = cpu.map_or(String::new(), |cpu| format!(", pinned to CPU {cpu}"));
            format!("starting the glommio executor{pinned} (is io_uring available? is the CPU online?): {e}")
        })?
        .join()
        .map_err(|e| format!("the glommio executor failed: {e}"))?
}

async fn run<S: KvStore>(config: &KvConfig, setup: Vec<String>) -> Result<SystemRun> {
    kv_data::check_key_encoding()?;
    let loadavg_before = kv_proc::loadavg();
    kv_proc::remove_dir(&config.dir)?;
    std::fs::create_dir_all(&config.dir).map_err(|e| format!("creating {}: {e}", config.dir.display()))?;
    let mut caches = config.cache_bytes.clone();
    caches.sort_unstable();
    let largest = caches.last().copied().unwrap_or(0);
    if config.get_ops == 0 {
        // No gets: the upserts run on the store reopened with the largest cache, cold.
        caches.clear();
    }

    let peak_rss_per_phase = kv_proc::reset_peak_rss();
    let (system, load) = load_phase::<S>(config, largest).await?;
    eprintln!(
        "  {system} load: {:.0} rows/s, write amp {:.2}, space amp {:.2}",
        load.rows_per_s, load.write_amp, load.space_amp
    );
    eprintln!("  {system} after load: {}", load.shape);

    let (mut warms, mut gets) = (Vec::new(), Vec::new());
    let mut store = None;
    for &cache in &caches {
        if let Some(s) = store.take() {
            S::close(s).await?;
        }
        kv_proc::reset_peak_rss();
        let (s, warm) = reopen_and_warm::<S>(config, cache).await?;
        eprintln!(
            "  {system} {}: reopened in {:.2} s, warmed with {} in {:.1} s",
            warm.cache_label, warm.reopen_s, warm.what, warm.elapsed_s
        );
        warms.push(warm);
        for &d in &config.distributions {
            let g = get_phase(&s, config, d, cache).await?;
            eprintln!(
                "  {system} {}: {:.0} gets/s, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({})",
                g.workload, g.ops_per_s, g.latency_us.p50, g.latency_us.p99, g.latency_us.p999, g.cache_note
            );
            gets.push(g);
        }
        store = Some(s);
    }
    let store = match store {
        Some(s) => s,
        None => S::open(&config.dir, largest as usize, config).await?,
    };
    let upsert = if config.upsert_seconds > 0.0 && config.upsert_writes != Some(0) {
        kv_proc::reset_peak_rss();
        let u = upsert_phase(&store, config).await?;
        eprintln!(
            "  {system} {}: {:.0} rows/s, {:.0} writes/s, p50 {:.0} µs, p99 {:.0} µs, write amp {:.2}",
            u.workload, u.rows_per_s, u.writes_per_s, u.latency_us.p50, u.latency_us.p99, u.write_amp
        );
        Some(u)
    } else {
        None
    };
    S::close(store).await?;
    if !config.keep {
        kv_proc::remove_dir(&config.dir)?;
    }
    let peaks = std::iter::once(load.peak_rss_bytes)
        .chain(gets.iter().map(|g| g.peak_rss_bytes))
        .chain(upsert.iter().map(|u| u.peak_rss_bytes));
    let peak_rss_bytes = peaks.max().unwrap_or(0);
    Ok(SystemRun {
        system,
        setup,
        load,
        warms,
        gets,
        upsert,
        peak_rss_bytes,
        peak_rss_per_phase,
        loadavg_before,
        loadavg_after: kv_proc::loadavg(),
    })
}

/// Loads every key, settles, measures the directory; closes the store.
async fn load_phase<S: KvStore>(config: &KvConfig, cache_bytes: u64) -> Result<(String, LoadResult)> {
    let io_start = IoCounters::now()?;
    let cpu_start = kv_proc::cpu_seconds();
    let store = S::open(&config.dir, cache_bytes as usize, config).await?;
    let system = store.name().to_string();
    let batch = config.load_batch.max(1) as u64;
    let started = Instant::now();
    let mut next = 0u64;
    while next < config.keys {
        let ids: Vec<u64> = (next..(next + batch).min(config.keys)).collect();
        let write = store.prepare(&ids, 0, config.value_bytes)?;
        store.write(write).await?;
        next += ids.len() as u64;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let settle_started = Instant::now();
    store.settle().await?;
    let settle_s = settle_started.elapsed().as_secs_f64();
    let shape = store.shape();
    let io = IoCounters::now()?.since(&io_start);
    let cpu_s = kv_proc::cpu_seconds() - cpu_start;
    let peak_rss_bytes = kv_proc::peak_rss_bytes()?;
    S::close(store).await?;
    let (sst_bytes, dir_bytes) = kv_proc::dir_bytes(&config.dir, &S::is_data_file)?;
    let logical = config.logical_bytes().max(1);
    Ok((
        system,
        LoadResult {
            rows: config.keys,
            logical_bytes: logical,
            ingest_s,
            settle_s,
            rows_per_s: config.keys as f64 / ingest_s,
            cpu_s,
            io,
            write_amp: io.write_bytes as f64 / logical as f64,
            dir_bytes,
            sst_bytes,
            space_amp: dir_bytes as f64 / logical as f64,
            space_amp_sst: sst_bytes as f64 / logical as f64,
            shape,
            peak_rss_bytes,
        },
    ))
}

/// Reopens the store with `cache_bytes` of block cache and warms the cache.
async fn reopen_and_warm<S: KvStore>(config: &KvConfig, cache_bytes: u64) -> Result<(S, WarmResult)> {
    let started = Instant::now();
    let store = S::open(&config.dir, cache_bytes as usize, config).await?;
    let reopen_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (what, ops) = if cache_bytes >= config.logical_bytes() {
        let mut key = Vec::with_capacity(10);
        for id in 0..config.keys {
            key.clear();
            kv_data::encode_id(id, &mut key);
            if !store.get(&key, None).await? {
                return Err(format!("{}: key {id} is missing after the load", store.name()));
            }
        }
        ("one get of every key".to_string(), config.keys)
    } else {
        (format!("none here: each get run first does {} gets of its distribution", config.warmup_ops), 0)
    };
    let warm = WarmResult {
        cache_bytes,
        cache_label: config.cache_label(cache_bytes),
        reopen_s,
        what,
        ops,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    Ok((store, warm))
}

pub(crate) fn histogram() -> Result<Histogram<u64>> {
    // Nanoseconds, 3 significant digits, up to a minute.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| format!("histogram: {e}"))
}

pub(crate) fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Single-key gets of distribution `d`, one at a time; every key asked for exists.
async fn get_phase<S: KvStore>(store: &S, config: &KvConfig, d: Distribution, cache_bytes: u64) -> Result<GetResult> {
    let mut key = Vec::with_capacity(10);
    if cache_bytes < config.logical_bytes() {
        let mut warm = KeyChooser::new(d, config.keys, config.theta, config.seed ^ cache_bytes ^ 0xA5A5);
        for _ in 0..config.warmup_ops {
            key.clear();
            kv_data::encode_id(warm.next_id(), &mut key);
            store.get(&key, None).await?;
        }
    }
    let mut chooser = KeyChooser::new(d, config.keys, config.theta, config.seed ^ cache_bytes);
    let mut hist = histogram()?;
    let mut expected = vec![0u8; config.value_bytes];
    let io_start = IoCounters::now()?;
    let cpu_start = kv_proc::cpu_seconds();
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(config.get_seconds);
    let mut ops = 0u64;
    while ops < config.get_ops {
        let id = chooser.next_id();
        key.clear();
        kv_data::encode_id(id, &mut key);
        let check = ops % CHECK_EVERY == 0;
        if check {
            kv_data::fill_value(id, 0, &mut expected);
        }
        let t = Instant::now();
        let found = store.get(&key, check.then_some(expected.as_slice())).await?;
        hist.saturating_record(elapsed_ns(t));
        if !found {
            return Err(format!("{}: get of key {id} found nothing", store.name()));
        }
        ops += 1;
        if check && Instant::now() >= deadline {
            break;
        }
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu_s = kv_proc::cpu_seconds() - cpu_start;
    let io = IoCounters::now()?.since(&io_start);
    let label = config.cache_label(cache_bytes);
    Ok(GetResult {
        workload: format!("kv-get-{}-{label}", d.name()),
        distribution: d,
        cache_bytes,
        cache_label: label,
        ops,
        elapsed_s,
        ops_per_s: ops as f64 / elapsed_s,
        latency_us: LatencyUs::of(&hist),
        cpu_us_per_op: cpu_s * 1e6 / ops.max(1) as f64,
        read_bytes: io.read_bytes,
        cache_note: store.cache_note(),
        peak_rss_bytes: kv_proc::peak_rss_bytes()?,
    })
}

/// Durable upserts of `batch` existing keys each, one write at a time; then checks that the
/// last write's values are read back.
async fn upsert_phase<S: KvStore>(store: &S, config: &KvConfig) -> Result<UpsertResult> {
    let d = config.upsert_distribution;
    let mut chooser = KeyChooser::new(d, config.keys, config.theta, config.seed ^ 0x5EED);
    let mut hist = histogram()?;
    let batch = config.batch.max(1);
    let io_start = IoCounters::now()?;
    let cpu_start = kv_proc::cpu_seconds();
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(config.upsert_seconds);
    let (mut writes, mut logical) = (0u64, 0u64);
    let mut last: Vec<u64> = Vec::new();
    while Instant::now() < deadline && config.upsert_writes.is_none_or(|max| writes < max) {
        let ids: Vec<u64> = (0..batch).map(|_| chooser.next_id()).collect();
        let version = writes + 1;
        let write = store.prepare(&ids, version, config.value_bytes)?;
        let t = Instant::now();
        store.write(write).await?;
        hist.saturating_record(elapsed_ns(t));
        writes += 1;
        logical += ids.iter().map(|&id| kv_data::key_of(id).len() as u64 + config.value_bytes as u64).sum::<u64>();
        last = ids;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu_s = kv_proc::cpu_seconds() - cpu_start;
    let io = IoCounters::now()?.since(&io_start);
    check_upserted(store, &last, writes, config.value_bytes).await?;
    let rows = writes * batch as u64;
    Ok(UpsertResult {
        workload: format!("kv-upsert-{}-batch{batch}", d.name()),
        distribution: d,
        rows_per_write: batch,
        writes,
        rows,
        elapsed_s,
        rows_per_s: rows as f64 / elapsed_s,
        writes_per_s: writes as f64 / elapsed_s,
        latency_us: LatencyUs::of(&hist),
        cpu_us_per_row: cpu_s * 1e6 / rows.max(1) as f64,
        io,
        write_amp: io.write_bytes as f64 / logical.max(1) as f64,
        shape_after: store.shape(),
        peak_rss_bytes: kv_proc::peak_rss_bytes()?,
    })
}

async fn check_upserted<S: KvStore>(store: &S, ids: &[u64], version: u64, value_bytes: usize) -> Result<()> {
    for &id in ids {
        let expected = kv_data::value_of(id, version, value_bytes);
        if !store.get(&kv_data::key_of(id), Some(&expected)).await? {
            return Err(format!("{}: upserted key {id} is missing", store.name()));
        }
    }
    Ok(())
}

/// jemalloc's options in `rill-bench` (its `malloc_conf`, set in src/main.rs): transparent
/// huge pages for its extents and metadata.
pub const JEMALLOC_CONF: &std::ffi::CStr = c"thp:always,metadata_thp:always";

/// The process's allocator, named in every system's setup.
fn allocator() -> String {
    if cfg!(feature = "jemalloc") {
        format!(
            "allocator: jemalloc (tikv-jemallocator, unprefixed: C and C++ allocations too; malloc_conf {}), the binary's default",
            JEMALLOC_CONF.to_string_lossy()
        )
    } else {
        "allocator: the system's (glibc malloc): rill-bench built without its `jemalloc` feature".into()
    }
}

/// Runs `system` in this process: `rill`, `rocksdb`, or `rocksdb-direct` (RocksDB with
/// `use_direct_reads`, O_DIRECT reads like rill's).
pub fn run_system(system: &str, config: &KvConfig) -> Result<SystemRun> {
    let mut run = match system {
        "rill" => {
            run_on_executor::<crate::kv_rill::RillStore>(config, config.rill_spin_us, crate::kv_rill::setup(config))?
        }
        #[cfg(feature = "rocksdb")]
        "rocksdb" | "rocksdb-direct" => {
            let mut config = config.clone();
            config.rocks_direct_reads |= system == "rocksdb-direct";
            config.cpu = config.peer_cpu;
            // RocksDB's calls block in the kernel: its executor never idles, so it never spins.
            run_on_executor::<crate::rocks_peer::RocksStore>(&config, 0, crate::rocks_peer::setup(&config))?
        }
        #[cfg(not(feature = "rocksdb"))]
        "rocksdb" | "rocksdb-direct" => {
            return Err(
                "this rill-bench was built without the `rocksdb` feature (cargo build --features rocksdb)".into()
            )
        }
        other => return Err(format!("unknown system '{other}' (rill, rocksdb or rocksdb-direct)")),
    };
    run.system = system.to_string();
    run.setup.push(allocator());
    Ok(run)
}

/// Runs `system` in a child process (`rill-bench kv-child`), so its peak RSS and I/O counters
/// are its own; returns what the child wrote.
pub fn run_in_child(system: &str, config: &KvConfig, scratch: &Path) -> Result<SystemRun> {
    let config_path = scratch.join(format!("kv-config-{}.json", std::process::id()));
    let out_path = scratch.join(format!("kv-{system}-{}.json", std::process::id()));
    let text = serde_json::to_string(config).map_err(|e| format!("serializing the config: {e}"))?;
    std::fs::write(&config_path, text).map_err(|e| format!("writing {}: {e}", config_path.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("finding rill-bench: {e}"))?;
    let status = std::process::Command::new(exe)
        .arg("kv-child")
        .arg("--system")
        .arg(system)
        .arg("--config")
        .arg(&config_path)
        .arg("--out")
        .arg(&out_path)
        .status()
        .map_err(|e| format!("starting the {system} child: {e}"))?;
    let _ = std::fs::remove_file(&config_path);
    if !status.success() {
        return Err(format!("the {system} child failed ({status})"));
    }
    let text = std::fs::read_to_string(&out_path).map_err(|e| format!("reading {}: {e}", out_path.display()))?;
    let _ = std::fs::remove_file(&out_path);
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", out_path.display()))
}

/// The child's side of [`run_in_child`]: reads the config, runs, writes the result.
pub fn child_main(system: &str, config_path: &Path, out_path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(config_path).map_err(|e| format!("reading {}: {e}", config_path.display()))?;
    let config: KvConfig =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", config_path.display()))?;
    let run = run_system(system, &config)?;
    let text = serde_json::to_string_pretty(&run).map_err(|e| format!("serializing the result: {e}"))?;
    std::fs::write(out_path, text).map_err(|e| format!("writing {}: {e}", out_path.display()))
}
