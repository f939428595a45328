//! `rill-bench embedded`: the workloads through the embedding API ([`rill_shard::Rill`], its
//! blocking calls from a plain caller thread), each beside the same work done in-engine
//! ([`crate::embedded_peer`]: the same buckets opened as `PkTable`s / a `Log` on one glommio
//! executor). The ratio embedded / in-engine is the cost of routing (caller thread -> shard
//! mailbox -> wake-up -> shard -> reply).
//!
//! Phases, in order, with the `Rill` shut down whenever the peer has the buckets (the lookup
//! peer opens a copy of them instead):
//!
//! 1. **load**: a primary-key table `bench.kv` (`id BIGINT NOT NULL` PK + `v BYTES`) gets
//!    keys `0..keys` through `Rill::upsert` in batches of `load_batch` rows; the `Rill` is
//!    shut down (it flushes); the peer opens the buckets, flushes and compacts until no level
//!    is over its target, so both read the same SSTs.
//! 2. **embedded-lookup**: `Rill` reopened, cache warmed (one lookup of every key, 1000 keys
//!    per call), then `lookup_rounds` rounds of `ops` single-key `Rill::lookup` calls of
//!    uniform random keys, each timed from the call until its result, each round followed by
//!    the same lookups run on the shard (`OnShard::lookup`) and by the peer (the same warm-up
//!    and key sequence through `PkTable::lookup`, on a copy of the data dir opened beside the
//!    `Rill`: `embedded_lookup_peer.rs`). Per system the round with the median p50 is reported
//!    (single rounds move with the VM).
//! 3. **embedded-upsert**: `upsert_batch` random existing keys per `Rill::upsert`, one durable
//!    write at a time, for `upsert_seconds`; the peer replays the same writes through
//!    `PkTable::write`.
//! 4. **embedded-append**: `Rill::append` of ~`append_rows`-row Arrow batches to a log table,
//!    one at a time, for `append_seconds`; the peer encodes the same batches as the API does
//!    (ZSTD, statistics) and appends them to a `Log` of its own, one at a time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use clap::Args;
use hdrhistogram::Histogram;
use rill_engine::batch::{build, BuildOptions};
use rill_engine::schema::TableDescriptor;
use rill_shard::{Rill, RillConfig, TableInfo};
use serde::Serialize;

use crate::embedded_lookup_peer::LookupPeer;
use crate::embedded_peer::{self, check_value};
use crate::embedded_report::{self, EmbeddedReport};
use crate::kv_bench::{elapsed_ns, histogram, LatencyUs};
use crate::kv_data::{self, Distribution, KeyChooser};
use crate::{data, kv_proc, report, Result};

/// Lookups between two checks of a found value.
pub const CHECK_EVERY: u64 = 1024;
/// Keys per lookup call of the warm-up.
const WARM_KEYS: u64 = 1000;
/// Distinct batches cycled through by the appends.
const APPEND_POOL: usize = 16;
/// Most no-op calls timed after the lookups.
const ROUND_TRIPS: u64 = 100_000;
/// The database of the benchmark tables (created if missing).
const DATABASE: &str = "bench";
/// The log table of the appends.
const LOG_TABLE: &str = "bench.events";
/// The system name of the embedding API in the results.
pub const SYSTEM: &str = "embedded";

