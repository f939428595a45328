//! A subscription waits (on the shard, woken by the commit) for data appended after it
//! started waiting, from plain threads and from tokio; it times out with `None`; offsets
//! outside the log fail clearly; primary-key tables yield `$changelog` rows.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use arrow_array::{Int64Array, StringArray};
use rill_shard::Error;

fn waits_on_a_thread(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), shards);
    rill.create_table(common::log_table("db.events", 2)).unwrap();
    rill.append("db.events", Some(1), common::events(0, 5)).unwrap();
    let mut sub = rill.subscribe("db.events", 1, 2).unwrap().with_wait_ms(20_000);
    let first = sub.next().unwrap().unwrap();
    assert_eq!(common::rows_of(&first).iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 4], "from the offset");
    assert_eq!(sub.offset(), 5);

    let appender = {
        let rill = rill.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            rill.append("db.events", Some(0), common::events(100, 1)).unwrap(); // another bucket
            rill.append("db.events", Some(1), common::events(5, 3)).unwrap();
        })
    };
    let started = Instant::now();
    let next = sub.next().unwrap().expect("the append wakes the subscription");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "it waited for the append: {waited:?}");
    assert!(waited < Duration::from_secs(15), "woken by the append, not the timeout: {waited:?}");
    assert_eq!(common::rows_of(&next).iter().map(|r| r.0).collect::<Vec<_>>(), [5, 6, 7]);
    appender.join().unwrap();

    let mut idle = rill.subscribe("db.events", 1, sub.offset()).unwrap().with_wait_ms(200);
    let started = Instant::now();
    assert!(idle.next().unwrap().is_none(), "nothing new: times out");
    assert!(started.elapsed() >= Duration::from_millis(150));
    rill.shutdown();
}

#[test]
fn waits_on_one_shard() {
    waits_on_a_thread(1);
}

#[test]
fn waits_on_two_shards() {
    waits_on_a_thread(2);
}

#[test]
fn waits_in_tokio() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 2)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let waiter = {
            let rill = rill.clone();
            tokio::spawn(async move {
                let mut sub = rill.subscribe("db.events", 0, 0).unwrap().with_wait_ms(20_000);
                let started = Instant::now();
                let batch = sub.next_async().await.unwrap().unwrap();
                (started.elapsed(), common::rows_of(&batch).len())
            })
        };
        let appender = rill.clone();
        tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_millis(300))).await.unwrap();
        appender.append_async("db.events", Some(0), common::events(0, 4)).await.unwrap();
        let (waited, rows) = waiter.await.unwrap();
        assert_eq!(rows, 4);
        assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(15), "{waited:?}");
    });
    rill.shutdown();
}

#[test]
fn offsets_outside_the_log_fail() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::log_table("db.events", 1)).unwrap();
    rill.append("db.events", Some(0), common::events(0, 3)).unwrap();
    let mut past = rill.subscribe("db.events", 0, 10).unwrap();
    match past.next() {
        Err(Error::Engine(rill_engine::Error::OffsetOutOfRange { offset: 10, start: 0, end: 3, .. })) => {}
        other => panic!("expected OffsetOutOfRange, got {other:?}"),
    }
    let mut before = rill.subscribe("db.events", 0, -1).unwrap();
    assert!(matches!(before.next(), Err(Error::Engine(rill_engine::Error::OffsetOutOfRange { .. }))));
    assert!(matches!(rill.subscribe("db.events", 1, 0), Err(Error::UnknownBucket { .. })));
    assert!(matches!(rill.subscribe("db.nope", 0, 0), Err(Error::UnknownTable { .. })));
    rill.shutdown();
}

#[test]
fn pk_tables_yield_changelog_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let mut sub = rill.subscribe("db.users", 0, 0).unwrap().with_wait_ms(5_000);
    rill.upsert("db.users", common::users(&[1], 0)).unwrap();
    rill.upsert("db.users", common::users(&[1], 5)).unwrap();
    rill.delete("db.users", common::user_keys(&[1])).unwrap();
    let mut changes = Vec::new();
    while changes.len() < 4 {
        let batch = sub.next().unwrap().expect("the writes are durable");
        let kind = batch.column_by_name("_change_type").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        let offset = batch.column_by_name("_log_offset").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        let score = batch.column_by_name("score").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        assert!(batch.column_by_name("_commit_timestamp").is_some());
        for i in 0..batch.num_rows() {
            changes.push((kind.value(i).to_string(), offset.value(i), score.value(i)));
        }
    }
    let expected = [("insert", 0, 10), ("update_before", 1, 10), ("update_after", 2, 15), ("delete", 3, 15)];
    let expected: Vec<(String, i64, i64)> = expected.iter().map(|(k, o, s)| (k.to_string(), *o, *s)).collect();
    assert_eq!(changes, expected);
    rill.shutdown();
}

#[test]
fn shutdown_and_drop_end_a_waiting_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 1)).unwrap();
    rill.create_table(common::log_table("db.other", 1)).unwrap();
    let waiter = |table: &'static str| {
        let mut sub = rill.subscribe(table, 0, 0).unwrap().with_wait_ms(60_000);
        std::thread::spawn(move || {
            let started = Instant::now();
            let outcome = sub.next();
            (started.elapsed(), outcome.map(|b| b.is_some()))
        })
    };
    let dropped = waiter("db.other");
    std::thread::sleep(Duration::from_millis(200));
    rill.drop_table("db.other").unwrap();
    let (waited, outcome) = dropped.join().unwrap();
    assert!(waited < Duration::from_secs(10), "dropping the table ends the wait: {waited:?}");
    assert!(matches!(outcome, Ok(false)), "{outcome:?}");

    let waiting = waiter("db.events");
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    rill.shutdown();
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown does not wait for the subscription");
    let (waited, outcome) = waiting.join().unwrap();
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(matches!(outcome, Ok(false) | Err(Error::ShardGone { .. })), "{outcome:?}");
}
