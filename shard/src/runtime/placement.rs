//! Where each shard's thread runs: `RillConfig::shard_cpus`, or one CPU per shard in order.
//!
//! A shard that reads from disk does best on the CPU the device's completion interrupts land
//! on (docs/operations.md): the read's completion is then posted where the shard polls for it,
//! with no inter-processor wake-up. Which CPU that is depends on the machine, so it is
//! configured, and checked here against the CPUs this process may run on.

use glommio::Placement;

use crate::error::{Error, Result};

/// The placement of each of `shards` shards: `cpus[i]` for shard `i` when `cpus` is given,
/// otherwise shard `i` on CPU `i` when there are enough CPUs, unbound when not (tests run
/// more shards than CPUs). `allowed` lists the CPUs this process may run on.
pub(crate) fn placements(shards: usize, cpus: &[usize], allowed: &[usize]) -> Result<Vec<Placement>> {
    if cpus.is_empty() {
        return Ok((0..shards)
            .map(|i| match allowed.get(i) {
                Some(&cpu) if shards <= allowed.len() => Placement::Fixed(cpu),
                _ => Placement::Unbound,
            })
            .collect());
    }
    let refuse = |reason: String| Err(Error::Runtime { reason: format!("shard_cpus {cpus:?}: {reason}") });
    if cpus.len() != shards {
        return refuse(format!("names {} CPUs for {shards} shards (one per shard)", cpus.len()));
    }
    for (i, cpu) in cpus.iter().enumerate() {
        if cpus[..i].contains(cpu) {
            return refuse(format!("CPU {cpu} is named twice (one shard per CPU)"));
        }
        if !allowed.contains(cpu) {
            return refuse(format!("CPU {cpu} is not one this process may run on ({allowed:?})"));
        }
    }
    Ok(cpus.iter().map(|&cpu| Placement::Fixed(cpu)).collect())
}

/// The CPUs this process may run on (its affinity mask), in order; CPUs `0..n` for the
/// `n` of `available_parallelism` when the mask cannot be read.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain bits (all-zero is a valid empty set); sched_getaffinity
    // writes at most `size_of::<cpu_set_t>()` bytes into it, and CPU_ISSET reads within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let max = 8 * size_of::<libc::cpu_set_t>();
            return (0..max).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect();
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
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
        assert!(reason(2, &[1]).contains("names 1 CPUs for 2 shards"));
        assert!(reason(2, &[1, 1]).contains("CPU 1 is named twice"));
        assert!(reason(1, &[7]).contains("CPU 7 is not one this process may run on"));
    }

    #[test]
    fn the_process_may_run_somewhere() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        assert!(allowed.is_sorted());
    }
}