/// Options of `rill-bench embedded`.
#[derive(Args, Debug)]
pub struct EmbeddedArgs {
    /// Directory for the data (a fresh `rill/` data dir and `peer-log/` under it, removed
    /// afterwards unless --keep).
    #[arg(long)]
    pub dir: PathBuf,
    /// Shards of the `Rill` (buckets per table = shards).
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Keys loaded (ids 0..keys).
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Rows per upsert call while loading.
    #[arg(long, default_value_t = 10_000)]
    pub load_batch: usize,
    /// Single-key lookups per system and round.
    #[arg(long, default_value_t = 500_000)]
    pub ops: u64,
    /// Rounds of the lookups per system (the round with the median p50 is reported).
    #[arg(long, default_value_t = 3)]
    pub lookup_rounds: u32,
    /// Block cache per shard (default: 2x the logical data, so the lookups are served from it).
    #[arg(long)]
    pub cache_bytes: Option<usize>,
    /// Rows per upsert call of the upsert workload.
    #[arg(long, default_value_t = 100)]
    pub upsert_batch: usize,
    /// Length of the embedded upsert run (the peer replays the same writes).
    #[arg(long, default_value_t = 5.0)]
    pub upsert_seconds: f64,
    /// Stop the upsert run after this many writes.
    #[arg(long)]
    pub upsert_writes: Option<u64>,
    /// Rows per appended batch.
    #[arg(long, default_value_t = 1000)]
    pub append_rows: usize,
    /// Length of each append run (embedded and peer).
    #[arg(long, default_value_t = 5.0)]
    pub append_seconds: f64,
    /// Stop each append run after this many appends.
    #[arg(long)]
    pub append_writes: Option<u64>,
    /// Workloads to run, comma-separated (lookup, upsert, append).
    #[arg(long, value_delimiter = ',', default_value = "lookup,upsert,append")]
    pub workloads: Vec<String>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// `RillConfig::shard_spin_us` of the embedded run: how long an idle shard polls before
    /// it parks.
    #[arg(long, default_value_t = 200)]
    pub shard_spin_us: u64,
    /// CPU the caller thread is pinned to (default: the first CPU no shard is pinned to, if
    /// any; none = unpinned).
    #[arg(long)]
    pub caller_cpu: Option<usize>,
    /// Keep the data directory.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub recording: report::Recording,
}

/// What ran (recorded in the results).
#[derive(Clone, Debug, Serialize)]
pub struct EmbeddedConfig {
    pub data_dir: PathBuf,
    pub shards: usize,
    pub keys: u64,
    pub value_bytes: usize,
    pub load_batch: usize,
    pub ops: u64,
    pub lookup_rounds: u32,
    pub cache_bytes: usize,
    /// `RillConfig` values the peer opens the buckets with.
    pub memtable_bytes_max: usize,
    pub io_memory_bytes: usize,
    pub upsert_batch: usize,
    pub upsert_seconds: f64,
    pub upsert_writes: Option<u64>,
    pub append_rows: usize,
    pub append_seconds: f64,
    pub append_writes: Option<u64>,
    pub workloads: Vec<String>,
    pub seed: u64,
    pub shard_spin_us: u64,
    pub caller_cpu: Option<usize>,
}

impl EmbeddedConfig {
    fn of(args: &EmbeddedArgs) -> Self {
        let defaults = RillConfig::new(args.dir.join("rill"));
        let logical = kv_data::logical_bytes(args.keys, args.value_bytes) as usize;
        Self {
            data_dir: defaults.data_dir.clone(),
            shards: args.shards.max(1),
            keys: args.keys,
            value_bytes: args.value_bytes,
            load_batch: args.load_batch.max(1),
            ops: args.ops,
            lookup_rounds: args.lookup_rounds.max(1),
            cache_bytes: args.cache_bytes.unwrap_or(2 * logical).max(1 << 20),
            memtable_bytes_max: defaults.memtable_bytes_max,
            io_memory_bytes: defaults.io_memory_bytes,
            upsert_batch: args.upsert_batch.max(1),
            upsert_seconds: args.upsert_seconds,
            upsert_writes: args.upsert_writes,
            append_rows: args.append_rows.max(1),
            append_seconds: args.append_seconds,
            append_writes: args.append_writes,
            workloads: args.workloads.clone(),
            seed: args.seed,
            shard_spin_us: args.shard_spin_us,
            caller_cpu: args.caller_cpu.or_else(|| free_cpu(&defaults.clone().with_shards(args.shards.max(1)))),
        }
    }

    fn rill_config(&self) -> RillConfig {
        let mut c = RillConfig::new(&self.data_dir).with_shards(self.shards);
        c.block_cache_bytes_per_shard = self.cache_bytes;
        c.shard_spin_us = self.shard_spin_us;
        c
    }

    fn runs(&self, workload: &str) -> bool {
        self.workloads.iter().any(|w| w == workload)
    }

