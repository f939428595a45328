//! `rill-bench kv`: the options of the KV workloads and the command that runs rill and its
//! peer, each in its own child process, and records the results.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::kv_bench::{self, KvConfig, SystemRun};
use crate::kv_data::Distribution;
use crate::kv_report::{self, KvReport};
use crate::{report, Result};

/// Options of `rill-bench kv`.
#[derive(Args, Debug)]
pub struct KvArgs {
    /// Directory for the stores (a subdirectory per system, removed afterwards).
    #[arg(long)]
    pub dir: PathBuf,
    /// Keys loaded (ids 0..keys).
    #[arg(long, default_value_t = 5_000_000)]
    pub keys: u64,
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Rows per write while loading (each write durable).
    #[arg(long, default_value_t = 10_000)]
    pub load_batch: usize,
    /// Rows per upsert write (each write durable).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Key distributions of the gets, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "uniform,zipfian")]
    pub distribution: Vec<Distribution>,
    /// Block cache sizes in bytes, comma-separated (default: 2x the logical data, so it fits,
    /// and a quarter of it, so the data is 4x larger than the cache).
    #[arg(long, value_delimiter = ',')]
    pub cache_bytes: Vec<u64>,
    /// Gets per (cache, distribution) run (0 = no gets: load and upserts only).
    #[arg(long, default_value_t = 2_000_000)]
    pub ops: u64,
    /// Time limit of one get run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Gets of the distribution before each measured run when the cache is smaller than the data.
    #[arg(long, default_value_t = 100_000)]
    pub warmup_ops: u64,
    /// Length of the upsert run in seconds (0 = no upserts).
    #[arg(long, default_value_t = 10.0)]
    pub upsert_seconds: f64,
    /// Stop the upsert run after this many writes.
    #[arg(long)]
    pub upsert_writes: Option<u64>,
    #[arg(long, default_value = "uniform")]
    pub upsert_distribution: Distribution,
    /// Zipfian skew.
    #[arg(long, default_value_t = 0.99)]
    pub theta: f64,
    /// rill's `table.changelog.image` (FULL when not given; WAL skips reading old rows).
    #[arg(long)]
    pub changelog_image: Option<String>,
    /// rill's SST data block size target in bytes (default: `SstOptions::default()`, 4 KiB).
    #[arg(long)]
    pub rill_block_bytes: Option<usize>,
    /// rill's `LogConfig::zero_fill_bytes` for the changelog (8 MiB, a shard's
    /// `log_zero_fill_bytes`; 0 = off).
    #[arg(long, default_value_t = 8 << 20)]
    pub rill_zero_fill_bytes: u64,
    /// rill's executor polls (busy) this long for I/O completions before it parks, in µs
    /// (a shard's `shard_spin_us`; glommio's `spin_before_park`). Needs `--cpu`.
    #[arg(long, default_value_t = 0, requires = "cpu")]
    pub rill_spin_us: u64,
    /// Pin rill's executor to this CPU, as a shard is pinned. The CPU that takes the disk's
    /// interrupts (`/proc/interrupts`) saves a cross-CPU wake-up per read.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Run rill's compaction merges on a helper executor pinned to this CPU, as a peer shard
    /// runs them for a busy shard (the table's executor plans and installs each step). Not
    /// given: they run on the table's executor, in its background task queue.
    #[arg(long)]
    pub rill_compaction_cpu: Option<usize>,
    /// Pin the peers' calling thread to this CPU (not pinned when not given).
    #[arg(long)]
    pub peer_cpu: Option<usize>,
    /// Run these peers beside rill, comma-separated: `rocksdb` (RocksDB's defaults: reads
    /// through the page cache), `rocksdb-direct` (O_DIRECT reads, as rill's). Needs the
    /// `rocksdb` cargo feature.
    #[arg(long, value_delimiter = ',')]
    pub peer: Vec<String>,
    /// Also take the peers' runs of an earlier `kv-*.json` (every system in it but rill).
    #[arg(long)]
    pub peer_json: Option<PathBuf>,
    /// Skip rill (peer only).
    #[arg(long)]
    pub no_rill: bool,
    /// RocksDB: `use_direct_reads` (O_DIRECT reads, like rill's).
    #[arg(long)]
    pub rocks_direct_reads: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the stores' directories.
    #[arg(long)]
    pub keep: bool,
    /// Run the systems in this process instead of one child process each (peak RSS is then
    /// shared).
    #[arg(long)]
    pub in_process: bool,
    #[command(flatten)]
    pub recording: report::Recording,
}

