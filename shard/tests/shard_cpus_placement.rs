//! `RillConfig::shard_cpus` pins each shard's thread to the CPU named for it (checked from
//! inside the shard, in its own affinity mask); a list that does not fit is refused at open
//! with the reason, before the data directory is touched.
#![allow(clippy::unwrap_used)]

mod common;

use rill_shard::{Error, Rill};

/// The CPUs the calling thread may run on (`Cpus_allowed_list` of /proc/thread-self/status,
/// e.g. `0-1,3`).
fn my_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let list = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap().trim().to_string();
    list.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().unwrap()..=b.parse().unwrap()).collect::<Vec<_>>(),
            None => vec![part.parse().unwrap()],
        })
        .collect()
}

fn shard_cpus_seen(rill: &Rill, shards: usize) -> Vec<Vec<usize>> {
    (0..shards).map(|shard| rill.run_on_shard(shard, |_| async { Ok(my_cpus()) }).unwrap()).collect()
}

#[test]
fn each_shard_runs_on_the_cpu_named_for_it() {
    let cpus = my_cpus();
    let last = *cpus.last().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), 1);
    config.shard_cpus = vec![last];
    assert_eq!(config.planned_shard_cpus().unwrap(), [Some(last)]);
    let rill = common::open_with(config);
    assert_eq!(shard_cpus_seen(&rill, 1), [vec![last]]);
    // And it works there (score = id * 10 + 7).
    rill.create_table(common::pk_table("db.users", 2)).unwrap();
    rill.upsert("db.users", common::users(&[1, 2, 3], 7)).unwrap();
    assert_eq!(common::lookup_scores(&rill, "db.users", &[2]).0, [(2, 27)]);
    rill.shutdown();

    if let [first, .., last] = cpus[..] {
        // Two shards, in reverse CPU order.
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::config(dir.path(), 2);
        config.shard_cpus = vec![last, first];
        assert_eq!(config.planned_shard_cpus().unwrap(), [Some(last), Some(first)]);
        let rill = common::open_with(config);
        assert_eq!(shard_cpus_seen(&rill, 2), [vec![last], vec![first]]);
        rill.shutdown();
    }
}

#[test]
fn by_default_each_shard_is_pinned_to_one_cpu() {
    // Which CPU depends on the machine's cpuset (unit tests in runtime/placement.rs check the
    // order); here: pinned, one CPU each, none shared.
    let shards = my_cpus().len().min(2);
    let dir = tempfile::tempdir().unwrap();
    let planned = common::config(dir.path(), shards).planned_shard_cpus().unwrap();
    let rill = common::open(dir.path(), shards);
    let seen = shard_cpus_seen(&rill, shards);
    assert!(seen.iter().all(|cpus| cpus.len() == 1), "{seen:?}");
    assert!(shards < 2 || seen[0] != seen[1], "{seen:?}");
    // `planned_shard_cpus` tells a caller beforehand where they will run.
    let seen_one: Vec<Option<usize>> = seen.iter().map(|cpus| Some(cpus[0])).collect();
    assert_eq!(planned, seen_one);
    rill.shutdown();
}

#[test]
fn a_cpu_list_that_does_not_fit_is_refused_at_open() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let cpu = my_cpus()[0];
    let refused = |shards, cpus: Vec<usize>| {
        let mut config = common::config(&dir, shards);
        config.shard_cpus = cpus;
        let planned = match config.planned_shard_cpus() {
            Err(Error::Runtime { reason }) => reason,
            other => panic!("expected planned_shard_cpus to refuse too, got {other:?}"),
        };
        match Rill::open(config) {
            Err(Error::Runtime { reason }) if reason == planned => reason,
            Err(Error::Runtime { reason }) => panic!("open refused with {reason:?}, the plan with {planned:?}"),
            Err(other) => panic!("expected a runtime error, got {other}"),
            Ok(_) => panic!("expected the open to be refused"),
        }
    };
    let short = refused(2, vec![cpu]);
    assert!(short.contains("names 1 CPU(s) for 2 shards"), "{short}");
    let twice = refused(2, vec![cpu, cpu]);
    assert!(twice.contains(&format!("CPU {cpu} is named twice")), "{twice}");
    let absent = refused(1, vec![4096]);
    assert!(absent.contains("CPU 4096 is not one the shards may be pinned to"), "{absent}");
    // Refused before anything was created.
    assert!(!dir.exists());
    // The directory then opens and works.
    let rill = common::open(&dir, 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    rill.upsert("db.users", common::users(&[5], 1)).unwrap();
    assert_eq!(common::lookup_scores(&rill, "db.users", &[5]).0, [(5, 51)]);
    rill.shutdown();
}
