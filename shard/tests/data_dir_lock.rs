//! The data directory's `LOCK`: a second `Rill::open` of the same directory, in this process
//! or another, fails with `DataDirLocked` naming the directory and changes nothing; after
//! `shutdown`, or once the last clone is dropped, the directory opens again.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use rill_shard::{Error, Rill, RillConfig};

/// Set in the child process `another_process_cannot_open` starts.
const CHILD_DIR_ENV: &str = "RILL_TEST_LOCKED_DIR";

/// The tests of this file run one at a time: a child process forked by one test inherits every
/// open file of this process until it execs, the other tests' LOCK files included, so their
/// "reopen after shutdown" could meet a lock still held by that child for an instant.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn try_open(dir: &Path) -> Result<Rill, Error> {
    Rill::open(RillConfig::new(dir).with_shards(1))
}

fn assert_locked(dir: &Path) {
    match try_open(dir) {
        Err(e @ Error::DataDirLocked { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&dir.display().to_string()), "the error names the directory: {message}");
            assert!(message.contains("already in use"), "{message}");
        }
        Err(e) => panic!("expected DataDirLocked, got {e}"),
        Ok(_) => panic!("a second open of {} succeeded", dir.display()),
    }
}

#[test]
fn a_second_open_fails_until_shutdown() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 2)).unwrap();
    rill.append("db.events", None, common::events(0, 5)).unwrap();
    assert_locked(dir.path());
    assert_locked(dir.path());
    // The refused opens changed nothing for the running handle.
    rill.append("db.events", None, common::events(5, 5)).unwrap();
    assert_eq!(common::all_events(&rill, "db.events").len(), 10);

    rill.shutdown();
    let again = common::open(dir.path(), 3);
    assert_eq!(common::all_events(&again, "db.events").len(), 10);
    assert_locked(dir.path());
    again.shutdown();
    drop(rill);
    drop(again);
}

#[test]
fn the_last_dropped_clone_releases_the_lock() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    let clone = rill.clone();
    drop(rill);
    assert_locked(dir.path());
    drop(clone);
    let again = common::open(dir.path(), 1);
    assert_locked(dir.path());
    drop(again);
    common::open(dir.path(), 1).shutdown();
}

#[test]
fn a_locked_dir_does_not_block_other_dirs() {
    let _serial = serial();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = common::open(a.path(), 1);
    let second = common::open(b.path(), 1);
    assert_locked(a.path());
    assert_locked(b.path());
    first.shutdown();
    second.shutdown();
}

#[test]
fn another_process_cannot_open() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    let child = |dir: &Path| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_tries_the_locked_dir", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir)
            .output()
            .unwrap()
    };
    let out = child(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("child saw: locked"), "{stdout}");

    rill.shutdown();
    let out = child(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("child saw: opened"), "after shutdown another process opens it: {stdout}");
}

/// Run by `another_process_cannot_open` in a child process; does nothing otherwise.
#[test]
fn child_tries_the_locked_dir() {
    let _serial = serial();
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return };
    match try_open(Path::new(&dir)) {
        Err(Error::DataDirLocked { .. }) => println!("child saw: locked"),
        Err(e) => println!("child saw: error {e}"),
        Ok(rill) => {
            rill.shutdown();
            println!("child saw: opened");
        }
    }
}
