//! Where background work (a flush or compaction chunk, a slice of a bloom filter, a batch of
//! frees) gives the core back, and how it makes way for foreground work waiting on I/O.
//!
//! Yielding the task is not enough on glommio: a task that wakes itself stays in its task
//! queue, and the executor keeps running that queue until its preempt timer fires (100 ms by
//! default), so a ready foreground request would wait behind every step of a compaction.
//! Yielding the task queue makes the scheduler pick the next queue by its shares (a shard's
//! foreground queue first when it has work).
//!
//! That is not enough either while the foreground waits on I/O (a group commit's write and
//! sync, an SST block read): glommio reaps completions only when no task queue has a runnable
//! task (or its preempt timer fires), so a flush stepping from chunk to chunk kept a durable
//! write's completion unseen until the flush itself waited for I/O: writes took 3-5 ms instead
//! of 0.4 ms for the second or so a memtable flush runs (bench-results/README.md, session 12).
//! So while a [`ForegroundWait`] is held, background work sleeps for a moment at the end of
//! each step and, inside a step, at each [`checkpoint`] once it has run [`SLICE`]: with no
//! task runnable, the executor polls its rings, and the foreground resumes first.
//!
//! Background I/O goes further: a read or write submitted while the foreground waits on its
//! own I/O queues beside it on the disk (a 1 MiB SST write holds a 20 KiB changelog write
//! and the sync after it for most of a millisecond). So background work calls
//! [`before_background_io`] before it submits I/O: while a foreground wait is held, the I/O
//! waits for the last one to end (at most [`IO_DEFER_MAX`], so background work cannot be
//! starved by a foreground that always has I/O in flight).
//!
//! Work run for another thread (a compaction merge a peer shard runs for the bucket's owner,
//! [`super::compaction_job`]) makes way for that thread's foreground waits too: the owner's
//! count of waits is shared ([`foreground_gauge`]), and the worker watches it while it runs
//! the job ([`watch`]). Nothing wakes the worker when the owner's waits end, so its held-back
//! I/O looks again every [`WATCH_POLL`].
//!
//! The sleep needs glommio's timers: it is used only on threads where a glommio-backed
//! storage was opened ([`reactor_present`]); elsewhere (tests on
//! `futures_lite::future::block_on`) a step ends with a plain task yield.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Longest a background step runs between two checkpoints while the foreground waits on
/// I/O (the longest the foreground's completions then stay unseen, about).
pub const SLICE: Duration = Duration::from_micros(100);

/// Longest background I/O is held back while foreground I/O waits are in progress.
pub const IO_DEFER_MAX: Duration = Duration::from_millis(1);

/// How long background work sleeps to let the executor poll its rings (any nonzero time: the
/// timer is due by the time the rings have been polled).
const PAUSE: Duration = Duration::from_micros(1);

/// How often held-back I/O of work run for another thread looks at that thread's
/// [`ForegroundGauge`] again (nothing wakes it when the other thread's waits end).
pub const WATCH_POLL: Duration = Duration::from_micros(50);

/// Whether a thread has foreground waits in progress, readable from any thread (see the
/// module docs). Updated only when the thread's count goes from or to zero.
#[derive(Clone, Debug, Default)]
pub struct ForegroundGauge(Arc<AtomicU32>);

