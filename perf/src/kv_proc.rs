//! What the process did, from /proc and getrusage: bytes it wrote to storage, its peak
//! resident memory, CPU time, and the size of a directory tree.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;

/// `/proc/self/io` counters (all threads of the process, background ones included).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct IoCounters {
    /// Bytes the process caused to be sent to the storage layer: O_DIRECT writes when issued,
    /// buffered writes when the page is dirtied.
    pub write_bytes: u64,
    /// Dirty page-cache bytes dropped before reaching storage (a file truncated or deleted).
    pub cancelled_write_bytes: u64,
    /// Bytes read from the storage layer (page-cache hits are not counted).
    pub read_bytes: u64,
}

impl IoCounters {
    /// The counters now.
    pub fn now() -> Result<Self> {
        let text = std::fs::read_to_string("/proc/self/io").map_err(|e| format!("reading /proc/self/io: {e}"))?;
        let field = |name: &str| -> Result<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("/proc/self/io has no {name}"))
        };
        Ok(Self {
            write_bytes: field("write_bytes")?,
            cancelled_write_bytes: field("cancelled_write_bytes")?,
            read_bytes: field("read_bytes")?,
        })
    }

    /// `self - earlier`, per counter.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            write_bytes: self.write_bytes.saturating_sub(earlier.write_bytes),
            cancelled_write_bytes: self.cancelled_write_bytes.saturating_sub(earlier.cancelled_write_bytes),
            read_bytes: self.read_bytes.saturating_sub(earlier.read_bytes),
        }
    }
}

/// A field of /proc/self/status in kB, as bytes (`VmHWM`, `VmRSS`).
fn status_bytes(field: &str) -> Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("reading /proc/self/status: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("/proc/self/status has no {field}"))
}

/// Peak resident memory since start or the last [`reset_peak_rss`] (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Result<u64> {
    status_bytes("VmHWM")
}

/// Resident memory now (`VmRSS`), in bytes.
pub fn rss_bytes() -> Result<u64> {
    status_bytes("VmRSS")
}

/// Resets the peak resident memory to the current one (writes 5 to /proc/self/clear_refs,
/// Linux >= 4.0). Returns false when the kernel refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// User + system CPU seconds of the whole process so far (all threads).
pub fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given, which is valid
    // and sized for one; on failure the zeroed value is used.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Sizes of the files under `dir` (recursively), split by a predicate on the file name:
/// (bytes of files where `pick` is true, bytes of all files). Apparent sizes (`len`).
pub fn dir_bytes(dir: &Path, pick: &dyn Fn(&str) -> bool) -> Result<(u64, u64)> {
    let mut picked = 0u64;
    let mut total = 0u64;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?;
        let meta = entry.metadata().map_err(|e| format!("stat {}: {e}", entry.path().display()))?;
        if meta.is_dir() {
            let (p, t) = dir_bytes(&entry.path(), pick)?;
            picked += p;
            total += t;
        } else {
            total += meta.len();
            if pick(&entry.file_name().to_string_lossy()) {
                picked += meta.len();
            }
        }
    }
    Ok((picked, total))
}

/// The first three fields of /proc/loadavg (1, 5 and 15 minute load), or `?`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Removes `dir` and everything under it (missing is fine).
pub fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", dir.display())),
        _ => Ok(()),
    }
}

/// Copies directory `from` (files and subdirectories) to `to`, which must not exist.
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("listing {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("listing {}: {e}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| format!("reading {}: {e}", source.display()))?;
        if kind.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|e| format!("copying {} to {}: {e}", source.display(), target.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_directory_has_the_same_tree() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("a/b")).map_err(|e| e.to_string())?;
        std::fs::write(from.join("top"), b"1").map_err(|e| e.to_string())?;
        std::fs::write(from.join("a/b/deep"), b"22").map_err(|e| e.to_string())?;
        let to = dir.path().join("to");
        copy_dir(&from, &to)?;
        assert_eq!(std::fs::read(to.join("top")).map_err(|e| e.to_string())?, b"1");
        assert_eq!(std::fs::read(to.join("a/b/deep")).map_err(|e| e.to_string())?, b"22");
        assert!(copy_dir(&from, &to).is_err(), "the target must not exist");
        Ok(())
    }

    #[test]
    fn proc_counters_read() -> Result<()> {
        let io = IoCounters::now()?;
        assert!(io.since(&io).write_bytes == 0);
        assert!(peak_rss_bytes()? >= rss_bytes()? / 2);
        assert!(cpu_seconds() >= 0.0);
        Ok(())
    }
}