    /// How both systems are set up, in words.
    pub fn setup(&self) -> Vec<String> {
        vec![
            format!(
                "embedded: `Rill::open` with {} shard(s) (shard i pinned to the i-th allowed CPU when there are enough), RillConfig defaults but block_cache_bytes_per_shard = {:.1} MiB and shard_spin_us = {} (memtable {} MiB, maintenance every 100 ms); blocking calls from one caller thread ({}), one at a time",
                self.shards,
                self.cache_bytes as f64 / (1 << 20) as f64,
                self.shard_spin_us,
                self.memtable_bytes_max >> 20,
                self.caller_cpu.map_or("unpinned".to_string(), |c| format!("pinned to CPU {c}, where no shard runs")),
            ),
            format!(
                "in-engine: the same bucket directories opened as `PkTable` (LsmConfig::default() with memtable {} MiB, one block cache of {:.1} MiB) / a `Log`, on one glommio executor pinned to CPU 0 (where shard 0 runs), no background task; for the lookups a copy of the data dir, open beside the `Rill` (rounds interleaved), else the `Rill` is shut down meanwhile",
                self.memtable_bytes_max >> 20,
                (self.cache_bytes * self.shards) as f64 / (1 << 20) as f64
            ),
            format!("table `bench.kv`: `id BIGINT NOT NULL` PK + `v BYTES` ({} pseudo-random bytes), {} bucket(s); changelog image FULL", self.value_bytes, self.shards),
            "after the load: `Rill::shutdown` (flushes), then in-engine `PkTable::flush` + `Lsm::compact_all` on every bucket: both systems' lookups read the same SSTs".into(),
            format!("lookups: cache warmed by one lookup of every key ({WARM_KEYS} per call), then {} rounds of single-key lookups of the same uniform random key sequence (seed {}; an embedded, an on-shard and an in-engine round in turn), the round with the median p50 reported per system; the key batch / key bytes are built before the timer starts; every {CHECK_EVERY}th value is checked", self.lookup_rounds, self.seed),
            format!("upserts: {} random existing keys per call, each durable (fdatasync, group commit); the in-engine peer replays the same writes", self.upsert_batch),
            format!("appends: `Rill::append` of {}-row batches of the log-append table (4 columns), one at a time, bucket round-robin; the peer times `build` (ZSTD + statistics, as the API does on the caller thread) + `Log::append`; MB/s counts encoded bytes", self.append_rows),
        ]
    }
}

/// One workload on one system.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseResult {
    pub workload: String,
    pub system: String,
    /// Calls made (lookups, upsert writes, appends).
    pub ops: u64,
    pub rows: u64,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub rows_per_s: f64,
    /// Encoded bytes appended (appends only) and their rate (10^6 bytes per second).
    pub bytes: Option<u64>,
    pub mb_per_s: Option<f64>,
    /// Per call, from the call until its result.
    pub latency_us: LatencyUs,
    pub loadavg_before: String,
    pub loadavg_after: String,
    pub note: String,
}

impl PhaseResult {
    /// A result measured now (the load average after is read here).
    pub fn new(workload: &str, system: &str, ops: u64, rows: u64, elapsed_s: f64, hist: &Histogram<u64>) -> Self {
        let elapsed = elapsed_s.max(1e-9);
        Self {
            workload: workload.into(),
            system: system.into(),
            ops,
            rows,
            elapsed_s,
            ops_per_s: ops as f64 / elapsed,
            rows_per_s: rows as f64 / elapsed,
            bytes: None,
            mb_per_s: None,
            latency_us: LatencyUs::of(hist),
            loadavg_before: String::new(),
            loadavg_after: kv_proc::loadavg(),
            note: String::new(),
        }
    }

    pub fn with_load(mut self, before: String) -> Self {
        self.loadavg_before = before;
        self
    }

    pub fn with_note(mut self, note: String) -> Self {
        self.note = note;
        self
    }

    pub fn with_bytes(mut self, bytes: u64) -> Self {
        self.bytes = Some(bytes);
        self.mb_per_s = Some(bytes as f64 / 1e6 / self.elapsed_s.max(1e-9));
        self
    }
}

