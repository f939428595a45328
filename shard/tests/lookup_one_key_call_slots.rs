//! One-key lookups go through reusable call slots of the owning shard (`runtime/point.rs`):
//! more threads than slots, abandoned async calls and every answer kind must give exactly the
//! answers of the general path.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use arrow_array::{Array, Int64Array, StringArray};

/// More callers than a shard has call slots (64), each looking up its own keys: every answer
/// belongs to its caller's key, whether it went through a slot or the general path.
#[test]
fn threads_beyond_the_slot_count_get_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table("db.users", 3)).unwrap();
    let ids: Vec<i64> = (0..400).collect();
    rill.upsert("db.users", common::users(&ids, 7)).unwrap();
    let threads: Vec<_> = (0..80i64)
        .map(|t| {
            let rill = rill.clone();
            std::thread::spawn(move || {
                for round in 0..40i64 {
                    let id = (t * 41 + round * 7) % 500;
                    let (rows, found) = rill.lookup("db.users", common::user_keys(&[id])).unwrap();
                    assert_eq!(found, [id < 400], "key {id}");
                    assert_eq!(rows.num_rows(), usize::from(id < 400), "key {id}");
                    assert_eq!(rows.schema(), common::user_schema().to_arrow(), "key {id}");
                    if id < 400 {
                        let got = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
                        let name = rows.column(1).as_any().downcast_ref::<StringArray>().unwrap().value(0);
                        let score = rows.column(2).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
                        assert_eq!((got, name, score), (id, format!("user-{id}").as_str(), id * 10 + 7));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rill.shutdown();
}

/// Async one-key lookups dropped after their request was queued (more of them than a shard has
/// slots) leave no slot behind and no answer for a later call: later calls still get their own
/// rows, through slots and the general path alike.
#[test]
fn abandoned_async_lookups_do_not_leak_or_mix_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let ids: Vec<i64> = (0..300).collect();
    rill.upsert("db.users", common::users(&ids, 1)).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in 0..200i64 {
        let mut call = pin!(rill.lookup_async("db.users", common::user_keys(&[id])));
        // Queued (the first poll sends it), then dropped before (or after) the answer.
        let _ = call.as_mut().poll(&mut cx);
    }
    for id in 200..300i64 {
        let (rows, found) = rill.lookup("db.users", common::user_keys(&[id])).unwrap();
        assert_eq!(found, [true]);
        let got = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
        assert_eq!(got, id);
        // On a real executor: the shard's answer wakes the task through the slot's waker.
        let (rows, found) = runtime.block_on(rill.lookup_async("db.users", common::user_keys(&[id]))).unwrap();
        assert_eq!(found, [true]);
        assert_eq!(rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), id);
    }
    rill.shutdown();
}

/// A lookup after shutdown fails (ShardGone) instead of waiting for a slot's answer.
#[test]
fn one_key_lookup_after_shutdown_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    rill.upsert("db.users", common::users(&[1], 0)).unwrap();
    assert_eq!(rill.lookup("db.users", common::user_keys(&[1])).unwrap().1, [true]);
    rill.shutdown();
    let err = rill.lookup("db.users", common::user_keys(&[1])).unwrap_err();
    assert!(matches!(err, rill_shard::Error::ShardGone { .. }), "{err:?}");
}