/// Options of the hidden `rill-bench kv-child` (one system, run by `kv`).
#[derive(Args, Debug)]
pub struct KvChildArgs {
    #[arg(long)]
    pub system: String,
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

impl KvArgs {
    fn config(&self, system_dir: PathBuf) -> KvConfig {
        let mut config = KvConfig {
            dir: system_dir,
            keys: self.keys,
            value_bytes: self.value_bytes,
            load_batch: self.load_batch,
            batch: self.batch,
            distributions: self.distribution.clone(),
            cache_bytes: self.cache_bytes.clone(),
            get_ops: self.ops,
            get_seconds: self.seconds,
            warmup_ops: self.warmup_ops,
            upsert_seconds: self.upsert_seconds,
            upsert_writes: self.upsert_writes,
            upsert_distribution: self.upsert_distribution,
            theta: self.theta,
            changelog_image: self.changelog_image.clone(),
            rill_block_bytes: self.rill_block_bytes,
            rill_zero_fill_bytes: self.rill_zero_fill_bytes,
            rill_spin_us: self.rill_spin_us,
            cpu: self.cpu,
            peer_cpu: self.peer_cpu,
            rill_compaction_cpu: self.rill_compaction_cpu,
            rocks_direct_reads: self.rocks_direct_reads,
            seed: self.seed,
            keep: self.keep,
        };
        if config.cache_bytes.is_empty() {
            let data = config.logical_bytes();
            config.cache_bytes = vec![data * 2, data / 4];
        }
        config
    }
}

/// `rill-bench kv-child`.
pub fn child_command(args: &KvChildArgs) -> Result<()> {
    kv_bench::child_main(&args.system, &args.config, &args.out)
}

/// `rill-bench kv`.
pub fn kv_command(args: &KvArgs) -> Result<()> {
    let machine = report::prepare_dir(&args.dir)?;
    let (date, timestamp) = report::now();
    let command = report::command_line();
    let mut systems = Vec::new();
    let mut base = args.config(args.dir.clone());
    if !args.no_rill {
        systems.push(run_one("rill", args, &base)?);
    }
    for peer in &args.peer {
        systems.push(run_one(peer, args, &base)?);
    }
    if let Some(path) = &args.peer_json {
        systems.extend(peers_from_json(path)?);
    }
    base.dir = args.dir.clone();
    let comparisons = match systems.split_first() {
        Some((rill, peers)) if rill.system == "rill" => {
            let has_default = peers.iter().any(|p| p.system == "rocksdb");
            let gets_only = |p: &SystemRun| has_default && p.system == "rocksdb-direct";
            let machine = machine.short();
            peers.iter().flat_map(|p| kv_report::compare(rill, p, gets_only(p), &date, &machine, &command)).collect()
        }
        _ => Vec::new(),
    };
    let report = KvReport {
        workload: "kv".into(),
        date: date.clone(),
        timestamp,
        command,
        source: report::source_revision(),
        machine,
        config: base,
        systems,
        peers_from: args.peer_json.as_ref().map(|p| p.display().to_string()),
        comparisons,
    };
    let markdown = kv_report::markdown(&report);
    println!("{markdown}");
    if !args.recording.no_record {
        report::record(&args.recording.stem("kv", &date), &report, &markdown, &report.comparisons)?;
    }
    Ok(())
}

fn run_one(system: &str, args: &KvArgs, base: &KvConfig) -> Result<SystemRun> {
    let mut config = base.clone();
    config.dir = args.dir.join(format!("kv-{system}"));
    eprintln!("running {system}: {} keys in {} ...", config.keys, config.dir.display());
    if args.in_process {
        kv_bench::run_system(system, &config)
    } else {
        kv_bench::run_in_child(system, &config, &args.dir)
    }
}

/// The peers' runs out of an earlier report (every system but rill).
fn peers_from_json(path: &Path) -> Result<Vec<SystemRun>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    let systems =
        value.get("systems").and_then(|s| s.as_array()).ok_or(format!("{} has no systems", path.display()))?;
    systems
        .iter()
        .filter(|s| s.get("system").and_then(|n| n.as_str()) != Some("rill"))
        .map(|s| {
            serde_json::from_value(s.clone()).map_err(|e| format!("reading a peer run of {}: {e}", path.display()))
        })
        .collect()
}