impl ForegroundGauge {
    fn busy(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

thread_local! {
    /// Foreground waits on I/O in progress on this thread.
    static FOREGROUND_WAITS: Cell<u32> = const { Cell::new(0) };
    /// Whether `FOREGROUND_WAITS` is above zero, for other threads.
    static GAUGE: ForegroundGauge = ForegroundGauge::default();
    /// Other threads' gauges that this thread's background work makes way for ([`watch`]).
    static WATCHED: RefCell<Vec<ForegroundGauge>> = const { RefCell::new(Vec::new()) };
    /// When the running background slice started (its last pause).
    static SLICE_START: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Whether this thread runs a glommio executor (so timers work).
    static REACTOR: Cell<bool> = const { Cell::new(false) };
    /// Background I/O waiting for the foreground waits to end.
    static IDLE_WAITERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Says this thread runs a glommio executor (called where glommio-backed storage is opened).
pub(crate) fn reactor_present() {
    REACTOR.with(|r| r.set(true));
}

/// Held while foreground work waits on I/O: background steps pause often meanwhile.
#[must_use = "the wait ends when the guard is dropped"]
pub struct ForegroundWait(ThreadBound);

impl Drop for ForegroundWait {
    fn drop(&mut self) {
        let left = FOREGROUND_WAITS.with(|w| {
            let left = w.get().saturating_sub(1);
            w.set(left);
            left
        });
        if left == 0 {
            GAUGE.with(|g| g.0.store(0, Ordering::Relaxed));
            let waiters = IDLE_WAITERS.with(|w| std::mem::take(&mut *w.borrow_mut()));
            waiters.into_iter().for_each(Waker::wake);
        }
    }
}

/// Marks a foreground wait on I/O until the guard is dropped.
pub fn foreground_wait() -> ForegroundWait {
    let before = FOREGROUND_WAITS.with(|w| {
        let before = w.get();
        w.set(before.saturating_add(1));
        before
    });
    if before == 0 {
        GAUGE.with(|g| g.0.store(1, Ordering::Relaxed));
    }
    ForegroundWait(PhantomData)
}

/// This thread's [`ForegroundGauge`], for work it hands to another thread.
pub fn foreground_gauge() -> ForegroundGauge {
    GAUGE.with(Clone::clone)
}

/// Makes this thread's background work also make way for `gauge`'s thread until the guard is
/// dropped (held while running a job for that thread).
pub fn watch(gauge: ForegroundGauge) -> Watch {
    WATCHED.with(|w| w.borrow_mut().push(gauge.clone()));
    Watch(gauge, PhantomData)
}

/// Ends a [`watch`] when dropped.
#[must_use = "the watch ends when the guard is dropped"]
pub struct Watch(ForegroundGauge, ThreadBound);

/// Keeps a guard on the thread whose counts it changes (`!Send`: dropped on another thread,
/// it would leave this thread's count or watch list wrong for good).
type ThreadBound = PhantomData<*const ()>;

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHED.with(|w| {
            let mut watched = w.borrow_mut();
            if let Some(at) = watched.iter().position(|g| Arc::ptr_eq(&g.0, &(self.0).0)) {
                watched.swap_remove(at);
            }
        });
    }
}

/// True when a watched thread has foreground waits in progress.
fn watched_busy() -> bool {
    WATCHED.with(|w| w.borrow().iter().any(ForegroundGauge::busy))
}

/// True when background work should pause to let a foreground wait's completions in.
fn make_way() -> bool {
    (FOREGROUND_WAITS.with(Cell::get) > 0 || watched_busy()) && REACTOR.with(Cell::get)
}

/// Sleeps [`PAUSE`]: no task of this queue is runnable, so the executor polls its rings.
async fn pause() {
    glommio::timer::sleep(PAUSE).await;
    start_slice();
}

/// A background slice starts now (the task has just got the core back).
fn start_slice() {
    SLICE_START.with(|s| s.set(Some(Instant::now())));
}

/// A point inside a background step: pauses when a foreground wait is held and the slice has
/// run [`SLICE`]; otherwise returns at once.
pub async fn checkpoint() {
    if !make_way() {
        return;
    }
    let now = Instant::now();
    let started = SLICE_START.with(|s| {
        let started = s.get().unwrap_or(now);
        s.set(Some(started));
        started
    });
    if now.saturating_duration_since(started) >= SLICE {
        pause().await;
    }
}

/// Called by background work before it submits I/O: while a foreground wait is held (here or
/// on a [`watch`]ed thread), waits until none is (at most [`IO_DEFER_MAX`]); otherwise returns
/// at once.
pub async fn before_background_io() {
    if !make_way() {
        return;
    }
    if FOREGROUND_WAITS.with(Cell::get) > 0 {
        futures_lite::future::or(ForegroundIdle, async {
            glommio::timer::sleep(IO_DEFER_MAX).await;
        })
        .await;
    } else {
        let deadline = Instant::now() + IO_DEFER_MAX;
        while watched_busy() && Instant::now() < deadline {
            glommio::timer::sleep(WATCH_POLL).await;
        }
    }
    start_slice();
}

/// Resolves once no foreground wait is held on this thread.
struct ForegroundIdle;

impl Future for ForegroundIdle {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if FOREGROUND_WAITS.with(Cell::get) == 0 {
            return Poll::Ready(());
        }
        IDLE_WAITERS.with(|w| {
            let mut waiters = w.borrow_mut();
            if !waiters.iter().any(|x| x.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        });
        Poll::Pending
    }
}

/// Ends a step of background work (see the module docs).
pub async fn end_of_step() {
    if make_way() {
        pause().await;
    } else {
        glommio::executor().yield_task_queue_now().await;
        start_slice();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_nest_and_end_with_their_guards() {
        REACTOR.with(|r| r.set(true));
        assert!(!make_way());
        let outer = foreground_wait();
        let inner = foreground_wait();
        assert!(make_way());
        drop(inner);
        assert!(make_way(), "the outer wait still holds");
        drop(outer);
        assert!(!make_way());
        REACTOR.with(|r| r.set(false));
    }

    #[test]
    fn without_a_reactor_background_never_pauses() {
        let _wait = foreground_wait();
        assert!(!make_way(), "no glommio timers on this thread");
        // A plain yield: this resolves on a non-glommio executor.
        futures_lite::future::block_on(async {
            checkpoint().await;
            end_of_step().await;
        });
    }
}
