//! Auto-partitioning under a controllable clock: creation pre-creates the current partition
//! and the next ones; advancing time creates new ones and drops expired ones with their data,
//! by an explicit round and by shard 0's background loop.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rill_shard::{Clock, Rill};

/// 2024-11-11T10:30:00Z.
const START_MS: i64 = 1_731_321_000_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

fn open_at(dir: &std::path::Path, now: &Arc<AtomicI64>, check_interval_ms: u64) -> Rill {
    let clock = Arc::clone(now);
    let mut config = config(dir, 2).with_clock(Clock::new(move || clock.load(Ordering::SeqCst)));
    config.auto_partition_check_interval_ms = check_interval_ms;
    open_with(config)
}

fn auto_table(name: &str, unit: &str, precreate: u32, retention: u32) -> rill_engine::schema::TableDescriptor {
    let mut d = dated_log_table(name, 2);
    for (k, v) in [
        ("table.auto-partition.enabled", "true".to_string()),
        ("table.auto-partition.time-unit", unit.to_string()),
        ("table.auto-partition.num-precreate", precreate.to_string()),
        ("table.auto-partition.num-retention", retention.to_string()),
    ] {
        d.properties.insert(k.into(), v);
    }
    d
}

#[test]
fn advancing_the_clock_creates_and_drops_daily_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(START_MS));
    // The background loop stays out of the way: rounds are run explicitly.
    let rill = open_at(dir.path(), &now, 3_600_000);
    let table = rill.create_table(auto_table("db.daily", "DAY", 3, 1)).unwrap();
    assert_eq!(partition_names(&rill, "db.daily"), ["20241111", "20241112", "20241113"]);
    assert!(rill.list_partitions("db.daily").unwrap().iter().all(|p| p.created_ms == START_MS));
    rill.append("db.daily", None, dated(&[(1, "20241111"), (2, "20241111")])).unwrap();
    let first = rill.list_partitions("db.daily").unwrap()[0].id;
    let first_dir = dir.path().join("tables").join(table.id.to_string()).join(format!("p{first}"));
    assert!(first_dir.is_dir());

    // Nothing to do at the same time.
    let changes = rill.run_auto_partitioning().unwrap();
    assert!(changes.created.is_empty() && changes.dropped.is_empty());

    // One day later: one more ahead, the first is still within retention (1 past day kept).
    now.store(START_MS + DAY_MS, Ordering::SeqCst);
    let changes = rill.run_auto_partitioning().unwrap();
    assert_eq!(changes.created, [("db.daily".to_string(), "20241114".to_string())]);
    assert!(changes.dropped.is_empty());
    assert_eq!(partition_rows(&rill, "db.daily", "20241111").len(), 2);

    // Two days later: the first partition expires, its data goes.
    now.store(START_MS + 2 * DAY_MS, Ordering::SeqCst);
    let changes = rill.run_auto_partitioning().unwrap();
    assert_eq!(changes.dropped.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["20241111"]);
    assert_eq!(partition_names(&rill, "db.daily"), ["20241112", "20241113", "20241114", "20241115"]);
    assert!(!first_dir.exists(), "the dropped partition's data is removed");
    let e = rill.append("db.daily", None, dated(&[(3, "20241111")])).unwrap_err();
    assert!(matches!(e, rill_shard::Error::UnknownPartition { .. }), "{e}");
    rill.shutdown();

    // A restart a week later catches up at open.
    now.store(START_MS + 9 * DAY_MS, Ordering::SeqCst);
    let rill = open_at(dir.path(), &now, 3_600_000);
    assert_eq!(partition_names(&rill, "db.daily"), ["20241120", "20241121", "20241122"]);
    rill.shutdown();
}

#[test]
fn the_background_loop_follows_the_clock_hourly() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(START_MS));
    let rill = open_at(dir.path(), &now, 20);
    rill.create_table(auto_table("db.hourly", "HOUR", 2, 0)).unwrap();
    assert_eq!(partition_names(&rill, "db.hourly"), ["2024111110", "2024111111"]);
    now.store(START_MS + 3 * HOUR_MS, Ordering::SeqCst);
    let want = ["2024111113", "2024111114"];
    let seen = wait_for(Duration::from_secs(10), || {
        let names = partition_names(&rill, "db.hourly");
        (names == want).then_some(names)
    });
    assert_eq!(seen.as_deref(), Some(&want.map(String::from)[..]), "{:?}", partition_names(&rill, "db.hourly"));
    rill.shutdown();
}

#[test]
fn monthly_and_yearly_values_follow_fluss_formats() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(START_MS));
    let rill = open_at(dir.path(), &now, 3_600_000);
    rill.create_table(auto_table("db.monthly", "MONTH", 3, 7)).unwrap();
    rill.create_table(auto_table("db.yearly", "YEAR", 2, 7)).unwrap();
    assert_eq!(partition_names(&rill, "db.monthly"), ["202411", "202412", "202501"]);
    assert_eq!(partition_names(&rill, "db.yearly"), ["2024", "2025"]);
    rill.shutdown();
}
