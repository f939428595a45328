//! How long a task runs without giving the executor back: every poll of a wrapped future is
//! timed. On a thread-per-core executor a long poll delays everything else on the core (a
//! foreground write queued behind a compaction step waits for the whole step), so the
//! longest poll of the background tasks is what their yielding is judged by. Each poll is
//! timed twice: on the wall clock, and in CPU time of the thread (which leaves out the time
//! the thread was not running at all: preempted by the kernel's I/O workers or the VM).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Polls over this long are counted apart.
pub const LONG_POLL: Duration = Duration::from_millis(1);

/// Poll times of one or more futures.
#[derive(Default)]
pub struct PollStats {
    polls: Cell<u64>,
    long_polls: Cell<u64>,
    longest: Cell<Duration>,
    /// The longest poll in CPU time of the thread.
    longest_cpu: Cell<Duration>,
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid out-pointer for the call; CLOCK_THREAD_CPUTIME_ID always exists
    // on Linux. On failure `t` stays zero (the CPU figure reads 0).
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
}

impl PollStats {
    fn record(&self, took: Duration, cpu: Duration) {
        if cpu > self.longest_cpu.get() {
            self.longest_cpu.set(cpu);
        }
        self.polls.set(self.polls.get() + 1);
        if took > LONG_POLL {
            self.long_polls.set(self.long_polls.get() + 1);
        }
        if took > self.longest.get() {
            self.longest.set(took);
        }
    }

    /// Starts counting over.
    pub fn reset(&self) {
        self.polls.set(0);
        self.long_polls.set(0);
        self.longest.set(Duration::ZERO);
        self.longest_cpu.set(Duration::ZERO);
    }

    /// "longest X ms, N of M polls over 1 ms".
    pub fn describe(&self) -> String {
        format!(
            "longest {:.2} ms ({:.2} ms of CPU time in the longest by CPU), {} of {} polls over {} ms",
            self.longest.get().as_secs_f64() * 1e3,
            self.longest_cpu.get().as_secs_f64() * 1e3,
            self.long_polls.get(),
            self.polls.get(),
            LONG_POLL.as_millis()
        )
    }

    /// The longest poll seen.
    pub fn longest(&self) -> Duration {
        self.longest.get()
    }
}

/// `future`, each of its polls timed into `stats`.
pub fn timed<F: Future>(future: F, stats: Rc<PollStats>) -> Timed<F> {
    Timed { future: Box::pin(future), stats }
}

/// See [`timed`].
pub struct Timed<F> {
    future: Pin<Box<F>>,
    stats: Rc<PollStats>,
}

impl<F: Future> Future for Timed<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let (started, cpu) = (Instant::now(), thread_cpu());
        let out = self.future.as_mut().poll(cx);
        self.stats.record(started.elapsed(), thread_cpu().saturating_sub(cpu));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_poll_is_seen() {
        let stats = Rc::new(PollStats::default());
        let slow = timed(async { std::thread::sleep(Duration::from_millis(3)) }, Rc::clone(&stats));
        futures_lite::future::block_on(slow);
        assert_eq!((stats.polls.get(), stats.long_polls.get()), (1, 1));
        assert!(stats.longest() >= Duration::from_millis(3));
        assert!(stats.longest_cpu.get() < Duration::from_millis(3), "sleeping uses no CPU");
        stats.reset();
        assert_eq!(stats.longest(), Duration::ZERO);
    }
}
