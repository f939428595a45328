//! Results of a `rill-bench kv` run: rill and its peer side by side, as JSON and Markdown
//! under `bench-results/kv-<date>.{json,md}`, and comparisons for `summary.json`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::kv_bench::{GetResult, KvConfig, SystemRun};
use crate::machine::Machine;
use crate::report::SummaryEntry;

/// Everything one `rill-bench kv` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct KvReport {
    pub workload: String,
    pub date: String,
    pub timestamp: String,
    pub command: String,
    pub source: String,
    pub machine: Machine,
    pub config: KvConfig,
    /// rill first, then the peers (when any ran).
    pub systems: Vec<SystemRun>,
    /// The earlier report the peers' runs were taken from (`--peer-json`), if any.
    pub peers_from: Option<String>,
    pub comparisons: Vec<SummaryEntry>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// rill against `peer`, metric by metric (ratio = rill / peer); with `gets_only`, only the
/// point gets (for a peer variant that differs from another only in how it reads).
pub fn compare(
    rill: &SystemRun,
    peer: &SystemRun,
    gets_only: bool,
    date: &str,
    machine: &str,
    command: &str,
) -> Vec<SummaryEntry> {
    let peer_name = match peer.system.as_str() {
        "rocksdb" if peer.setup.iter().any(|s| s.contains("use_direct_reads = true")) => {
            "RocksDB 11.8 (direct reads)".to_string()
        }
        "rocksdb" => "RocksDB 11.8 (reads through the page cache)".to_string(),
        "rocksdb-direct" => "RocksDB 11.8 (direct reads)".to_string(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    let mut push = |workload: &str, metric: &str, unit: &str, rill: f64, peer: f64, higher: bool| {
        out.push(SummaryEntry {
            workload: workload.to_string(),
            metric: metric.to_string(),
            unit: unit.to_string(),
            rill,
            peer: peer_name.clone(),
            peer_value: peer,
            ratio: rill / peer,
            higher_is_better: higher,
            date: date.to_string(),
            machine: machine.to_string(),
            command: command.to_string(),
        });
    };
    for g in &rill.gets {
        let Some(p) = peer.gets.iter().find(|p| p.workload == g.workload) else { continue };
        push(&g.workload, "throughput", "gets/s", g.ops_per_s, p.ops_per_s, true);
        push(&g.workload, "latency-p99", "us", g.latency_us.p99, p.latency_us.p99, false);
    }
    if gets_only {
        return out;
    }
    if let (Some(u), Some(p)) = (&rill.upsert, &peer.upsert) {
        push(&u.workload, "throughput", "rows/s", u.rows_per_s, p.rows_per_s, true);
        push(&u.workload, "latency-p99", "us", u.latency_us.p99, p.latency_us.p99, false);
        push(&u.workload, "write-amp", "x", u.write_amp, p.write_amp, false);
    }
    let (l, p) = (&rill.load, &peer.load);
    push("kv-load", "throughput", "rows/s", l.rows_per_s, p.rows_per_s, true);
    push("kv-load", "write-amp", "x", l.write_amp, p.write_amp, false);
    push("kv-load", "space-amp", "x", l.space_amp, p.space_amp, false);
    push("kv-load", "space-amp-sst", "x", l.space_amp_sst, p.space_amp_sst, false);
    push("kv", "peak-rss", "MiB", mib(rill.peak_rss_bytes), mib(peer.peak_rss_bytes), false);
    out
}

/// The run as Markdown.
pub fn markdown(report: &KvReport) -> String {
    let m = &report.machine;
    let c = &report.config;
    let mut s = String::new();
    crate::report::markdown_header(&mut s, (&report.workload, &report.timestamp), &report.command, &report.source, m);
    let _ = writeln!(
        s,
        "Data: {} keys x {}-byte values = {:.1} MiB logical (encoded key + value); loaded in writes of {} rows; \
         upserts of {} rows per write; zipfian theta {}; caches: {}.\n",
        c.keys,
        c.value_bytes,
        mib(c.logical_bytes()),
        c.load_batch,
        c.batch,
        c.theta,
        c.cache_bytes
            .iter()
            .map(|&b| format!("{:.1} MiB ({})", mib(b), c.cache_label(b)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(path) = &report.peers_from {
        let _ = writeln!(s, "Peers: not run now; their runs are taken from the earlier report `{path}`.\n");
    }
    for run in &report.systems {
        let _ = writeln!(
            s,
            "Setup of {} (load average before {}, after {}):",
            run.system, run.loadavg_before, run.loadavg_after
        );
        for line in &run.setup {
            let _ = writeln!(s, "- {line}");
        }
        s.push('\n');
    }
    if !report.comparisons.is_empty() {
        let _ = writeln!(s, "## rill vs peer (ratio = rill / peer)\n");
        s.push_str(&crate::report::comparison_table(&report.comparisons));
        s.push('\n');
    }
    let _ = writeln!(s, "## Point gets (single-threaded, one at a time)\n");
    s.push_str(&gets_table(&report.systems));
    let _ = writeln!(s, "\n## Upserts (one write at a time, each durable)\n");
    s.push_str(&upserts_table(&report.systems));
    let _ = writeln!(s, "\n## Load, amplification and memory\n");
    s.push_str(&load_table(&report.systems));
    let _ = writeln!(s, "\n## Shapes and warm-ups\n");
    for run in &report.systems {
        let _ = writeln!(s, "- {} after load: {}", run.system, run.load.shape);
        for w in &run.warms {
            let _ = writeln!(
                s,
                "- {} {}: reopened in {:.2} s; warm-up: {} ({:.1} s)",
                run.system, w.cache_label, w.reopen_s, w.what, w.elapsed_s
            );
        }
        if let Some(u) = &run.upsert {
            let _ = writeln!(s, "- {} after upserts: {}", run.system, u.shape_after);
        }
        for g in &run.gets {
            let _ = writeln!(s, "- {} {}: {}", run.system, g.workload, g.cache_note);
        }
    }
    s
}

fn gets_table(systems: &[SystemRun]) -> String {
    let mut s = String::from(
        "| workload | system | gets | seconds | gets/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | CPU µs/get | disk reads MiB | peak RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut rows: Vec<(&SystemRun, &GetResult)> =
        systems.iter().flat_map(|r| r.gets.iter().map(move |g| (r, g))).collect();
    rows.sort_by(|a, b| a.1.workload.cmp(&b.1.workload));
    for (r, g) in rows {
        let l = &g.latency_us;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.0} |",
            g.workload,
            r.system,
            g.ops,
            g.elapsed_s,
            g.ops_per_s,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            g.cpu_us_per_op,
            mib(g.read_bytes),
            mib(g.peak_rss_bytes)
        );
    }
    s
}

fn upserts_table(systems: &[SystemRun]) -> String {
    let mut s = String::from(
        "| workload | system | writes | rows | seconds | rows/s | writes/s | p50 µs | p99 µs | p99.9 µs | max µs | CPU µs/row | written MiB | write amp | peak RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in systems {
        let Some(u) = &r.upsert else { continue };
        let l = &u.latency_us;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.2} | {:.0} |",
            u.workload,
            r.system,
            u.writes,
            u.rows,
            u.elapsed_s,
            u.rows_per_s,
            u.writes_per_s,
            l.p50,
            l.p99,
            l.p999,
            l.max,
            u.cpu_us_per_row,
            mib(u.io.write_bytes),
            u.write_amp,
            mib(u.peak_rss_bytes)
        );
    }
    s
}

fn load_table(systems: &[SystemRun]) -> String {
    let mut s = String::from(
        "| system | rows | ingest s | settle s | rows/s (ingest) | CPU s | written MiB | write amp | dir MiB | SST MiB | space amp (dir) | space amp (SSTs) | peak RSS load MiB | peak RSS any phase MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in systems {
        let l = &r.load;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} | {:.0} |",
            r.system,
            l.rows,
            l.ingest_s,
            l.settle_s,
            l.rows_per_s,
            l.cpu_s,
            mib(l.io.write_bytes),
            l.write_amp,
            mib(l.dir_bytes),
            mib(l.sst_bytes),
            l.space_amp,
            l.space_amp_sst,
            mib(l.peak_rss_bytes),
            mib(r.peak_rss_bytes)
        );
    }
    s.push_str(
        "\nWrite amp = `write_bytes` of /proc/self/io (all threads; O_DIRECT writes when issued, buffered writes \
         when dirtied) during load + settle, over the logical bytes. Space amp = apparent size of the files in the \
         directory after the load, over the logical bytes: rill's directory keeps its changelog (the log is the \
         table's `$changelog`, kept for its retention, 7 days by default), RocksDB deletes WAL files after a flush; \
         the SST column compares the LSMs alone.\n",
    );
    s
}
