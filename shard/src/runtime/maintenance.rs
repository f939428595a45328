//! Background maintenance of one shard, in its background task queue (fewer shares than the
//! foreground queue, and it yields the queue between compaction steps, so requests go first).
//!
//! Every `maintenance_interval_ms`, for each primary-key bucket the shard owns: flush the
//! memtable when it is over its bucket budget or idle for `memtable_idle_flush_ms`, run
//! compaction steps while there is work, delete SST files compaction replaced; get the shard
//! under its memtable budget. Every `retention_check_interval_ms`, enforce log retention on
//! every bucket (log tables and primary-key changelogs). For each log bucket, compute the
//! statistics queued for batches that arrived without them (1 MiB per step). For each log
//! table bucket whose writes are small, zero its active segment ahead of the data
//! (`RillConfig::log_zero_fill_bytes`, 256 KiB per step). On shard 0, every
//! `auto_partition_check_interval_ms`, one round of auto-partitioning. Errors are logged with the table and
//! bucket and retried on the next round. The loop stops when told to, after its current step.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use futures_lite::FutureExt;
use glommio::Task;
use rill_engine::log::segment::parse_name;
use tracing::warn;

use super::context::{BucketId, ShardContext};
use super::mailbox::Mailbox;
use crate::bucket::{OpenBucket, Store};
use crate::config::RillConfig;
use crate::error::Result;

/// The intervals of the maintenance loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaintenanceConfig {
    pub(crate) interval: Duration,
    pub(crate) memtable_idle_flush: Duration,
    pub(crate) retention_check_interval: Duration,
    pub(crate) auto_partition_check_interval: Duration,
}

impl MaintenanceConfig {
    pub(crate) fn from_config(config: &RillConfig) -> Self {
        Self {
            interval: Duration::from_millis(config.maintenance_interval_ms.max(1)),
            memtable_idle_flush: Duration::from_millis(config.memtable_idle_flush_ms),
            retention_check_interval: Duration::from_millis(config.retention_check_interval_ms),
            auto_partition_check_interval: Duration::from_millis(config.auto_partition_check_interval_ms.max(1)),
        }
    }
}

/// The running loop: [`Maintenance::stop`] ends it and waits for it.
pub(crate) struct Maintenance {
    stop: oneshot::Sender<()>,
    task: Option<Task<()>>,
}

impl Maintenance {
    /// Starts the loop in the shard's background queue (logged, not fatal, if it cannot). A
    /// panic in the loop stops the shard as a panicking request does (`mailbox` is poisoned:
    /// callers get `ShardPanicked`, and the buckets recover from their logs at the next open).
    pub(crate) fn start(ctx: &Rc<ShardContext>, config: MaintenanceConfig, mailbox: Arc<Mailbox>) -> Self {
        let (stop, stopped) = oneshot::channel();
        let looping = Rc::clone(ctx);
        let guarded = async move {
            let outcome = AssertUnwindSafe(run(looping, config, StopSignal(stopped))).catch_unwind().await;
            if let Err(payload) = outcome {
                super::panicked(&mailbox, payload.as_ref());
            }
        };
        let task = match glommio::spawn_local_into(guarded, ctx.background()) {
            Ok(task) => Some(task),
            Err(e) => {
                warn!(shard = ctx.index(), error = %e, "background maintenance could not start");
                None
            }
        };
        Self { stop, task }
    }

    /// Tells the loop to stop and waits until it has.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        if let Some(task) = self.task {
            task.await;
        }
    }
}

/// Set once the loop is told to stop (or its sender is gone).
struct StopSignal(oneshot::Receiver<()>);

impl StopSignal {
    fn is_set(&mut self) -> bool {
        !matches!(self.0.try_recv(), Ok(None))
    }

    /// Sleeps `pause`, or less if told to stop; returns whether to stop.
    async fn sleep(&mut self, pause: Duration) -> bool {
        let receiver = &mut self.0;
        let stopped = async move {
            let _ = receiver.await;
            true
        };
        let slept = async move {
            glommio::timer::sleep(pause).await;
            false
        };
        futures_lite::future::or(stopped, slept).await
    }
}

/// Per-bucket memory of the loop: the applied offset last seen and since when.
#[derive(Default)]
struct Seen(HashMap<BucketId, (i64, Instant)>);

impl Seen {
    /// True when the bucket's memtable holds data and took no write for `idle`.
    fn idle(&mut self, id: BucketId, applied_offset: i64, memtable_bytes: usize, idle: Duration) -> bool {
        let now = Instant::now();
        let entry = self.0.entry(id).or_insert((applied_offset, now));
        if entry.0 != applied_offset {
            *entry = (applied_offset, now);
            return false;
        }
        memtable_bytes > 0 && now.duration_since(entry.1) >= idle
    }
}

/// Batch bytes whose statistics one background step computes (~0.3 ms of a core).
const STATS_SLICE_BYTES: usize = 1 << 20;

