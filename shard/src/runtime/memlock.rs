//! The locked-memory check at start-up (shared/STYLE.md): glommio registers I/O buffers with
//! io_uring, which counts against `RLIMIT_MEMLOCK` for non-root users. Below 512 KiB per
//! executor it fails hard; below `io_memory_bytes` it only warns and runs slower.

use tracing::warn;

use crate::error::{Error, Result};

/// Least locked memory one glommio executor needs.
pub const EXECUTOR_MEMLOCK_BYTES_MIN: u64 = 512 << 10;

/// Checks the soft `RLIMIT_MEMLOCK` (from `/proc/self/limits`) against `shards` executors.
pub(crate) fn check(shards: usize, io_memory_bytes: usize) -> Result<()> {
    let (Ok(limits), Ok(status)) =
        (std::fs::read_to_string("/proc/self/limits"), std::fs::read_to_string("/proc/self/status"))
    else {
        return Ok(());
    };
    let root = status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let Some(soft) = soft_limit(&limits) else { return Ok(()) };
    let shards = shards as u64;
    if root {
        return Ok(());
    }
    if soft < EXECUTOR_MEMLOCK_BYTES_MIN * shards {
        return Err(Error::Runtime {
            reason: format!(
                "locked-memory limit {soft} bytes is below {} bytes for {shards} shards: raise it \
                 (`ulimit -l unlimited`, or memlock in /etc/security/limits.conf / LimitMEMLOCK= in systemd)",
                EXECUTOR_MEMLOCK_BYTES_MIN * shards
            ),
        });
    }
    if soft < io_memory_bytes as u64 * shards {
        warn!(soft, shards, "locked-memory limit is low: glommio will skip registered I/O buffers (slower)");
    }
    Ok(())
}

/// The soft "Max locked memory" limit in bytes; `None` when unlimited or unreadable.
fn soft_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max locked memory"))?;
    line.trim_start_matches("Max locked memory").split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::soft_limit;

    #[test]
    fn parses_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max locked memory         8388608              8388608              bytes\n";
        assert_eq!(soft_limit(text), Some(8_388_608));
        let text = "Max locked memory         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(text), None);
    }
}