/// The load phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadResult {
    pub rows: u64,
    /// Upsert calls of the load alone, and the settle after it (shutdown + in-engine flush and
    /// compaction).
    pub ingest_s: f64,
    pub settle_s: f64,
    pub rows_per_s: f64,
    /// Per upsert call of `load_batch` rows.
    pub latency_us: LatencyUs,
    pub shape_after_settle: String,
}

fn open(config: &EmbeddedConfig) -> Result<Rill> {
    let rill = Rill::open(config.rill_config())
        .map_err(|e| format!("opening the Rill in {}: {e}", config.data_dir.display()))?;
    rill.create_database(DATABASE, true).map_err(|e| format!("creating database {DATABASE}: {e}"))?;
    Ok(rill)
}

fn create(rill: &Rill, mut desc: TableDescriptor, config: &EmbeddedConfig) -> Result<Arc<TableInfo>> {
    desc.bucket_count = config.shards as u32;
    let name = desc.name.clone();
    rill.create_table(desc).map_err(|e| format!("creating table {name}: {e}"))
}

/// Loads keys `0..keys` through `Rill::upsert`, shuts the `Rill` down, settles in-engine.
fn load(config: &EmbeddedConfig) -> Result<(Arc<TableInfo>, LoadResult)> {
    let rill = open(config)?;
    let table = create(&rill, kv_data::kv_descriptor(None), config)?;
    let mut hist = histogram()?;
    let started = Instant::now();
    let mut next = 0u64;
    while next < config.keys {
        let ids: Vec<u64> = (next..(next + config.load_batch as u64).min(config.keys)).collect();
        let (_, rows) = kv_data::rows(&ids, 0, config.value_bytes)?;
        let t = Instant::now();
        rill.upsert(kv_data::TABLE, rows).map_err(|e| format!("loading keys from {next}: {e}"))?;
        hist.saturating_record(elapsed_ns(t));
        next += ids.len() as u64;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let settle_started = Instant::now();
    rill.shutdown();
    drop(rill);
    let shape = embedded_peer::settle(&config.data_dir, &table, config)?;
    let load = LoadResult {
        rows: config.keys,
        ingest_s,
        settle_s: settle_started.elapsed().as_secs_f64(),
        rows_per_s: config.keys as f64 / ingest_s.max(1e-9),
        latency_us: LatencyUs::of(&hist),
        shape_after_settle: shape,
    };
    Ok((table, load))
}

/// A batch of the primary-key column alone, for lookups.
fn key_batch(ids: impl Iterator<Item = u64>) -> Result<RecordBatch> {
    let schema =
        Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new("id", arrow_schema::DataType::Int64, false)]));
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.map(|id| id as i64)));
    RecordBatch::try_new(schema, vec![ids]).map_err(|e| format!("building a key batch: {e}"))
}

fn warm(rill: &Rill, keys: u64) -> Result<()> {
    let mut first = 0;
    while first < keys {
        let last = (first + WARM_KEYS).min(keys);
        let (_, found) = rill
            .lookup(kv_data::TABLE, key_batch(first..last)?)
            .map_err(|e| format!("warm-up lookup of keys {first}..{last}: {e}"))?;
        if found.iter().any(|f| !f) {
            return Err(format!("warm-up: a key in {first}..{last} is missing after the load"));
        }
        first = last;
    }
    Ok(())
}

/// The lookup results: embedded, on-shard, in-engine (the median rounds), round trips.
type LookupResults = (PhaseResult, PhaseResult, PhaseResult, PhaseResult);

