//! The in-engine peer of `rill-bench embedded`: the same buckets the embedded `Rill` wrote,
//! opened directly as [`PkTable`]s (and a [`Log`]) on one glommio executor, driven without the
//! embedding API's routing (no caller thread, no mailbox, no wake-up, no reply channel).
//!
//! The buckets are opened as the shard opens them (`rill_shard`'s `bucket.rs`):
//! `<data dir>/tables/<table id>/b<bucket>/`, log name `<table>/b<bucket>`, `LsmConfig::default()`
//! with the configured memtable size, one block cache shared by the buckets. The executor is
//! pinned to CPU 0, where shard 0 runs. The `Rill` must be shut down while the peer runs.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use arrow_array::{Array, BinaryArray, RecordBatch};
use glommio::{LocalExecutorBuilder, Placement};
use rill_engine::batch::{build, BuildOptions};
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{system_clock, Log, LogConfig, UringStorage};
use rill_engine::table::{KvWrite, PkConfig, PkTable};
use rill_shard::TableInfo;

use crate::embedded_bench::{EmbeddedConfig, PhaseResult, CHECK_EVERY};
use crate::kv_bench::{elapsed_ns, histogram};
use crate::kv_data;
use crate::kv_proc;
use crate::Result;

type Table = PkTable<UringStorage>;

/// The system name of the peer in the results.
pub const SYSTEM: &str = "in-engine";

/// Runs `f` on a fresh glommio executor pinned to CPU 0 and waits for it.
pub(crate) fn on_executor<T, F, Fut>(config: &EmbeddedConfig, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>> + 'static,
{
    LocalExecutorBuilder::new(Placement::Fixed(0))
        .name("rill-in-engine")
        .io_memory(config.io_memory_bytes)
        .spawn(f)
        .map_err(|e| format!("starting the in-engine glommio executor (is io_uring available?): {e}"))?
        .join()
        .map_err(|e| format!("the in-engine glommio executor failed: {e}"))?
}

/// The directory of `bucket` of `table` under the data dir (as `rill_shard` lays it out).
fn bucket_dir(data_dir: &Path, table: &TableInfo, bucket: u32) -> PathBuf {
    data_dir.join("tables").join(table.id.to_string()).join(format!("b{bucket}"))
}

/// Opens every bucket of the primary-key table `table` as the shard does.
pub(crate) async fn open_buckets(
    data_dir: &Path,
    table: &TableInfo,
    config: &EmbeddedConfig,
) -> Result<Vec<Rc<Table>>> {
    let desc = &table.descriptor;
    let cache = Rc::new(BlockCache::new(config.cache_bytes * config.shards.max(1)));
    let mut out = Vec::new();
    for bucket in 0..desc.bucket_count {
        let dir = bucket_dir(data_dir, table, bucket);
        if !dir.is_dir() {
            return Err(format!("bucket directory {} is missing (did the shard layout change?)", dir.display()));
        }
        let storage = UringStorage::open(&dir).await.map_err(|e| format!("opening {}: {e}", dir.display()))?;
        let log = LogConfig::new(format!("{}/b{bucket}", desc.name), desc.schema.clone());
        let lsm = LsmConfig { memtable_bytes_max: config.memtable_bytes_max, ..LsmConfig::default() };
        let pk = PkTable::open(storage, desc.clone(), PkConfig { log, lsm }, Rc::clone(&cache), system_clock())
            .await
            .map_err(|e| format!("opening bucket {bucket} in {}: {e}", dir.display()))?;
        out.push(Rc::new(pk));
    }
    Ok(out)
}

pub(crate) async fn close_buckets(tables: Vec<Rc<Table>>) -> Result<()> {
    for t in tables {
        let t = Rc::try_unwrap(t).map_err(|_| "an in-engine table is still shared at close".to_string())?;
        t.close().await.map_err(|e| format!("closing an in-engine table: {e}"))?;
    }
    Ok(())
}

/// The LSM shape of the buckets, in words.
pub(crate) fn shape(tables: &[Rc<Table>]) -> String {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let per_bucket: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(b, t)| {
            let lsm = t.lsm();
            let levels: Vec<String> = lsm
                .level_sizes()
                .iter()
                .zip(lsm.level_bytes())
                .enumerate()
                .filter(|(_, (n, _))| **n > 0)
                .map(|(l, (n, bytes))| format!("L{l}: {n} SSTs {:.1} MiB", mib(bytes)))
                .collect();
            format!("b{b}: {}, memtable {:.1} MiB", levels.join(", "), mib(lsm.memtable_bytes() as u64))
        })
        .collect();
    per_bucket.join("; ")
}

