//! Results files: one JSON + Markdown pair per run under `bench-results/`, and entries
//! appended to `bench-results/summary.json` comparing rill with its peer.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::fio::{FioJob, FioRun};
use crate::log_append::{human_size, AppendResult};
use crate::machine::Machine;
use crate::Result;

/// Where a benchmark command's results go (`--out-dir`, `--tag`, `--no-record`); every
/// recording command flattens it into its arguments.
#[derive(clap::Args, Debug)]
pub struct Recording {
    /// Where results go.
    #[arg(long, default_value_os_t = default_dir())]
    pub out_dir: PathBuf,
    /// Added to the result file names (`<kind>-<date>-<tag>.json`).
    #[arg(long)]
    pub tag: Option<String>,
    /// Print only; write no files and nothing to summary.json.
    #[arg(long)]
    pub no_record: bool,
}

impl Recording {
    /// The path of `kind`'s result files of `date`, without extension:
    /// `<out-dir>/<kind>-<date>[-<tag>]`.
    pub fn stem(&self, kind: &str, date: &str) -> PathBuf {
        let suffix = self.tag.as_ref().map_or(String::new(), |t| format!("-{t}"));
        self.out_dir.join(format!("{kind}-{date}{suffix}"))
    }
}

/// The default results directory: `bench-results/` at the workspace root.
pub fn default_dir() -> PathBuf {
    workspace_dir().join("bench-results")
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The source the binary was built from: `git rev-parse --short HEAD`, with a note when
/// engine/ or perf/ have uncommitted changes; else the first line of a `COMMIT` file at the
/// workspace root (written when benchmarking an exported snapshot); else `unknown`.
pub fn source_revision() -> String {
    let root = workspace_dir();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(head) = git(&["rev-parse", "--short", "HEAD"]) {
        let dirty = git(&["status", "--porcelain", "--", "engine", "perf"]).is_some_and(|s| !s.is_empty());
        return if dirty { format!("{head} with uncommitted changes in engine/ or perf/") } else { head };
    }
    std::fs::read_to_string(root.join("COMMIT"))
        .ok()
        .and_then(|s| s.lines().next().map(|l| format!("{} (exported snapshot)", l.trim())))
        .unwrap_or_else(|| "unknown".into())
}

/// The command line this process was started with, quoted where needed.
pub fn command_line() -> String {
    let quote = |a: String| if a.contains([' ', '"', '\'']) { format!("'{a}'") } else { a };
    std::env::args().map(quote).collect::<Vec<_>>().join(" ")
}

/// Today's date (UTC), `YYYY-MM-DD`, and the current time (RFC 3339).
pub fn now() -> (String, String) {
    let now = chrono::Utc::now();
    (now.format("%Y-%m-%d").to_string(), now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// One comparison of rill with a peer, as kept in `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryEntry {
    pub workload: String,
    pub metric: String,
    pub unit: String,
    pub rill: f64,
    pub peer: String,
    pub peer_value: f64,
    /// rill / peer_value.
    pub ratio: f64,
    pub higher_is_better: bool,
    pub date: String,
    pub machine: String,
    pub command: String,
}

/// Everything one `rill-bench log-append` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct LogAppendReport {
    pub workload: String,
    pub date: String,
    pub timestamp: String,
    pub command: String,
    /// The commit the binary was built from (see [`source_revision`]).
    pub source: String,
    pub machine: Machine,
    pub results: Vec<AppendResult>,
    pub fio: Option<FioRun>,
    /// fio's raw JSON, when fio ran.
    pub fio_json: Option<String>,
    pub comparisons: Vec<SummaryEntry>,
}

/// rill's numbers beside fio's jobs of the same block size (see the README for the pairing).
pub fn compare(results: &[AppendResult], fio: &FioRun, date: &str, machine: &str, command: &str) -> Vec<SummaryEntry> {
    let mut out = Vec::new();
    for r in results {
        let size = r.config.batch_bytes as u64;
        let entry = |metric: &str, unit: &str, rill: f64, peer: String, peer_value: f64, higher: bool| SummaryEntry {
            workload: r.workload.clone(),
            metric: metric.to_string(),
            unit: unit.to_string(),
            rill,
            peer,
            peer_value,
            ratio: rill / peer_value,
            higher_is_better: higher,
            date: date.to_string(),
            machine: machine.to_string(),
            command: command.to_string(),
        };
        let same_size = |j: &&FioJob| j.block_bytes == size && j.iodepth == 1;
        let bs = fio_size(size);
        if let Some(raw) = fio.jobs.iter().filter(same_size).find(|j| !j.fdatasync) {
            out.push(entry(
                "throughput",
                "MB/s",
                r.mb_per_s,
                format!("fio O_DIRECT seq write {bs}"),
                raw.mb_per_s,
                true,
            ));
        }
        let Some(synced) = fio.jobs.iter().filter(same_size).find(|j| j.fdatasync) else { continue };
        let peer = format!("fio O_DIRECT seq write {bs} + fdatasync per write");
        out.push(entry("throughput", "MB/s", r.mb_per_s, peer, synced.mb_per_s, true));
        if let Some(sync) = synced.sync_lat_us {
            let lat = r.ack_latency_us;
            let peer = |p: &str| format!("fio fdatasync latency {p} ({bs} O_DIRECT writes)");
            out.push(entry("ack-latency-p50", "us", lat.p50, peer("p50"), sync.p50, false));
            out.push(entry("ack-latency-p99", "us", lat.p99, peer("p99"), sync.p99, false));
        }
    }
    out
}

/// fio's spelling of a block size: 4K, 64K, 1M.
fn fio_size(bytes: u64) -> String {
    human_size(bytes as usize).replace("MiB", "M").replace("KiB", "K")
}

/// Writes `value` as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| format!("serializing {}: {e}", path.display()))?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Creates a benchmark's working directory and describes the machine and disk under it,
/// warning when it is tmpfs (fdatasync and O_DIRECT numbers would not describe a disk).
pub fn prepare_dir(dir: &Path) -> Result<Machine> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let machine = Machine::probe(dir);
    if machine.filesystem == "tmpfs" {
        eprintln!("warning: {} is on tmpfs: fdatasync and O_DIRECT numbers will not describe a disk", dir.display());
    }
    Ok(machine)
}