/// Rounds of single-key lookups of `ids`: through the embedding API, then run on the shard
/// ([`lookups_on_shard`]), then in-engine on a copy of the data ([`LookupPeer`]), round after
/// round, so that the three see the same minutes of the VM; then no-op calls (see
/// [`round_trips`]). The round with the median p50 is reported per system.
fn lookups(config: &EmbeddedConfig, table: &TableInfo, ids: Vec<u64>) -> Result<LookupResults> {
    let copy = config.data_dir.with_file_name("peer-kv");
    kv_proc::remove_dir(&copy)?;
    kv_proc::copy_dir(&config.data_dir, &copy)?;
    let peer = LookupPeer::start(copy.clone(), table.clone(), config.clone())?;
    let rill = open(config)?;
    warm(&rill, config.keys)?;
    let ids = Arc::new(ids);
    let (mut embedded, mut on_shard, mut in_engine) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..config.lookup_rounds {
        embedded.push(lookup_round(&rill, config, &ids)?);
        on_shard.push(lookups_on_shard(&rill, config, &ids)?);
        in_engine.push(peer.round(&ids)?);
    }
    let peer_shape = peer.finish()?;
    kv_proc::remove_dir(&copy)?;
    let note = bucket_shapes(&rill, kv_data::TABLE, config.shards)?;
    let lookup = embedded_peer::median_round(embedded)?;
    let lookup_note = format!(
        "{}; after the lookups: {note}; lost wake-ups seen by the caller so far (re-polled after 10 ms): {}",
        lookup.note,
        rill_shard::runtime::lost_wakes()
    );
    let lookup = lookup.with_note(lookup_note);
    let on_shard = embedded_peer::median_round(on_shard)?;
    let in_engine = embedded_peer::median_round(in_engine)?;
    let in_engine_note = format!("{}; on a copy of the data dir; after the lookups: {peer_shape}", in_engine.note);
    let in_engine = in_engine.with_note(in_engine_note);
    let n = ids.len() as u64;
    let roundtrip = round_trips(&rill, n.min(ROUND_TRIPS))?;
    rill.shutdown();
    Ok((lookup, on_shard, in_engine, roundtrip))
}