/// Flushes every bucket and compacts until no level is over its target (so the embedded and
/// the in-engine lookups read the same SSTs); returns the shape afterwards.
pub fn settle(data_dir: &Path, table: &TableInfo, config: &EmbeddedConfig) -> Result<String> {
    let (dir, table, c) = (data_dir.to_path_buf(), table.clone(), config.clone());
    on_executor(config, move || async move {
        let tables = open_buckets(&dir, &table, &c).await?;
        for t in &tables {
            t.flush().await.map_err(|e| format!("in-engine flush: {e}"))?;
            t.lsm().compact_all().await.map_err(|e| format!("in-engine compaction: {e}"))?;
        }
        let shape = shape(&tables);
        close_buckets(tables).await?;
        Ok(shape)
    })
}

/// One round of single-key lookups of `ids` in order, each timed from the call until its
/// result.
pub(crate) async fn lookup_round(
    tables: &[Rc<Table>],
    buckets: u32,
    ids: &[u64],
    c: &EmbeddedConfig,
) -> Result<PhaseResult> {
    let loadavg_before = kv_proc::loadavg();
    let mut hist = histogram()?;
    let started = Instant::now();
    for (n, &id) in ids.iter().enumerate() {
        let keys = [kv_data::key_of(id)];
        let table = pick(tables, rill_shard::bucket_for_key(&keys[0], buckets))?;
        let t = Instant::now();
        let found = table.lookup(&keys).await.map_err(|e| format!("in-engine lookup: {e}"))?;
        hist.saturating_record(elapsed_ns(t));
        if found.found.first() != Some(&true) {
            return Err(format!("in-engine lookup of key {id} found nothing"));
        }
        if n as u64 % CHECK_EVERY == 0 {
            check_value(&found.rows, id, 0, c.value_bytes)?;
        }
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    Ok(PhaseResult::new("embedded-lookup", SYSTEM, ids.len() as u64, ids.len() as u64, elapsed_s, &hist)
        .with_load(loadavg_before))
}

/// Of several rounds of one workload, the round with the median p50 (the lower middle one of
/// an even count), its note naming every round's p50: a single round moves with the VM.
pub fn median_round(mut rounds: Vec<PhaseResult>) -> Result<PhaseResult> {
    let p50s: Vec<String> = rounds.iter().map(|r| format!("{:.1}", r.latency_us.p50)).collect();
    rounds.sort_by(|a, b| a.latency_us.p50.total_cmp(&b.latency_us.p50));
    let count = rounds.len();
    let mut median = rounds.into_iter().nth(count.saturating_sub(1) / 2).ok_or("no lookup round ran")?;
    let note =
        format!("round p50s {} µs, the median round ({} of {count}) reported", p50s.join(" / "), count.div_ceil(2));
    median.note = if median.note.is_empty() { note } else { format!("{note}; {}", median.note) };
    Ok(median)
}

fn pick(tables: &[Rc<Table>], bucket: u32) -> Result<&Table> {
    tables.get(bucket as usize).map(|t| t.as_ref()).ok_or_else(|| format!("no in-engine bucket {bucket}"))
}

pub(crate) async fn warm(tables: &[Rc<Table>], buckets: u32, keys: u64) -> Result<()> {
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new(); buckets as usize];
    for id in 0..keys {
        let key = kv_data::key_of(id);
        let b = rill_shard::bucket_for_key(&key, buckets) as usize;
        let group = groups.get_mut(b).ok_or_else(|| format!("no in-engine bucket {b}"))?;
        group.push(key);
        if group.len() == 1000 || id + 1 == keys {
            let table = pick(tables, b as u32)?;
            let found = table.lookup(group).await.map_err(|e| format!("in-engine warm-up lookup: {e}"))?;
            if found.found.iter().any(|f| !f) {
                return Err("in-engine warm-up: a loaded key is missing".into());
            }
            group.clear();
        }
    }
    for (b, group) in groups.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
        pick(tables, b as u32)?.lookup(group).await.map_err(|e| format!("in-engine warm-up lookup: {e}"))?;
    }
    Ok(())
}

/// Checks that row 0 of `rows` holds the value of `id` at `version`.
pub fn check_value(rows: &RecordBatch, id: u64, version: u64, value_bytes: usize) -> Result<()> {
    let values = rows.column(1).as_any().downcast_ref::<BinaryArray>();
    let value = values.filter(|v| !v.is_empty() && v.is_valid(0)).map(|v| v.value(0));
    if value != Some(kv_data::value_of(id, version, value_bytes).as_slice()) {
        return Err(format!("lookup of key {id} returned a wrong value"));
    }
    Ok(())
}

