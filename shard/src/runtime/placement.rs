//! Where each shard's thread runs: `RillConfig::shard_cpus`, or one CPU per shard in order.
//!
//! A shard that reads from disk does best on the CPU the device's completion interrupts land
//! on (docs/operations.md): the read's completion is then posted where the shard polls for it,
//! with no inter-processor wake-up. Which CPU that is depends on the machine, so it is
//! configured, and checked here against the CPUs the process's shards may be pinned to.

use glommio::Placement;

use crate::error::{Error, Result};

/// The placement of each of `shards` shards: `cpus[i]` for shard `i` when `cpus` is given,
/// otherwise shard `i` on the `i`-th allowed CPU when there are enough, unbound when not
/// (tests run more shards than CPUs). `allowed` lists the CPUs shards may be pinned to
/// ([`allowed_cpus`]).
pub(crate) fn placements(shards: usize, cpus: &[usize], allowed: &[usize]) -> Result<Vec<Placement>> {
    if cpus.is_empty() {
        if shards > allowed.len() {
            return Ok((0..shards).map(|_| Placement::Unbound).collect());
        }
        return Ok(allowed.iter().take(shards).map(|&cpu| Placement::Fixed(cpu)).collect());
    }
    let refuse = |reason: String| Err(Error::Runtime { reason: format!("shard_cpus {cpus:?}: {reason}") });
    if cpus.len() != shards {
        return refuse(format!("names {} CPU(s) for {shards} shards (one per shard)", cpus.len()));
    }
    for (i, cpu) in cpus.iter().enumerate() {
        if cpus[..i].contains(cpu) {
            return refuse(format!("CPU {cpu} is named twice (one shard per CPU)"));
        }
        if !allowed.contains(cpu) {
            return refuse(format!(
                "CPU {cpu} is not one the shards may be pinned to (online, in the cpuset: {allowed:?})"
            ));
        }
    }
    Ok(cpus.iter().map(|&cpu| Placement::Fixed(cpu)).collect())
}

/// The CPUs this process's shards may be pinned to: the online CPUs, within the cgroup's
/// cpuset when one is set (`0..available_parallelism` when neither can be read). Not the
/// calling thread's affinity: a caller pinned to one core (as `shard_spin_us` advises) must not
/// narrow where the shards go, and the kernel lets a new thread pin itself anywhere in its
/// cpuset.
pub fn allowed_cpus() -> Vec<usize> {
    let online = read_cpu_list("/sys/devices/system/cpu/online");
    let cpuset = cgroup_cpuset();
    match (online, cpuset) {
        (Some(online), Some(cpuset)) => online.into_iter().filter(|cpu| cpuset.contains(cpu)).collect(),
        (Some(cpus), None) | (None, Some(cpus)) => cpus,
        (None, None) => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

/// The effective CPUs of this process's cgroup cpuset (cgroup v2, else v1), if set.
fn cgroup_cpuset() -> Option<Vec<usize>> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (hierarchy, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let file = if hierarchy == "0" && controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/cpuset.cpus.effective")
        } else if controllers.split(',').any(|c| c == "cpuset") {
            format!("/sys/fs/cgroup/cpuset{path}/cpuset.effective_cpus")
        } else {
            return None;
        };
        read_cpu_list(&file)
    })
}

/// A CPU list file (`0-3,8,10-11`); `None` when unreadable, malformed or empty.
fn read_cpu_list(path: &str) -> Option<Vec<usize>> {
    parse_cpu_list(&std::fs::read_to_string(path).ok()?)
}

/// Parses a kernel CPU list (`0-3,8,10-11`), sorted; `None` when malformed or empty.
fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => cpus.extend(first.parse::<usize>().ok()?..=last.parse::<usize>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fixed(placements: &[Placement]) -> Vec<Option<usize>> {
        placements
            .iter()
            .map(|p| match p {
                Placement::Fixed(cpu) => Some(*cpu),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn by_default_one_cpu_per_shard_in_order_or_unbound() {
        assert_eq!(fixed(&placements(2, &[], &[0, 1]).unwrap()), [Some(0), Some(1)]);
        // A cpuset without CPU 0: shards take the allowed CPUs, not their own numbers.
        assert_eq!(fixed(&placements(2, &[], &[2, 5, 7]).unwrap()), [Some(2), Some(5)]);
        assert_eq!(fixed(&placements(4, &[], &[0, 1]).unwrap()), [None, None, None, None]);
    }

    #[test]
    fn named_cpus_pin_each_shard() {
        assert_eq!(fixed(&placements(1, &[1], &[0, 1]).unwrap()), [Some(1)]);
        assert_eq!(fixed(&placements(2, &[1, 0], &[0, 1]).unwrap()), [Some(1), Some(0)]);
    }

    #[test]
    fn bad_cpu_lists_are_refused_with_the_reason() {
        let reason = |shards, cpus: &[usize]| match placements(shards, cpus, &[0, 1]) {
            Err(Error::Runtime { reason }) => reason,
            other => panic!("expected a refusal, got {:?}", other.map(|p| fixed(&p))),
        };
        assert!(reason(2, &[1]).contains("names 1 CPU(s) for 2 shards"));
        assert!(reason(2, &[1, 1]).contains("CPU 1 is named twice"));
        assert!(reason(1, &[7]).contains("CPU 7 is not one the shards may be pinned to"));
    }

    #[test]
    fn the_process_may_run_somewhere() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        assert!(allowed.is_sorted());
    }

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("\n"), None);
        assert_eq!(parse_cpu_list("0-x"), None);
    }
}
