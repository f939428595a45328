//! Dropping a table while other threads write to it: writers get `UnknownTable` (never a hang
//! or a panic), the data is gone, and the name can be reused for a fresh table.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rill_shard::Error;

#[test]
fn drop_while_appending_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    let first = rill.create_table(common::log_table("db.events", 4)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (rill, stop) = (rill.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut ok = 0;
                while !stop.load(Ordering::Relaxed) {
                    match rill.append("db.events", None, common::events(t * 100_000 + ok, 1)) {
                        Ok(_) => ok += 1,
                        Err(Error::UnknownTable { .. }) => break,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                ok
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    rill.drop_table("db.events").unwrap();
    stop.store(true, Ordering::Relaxed);
    let written: i64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(written > 0);
    assert!(!dir.path().join(format!("tables/{}", first.id)).exists());

    let second = rill.create_table(common::log_table("db.events", 2)).unwrap();
    assert_ne!(second.id, first.id, "ids are never reused");
    assert!(common::all_events(&rill, "db.events").is_empty());
    rill.shutdown();
}
