//! Background I/O waits for the foreground's I/O waits (`kv::step::before_background_io`):
//! while a `ForegroundWait` is held, a background task about to submit I/O is held back until
//! the wait ends, or for at most `IO_DEFER_MAX`; with no wait held it goes at once.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use glommio::{Latency, LocalExecutorBuilder, Shares};
use rill_engine::kv::step::{before_background_io, foreground_wait, IO_DEFER_MAX};
use rill_engine::log::UringStorage;

/// Runs `body` on a glommio executor where a `UringStorage` was opened (so make-way is on).
fn on_executor<T, F, Fut>(body: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    LocalExecutorBuilder::default()
        .spawn(move || async move {
            let dir = tempfile::tempdir().expect("tempdir");
            let _storage = UringStorage::open(dir.path()).await.expect("storage");
            body().await
        })
        .expect("executor")
        .join()
        .expect("join")
}

#[test]
fn background_io_goes_at_once_without_a_foreground_wait() {
    let ready = on_executor(|| async { futures_lite::future::poll_once(before_background_io()).await.is_some() });
    assert!(ready, "no foreground wait is held: nothing to wait for");
}

#[test]
fn background_io_waits_until_the_foreground_wait_ends() {
    let (started, passed, dropped) = on_executor(|| async {
        let queue = glommio::executor().create_task_queue(Shares::Static(100), Latency::NotImportant, "bg");
        let wait = foreground_wait();
        let started = Instant::now();
        let passed: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let mark = Rc::clone(&passed);
        let background = glommio::spawn_local_into(
            async move {
                before_background_io().await;
                mark.set(Some(Instant::now()));
            },
            queue,
        )
        .expect("spawn");
        for _ in 0..20 {
            glommio::executor().yield_task_queue_now().await;
        }
        let dropped = Instant::now();
        drop(wait);
        background.await;
        (started, passed.get().expect("the background task finished"), dropped)
    });
    // It went only once the wait ended, or (a stalled machine) after the cap.
    assert!(
        passed >= dropped || passed.duration_since(started) >= IO_DEFER_MAX,
        "background I/O went {:?} after it started, {:?} before the foreground wait ended",
        passed.duration_since(started),
        dropped.saturating_duration_since(passed)
    );
}

#[test]
fn background_io_is_held_back_at_most_io_defer_max() {
    let waited = on_executor(|| async {
        let _wait = foreground_wait();
        let started = Instant::now();
        before_background_io().await;
        started.elapsed()
    });
    // Timers never fire early: it waited the whole cap (and returned, so not forever).
    assert!(waited >= IO_DEFER_MAX, "held back only {waited:?} while the foreground wait was held");
}
