//! Blocking on a shard's reply from a plain thread: spin briefly, then park.
//!
//! A reply usually arrives within microseconds. Parking at once would make the shard pay a
//! futex wake-up (a system call and an inter-processor interrupt, ~10 µs in a VM) for every
//! reply; a caller that spins first is woken by a plain atomic store. The spin yields the CPU
//! after the first microseconds, so a shard sharing the caller's core still gets to run.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Longest a blocked caller spins (busy, then yielding) before it parks.
pub const REPLY_SPIN_US: u64 = 50;
/// Longest a parked caller sleeps before it polls its future again, woken or not.
const PARK_MAX: Duration = Duration::from_millis(10);
/// Part of the spin that is busy (no `sched_yield`).
const BUSY_SPIN_US: u64 = 5;

struct Signal {
    notified: AtomicBool,
    thread: Thread,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, Ordering::Release);
        // Cheap when the thread is not parked (an atomic swap, no system call).
        self.thread.unpark();
    }
}

thread_local! {
    /// The calling thread's signal, made once (an allocation and a thread handle per call
    /// otherwise). Taken while a `block_on` runs, so a nested one makes its own.
    static SIGNAL: std::cell::Cell<Option<Arc<Signal>>> = const { std::cell::Cell::new(None) };
}

/// Runs `future` to completion on this thread. Never call it on a shard.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let signal = SIGNAL
        .take()
        .unwrap_or_else(|| Arc::new(Signal { notified: AtomicBool::new(false), thread: std::thread::current() }));
    signal.notified.store(false, Ordering::Release);
    let out = run(future, &signal);
    SIGNAL.set(Some(signal));
    out
}

fn run<F: Future>(future: F, signal: &Arc<Signal>) -> F::Output {
    let waker = Waker::from(Arc::clone(signal));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let mut woken = true;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            if !woken {
                // Ready, yet nobody woke us: a wake-up was lost (the park's bound saved it).
                LOST_WAKES.fetch_add(1, Ordering::Relaxed);
            }
            return out;
        }
        woken = wait_for(signal);
        signal.notified.store(false, Ordering::Release);
    }
}

/// Calls whose future was ready when a parked caller polled it after `PARK_MAX` without
/// having been woken: lost wake-ups, each of which cost up to `PARK_MAX`.
static LOST_WAKES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Lost wake-ups seen by blocked callers in this process (see `PARK_MAX`): a diagnostic.
pub fn lost_wakes() -> u64 {
    LOST_WAKES.load(Ordering::Relaxed)
}

/// Spins until `done` returns true (busy for `BUSY_SPIN_US`, then yielding the CPU between
/// checks) for at most `REPLY_SPIN_US`; false if it never did.
pub(crate) fn spin_until(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    let busy = Duration::from_micros(BUSY_SPIN_US);
    let spin = Duration::from_micros(REPLY_SPIN_US);
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        let waited = start.elapsed();
        if waited >= spin {
            return false;
        }
        if waited >= busy {
            std::thread::yield_now();
        }
    }
}

/// Waits until woken (true) or until `PARK_MAX` of parking passed without a wake (false).
fn wait_for(signal: &Signal) -> bool {
    if spin_until(|| signal.notified.load(Ordering::Acquire)) {
        return true;
    }
    // Returns at once if woken meanwhile (the unpark token is kept); spurious wake-ups just
    // poll the future again. Bounded: should a wake-up ever be lost, the future is polled
    // again after `PARK_MAX`.
    let parked = Instant::now();
    while !signal.notified.load(Ordering::Acquire) && parked.elapsed() < PARK_MAX {
        std::thread::park_timeout(PARK_MAX);
    }
    signal.notified.load(Ordering::Acquire)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn returns_ready_output_and_waits_for_other_threads() {
        assert_eq!(block_on(async { 7 }), 7);
        for delay_us in [0u64, 20, 2_000] {
            let (tx, rx) = futures_channel::oneshot::channel();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_micros(delay_us));
                tx.send(delay_us).unwrap();
            });
            assert_eq!(block_on(rx).unwrap(), delay_us);
            sender.join().unwrap();
        }
    }
}
