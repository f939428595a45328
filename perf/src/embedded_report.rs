//! Results of a `rill-bench embedded` run: the embedding API beside the in-engine peer, as
//! JSON and Markdown under `bench-results/embedded-<date>.{json,md}`, and comparisons for
//! `summary.json` (ratio = embedded / in-engine).

use std::fmt::Write as _;

use serde::Serialize;

use crate::embedded_bench::{EmbeddedConfig, LoadResult, PhaseResult, SYSTEM};
use crate::embedded_peer;
use crate::machine::Machine;
use crate::report::SummaryEntry;

/// Everything one `rill-bench embedded` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct EmbeddedReport {
    pub workload: String,
    pub date: String,
    pub timestamp: String,
    pub command: String,
    pub source: String,
    pub machine: Machine,
    pub config: EmbeddedConfig,
    pub setup: Vec<String>,
    /// /proc/loadavg before and after the whole run (each result has its own too).
    pub loadavg_before: String,
    pub loadavg_after: String,
    pub load: Option<LoadResult>,
    /// Per workload: embedded first, then in-engine.
    pub results: Vec<PhaseResult>,
    pub comparisons: Vec<SummaryEntry>,
}

/// Suffix of a workload run by code on the shard (`Rill::run_on_shard`); its peer is the
/// workload's without it.
pub const ON_SHARD: &str = "-on-shard";

/// The peer's name in `summary.json`, per workload.
fn peer_name(workload: &str) -> &'static str {
    match workload.trim_end_matches(ON_SHARD) {
        "embedded-lookup" => "in-engine PkTable lookup",
        "embedded-upsert" => "in-engine PkTable write",
        _ => "in-engine Log append (encode + append)",
    }
}

/// Embedded against in-engine, per workload (ratio = embedded / in-engine). Workload names
/// carry `-s<N>` when the `Rill` had N != 1 shards.
pub fn compare(results: &[PhaseResult], shards: usize, date: &str, machine: &str, command: &str) -> Vec<SummaryEntry> {
    let mut out = Vec::new();
    for e in results.iter().filter(|r| r.system == SYSTEM) {
        let peer_workload = e.workload.trim_end_matches(ON_SHARD);
        let Some(p) = results.iter().find(|p| p.system == embedded_peer::SYSTEM && p.workload == peer_workload) else {
            continue;
        };
        let workload = if shards == 1 { e.workload.clone() } else { format!("{}-s{shards}", e.workload) };
        let mut push = |metric: &str, unit: &str, rill: f64, peer: f64, higher: bool| {
            out.push(SummaryEntry {
                workload: workload.clone(),
                metric: metric.to_string(),
                unit: unit.to_string(),
                rill,
                peer: peer_name(&e.workload).to_string(),
                peer_value: peer,
                ratio: rill / peer,
                higher_is_better: higher,
                date: date.to_string(),
                machine: machine.to_string(),
                command: command.to_string(),
            });
        };
        let (el, pl) = (&e.latency_us, &p.latency_us);
        push("latency-p50", "us", el.p50, pl.p50, false);
        push("latency-p99", "us", el.p99, pl.p99, false);
        match (e.workload.as_str(), e.mb_per_s, p.mb_per_s) {
            (w, _, _) if w.starts_with("embedded-lookup") => {
                push("throughput", "lookups/s", e.ops_per_s, p.ops_per_s, true)
            }
            (_, Some(em), Some(pm)) => push("throughput", "MB/s", em, pm, true),
            _ => push("throughput", "rows/s", e.rows_per_s, p.rows_per_s, true),
        }
    }
    out
}

/// The run as Markdown.
pub fn markdown(report: &EmbeddedReport) -> String {
    let m = &report.machine;
    let c = &report.config;
    let mut s = String::new();
    crate::report::markdown_header(&mut s, (&report.workload, &report.timestamp), &report.command, &report.source, m);
    let _ = writeln!(
        s,
        "Load average before the run {}, after {} (per workload below).\n",
        report.loadavg_before, report.loadavg_after
    );
    let _ = writeln!(
        s,
        "Data: {} keys x {}-byte values, {} single-key lookups per system, {} shard(s).\n",
        c.keys, c.value_bytes, c.ops, c.shards
    );
    let _ = writeln!(s, "Setup:");
    for line in &report.setup {
        let _ = writeln!(s, "- {line}");
    }
    if !report.comparisons.is_empty() {
        let _ =
            writeln!(s, "\n## embedded vs in-engine (ratio = embedded / in-engine; the goal is lookup p50 <= 1.3)\n");
        s.push_str(&crate::report::comparison_table(&report.comparisons));
    }
    let _ = writeln!(s, "\n## Results (one call at a time)\n");
    s.push_str(&results_table(&report.results));
    if let Some(l) = &report.load {
        let _ = writeln!(
            s,
            "\nLoad: {} rows through `Rill::upsert` in {:.1} s ({:.0} rows/s; per call of {} rows p50 {:.0} µs, p99 {:.0} µs), settle {:.1} s; after the settle: {}",
            l.rows, l.ingest_s, l.rows_per_s, c.load_batch, l.latency_us.p50, l.latency_us.p99, l.settle_s,
            l.shape_after_settle
        );
    }
    let notes: Vec<&PhaseResult> = report.results.iter().filter(|r| !r.note.is_empty()).collect();
    if !notes.is_empty() {
        s.push('\n');
        for r in notes {
            let _ = writeln!(s, "- {} {}: {}", r.workload, r.system, r.note);
        }
    }
    s
}

fn results_table(results: &[PhaseResult]) -> String {
    let mut s = String::from(
        "| workload | system | calls | rows | seconds | calls/s | rows/s | MB/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | load before/after |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in results {
        let l = &r.latency_us;
        let mb = r.mb_per_s.map_or("-".to_string(), |m| format!("{m:.1}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {mb} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {} / {} |",
            r.workload,
            r.system,
            r.ops,
            r.rows,
            r.elapsed_s,
            r.ops_per_s,
            r.rows_per_s,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            r.loadavg_before,
            r.loadavg_after
        );
    }
    s
}
