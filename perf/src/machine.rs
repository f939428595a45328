//! What a measurement ran on: CPUs, kernel, memory, and the filesystem and disk under a directory.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// The machine and the storage under the benchmark directory.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// `nproc`: CPUs this process may run on.
    pub nproc: usize,
    /// `uname -r`.
    pub kernel: String,
    /// The first `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    pub memory_gib: f64,
    /// The benchmark directory and the `df -T` line of its filesystem.
    pub dir: String,
    pub device: String,
    pub filesystem: String,
    /// From /sys/block/<disk>/: the driver (e.g. virtio_blk), `write_cache` ("write back"
    /// means fdatasync sends a cache flush to the device) and the I/O scheduler.
    pub disk_driver: String,
    pub disk_write_cache: String,
    pub disk_scheduler: String,
}

impl Machine {
    /// Describes this machine and the filesystem under `dir` (which must exist).
    pub fn probe(dir: &Path) -> Self {
        let (device, filesystem) = df_type(dir).unwrap_or_else(|| ("?".into(), "?".into()));
        let disk = disk_name(&device);
        let sys = |file: &str| read_trimmed(&format!("/sys/block/{disk}/{file}")).unwrap_or_else(|| "?".into());
        let driver = std::fs::read_link(format!("/sys/block/{disk}/device/driver"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "?".into());
        Self {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "?".into()),
            cpu_model: cpu_model().unwrap_or_else(|| "?".into()),
            memory_gib: memory_gib().unwrap_or(0.0),
            dir: dir.display().to_string(),
            device,
            filesystem,
            disk_driver: driver,
            disk_write_cache: sys("queue/write_cache"),
            disk_scheduler: active_scheduler(&sys("queue/scheduler")),
        }
    }

    /// One line for tables and summary entries.
    pub fn short(&self) -> String {
        format!(
            "{} CPU {}, {:.0} GiB, Linux {}, {} on {} ({}, cache {})",
            self.nproc,
            self.cpu_model,
            self.memory_gib,
            self.kernel,
            self.filesystem,
            self.device,
            self.disk_driver,
            self.disk_write_cache
        )
    }
}

/// The scheduler in brackets of `none [mq-deadline] kyber`.
fn active_scheduler(list: &str) -> String {
    list.split_whitespace()
        .find_map(|s| s.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
        .unwrap_or(list)
        .to_string()
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn memory_gib() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / (1024.0 * 1024.0))
}

/// (device, filesystem type) from `df -T dir`.
fn df_type(dir: &Path) -> Option<(String, String)> {
    let out = Command::new("df").arg("-T").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut fields = text.lines().nth(1)?.split_whitespace();
    Some((fields.next()?.to_string(), fields.next()?.to_string()))
}

/// The whole disk behind a device path: `/dev/vda1` -> `vda`, `/dev/nvme0n1p2` -> `nvme0n1`.
fn disk_name(device: &str) -> String {
    let name = device.rsplit('/').next().unwrap_or(device).to_string();
    if Path::new(&format!("/sys/block/{name}")).exists() {
        return name;
    }
    // A partition: /sys/class/block/<part> links into its disk's directory.
    std::fs::canonicalize(format!("/sys/class/block/{name}"))
        .ok()
        .and_then(|p| p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or(name)
}
