//! Medians of a criterion run (`target/criterion/**/new/{benchmark,estimates}.json`) as Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Result;

/// One benchmark's median.
#[derive(Clone, Debug)]
pub struct Median {
    pub group: String,
    pub function: String,
    pub parameter: String,
    pub median_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
    /// Bytes (or elements) per iteration, when the benchmark declared a throughput.
    pub throughput_bytes: Option<f64>,
    pub throughput_elements: Option<f64>,
}

/// Reads every benchmark under `criterion_dir` whose group starts with one of `groups`
/// (all when `groups` is empty), sorted by group then name.
pub fn collect(criterion_dir: &Path, groups: &[String]) -> Result<Vec<Median>> {
    let mut found = Vec::new();
    find_new_dirs(criterion_dir, &mut found)?;
    let mut medians = Vec::new();
    for dir in found {
        let bench = read_json(&dir.join("benchmark.json"))?;
        let estimates = read_json(&dir.join("estimates.json"))?;
        let text = |k: &str| bench.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let group = text("group_id");
        if !groups.is_empty() && !groups.iter().any(|g| group.starts_with(g.as_str())) {
            continue;
        }
        let number = |path: &[&str]| path.iter().try_fold(&estimates, |v, k| v.get(k)).and_then(Value::as_f64);
        let Some(median_ns) = number(&["median", "point_estimate"]) else { continue };
        let throughput = |kind: &str| bench.get("throughput").and_then(|t| t.get(kind)).and_then(Value::as_f64);
        medians.push(Median {
            group,
            function: text("function_id"),
            parameter: text("value_str"),
            median_ns,
            low_ns: number(&["median", "confidence_interval", "lower_bound"]).unwrap_or(f64::NAN),
            high_ns: number(&["median", "confidence_interval", "upper_bound"]).unwrap_or(f64::NAN),
            throughput_bytes: throughput("Bytes").or_else(|| throughput("BytesDecimal")),
            throughput_elements: throughput("Elements"),
        });
    }
    medians.sort_by(|a, b| {
        let key = |m: &Median| (m.group.clone(), m.function.clone(), parameter_size(&m.parameter), m.parameter.clone());
        key(a).cmp(&key(b))
    });
    Ok(medians)
}

/// `4KiB` -> 4096, `1MiB` -> 1048576, `1000` -> 1000; 0 for anything else (then sorted by name).
fn parameter_size(parameter: &str) -> u64 {
    let digits = parameter.trim_end_matches(|c: char| !c.is_ascii_digit());
    let number: u64 = digits.parse().unwrap_or(0);
    match &parameter[digits.len()..] {
        "KiB" => number << 10,
        "MiB" => number << 20,
        _ => number,
    }
}

fn find_new_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") && path.join("benchmark.json").exists() {
            out.push(path);
        } else if path.file_name().is_none_or(|n| n != "report") {
            find_new_dirs(&path, out)?;
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A duration in the unit that suits it.
fn duration(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.3} s", n / 1e9),
        n if n >= 1e6 => format!("{:.3} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

/// The medians as a Markdown table, under a heading naming the command and machine.
pub fn markdown(medians: &[Median], command: &str, source: &str, machine: &str, timestamp: &str) -> String {
    let mut s = format!(
        "# criterion medians — {timestamp}\n\nCommand: `{command}`\n\nSource: {source}\n\nMachine: {machine}\n\n"
    );
    s.push_str("| group | benchmark | parameter | median | 95% CI of the median | throughput |\n");
    s.push_str("|---|---|---|---:|---|---:|\n");
    for m in medians {
        let throughput = match (m.throughput_bytes, m.throughput_elements) {
            (Some(b), _) => format!("{:.2} GB/s", b / m.median_ns),
            (None, Some(e)) => format!("{:.2} M/s", e / m.median_ns * 1e3),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} – {} | {throughput} |",
            m.group,
            m.function,
            m.parameter,
            duration(m.median_ns),
            duration(m.low_ns),
            duration(m.high_ns)
        );
    }
    s
}
