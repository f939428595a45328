//! Adding columns while other threads keep writing and reading the table: the buckets of the
//! table close and reopen in the new schema, and requests arriving meanwhile wait for them
//! instead of failing. Every write (in the schema its caller knew) lands, with 1 and 2 shards.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rill_engine::schema::{Column, DataType};

const TABLE: &str = "db.users";

fn evolve_under_load(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open_with(common::config(dir.path(), shards));
    rill.create_table(common::pk_table(TABLE, 2)).unwrap();
    let ids: Vec<i64> = (0..2000).collect();
    rill.upsert(TABLE, common::users(&ids, 0)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (rill, stop, done) = (rill.clone(), Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut round = 0i64;
                while !stop.load(Ordering::SeqCst) {
                    let at = (round * 7 + w) % 2000;
                    let keys: Vec<i64> = (at..(at + 10).min(2000)).collect();
                    if w == 0 {
                        // Rows in the first schema: accepted after the change too.
                        rill.upsert(TABLE, common::users(&keys, round + 1)).unwrap();
                    } else {
                        let (_, found) = rill.lookup(TABLE, common::user_keys(&keys)).unwrap();
                        assert!(found.iter().all(|f| *f), "every key stays found");
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    round += 1;
                }
                round
            })
        })
        .collect();

    // Waits for the workers to do `n` more requests (a worker that failed ends the test).
    let wait_for = |n: u64, workers: &[std::thread::JoinHandle<i64>]| {
        let target = done.load(Ordering::SeqCst) + n;
        while done.load(Ordering::SeqCst) < target {
            assert!(!workers.iter().any(|w| w.is_finished()), "a worker failed");
            std::thread::yield_now();
        }
    };
    for (i, name) in ["email", "city", "note"].into_iter().enumerate() {
        wait_for(50, &workers);
        let info = rill.add_columns(TABLE, vec![Column::new(name, DataType::String)]).unwrap();
        assert_eq!(info.descriptor.schema.columns.len(), 3 + i + 1);
    }
    wait_for(50, &workers);
    stop.store(true, Ordering::SeqCst);
    let rounds: Vec<i64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(rounds.iter().all(|r| *r > 0));

    let (rows, found) = rill.lookup(TABLE, common::user_keys(&ids)).unwrap();
    assert!(found.iter().all(|f| *f));
    assert_eq!(rows.num_columns(), 6, "rows come back in the newest schema");
    rill.shutdown();
}

#[test]
fn requests_during_a_schema_change_wait_for_the_reopened_buckets_one_shard() {
    evolve_under_load(1);
}

#[test]
fn requests_during_a_schema_change_wait_for_the_reopened_buckets_two_shards() {
    evolve_under_load(2);
}
