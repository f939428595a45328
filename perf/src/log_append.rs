//! The `log-append` workload: durable appends of pre-built batches to one log on io_uring.
//!
//! `concurrency` tasks on one glommio executor each take the next pre-built batch, call
//! [`Log::append`] and wait for it to resolve (the batch is durable: written and fdatasynced
//! by a group commit shared with the other tasks' appends). Ack latency is measured per append
//! from the call until the future resolves. Batches are built and copied into a pool before
//! the clock starts, since `append` takes ownership of its bytes.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::LocalExecutorBuilder;
use hdrhistogram::Histogram;
use rill_engine::log::{system_clock, Log, LogConfig, UringStorage};
use serde::Serialize;

use crate::{data, Result};

/// Distinct batches built per configuration (the pool repeats them).
const TEMPLATES: usize = 8;
/// Most batches in a pool, whatever their size (200k 4 KiB batches are far more than one
/// fdatasyncing log takes in a few seconds here).
const POOL_BATCHES_MAX: u64 = 200_000;

/// One configuration of the workload.
#[derive(Clone, Debug, Serialize)]
pub struct AppendConfig {
    /// Wanted size of one encoded batch; batches come out at most this large.
    pub batch_bytes: usize,
    /// Appends in flight at once.
    pub concurrency: usize,
    /// `LogConfig::validate_payload`: decode every appended Arrow payload.
    pub validate_payload: bool,
    /// Build batches with a statistics section (without one, the log's writer decodes every
    /// payload to compute statistics while its write is in flight).
    pub statistics: bool,
    /// Stop appending after this long.
    pub seconds: f64,
    /// Stop after this many appends.
    pub batches_max: Option<u64>,
    /// Most bytes of pre-built batches (a run also ends when they are used up).
    pub pool_bytes_max: usize,
    /// `LogConfig::zero_fill_bytes` (the background task runs the steps).
    pub zero_fill_bytes: u64,
}

impl AppendConfig {
    /// The workload name used in results: `log-append-1MiB`, with `-c16`, `-validate`,
    /// `-stats`, `-zerofill` when concurrency, validation, statistics or zero fill differ from
    /// the defaults.
    pub fn workload(&self, default_concurrency: usize) -> String {
        let mut name = format!("log-append-{}", human_size(self.batch_bytes));
        if self.concurrency != default_concurrency {
            name.push_str(&format!("-c{}", self.concurrency));
        }
        if self.validate_payload {
            name.push_str("-validate");
        }
        if self.statistics {
            name.push_str("-stats");
        }
        if self.zero_fill_bytes > 0 {
            name.push_str("-zerofill");
        }
        name
    }
}

/// Ack latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct AckLatencyUs {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// What one configuration measured.
#[derive(Clone, Debug, Serialize)]
pub struct AppendResult {
    pub workload: String,
    pub config: AppendConfig,
    pub batch_bytes_mean: f64,
    pub rows_per_batch: usize,
    pub appends: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    /// Durable batch bytes per second, in MB/s (10^6 bytes).
    pub mb_per_s: f64,
    pub batches_per_s: f64,
    pub ack_latency_us: AckLatencyUs,
    /// `time`, `batches`, or `pool` (the pre-built batches ran out first).
    pub ended_by: String,
    /// CPU time of the whole process during the timed part (user, system), in seconds.
    pub cpu_user_s: f64,
    pub cpu_system_s: f64,
    /// CPU time (user + system) of the executor thread alone over the elapsed time: near 1.0
    /// means the one core of the shard was the limit, well below means it waited on the disk.
    pub executor_busy: f64,
    pub segments: usize,
    /// /proc/loadavg's 1-minute load before and after the configuration: other work on the
    /// machine (builds, tests) disturbs the numbers.
    pub load_before: f64,
    pub load_after: f64,
}