/// One round of single-key lookups of `ids` through `Rill::lookup`.
fn lookup_round(rill: &Rill, config: &EmbeddedConfig, ids: &[u64]) -> Result<PhaseResult> {
    let loadavg_before = kv_proc::loadavg();
    let mut hist = histogram()?;
    let started = Instant::now();
    for (n, &id) in ids.iter().enumerate() {
        let keys = key_batch(std::iter::once(id))?;
        let t = Instant::now();
        let (rows, found) = rill.lookup(kv_data::TABLE, keys).map_err(|e| format!("embedded lookup of {id}: {e}"))?;
        hist.saturating_record(elapsed_ns(t));
        if found.first() != Some(&true) {
            return Err(format!("embedded lookup of key {id} found nothing"));
        }
        if n as u64 % CHECK_EVERY == 0 {
            check_value(&rows, id, 0, config.value_bytes)?;
        }
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let n = ids.len() as u64;
    Ok(PhaseResult::new("embedded-lookup", SYSTEM, n, n, elapsed_s, &hist).with_load(loadavg_before))
}

/// The same lookups by code running on shard 0 (`Rill::run_on_shard`, `OnShard::lookup`):
/// no mailbox, no reply channel, no cross-core hop (1 shard: every bucket is local).
fn lookups_on_shard(rill: &Rill, config: &EmbeddedConfig, ids: &[u64]) -> Result<PhaseResult> {
    let loadavg_before = kv_proc::loadavg();
    let ids = ids.to_vec();
    let value_bytes = config.value_bytes;
    let started = Instant::now();
    let outcome = rill.run_on_shard(0, move |on| async move {
        let mut hist = histogram().map_err(|e| rill_shard::Error::Runtime { reason: e })?;
        let mut failure = None;
        for (n, &id) in ids.iter().enumerate() {
            let keys = match key_batch(std::iter::once(id)) {
                Ok(keys) => keys,
                Err(e) => return Ok((hist, Some(e))),
            };
            let t = Instant::now();
            let (rows, found) = on.lookup(kv_data::TABLE, &keys).await?;
            hist.saturating_record(elapsed_ns(t));
            if !found {
                failure = Some(format!("on-shard lookup of key {id} found nothing"));
                break;
            }
            if n as u64 % CHECK_EVERY == 0 {
                if let Err(e) = check_value(&rows, id, 0, value_bytes) {
                    failure = Some(e);
                    break;
                }
                // A shard's tasks yield now and then (maintenance, other requests).
                glommio::yield_if_needed().await;
            }
        }
        Ok((hist, failure))
    });
    let elapsed_s = started.elapsed().as_secs_f64();
    let (hist, failure) = outcome.map_err(|e| format!("on-shard lookups: {e}"))?;
    if let Some(e) = failure {
        return Err(e);
    }
    let n = hist.len();
    Ok(PhaseResult::new(&format!("embedded-lookup{}", embedded_report::ON_SHARD), SYSTEM, n, n, elapsed_s, &hist)
        .with_load(loadavg_before)
        .with_note("`Rill::run_on_shard(0, ..)` running the lookup loop on the shard: `OnShard::lookup` per key (key encoding, bucket check, PkTable lookup), no mailbox or cross-core hop".into()))
}

/// `n` calls of `Rill::serving_shard` (the owning shard checks it holds bucket 0 and answers:
/// no storage work), timed like the lookups: the floor of any embedded call.
fn round_trips(rill: &Rill, n: u64) -> Result<PhaseResult> {
    let loadavg_before = kv_proc::loadavg();
    let mut hist = histogram()?;
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        rill.serving_shard(kv_data::TABLE, 0).map_err(|e| format!("serving_shard: {e}"))?;
        hist.saturating_record(elapsed_ns(t));
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    Ok(PhaseResult::new("embedded-roundtrip", SYSTEM, n, 0, elapsed_s, &hist).with_load(loadavg_before).with_note(
        "`Rill::serving_shard` calls: mailbox push + wake-up byte + the shard's bucket check + oneshot reply, no storage work (the routing floor of every embedded call)".into(),
    ))
}

/// Round trips between the caller's CPU and CPU 0 (where shard 0 ran) with nothing but one
/// atomic store and spin each way: the floor under any cross-core call.
fn cross_core_floor(n: u64) -> Result<PhaseResult> {
    let loadavg_before = kv_proc::loadavg();
    let (hist, elapsed_s) = crate::cross_core::ping_pong(0, n, pin_current_thread)?;
    Ok(PhaseResult::new("embedded-floor", "cross-core ping-pong", n, 0, elapsed_s, &hist).with_load(loadavg_before).with_note(
        "two spinning threads (the caller's CPU and CPU 0) bounce a counter through one cache line each way: no queue, no allocation, no system call (the physical floor of a cross-core call)".into(),
    ))
}

/// SSTs per level of every bucket, from `Rill::bucket_stats`.
fn bucket_shapes(rill: &Rill, table: &str, buckets: usize) -> Result<String> {
    let mut out = Vec::new();
    for b in 0..buckets as u32 {
        let s = rill.bucket_stats(table, b).map_err(|e| format!("stats of bucket {b}: {e}"))?;
        out.push(format!(
            "b{b} on shard {}: SSTs per level {:?}, memtable {:.1} MiB",
            s.shard,
            s.sst_counts,
            s.memtable_bytes as f64 / (1 << 20) as f64
        ));
    }
    Ok(out.join("; "))
}

/// Durable upserts through the embedding API; returns the result and the ids of each write.
fn upserts(config: &EmbeddedConfig) -> Result<(PhaseResult, Vec<Vec<u64>>)> {
    let rill = open(config)?;
    let mut chooser = KeyChooser::new(Distribution::Uniform, config.keys, 0.99, config.seed ^ 0x5EED);
    let mut hist = histogram()?;
    let mut writes: Vec<Vec<u64>> = Vec::new();
    let loadavg_before = kv_proc::loadavg();
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(config.upsert_seconds);
    while Instant::now() < deadline && config.upsert_writes.is_none_or(|max| (writes.len() as u64) < max) {
        let ids: Vec<u64> = (0..config.upsert_batch).map(|_| chooser.next_id()).collect();
        let version = writes.len() as u64 + 1;
        let (_, rows) = kv_data::rows(&ids, version, config.value_bytes)?;
        let t = Instant::now();
        rill.upsert(kv_data::TABLE, rows).map_err(|e| format!("embedded upsert: {e}"))?;
        hist.saturating_record(elapsed_ns(t));
        writes.push(ids);
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    if let Some(last) = writes.last() {
        check_upserted(&rill, last, writes.len() as u64, config.value_bytes)?;
    }
    rill.shutdown();
    let rows = writes.iter().map(|w| w.len() as u64).sum();
    let result = PhaseResult::new("embedded-upsert", SYSTEM, writes.len() as u64, rows, elapsed_s, &hist)
        .with_load(loadavg_before);
    Ok((result, writes))
}

/// Checks that the last write's values are read back (a key written twice in it holds the
/// same value either way).
fn check_upserted(rill: &Rill, ids: &[u64], version: u64, value_bytes: usize) -> Result<()> {
    for &id in ids {
        let (rows, found) = rill
            .lookup(kv_data::TABLE, key_batch(std::iter::once(id))?)
            .map_err(|e| format!("reading back key {id}: {e}"))?;
        if found.first() != Some(&true) {
            return Err(format!("upserted key {id} is missing"));
        }
        check_value(&rows, id, version, value_bytes)?;
    }
    Ok(())
}

/// The batches the appends cycle through, with their encoded sizes.
fn append_pool(config: &EmbeddedConfig) -> Result<Vec<(RecordBatch, u64)>> {
    let schema = data::events_schema();
    (0..APPEND_POOL)
        .map(|i| {
            let batch = data::events((i * config.append_rows) as i64, config.append_rows)?;
            let bytes = build(&schema, &batch, None, &BuildOptions::default())
                .map_err(|e| format!("encoding an append batch: {e}"))?;
            Ok((batch, bytes.len() as u64))
        })
        .collect()
}

/// Appends through the embedding API, one at a time.
fn appends(config: &EmbeddedConfig, pool: &[(RecordBatch, u64)]) -> Result<PhaseResult> {
    let rill = open(config)?;
    let desc = TableDescriptor::log_table(LOG_TABLE, data::events_schema());
    if rill.describe(LOG_TABLE).is_err() {
        create(&rill, desc, config)?;
    }
    let mut hist = histogram()?;
    let (mut n, mut rows, mut bytes) = (0u64, 0u64, 0u64);
    let loadavg_before = kv_proc::loadavg();
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(config.append_seconds);
    while Instant::now() < deadline && config.append_writes.is_none_or(|max| n < max) {
        let (batch, len) = pool.get(n as usize % pool.len().max(1)).ok_or("no batches to append")?;
        let batch = batch.clone();
        let t = Instant::now();
        let info = rill.append(LOG_TABLE, None, batch).map_err(|e| format!("embedded append: {e}"))?;
        hist.saturating_record(elapsed_ns(t));
        if info.next_offset - info.base_offset != config.append_rows as i64 {
            return Err(format!("append {n} stored {} records", info.next_offset - info.base_offset));
        }
        n += 1;
        rows += config.append_rows as u64;
        bytes += len;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    rill.shutdown();
    Ok(PhaseResult::new("embedded-append", SYSTEM, n, rows, elapsed_s, &hist)
        .with_bytes(bytes)
        .with_load(loadavg_before))
}

fn print(r: &PhaseResult) {
    let l = &r.latency_us;
    let mb = r.mb_per_s.map_or(String::new(), |m| format!(", {m:.1} MB/s"));
    eprintln!(
        "  {} {}: {:.0} calls/s, {:.0} rows/s{mb}, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.0} µs ({} calls in {:.2} s)",
        r.workload, r.system, r.ops_per_s, r.rows_per_s, l.p50, l.p99, l.p999, l.max, r.ops, r.elapsed_s
    );
}

/// Runs the selected workloads on both systems.
fn run(config: &EmbeddedConfig) -> Result<(Option<LoadResult>, Vec<PhaseResult>)> {
    kv_proc::remove_dir(&config.data_dir)?;
    if let Some(cpu) = config.caller_cpu {
        pin_current_thread(cpu)?;
    }
    let mut results = Vec::new();
    let mut loaded = None;
    if config.runs("lookup") || config.runs("upsert") {
        eprintln!("loading {} keys through Rill::upsert ...", config.keys);
        let (table, load) = load(config)?;
        eprintln!(
            "  load: {:.0} rows/s ({:.1} s), settle {:.1} s; {}",
            load.rows_per_s, load.ingest_s, load.settle_s, load.shape_after_settle
        );
        if config.runs("lookup") {
            let mut chooser = KeyChooser::new(Distribution::Uniform, config.keys, 0.99, config.seed);
            let ids: Vec<u64> = (0..config.ops).map(|_| chooser.next_id()).collect();
            eprintln!("running {} single-key lookups, embedded then in-engine ...", config.ops);
            let (lookup, on_shard, in_engine, roundtrip) = lookups(config, &table, ids)?;
            results.push(lookup);
            results.push(on_shard);
            results.push(in_engine);
            results.push(roundtrip);
            if config.caller_cpu.is_some() {
                results.push(cross_core_floor(ROUND_TRIPS)?);
            }
        }
        if config.runs("upsert") {
            eprintln!("running upserts of {} rows, embedded then in-engine ...", config.upsert_batch);
            let (result, writes) = upserts(config)?;
            results.push(result);
            let base = writes.len() as u64;
            results.push(embedded_peer::upserts(&config.data_dir, &table, config, writes, base)?);
        }
        loaded = Some(load);
    }
    if config.runs("append") {
        eprintln!("running appends of {}-row batches, embedded then in-engine ...", config.append_rows);
        let pool = append_pool(config)?;
        results.push(appends(config, &pool)?);
        let peer_dir = config.data_dir.with_file_name("peer-log");
        kv_proc::remove_dir(&peer_dir)?;
        let batches = pool.into_iter().map(|(b, _)| b).collect();
        results.push(embedded_peer::appends(&peer_dir, config, batches, config.append_seconds)?);
        kv_proc::remove_dir(&peer_dir)?;
    }
    Ok((loaded, results))
}

/// `rill-bench embedded`.
pub fn embedded_command(args: &EmbeddedArgs) -> Result<()> {
    let config = EmbeddedConfig::of(args);
    if let Some(bad) = config.workloads.iter().find(|w| !["lookup", "upsert", "append"].contains(&w.as_str())) {
        return Err(format!("unknown workload '{bad}' (lookup, upsert, append)"));
    }
    let machine = report::prepare_dir(&args.dir)?;
    let (date, timestamp) = report::now();
    let command = report::command_line();
    let loadavg_before = kv_proc::loadavg();
    let outcome = run(&config);
    if !args.keep {
        kv_proc::remove_dir(&config.data_dir)?;
    }
    let (load, results) = outcome?;
    let comparisons = embedded_report::compare(&results, config.shards, &date, &machine.short(), &command);
    let report = EmbeddedReport {
        workload: "embedded".into(),
        date: date.clone(),
        timestamp,
        command,
        source: report::source_revision(),
        machine,
        setup: config.setup(),
        config,
        loadavg_before,
        loadavg_after: kv_proc::loadavg(),
        load,
        results,
        comparisons,
    };
    for r in &report.results {
        print(r);
    }
    let markdown = embedded_report::markdown(&report);
    println!("{markdown}");
    if !args.recording.no_record {
        report::record(&args.recording.stem("embedded", &date), &report, &markdown, &report.comparisons)?;
    }
    Ok(())
}

/// The first CPU the shards of `config` may run on that none of them is pinned to (none when
/// a shard is not pinned: it may run anywhere).
fn free_cpu(config: &RillConfig) -> Option<usize> {
    let taken = config.planned_shard_cpus().ok()?;
    if taken.contains(&None) {
        return None;
    }
    rill_shard::runtime::allowed_cpus().into_iter().find(|cpu| !taken.contains(&Some(*cpu)))
}

/// Pins the calling thread to `cpu`.
fn pin_current_thread(cpu: usize) -> Result<()> {
    // SAFETY: `cpu_set_t` is plain data; an all-zero value is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit of `set`, which lives for the whole call.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(format!("pinning the caller thread to CPU {cpu}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_batches_hold_the_ids() -> Result<()> {
        let b = key_batch([3u64, 5].into_iter())?;
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema().field(0).name(), "id");
        Ok(())
    }
}