/// Durable upserts of the writes `writes` (ids per write, version = index + 1 + `version_base`),
/// one write at a time, each split by bucket with the buckets' parts written concurrently.
pub fn upserts(
    data_dir: &Path,
    table: &TableInfo,
    config: &EmbeddedConfig,
    writes: Vec<Vec<u64>>,
    version_base: u64,
) -> Result<PhaseResult> {
    let (dir, table, c) = (data_dir.to_path_buf(), table.clone(), config.clone());
    on_executor(config, move || async move {
        let tables = open_buckets(&dir, &table, &c).await?;
        let buckets = table.descriptor.bucket_count;
        let loadavg_before = kv_proc::loadavg();
        let mut hist = histogram()?;
        let started = Instant::now();
        let mut rows = 0u64;
        for (n, ids) in writes.iter().enumerate() {
            let parts = kv_writes(ids, buckets, version_base + n as u64 + 1, c.value_bytes)?;
            let t = Instant::now();
            let mut tasks = Vec::with_capacity(parts.len());
            for (b, write) in parts {
                let table = Rc::clone(tables.get(b as usize).ok_or_else(|| format!("no in-engine bucket {b}"))?);
                tasks.push(glommio::spawn_local(async move { table.write(write).await }));
            }
            for task in tasks {
                task.await.map_err(|e| format!("in-engine write: {e}"))?;
            }
            hist.saturating_record(elapsed_ns(t));
            rows += ids.len() as u64;
        }
        let elapsed_s = started.elapsed().as_secs_f64();
        close_buckets(tables).await?;
        Ok(PhaseResult::new("embedded-upsert", SYSTEM, writes.len() as u64, rows, elapsed_s, &hist)
            .with_load(loadavg_before))
    })
}

/// The write of `ids` split by bucket: (bucket, write) per bucket with rows.
fn kv_writes(ids: &[u64], buckets: u32, version: u64, value_bytes: usize) -> Result<Vec<(u32, KvWrite)>> {
    let mut groups: Vec<Vec<u64>> = vec![Vec::new(); buckets as usize];
    for &id in ids {
        let b = rill_shard::bucket_for_key(&kv_data::key_of(id), buckets) as usize;
        groups.get_mut(b).ok_or_else(|| format!("no in-engine bucket {b}"))?.push(id);
    }
    let mut out = Vec::new();
    for (b, group) in groups.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
        let (keys, rows) = kv_data::rows(group, version, value_bytes)?;
        let deleted = vec![false; group.len()];
        out.push((b as u32, KvWrite { keys, rows, deleted, target_columns: None, writer_id: -1, batch_sequence: -1 }));
    }
    Ok(out)
}

/// Appends of `batches` (cycled) to one fresh `Log` in `dir`, one at a time, each encoded as
/// the embedding API encodes it (ZSTD, statistics) inside the timed call, for `seconds`.
pub fn appends(dir: &Path, config: &EmbeddedConfig, batches: Vec<RecordBatch>, seconds: f64) -> Result<PhaseResult> {
    let (dir, c) = (dir.to_path_buf(), config.clone());
    on_executor(config, move || async move {
        let schema = crate::data::events_schema();
        let storage = UringStorage::open(&dir).await.map_err(|e| format!("opening {}: {e}", dir.display()))?;
        let log = Log::open(storage, LogConfig::new("bench.events/b0", schema.clone()), system_clock())
            .await
            .map_err(|e| format!("opening the in-engine log in {}: {e}", dir.display()))?;
        let loadavg_before = kv_proc::loadavg();
        let mut hist = histogram()?;
        let (mut appends, mut rows, mut bytes) = (0u64, 0u64, 0u64);
        let started = Instant::now();
        let deadline = started + std::time::Duration::from_secs_f64(seconds);
        while Instant::now() < deadline && c.append_writes.is_none_or(|max| appends < max) {
            let batch = batches.get(appends as usize % batches.len().max(1)).ok_or("no batches to append")?;
            let t = Instant::now();
            let encoded =
                build(&schema, batch, None, &BuildOptions::default()).map_err(|e| format!("encoding a batch: {e}"))?;
            let len = encoded.len() as u64;
            log.append(encoded).await.map_err(|e| format!("in-engine append: {e}"))?;
            hist.saturating_record(elapsed_ns(t));
            appends += 1;
            rows += batch.num_rows() as u64;
            bytes += len;
        }
        let elapsed_s = started.elapsed().as_secs_f64();
        log.close().await.map_err(|e| format!("closing the in-engine log: {e}"))?;
        Ok(PhaseResult::new("embedded-append", SYSTEM, appends, rows, elapsed_s, &hist)
            .with_bytes(bytes)
            .with_load(loadavg_before))
    })
}