/// Runs one configuration in a fresh log directory under `dir` (removed afterwards).
pub fn run(dir: &Path, config: &AppendConfig, default_concurrency: usize) -> Result<AppendResult> {
    let templates = data::events_batches(config.batch_bytes, TEMPLATES, config.statistics)?;
    let rows_per_batch = data::events_rows_for(config.batch_bytes, config.statistics)?;
    let batch_bytes_mean = templates.iter().map(Vec::len).sum::<usize>() as f64 / templates.len() as f64;
    let mut count = ((config.pool_bytes_max as f64 / batch_bytes_mean) as u64).min(POOL_BATCHES_MAX);
    if let Some(max) = config.batches_max {
        count = count.min(max);
    }
    let count = count.max(config.concurrency as u64) as usize;
    let pool: Vec<Vec<u8>> = templates.iter().cycle().take(count).cloned().collect();

    let load_before = load_average();
    let log_dir = dir.join(format!("rill-log-append-{}", std::process::id()));
    remove_dir(&log_dir)?;
    let timed_config = config.clone();
    let timed_dir = log_dir.clone();
    let measured = LocalExecutorBuilder::default()
        .name("rill-append")
        .spawn(move || timed(timed_dir, timed_config, pool))
        .map_err(|e| format!("starting the glommio executor (is io_uring available?): {e}"))?
        .join()
        .map_err(|e| format!("the glommio executor failed: {e}"))??;
    remove_dir(&log_dir)?;

    let elapsed_s = measured.elapsed.as_secs_f64();
    let ended_by = if measured.elapsed >= Duration::from_secs_f64(config.seconds) {
        "time"
    } else if config.batches_max.is_some_and(|m| measured.appends >= m) {
        "batches"
    } else {
        "pool"
    };
    Ok(AppendResult {
        workload: config.workload(default_concurrency),
        config: config.clone(),
        batch_bytes_mean,
        rows_per_batch,
        appends: measured.appends,
        bytes: measured.bytes,
        elapsed_s,
        mb_per_s: measured.bytes as f64 / elapsed_s / 1e6,
        batches_per_s: measured.appends as f64 / elapsed_s,
        ack_latency_us: measured.latency,
        ended_by: ended_by.to_string(),
        cpu_user_s: measured.cpu.0,
        cpu_system_s: measured.cpu.1,
        executor_busy: measured.executor_cpu_s / elapsed_s,
        segments: measured.segments,
        load_before,
        load_after: load_average(),
    })
}

struct Measured {
    appends: u64,
    bytes: u64,
    elapsed: Duration,
    latency: AckLatencyUs,
    cpu: (f64, f64),
    executor_cpu_s: f64,
    segments: usize,
}

type Pool = Rc<RefCell<Vec<Vec<u8>>>>;
type Hist = Rc<RefCell<Histogram<u64>>>;

