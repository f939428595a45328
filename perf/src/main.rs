//! `rill-bench`: workloads against rill's engine, measured beside a peer on the same machine.
//!
//! ```sh
//! cargo run --release -p rill-perf --bin rill-bench -- log-append --dir /work/bench-tmp --fio
//! ```

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use rill_perf::log_append::{self, AppendConfig};
use rill_perf::machine::Machine;
use rill_perf::report::{self, LogAppendReport};
use rill_perf::{criterion_summary, fio, Result};

/// jemalloc for the whole process, rill's and the peers' allocations alike (the `jemalloc`
/// feature, on by default; see perf/Cargo.toml).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (`rill_perf::kv_bench::JEMALLOC_CONF`), read once at its start (its
/// `malloc_conf` symbol, a C string; the `MALLOC_CONF` environment variable still overrides
/// them): transparent huge pages for its
/// extents and metadata, so the block cache's gigabyte of blocks costs fewer TLB misses.
/// Without them jemalloc's cached gets were 5-16% slower than glibc's; with them they are at
/// glibc's (bench-results/README.md, session 16).
#[cfg(feature = "jemalloc")]
#[export_name = "malloc_conf"]
pub static JEMALLOC_CONF: JemallocConf = JemallocConf(rill_perf::kv_bench::JEMALLOC_CONF.as_ptr());

/// A C string pointer that may sit in a `static` (it points at a literal).
#[cfg(feature = "jemalloc")]
#[repr(transparent)]
pub struct JemallocConf(*const std::ffi::c_char);

// SAFETY: the pointer is to a `'static` C string literal, never written.
#[cfg(feature = "jemalloc")]
unsafe impl Sync for JemallocConf {}

#[derive(Parser)]
#[command(name = "rill-bench", about = "rill benchmarks, with fio as the peer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Durable appends to one log (io_uring, O_DIRECT, group commit): throughput and ack latency.
    LogAppend(LogAppendArgs),
    /// Only the peer measurement: perf/scripts/fio.sh on DIR, summarized.
    Fio {
        /// Directory on the disk to measure (not tmpfs).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Writes the medians of the last criterion run as Markdown.
    CriterionSummary {
        /// criterion's output directory (default: $CARGO_TARGET_DIR/criterion, else target/criterion
        /// in the workspace).
        #[arg(long)]
        criterion_dir: Option<PathBuf>,
        /// Keep only groups starting with these names (comma-separated; all when empty).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The command that ran the benches, written into the file.
        #[arg(long)]
        bench_command: String,
        /// Where to write (default: bench-results/criterion-<date>.md).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// KV workloads (kv-load, kv-get, kv-upsert) of a rill primary-key table, with
    /// `--peer rocksdb[,rocksdb-direct]` beside it (cargo feature `rocksdb`).
    Kv(Box<rill_perf::kv_cli::KvArgs>),
    /// The workloads through the embedding API (`Rill`: lookup, upsert, append) beside the
    /// same work done in-engine on the same buckets (the cost of routing).
    Embedded(Box<rill_perf::embedded_bench::EmbeddedArgs>),
    /// One system of `kv`, in its own process (started by `kv`).
    #[command(hide = true)]
    KvChild(rill_perf::kv_cli::KvChildArgs),
}

#[derive(Args)]
struct LogAppendArgs {
    /// Directory for the log (a fresh subdirectory per configuration, removed afterwards).
    #[arg(long)]
    dir: PathBuf,
    /// Target encoded batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4096,65536,1048576")]
    batch_bytes: Vec<usize>,
    /// Appends in flight at once, comma-separated for several runs.
    #[arg(long, value_delimiter = ',', default_value = "4")]
    concurrency: Vec<usize>,
    /// LogConfig::validate_payload, comma-separated for several runs (true,false); the
    /// engine's default is false.
    #[arg(long, value_delimiter = ',', default_value = "false")]
    validate_payload: Vec<bool>,
    /// Build batches with a statistics section (without one, the log's writer decodes every
    /// payload to compute them while the batch's write is in flight).
    #[arg(long)]
    statistics: bool,
    /// Seconds per configuration.
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// LogConfig::zero_fill_bytes (0 = off, the engine's default): keep this much of the
    /// segment zeroed ahead of the data while appends are small.
    #[arg(long, default_value_t = 0)]
    zero_fill_bytes: u64,
    /// Stop a configuration after this many appends.
    #[arg(long)]
    batches: Option<u64>,
    /// MiB of pre-built batches per configuration (a run ends early when they are used up).
    #[arg(long, default_value_t = 8192)]
    pool_mib: usize,
    /// Also run perf/scripts/fio.sh on the same directory and compare.
    #[arg(long)]
    fio: bool,
    /// Compare with an earlier fio JSON instead of running fio.
    #[arg(long, conflicts_with = "fio")]
    fio_json: Option<PathBuf>,
    #[command(flatten)]
    recording: report::Recording,
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::LogAppend(args) => log_append_command(&args),
        Command::Fio { dir } => fio_command(&dir),
        Command::CriterionSummary { criterion_dir, groups, bench_command, out } => {
            criterion_command(criterion_dir, &groups, &bench_command, out)
        }
        Command::Kv(args) => rill_perf::kv_cli::kv_command(&args),
        Command::KvChild(args) => rill_perf::kv_cli::child_command(&args),
        Command::Embedded(args) => rill_perf::embedded_bench::embedded_command(&args),
    };
    if let Err(e) = outcome {
        eprintln!("rill-bench: {e}");
        std::process::exit(1);
    }
}

