//! The same appends, upserts and deletes give the same scans and lookups for N = 1, 2, 4, and
//! with shards that spin and answer requests inline (`shard_spin_us`).
#![allow(clippy::unwrap_used)]

mod common;

type Outcome = (Vec<(i64, String)>, Vec<(i64, i64)>, Vec<bool>);

fn run(shards: usize) -> Outcome {
    run_with(shards, 0)
}

fn run_with(shards: usize, spin_us: u64) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), shards);
    config.shard_spin_us = spin_us;
    let rill = common::open_with(config);
    rill.create_table(common::log_table("db.events", 5)).unwrap();
    rill.create_table(common::pk_table("db.users", 6)).unwrap();
    for i in 0..20 {
        rill.append("db.events", None, common::events(i * 7, 7)).unwrap();
    }
    let ids: Vec<i64> = (0..200).collect();
    rill.upsert("db.users", common::users(&ids, 1)).unwrap();
    let evens: Vec<i64> = (0..200).step_by(2).collect();
    rill.upsert("db.users", common::users(&evens, 5)).unwrap();
    let threes: Vec<i64> = (0..200).step_by(3).collect();
    rill.delete("db.users", common::user_keys(&threes)).unwrap();
    let events = common::all_events(&rill, "db.events");
    let asked: Vec<i64> = (190..260).rev().chain(0..30).collect();
    let (found_rows, found) = common::lookup_scores(&rill, "db.users", &asked);
    rill.shutdown();
    (events, found_rows, found)
}

#[test]
fn one_two_and_four_shards_agree() {
    let one = run(1);
    assert_eq!(one.0.len(), 140);
    assert_eq!(one.2.len(), 100);
    // Found rows come back in request order.
    let expected: Vec<(i64, i64)> = (190..200)
        .rev()
        .chain(0..30)
        .filter(|i| i % 3 != 0)
        .map(|i| (i, i * 10 + if i % 2 == 0 { 5 } else { 1 }))
        .collect();
    assert_eq!(one.1, expected);
    assert_eq!(run(2), one);
    assert_eq!(run(4), one);
}

#[test]
fn spinning_shards_answering_inline_agree() {
    // Lookups finish inline; upserts and appends wait for their fdatasync and become tasks.
    let plain = run(1);
    assert_eq!(run_with(1, 100), plain);
    assert_eq!(run_with(2, 100), plain);
}
