//! Background I/O waits for the foreground's I/O waits (`kv::step::before_background_io`):
//! while a `ForegroundWait` is held, a background task about to submit I/O is held back until
//! the wait ends, or for at most `IO_DEFER_MAX`; with no wait held it goes at once.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use glommio::{Latency, LocalExecutorBuilder, Shares};
use rill_engine::kv::step::{before_background_io, foreground_gauge, foreground_wait, watch, IO_DEFER_MAX};
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

/// Work run for another thread (`watch` of that thread's gauge) makes way for that thread's
/// foreground waits: held back while one is in progress there, at once when it has ended.
#[test]
fn background_io_makes_way_for_a_watched_threads_waits() {
    use std::sync::mpsc;
    let (gauge_tx, gauge_rx) = mpsc::channel();
    let (end_tx, end_rx) = mpsc::channel::<()>();
    let (ended_tx, ended_rx) = mpsc::channel::<()>();
    let owner = std::thread::spawn(move || {
        let wait = foreground_wait();
        gauge_tx.send(foreground_gauge()).expect("send the gauge");
        end_rx.recv().expect("told to end the wait");
        drop(wait);
        ended_tx.send(()).expect("say the wait ended");
    });
    let gauge = gauge_rx.recv().expect("the owner's gauge");
    let (unwatched, held, after) = on_executor(move || async move {
        let unwatched = futures_lite::future::poll_once(before_background_io()).await.is_some();
        let watching = watch(gauge);
        let held = futures_lite::future::poll_once(before_background_io()).await.is_none();
        end_tx.send(()).expect("end the owner's wait");
        ended_rx.recv().expect("the owner's wait ended");
        let after = futures_lite::future::poll_once(before_background_io()).await.is_some();
        drop(watching);
        (unwatched, held, after)
    });
    owner.join().expect("owner thread");
    assert!(unwatched, "nothing watched: nothing to wait for");
    assert!(held, "the watched thread's foreground wait holds background I/O back");
    assert!(after, "the watched thread's wait ended: background I/O goes at once");
}

/// Held back by a watched thread's wait that never ends, background I/O still goes after
/// `IO_DEFER_MAX`.
#[test]
fn a_watched_wait_holds_background_io_back_at_most_io_defer_max() {
    use std::sync::mpsc;
    let (gauge_tx, gauge_rx) = mpsc::channel();
    let (end_tx, end_rx) = mpsc::channel::<()>();
    let owner = std::thread::spawn(move || {
        let _wait = foreground_wait();
        gauge_tx.send(foreground_gauge()).expect("send the gauge");
        end_rx.recv().expect("told to end the wait");
    });
    let gauge = gauge_rx.recv().expect("the owner's gauge");
    let waited = on_executor(move || async move {
        let _watching = watch(gauge);
        let started = Instant::now();
        before_background_io().await;
        started.elapsed()
    });
    end_tx.send(()).expect("end the owner's wait");
    owner.join().expect("owner thread");
    // Timers never fire early: it waited the whole cap (and returned, so not forever).
    assert!(waited >= IO_DEFER_MAX, "held back only {waited:?} while the watched wait was held");
}