fn log_append_command(args: &LogAppendArgs) -> Result<()> {
    let machine = report::prepare_dir(&args.dir)?;
    let (date, timestamp) = report::now();
    let command = report::command_line();
    let recording = &args.recording;
    let stem = |kind: &str| recording.stem(kind, &date);
    if !recording.no_record {
        let out = &recording.out_dir;
        std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    }
    let default_concurrency = args.concurrency.first().copied().unwrap_or(4);
    let mut results = Vec::new();
    for &batch_bytes in &args.batch_bytes {
        for &concurrency in &args.concurrency {
            for &validate_payload in &args.validate_payload {
                let config = AppendConfig {
                    batch_bytes,
                    concurrency: concurrency.max(1),
                    validate_payload,
                    statistics: args.statistics,
                    seconds: args.seconds,
                    batches_max: args.batches,
                    pool_bytes_max: args.pool_mib << 20,
                    zero_fill_bytes: args.zero_fill_bytes,
                };
                eprintln!("running {} ...", config.workload(default_concurrency));
                let result = log_append::run(&args.dir, &config, default_concurrency)?;
                let l = &result.ack_latency_us;
                eprintln!(
                    "  {:.1} MB/s, {:.0} batches/s, ack p50 {:.0} µs p99 {:.0} µs ({} appends in {:.2} s, ended by {})",
                    result.mb_per_s,
                    result.batches_per_s,
                    l.p50,
                    l.p99,
                    result.appends,
                    result.elapsed_s,
                    result.ended_by
                );
                results.push(result);
            }
        }
    }
    let (fio, fio_json) = peer(args, &stem("fio"))?;
    let comparisons =
        fio.as_ref().map_or(Vec::new(), |f| report::compare(&results, f, &date, &machine.short(), &command));
    let report = LogAppendReport {
        workload: "log-append".into(),
        date: date.clone(),
        timestamp,
        command,
        source: report::source_revision(),
        machine,
        results,
        fio,
        fio_json,
        comparisons,
    };
    let markdown = report::markdown(&report);
    println!("{markdown}");
    if !args.recording.no_record {
        report::record(&stem("log-append"), &report, &markdown, &report.comparisons)?;
    }
    Ok(())
}

/// fio's numbers: run now (kept beside the results), read from `--fio-json`, or none.
fn peer(args: &LogAppendArgs, stem: &Path) -> Result<(Option<fio::FioRun>, Option<String>)> {
    if let Some(path) = &args.fio_json {
        return Ok((Some(fio::load(path)?), Some(path.display().to_string())));
    }
    if !args.fio {
        return Ok((None, None));
    }
    let json = if args.recording.no_record {
        std::env::temp_dir().join("rill-bench-fio.json")
    } else {
        stem.with_extension("json")
    };
    let run = fio::run(&fio::default_script(), &args.dir, &json)?;
    Ok((Some(run), (!args.recording.no_record).then(|| json.display().to_string())))
}

fn fio_command(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let json = std::env::temp_dir().join("rill-bench-fio.json");
    let run = fio::run(&fio::default_script(), dir, &json)?;
    println!("{}", report::fio_table(&run));
    println!("fio JSON: {}", json.display());
    Ok(())
}

fn criterion_command(dir: Option<PathBuf>, groups: &[String], bench_command: &str, out: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| {
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| report::workspace_dir().join("target"), PathBuf::from);
        target.join("criterion")
    });
    let medians = criterion_summary::collect(&dir, groups)?;
    if medians.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()));
    }
    let (date, timestamp) = report::now();
    let machine = Machine::probe(Path::new("."));
    let source = report::source_revision();
    let text = criterion_summary::markdown(&medians, bench_command, &source, &machine.short(), &timestamp);
    let out = out.unwrap_or_else(|| report::default_dir().join(format!("criterion-{date}.md")));
    std::fs::write(&out, &text).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!("{text}");
    eprintln!("wrote {}", out.display());
    Ok(())
}
