//! Background steps make way for a foreground I/O wait (`kv/step.rs`): while a
//! `ForegroundWait` is held, a read's completion is reaped after a few background steps. Without
//! one, a background task that only yields its queue keeps the executor from polling its rings
//! until glommio's preempt timer (100 ms) fires, thousands of steps later.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::{Latency, LocalExecutorBuilder, Shares};
use rill_engine::kv::step::{end_of_step, foreground_wait};
use rill_engine::log::{Storage, StorageFile, UringStorage, WRITE_ALIGNMENT};

/// The background task's steps at most (each busy for `STEP`).
const STEPS_MAX: u32 = 200_000;
const STEP: Duration = Duration::from_micros(5);
/// Steps the background may take before a foreground read that makes way resolves: the read
/// takes well under a millisecond, ~100 steps; without make-way the count is ~20000.
const STEPS_WITH_MAKE_WAY_MAX: u32 = 2_000;

/// Runs a background task of busy steps beside one foreground read of a file; returns how many
/// steps it had taken when the read resolved.
fn steps_before_the_read(make_way: bool) -> u32 {
    LocalExecutorBuilder::default()
        .spawn(move || async move {
            let dir = tempfile::tempdir().expect("tempdir");
            let storage = UringStorage::open(dir.path()).await.expect("storage");
            let file = storage.open("data", true).await.expect("open");
            file.write_at(0, &[7u8; WRITE_ALIGNMENT]).await.expect("write");
            file.sync().await.expect("sync");
            let steps = Rc::new(Cell::new(0u32));
            let stop = Rc::new(Cell::new(false));
            let queue = glommio::executor().create_task_queue(Shares::Static(100), Latency::NotImportant, "bg");
            let (taken, stopped) = (Rc::clone(&steps), Rc::clone(&stop));
            let background = glommio::spawn_local_into(
                async move {
                    while taken.get() < STEPS_MAX && !stopped.get() {
                        let started = Instant::now();
                        while started.elapsed() < STEP {
                            std::hint::spin_loop();
                        }
                        taken.set(taken.get() + 1);
                        end_of_step().await;
                    }
                },
                queue,
            )
            .expect("spawn");
            let wait = make_way.then(foreground_wait);
            let read = file.read_at(0, WRITE_ALIGNMENT).await.expect("read");
            let at = steps.get();
            drop(wait);
            assert_eq!(read, vec![7u8; WRITE_ALIGNMENT]);
            stop.set(true);
            background.await;
            file.close().await.expect("close");
            at
        })
        .expect("executor")
        .join()
        .expect("join")
}

#[test]
fn a_foreground_read_is_reaped_after_a_few_background_steps() {
    let with = steps_before_the_read(true);
    assert!(with < STEPS_WITH_MAKE_WAY_MAX, "the read resolved after {with} background steps");
}

#[test]
fn without_make_way_the_read_waits_for_the_preempt_timer() {
    // The contrast that shows the test above can fail: the same read, no ForegroundWait.
    let without = steps_before_the_read(false);
    assert!(without >= STEPS_WITH_MAKE_WAY_MAX, "the read resolved after only {without} background steps");
}