/// Records a run: `<stem>.json`, `<stem>.md`, and its comparisons appended to `summary.json`
/// in the same directory (created when missing).
pub fn record<T: Serialize>(stem: &Path, report: &T, markdown: &str, comparisons: &[SummaryEntry]) -> Result<()> {
    let dir = stem.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    write_json(&stem.with_extension("json"), report)?;
    std::fs::write(stem.with_extension("md"), markdown).map_err(|e| format!("writing {}.md: {e}", stem.display()))?;
    append_summary(&dir.join("summary.json"), comparisons)?;
    eprintln!("wrote {}.{{json,md}} and {} summary entries", stem.display(), comparisons.len());
    Ok(())
}

/// The lines every result file starts with: title, command, source, machine and directory.
pub fn markdown_header(s: &mut String, title: (&str, &str), command: &str, source: &str, m: &Machine) {
    let _ = writeln!(s, "# {} — {}\n", title.0, title.1);
    let _ = writeln!(s, "Command: `{command}`\n");
    let _ = writeln!(s, "Source: {source}\n");
    let _ = writeln!(s, "Machine: {} CPU ({}), {:.1} GiB, Linux {}", m.nproc, m.cpu_model, m.memory_gib, m.kernel);
    let _ = writeln!(
        s,
        "Directory: `{}`: {} on {} ({}, write cache: {}, scheduler: {})\n",
        m.dir, m.filesystem, m.device, m.disk_driver, m.disk_write_cache, m.disk_scheduler
    );
}