async fn run(ctx: Rc<ShardContext>, config: MaintenanceConfig, mut stop: StopSignal) {
    let mut seen = Seen::default();
    let mut retention_due = Instant::now() + config.retention_check_interval;
    let mut auto_partition_due = Instant::now() + config.auto_partition_check_interval;
    loop {
        if stop.sleep(config.interval).await {
            return;
        }
        if let Some(message) = ctx.take_maintenance_panic_for_tests() {
            panic!("{message}");
        }
        let ids: Vec<BucketId> = ctx.bucket_handles().into_iter().map(|(id, _)| id).collect();
        seen.0.retain(|id, _| ids.contains(id));
        for &id in &ids {
            if stop.is_set() {
                return;
            }
            let Some(bucket) = ctx.bucket_by_id(id) else { continue };
            zero_fill(&ctx, id, &bucket, &mut stop).await;
            match &bucket.store {
                Store::Pk(_) => maintain_pk(&ctx, id, &bucket, &mut seen, config, &mut stop).await,
                Store::Log(log) => {
                    // Statistics of batches that came without them (Fluss V0), a slice at a
                    // time; the timer between slices lets I/O completions and requests in.
                    while log.fill_pending_stats(STATS_SLICE_BYTES) > 0 {
                        if stop.is_set() {
                            return;
                        }
                        glommio::timer::sleep(Duration::from_micros(1)).await;
                    }
                }
            }
        }
        if ctx.over_memtable_budget() {
            ctx.start_relief();
        }
        if ctx.coordinator().is_some() && Instant::now() >= auto_partition_due {
            auto_partition_due = Instant::now() + config.auto_partition_check_interval;
            if let Err(e) = ctx.run_auto_partitioning().await {
                warn!(shard = ctx.index(), error = %e, "background auto-partitioning failed; retrying on the next round");
            }
        }
        if Instant::now() >= retention_due {
            retention_due = Instant::now() + config.retention_check_interval;
            for &id in &ids {
                if stop.is_set() {
                    return;
                }
                let Some(bucket) = ctx.bucket_by_id(id) else { continue };
                if let Err(e) = enforce_retention(&bucket).await {
                    report(&ctx, id, &bucket, "enforcing log retention", &e);
                }
            }
        }
    }
}

/// One round on a primary-key bucket: flush if due, compact while there is work, collect
/// garbage.
async fn maintain_pk(
    ctx: &ShardContext,
    id: BucketId,
    bucket: &OpenBucket,
    seen: &mut Seen,
    config: MaintenanceConfig,
    stop: &mut StopSignal,
) {
    let Ok(table) = bucket.pk() else { return };
    let lsm = table.lsm();
    let idle = seen.idle(id, lsm.applied_offset(), lsm.memtable_bytes(), config.memtable_idle_flush);
    if bucket.needs_flush() || idle {
        if let Err(e) = bucket.flush_in_turn().await {
            report(ctx, id, bucket, "flushing a memtable", &e);
        }
    }
    while !stop.is_set() {
        let merged = match ctx.merge_peer() {
            Some(peer) => {
                let dir = crate::bucket::bucket_dir(ctx.data_dir(), bucket.table.id, bucket.partition, bucket.bucket);
                let on_peer = &bucket.merges_on_peer;
                bucket.compact_in_turn_with(|job| super::merge_peer::merge_on_peer(job, &peer, dir, on_peer)).await
            }
            None => bucket.compact_in_turn().await,
        };
        match merged {
            Ok(true) => glommio::executor().yield_task_queue_now().await,
            Ok(false) => break,
            Err(e) => {
                report(ctx, id, bucket, "compacting", &e);
                break;
            }
        }
    }
    if let Err(e) = lsm.collect_garbage().await {
        report(ctx, id, bucket, "deleting replaced SST files", &e);
    }
}

/// Zeroes ahead of a bucket log's data while its writes are small (`Log::zero_fill_step`),
/// a step (256 KiB, written and synced) at a time.
async fn zero_fill(ctx: &ShardContext, id: BucketId, bucket: &OpenBucket, stop: &mut StopSignal) {
    let log = match &bucket.store {
        Store::Log(log) => log,
        Store::Pk(table) => table.log(),
    };
    while !stop.is_set() {
        match log.zero_fill_step().await {
            Ok(0) => return,
            Ok(_) => glommio::executor().yield_task_queue_now().await,
            Err(e) => {
                report(ctx, id, bucket, "zeroing ahead of the log", &e);
                return;
            }
        }
    }
}

/// Enforces retention on a bucket's log. A primary-key changelog loses segments only once
/// the SSTs cover every sealed segment (recovery replays the changelog from the covered
/// offset): its memtable is flushed first when they do not, and retention waits for the next
/// check if a segment was sealed meanwhile.
async fn enforce_retention(bucket: &OpenBucket) -> Result<usize> {
    let table = match &bucket.store {
        Store::Log(log) => return Ok(log.enforce_retention().await?),
        Store::Pk(table) => table,
    };
    let active_base = || table.log().segment_names().last().and_then(|n| parse_name(n)).map_or(0, |(base, _)| base);
    if table.log().segment_count() <= 1 {
        return Ok(0);
    }
    if table.lsm().covered_offset() < active_base() {
        bucket.flush_in_turn().await?;
    }
    if table.lsm().covered_offset() < active_base() {
        return Ok(0);
    }
    Ok(table.log().enforce_retention().await?)
}

fn report(ctx: &ShardContext, id: BucketId, bucket: &OpenBucket, what: &str, e: &dyn std::fmt::Display) {
    warn!(shard = ctx.index(), table = %bucket.table.name(), partition = ?id.1, bucket = id.2, error = %e,
        "background {what} failed; retrying on the next round");
}