/// On the executor: opens the log, runs the appenders, closes the log.
async fn timed(dir: PathBuf, config: AppendConfig, pool: Vec<Vec<u8>>) -> Result<Measured> {
    let storage = UringStorage::open(&dir).await.map_err(|e| format!("opening {}: {e}", dir.display()))?;
    let mut log_config = LogConfig::new("bench/b0", data::events_schema());
    log_config.validate_payload = config.validate_payload;
    log_config.zero_fill_bytes = config.zero_fill_bytes;
    let log = Log::open(storage, log_config, system_clock()).await.map_err(|e| format!("opening the log: {e}"))?;
    let log = Rc::new(log);
    let pool: Pool = Rc::new(RefCell::new(pool));
    // Nanoseconds, 3 significant digits, up to a minute.
    let hist = Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| format!("histogram: {e}"))?;
    let hist: Hist = Rc::new(RefCell::new(hist));
    let budget = config.batches_max.unwrap_or(u64::MAX);
    let remaining = Rc::new(RefCell::new(budget));

    let cpu_start = cpu_times(libc::RUSAGE_SELF);
    let thread_start = cpu_times(libc::RUSAGE_THREAD);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(config.seconds);
    let tasks: Vec<_> = (0..config.concurrency)
        .map(|_| {
            let appender = Appender { log: Rc::clone(&log), pool: Rc::clone(&pool), hist: Rc::clone(&hist) };
            glommio::spawn_local(appender.run(deadline, Rc::clone(&remaining)))
        })
        .collect();
    // As a shard's background maintenance does: statistics of batches that came without them
    // are computed after their ack, a slice at a time, in a task queue with fewer shares.
    let appending = Rc::new(std::cell::Cell::new(true));
    let background = glommio::executor().create_task_queue(
        glommio::Shares::Static(100),
        glommio::Latency::NotImportant,
        "bench-stats",
    );
    let filler = {
        let (log, appending) = (Rc::clone(&log), Rc::clone(&appending));
        glommio::spawn_local_into(
            async move {
                while appending.get() {
                    // And zeroes ahead of the data, as a shard's maintenance does.
                    let zeroed = log.zero_fill_step().await.unwrap_or_else(|e| {
                        eprintln!("zero fill failed: {e}");
                        0
                    });
                    let pause = if log.fill_pending_stats(1 << 20) > 0 || zeroed > 0 { 1 } else { 1000 };
                    glommio::timer::sleep(Duration::from_micros(pause)).await;
                }
            },
            background,
        )
        .map_err(|e| format!("spawning the statistics task: {e}"))?
    };
    let (mut appends, mut bytes) = (0, 0);
    for task in tasks {
        let (n, b) = task.await?;
        appends += n;
        bytes += b;
    }
    appending.set(false);
    filler.await;
    // The clock stops once every statistic is computed, so the throughput includes them.
    log.fill_pending_stats(usize::MAX);
    let elapsed = start.elapsed();
    let cpu_end = cpu_times(libc::RUSAGE_SELF);
    let thread_end = cpu_times(libc::RUSAGE_THREAD);
    let executor_cpu_s = (thread_end.0 + thread_end.1) - (thread_start.0 + thread_start.1);

    let segments = log.segment_count();
    let log = Rc::try_unwrap(log).map_err(|_| "the log is still shared after the appenders ended".to_string())?;
    log.close().await.map_err(|e| format!("closing the log: {e}"))?;
    let latency = percentiles(&hist.borrow());
    let cpu = (cpu_end.0 - cpu_start.0, cpu_end.1 - cpu_start.1);
    Ok(Measured { appends, bytes, elapsed, latency, cpu, executor_cpu_s, segments })
}

struct Appender {
    log: Rc<Log<UringStorage>>,
    pool: Pool,
    hist: Hist,
}

impl Appender {
    /// Appends until the deadline, the batch budget or the pool runs out; (appends, bytes).
    async fn run(self, deadline: Instant, remaining: Rc<RefCell<u64>>) -> Result<(u64, u64)> {
        let (mut appends, mut bytes) = (0u64, 0u64);
        while Instant::now() < deadline {
            {
                let mut left = remaining.borrow_mut();
                if *left == 0 {
                    break;
                }
                *left -= 1;
            }
            let Some(batch) = self.pool.borrow_mut().pop() else { break };
            let len = batch.len() as u64;
            let started = Instant::now();
            self.log.append(batch).await.map_err(|e| format!("append: {e}"))?;
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.hist.borrow_mut().saturating_record(ns);
            appends += 1;
            bytes += len;
        }
        Ok((appends, bytes))
    }
}

fn percentiles(hist: &Histogram<u64>) -> AckLatencyUs {
    let us = |ns: u64| ns as f64 / 1000.0;
    AckLatencyUs {
        p50: us(hist.value_at_quantile(0.50)),
        p90: us(hist.value_at_quantile(0.90)),
        p99: us(hist.value_at_quantile(0.99)),
        p999: us(hist.value_at_quantile(0.999)),
        max: us(hist.max()),
        mean: hist.mean() / 1000.0,
    }
}

/// User and system CPU seconds so far of this process (`RUSAGE_SELF`) or thread (`RUSAGE_THREAD`).
fn cpu_times(who: libc::c_int) -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given, which is valid
    // and sized for one; on failure the zeroed value is used.
    let usage = unsafe {
        libc::getrusage(who, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// The 1-minute load average (NaN when /proc/loadavg cannot be read).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", dir.display())),
        _ => Ok(()),
    }
}

/// `4KiB`, `64KiB`, `1MiB`, or the byte count when it is not a whole number of KiB.
pub fn human_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}