/// Appends `entries` to the JSON array in `path` (created when missing; existing entries kept).
pub fn append_summary(path: &Path, entries: &[SummaryEntry]) -> Result<()> {
    let mut all: Vec<Value> = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{} is not a JSON array: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    for e in entries {
        all.push(serde_json::to_value(e).map_err(|e| format!("serializing a summary entry: {e}"))?);
    }
    write_json(path, &all)
}

/// The run as Markdown: rill's table, fio's table, and the comparisons.
pub fn markdown(report: &LogAppendReport) -> String {
    let m = &report.machine;
    let mut s = String::new();
    markdown_header(&mut s, (&report.workload, &report.timestamp), &report.command, &report.source, m);
    let _ = writeln!(s, "## rill: durable appends (each ack after write + fdatasync, group commit)\n");
    s.push_str(&results_table(&report.results));
    if let Some(fio) = &report.fio {
        let _ = writeln!(s, "\n## fio ({}, engine {}) on the same directory\n", fio.version, fio.engine);
        if let (Some(before), Some(after)) = (fio.load_before, fio.load_after) {
            let _ = writeln!(s, "Load average before/after fio: {before:.1}/{after:.1}\n");
        }
        s.push_str(&fio_table(fio));
    }
    if !report.comparisons.is_empty() {
        let _ = writeln!(s, "\n## rill vs fio (ratio = rill / fio)\n");
        s.push_str(&comparison_table(&report.comparisons));
    }
    s
}

/// rill's results as a Markdown table (also printed on the terminal).
pub fn results_table(results: &[AppendResult]) -> String {
    let mut s = String::from(
        "| workload | batch bytes (mean) | rows | in flight | validate | stats | appends | seconds | MB/s | batches/s | ack p50 µs | ack p99 µs | ack max µs | CPU user+sys s | executor busy | load before/after | ended by |\n\
         |---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in results {
        let c = &r.config;
        let l = &r.ack_latency_us;
        let _ = writeln!(
            s,
            "| {} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}+{:.2} | {:.0}% | {:.1}/{:.1} | {} |",
            r.workload, r.batch_bytes_mean, r.rows_per_batch, c.concurrency, c.validate_payload, c.statistics,
            r.appends, r.elapsed_s, r.mb_per_s, r.batches_per_s, l.p50, l.p99, l.max, r.cpu_user_s, r.cpu_system_s,
            r.executor_busy * 100.0,
            r.load_before,
            r.load_after,
            r.ended_by
        );
    }
    s
}

/// fio's jobs as a Markdown table.
pub fn fio_table(fio: &FioRun) -> String {
    let mut s = String::from(
        "| job | bs | iodepth | fdatasync | MB/s | IOPS | write clat p50 µs | write clat p99 µs | fdatasync p50 µs | fdatasync p99 µs |\n\
         |---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for j in &fio.jobs {
        let sync = |f: fn(&crate::fio::LatencyUs) -> f64| {
            j.sync_lat_us.as_ref().map_or("-".into(), |l| format!("{:.0}", f(l)))
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {} | {} |",
            j.name,
            fio_size(j.block_bytes),
            j.iodepth,
            j.fdatasync,
            j.mb_per_s,
            j.iops,
            j.write_clat_us.p50,
            j.write_clat_us.p99,
            sync(|l| l.p50),
            sync(|l| l.p99)
        );
    }
    s
}

/// The comparisons as a Markdown table.
pub fn comparison_table(entries: &[SummaryEntry]) -> String {
    let mut s = String::from(
        "| workload | metric | rill | peer | peer value | ratio | better |\n|---|---|---:|---|---:|---:|---|\n",
    );
    for e in entries {
        let better = if e.higher_is_better { "higher" } else { "lower" };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} {} | {} | {:.1} {} | {:.2} | {better} |",
            e.workload, e.metric, e.rill, e.unit, e.peer, e.peer_value, e.unit, e.ratio
        );
    }
    s
}
