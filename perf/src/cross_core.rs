//! The physical floor of a call from one core to another: two threads pinned to two CPUs
//! bounce a counter through one cache line each way, spinning (no system call, no queue, no
//! allocation). An embedded call can only be slower; `rill-bench embedded` reports it beside
//! the bare round trip of a `Rill` call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::kv_bench::{elapsed_ns, histogram};
use crate::Result;

/// A counter alone on its cache lines (two lines: adjacent-line prefetch).
#[repr(align(128))]
struct Line(AtomicU64);

/// `n` round trips between the calling thread and a thread pinned to `other_cpu` (the
/// caller pins itself first, if asked). Returns the latency histogram (ns) and seconds taken.
pub fn ping_pong(
    other_cpu: usize,
    n: u64,
    pin: impl Fn(usize) -> Result<()> + Send + Sync + Copy + 'static,
) -> Result<(Histogram<u64>, f64)> {
    let request = Arc::new(Line(AtomicU64::new(0)));
    let reply = Arc::new(Line(AtomicU64::new(0)));
    let (req, rep) = (Arc::clone(&request), Arc::clone(&reply));
    let responder = std::thread::Builder::new()
        .name("rill-floor".into())
        .spawn(move || -> Result<()> {
            pin(other_cpu)?;
            let mut seen = 0;
            while seen != u64::MAX {
                let v = req.0.load(Ordering::Acquire);
                if v != seen {
                    seen = v;
                    rep.0.store(v, Ordering::Release);
                }
                std::hint::spin_loop();
            }
            Ok(())
        })
        .map_err(|e| format!("starting the ping-pong thread: {e}"))?;
    let mut hist = histogram()?;
    let started = Instant::now();
    for i in 1..=n {
        let t = Instant::now();
        request.0.store(i, Ordering::Release);
        while reply.0.load(Ordering::Acquire) != i {
            std::hint::spin_loop();
        }
        hist.saturating_record(elapsed_ns(t));
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    request.0.store(u64::MAX, Ordering::Release);
    responder.join().map_err(|_| "the ping-pong thread panicked".to_string())??;
    Ok((hist, elapsed_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_trip_is_recorded() -> Result<()> {
        let (hist, _) = ping_pong(0, 1000, |_| Ok(()))?;
        assert_eq!(hist.len(), 1000);
        Ok(())
    }
}
