//! A panic in a shard task gives its caller `ShardPanicked` (no hang), later calls to that
//! shard fail fast, other shards keep serving, shutdown returns, and a reopen recovers the
//! acknowledged writes.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use rill_shard::{Error, Rill};

/// Runs `f` on a thread and waits at most 20 s for it (a hang fails the test).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} hung"))
}

fn bucket_on(rill: &Rill, table: &str, buckets: u32, shard: usize) -> u32 {
    (0..buckets).find(|&b| rill.serving_shard(table, b).unwrap() == shard).unwrap()
}

/// A 2-shard `Rill` on `config` with 40 users in 4 buckets; returns it, the ids and a bucket
/// on shard 1 and one on shard 0.
fn loaded(config: rill_shard::RillConfig) -> (Rill, Vec<i64>, u32, u32) {
    let rill = common::open_with(config);
    rill.create_table(common::pk_table("db.users", 4)).unwrap();
    let ids: Vec<i64> = (0..40).collect();
    rill.upsert("db.users", common::users(&ids, 1)).unwrap();
    let on_1 = bucket_on(&rill, "db.users", 4, 1);
    let on_0 = bucket_on(&rill, "db.users", 4, 0);
    (rill, ids, on_1, on_0)
}

/// Shuts a `Rill` with a stopped shard down (it must return) and reopens the data dir: every
/// acknowledged write is there.
fn shut_down_and_recover(rill: Rill, dir: &std::path::Path, ids: &[i64]) {
    let r = rill.clone();
    within("shutdown", move || r.shutdown());
    drop(rill);
    let rill = common::open_with(common::config(dir, 2));
    let (rows, found) = common::lookup_scores(&rill, "db.users", ids);
    assert!(found.iter().all(|f| *f), "acknowledged writes survive the panic");
    assert_eq!(rows.len(), 40);
    rill.shutdown();
}

#[test]
fn panicking_task_fails_its_caller_and_later_calls() {
    let dir = tempfile::tempdir().unwrap();
    let (rill, ids, on_1, on_0) = loaded(common::config(dir.path(), 2));

    let r = rill.clone();
    let outcome = within("the panicking call", move || r.panic_on_shard_for_tests(1, "boom in a request"));
    match outcome {
        Err(Error::ShardPanicked { shard: 1, message }) => assert!(message.contains("boom"), "{message}"),
        other => panic!("expected ShardPanicked from shard 1, got {other:?}"),
    }
    let r = rill.clone();
    let later = within("a later call", move || r.serving_shard("db.users", on_1));
    assert!(matches!(later, Err(Error::ShardPanicked { shard: 1, .. })), "{later:?}");
    assert_eq!(rill.serving_shard("db.users", on_0).unwrap(), 0, "the other shard keeps serving");

    shut_down_and_recover(rill, dir.path(), &ids);
}

#[test]
fn no_panic_means_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.panic_on_shard_for_tests(0, "").unwrap();
    assert!(matches!(rill.panic_on_shard_for_tests(3, "x"), Err(Error::ShardGone { shard: 3 })));
    rill.shutdown();
}

#[test]
fn panicking_maintenance_stops_its_shard_and_writes_survive() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), 2);
    config.maintenance_interval_ms = 5;
    let (rill, ids, on_1, on_0) = loaded(config);

    rill.panic_in_maintenance_for_tests(1, "boom in maintenance").unwrap();
    // The loop panics at its next round (every 5 ms); from then on shard 1 refuses requests.
    let r = rill.clone();
    let refused = within("calls after the maintenance panic", move || {
        for _ in 0..2000 {
            match r.serving_shard("db.users", on_1) {
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return e,
            }
        }
        panic!("shard 1 kept serving after its maintenance panicked");
    });
    match refused {
        Error::ShardPanicked { shard: 1, message } => assert!(message.contains("boom in maintenance"), "{message}"),
        other => panic!("expected ShardPanicked from shard 1, got {other:?}"),
    }
    assert_eq!(rill.serving_shard("db.users", on_0).unwrap(), 0, "the other shard keeps serving");

    shut_down_and_recover(rill, dir.path(), &ids);
}
