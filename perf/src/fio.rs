//! The peer: fio on the same directory (perf/scripts/fio.sh), and the numbers read from its JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::Result;

/// The fio script shipped with this crate.
pub fn default_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fio.sh")
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencyUs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// One fio job's results.
#[derive(Clone, Debug, Serialize)]
pub struct FioJob {
    pub name: String,
    pub block_bytes: u64,
    pub iodepth: u32,
    /// Each write was followed by an fdatasync.
    pub fdatasync: bool,
    pub bytes: u64,
    pub runtime_s: f64,
    /// Write bandwidth in MB/s (10^6 bytes).
    pub mb_per_s: f64,
    pub iops: f64,
    /// Completion latency of the writes.
    pub write_clat_us: LatencyUs,
    /// Latency of the fdatasync calls (fdatasync jobs only).
    pub sync_lat_us: Option<LatencyUs>,
}

/// One run of the script.
#[derive(Clone, Debug, Serialize)]
pub struct FioRun {
    pub version: String,
    pub engine: String,
    pub jobs: Vec<FioJob>,
    /// 1-minute load average before and after fio ran (when this process ran it).
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
}

impl FioRun {
    /// The job named `name`.
    pub fn job(&self, name: &str) -> Option<&FioJob> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// Runs `script` on `dir`, keeps fio's JSON at `json_out`, and reads it.
pub fn run(script: &Path, dir: &Path, json_out: &Path) -> Result<FioRun> {
    eprintln!("running {} {} {}", script.display(), dir.display(), json_out.display());
    let load_before = crate::log_append::load_average();
    let status = Command::new("bash")
        .arg(script)
        .arg(dir)
        .arg(json_out)
        .status()
        .map_err(|e| format!("starting {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!("{} failed ({status})", script.display()));
    }
    let mut run = load(json_out)?;
    run.load_before = Some(load_before);
    run.load_after = Some(crate::log_append::load_average());
    Ok(run)
}

/// Reads fio's JSON output from `path`.
pub fn load(path: &Path) -> Result<FioRun> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses fio's `--output-format=json` output.
pub fn parse(text: &str) -> Result<FioRun> {
    // fio may print notes before the JSON document.
    let start = text.find('{').ok_or("no JSON object in fio's output")?;
    let root: Value = serde_json::from_str(&text[start..]).map_err(|e| format!("fio JSON: {e}"))?;
    let global = root.get("global options").cloned().unwrap_or(Value::Null);
    let jobs = root.get("jobs").and_then(Value::as_array).ok_or("fio JSON without jobs")?;
    let jobs = jobs.iter().map(|j| parse_job(j, &global)).collect::<Result<Vec<_>>>()?;
    Ok(FioRun {
        version: str_at(&root, &["fio version"]).unwrap_or("?").to_string(),
        engine: str_at(&global, &["ioengine"]).unwrap_or("?").to_string(),
        jobs,
        load_before: None,
        load_after: None,
    })
}

fn parse_job(job: &Value, global: &Value) -> Result<FioJob> {
    let name = str_at(job, &["jobname"]).ok_or("fio job without a name")?.to_string();
    let option = |key: &str| str_at(job, &["job options", key]).or_else(|| str_at(global, &[key]));
    let block_bytes = option("bs").map_or(Ok(4096), parse_size)?;
    let iodepth = option("iodepth").map_or(Ok(1), |d| d.parse().map_err(|e| format!("iodepth {d}: {e}")))?;
    let fdatasync = option("fdatasync").is_some_and(|v| v != "0");
    let write = job.get("write").ok_or_else(|| format!("fio job {name} without write results"))?;
    let number = |v: &Value, path: &[&str]| num_at(v, path).ok_or_else(|| format!("fio job {name}: no {path:?}"));
    let sync = job.get("sync").and_then(|s| s.get("lat_ns")).filter(|l| num_at(l, &["N"]).unwrap_or(0.0) > 0.0);
    Ok(FioJob {
        block_bytes,
        iodepth,
        fdatasync,
        bytes: number(write, &["io_bytes"])? as u64,
        runtime_s: number(write, &["runtime"])? / 1000.0,
        mb_per_s: number(write, &["bw_bytes"])? / 1e6,
        iops: number(write, &["iops"])?,
        write_clat_us: latency(write.get("clat_ns")),
        sync_lat_us: sync.map(|l| latency(Some(l))),
        name,
    })
}

/// Percentiles of a fio `*_ns` latency object, in microseconds.
fn latency(lat: Option<&Value>) -> LatencyUs {
    let Some(lat) = lat else { return LatencyUs::default() };
    let us = |path: &[&str]| num_at(lat, path).unwrap_or(f64::NAN) / 1000.0;
    LatencyUs {
        p50: us(&["percentile", "50.000000"]),
        p99: us(&["percentile", "99.000000"]),
        max: us(&["max"]),
        mean: us(&["mean"]),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn num_at(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

/// fio sizes: `4k`, `64K`, `1M`, `1m`, `4096` (binary units).
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let number: u64 = digits.parse().map_err(|e| format!("size {text}: {e}"))?;
    let shift = match text[digits.len()..].to_ascii_lowercase().trim_end_matches(['b', 'i']) {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        other => return Err(format!("size {text}: unknown unit {other}")),
    };
    Ok(number << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() -> Result<()> {
        assert_eq!(parse_size("4k")?, 4096);
        assert_eq!(parse_size("64K")?, 65536);
        assert_eq!(parse_size("1M")?, 1 << 20);
        assert_eq!(parse_size("1MiB")?, 1 << 20);
        assert_eq!(parse_size("512")?, 512);
        Ok(())
    }

    #[test]
    fn reads_bandwidth_and_sync_latency() -> Result<()> {
        let text = r#"note: something first
        {"fio version": "fio-3.33", "global options": {"ioengine": "io_uring", "bs": "4k"},
         "jobs": [{"jobname": "a", "job options": {"bs": "1M", "fdatasync": "1"},
                   "write": {"io_bytes": 2000000, "runtime": 2000, "bw_bytes": 1000000, "iops": 1.0,
                             "clat_ns": {"max": 9000, "mean": 3000, "percentile": {"50.000000": 2000, "99.000000": 8000}}},
                   "sync": {"total_ios": 0, "lat_ns": {"N": 2, "max": 5000, "mean": 4000,
                             "percentile": {"50.000000": 4000, "99.000000": 5000}}}}]}"#;
        let run = parse(text)?;
        let job = run.job("a").ok_or("no job a")?;
        assert_eq!((job.block_bytes, job.iodepth, job.fdatasync), (1 << 20, 1, true));
        assert!((job.mb_per_s - 1.0).abs() < 1e-9 && (job.runtime_s - 2.0).abs() < 1e-9);
        assert!((job.write_clat_us.p50 - 2.0).abs() < 1e-9);
        assert!(job.sync_lat_us.is_some_and(|s| (s.p99 - 5.0).abs() < 1e-9));
        assert_eq!(run.engine, "io_uring");
        Ok(())
    }
}
