//! Compaction merges shipped to a peer shard (`RillConfig::compaction_merges_on_peer`).
//!
//! The bucket's owner plans a compaction step and installs its outputs; the merge in between
//! (read the inputs, merge, write and sync the outputs) is a `Send` [`CompactionJob`]
//! (`rill_engine::kv::compaction_job`). This ships the job through the peer's mailbox; the
//! peer runs it in its background task queue (behind its own requests) on a storage handle of
//! its own on the bucket's directory, and sends the outcome back on a oneshot.
//!
//! - The job waits in a shared slot until the peer's task takes it. If the peer never does
//!   (its queue refuses or drops the request, or the task cannot start), the owner takes it
//!   back and merges it itself.
//! - On the peer the merge counts as a running request, so the peer's shutdown waits for it
//!   (bounded, as for any request); a panic in it is caught and answered as an error, so it
//!   neither stops the peer nor goes unanswered.
//! - The owner waits for the answer while the peer runs. Once the peer's mailbox is closed
//!   (shutdown, or a panic on the peer) it waits at most [`PEER_STOP_WAIT`] more, then fails
//!   the step with `Error::Compaction` naming the peer (logged, planned again next round): a
//!   task a stopped executor never polls again cannot hold the owner's shutdown. Outputs of
//!   an unanswered merge are not in the manifest; the next open removes them.
//! - The owner's step holds the bucket (`Rc<OpenBucket>`) meanwhile, so closing or reopening
//!   the bucket waits for the merge, up to the close's own bound (`close_when_idle`).

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::oneshot;
use futures_lite::FutureExt;
use rill_engine::error::{Error as EngineError, Result as EngineResult};
use rill_engine::kv::compaction_job::{CompactionDone, CompactionJob};
use rill_engine::log::UringStorage;
use tracing::{debug, warn};

use super::mailbox::Mailbox;
use super::Request;

/// How long the owner still waits for a merge's answer once the peer's mailbox is closed:
/// the peer's shutdown waits up to `IDLE_WAIT_MAX` for running requests, the merge among them.
const PEER_STOP_WAIT: Duration = Duration::from_secs(super::context::IDLE_WAIT_MAX.as_secs() + 5);

/// How often the owner looks whether the peer's mailbox closed while it waits.
const PEER_CHECK_INTERVAL: Duration = Duration::from_millis(100);

type Slot = Arc<Mutex<Option<CompactionJob>>>;

fn take(slot: &Slot) -> Option<CompactionJob> {
    match slot.lock() {
        Ok(mut job) => job.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    }
}

/// Runs `job` on the shard behind `peer` (or here, if the peer never takes it) against the
/// bucket directory `dir`, and returns what it wrote. Counts in `on_peer` the merges the peer
/// ran.
pub(crate) async fn merge_on_peer(
    job: CompactionJob,
    peer: &Mailbox,
    dir: PathBuf,
    on_peer: &Cell<u64>,
) -> EngineResult<CompactionDone> {
    let bucket = job.bucket().to_string();
    let slot: Slot = Arc::new(Mutex::new(Some(job)));
    let (reply, outcome) = oneshot::channel();
    let request = ship(Arc::clone(&slot), dir.clone(), reply);
    // A refused push drops the request; a push into a closing mailbox may report an error
    // after the peer took the job. Either way the slot says whether the job is still here.
    if peer.push(request).is_err() {
        if let Some(job) = take(&slot) {
            return merge_here(job, &bucket, peer, &dir).await;
        }
    }
    match wait_for(outcome, peer).await {
        Some(done) => {
            if done.is_ok() {
                on_peer.set(on_peer.get() + 1);
            }
            done
        }
        // The request was dropped, or its task never started: the job may still be here.
        None => match take(&slot) {
            Some(job) => merge_here(job, &bucket, peer, &dir).await,
            None => Err(gone(&bucket, peer, "stopped before it finished the merge")),
        },
    }
}

async fn merge_here(
    job: CompactionJob,
    bucket: &str,
    peer: &Mailbox,
    dir: &std::path::Path,
) -> EngineResult<CompactionDone> {
    debug!(bucket = %bucket, peer = peer.shard(), "the peer shard did not take a compaction merge; merging here");
    execute(job, dir).await
}

/// A request that takes the job out of `slot` in a task of the peer's background queue, runs
/// it and answers on `reply`.
fn ship(slot: Slot, dir: PathBuf, reply: oneshot::Sender<EngineResult<CompactionDone>>) -> Request {
    Box::new(move |ctx| {
        Box::pin(async move {
            // A running request of the peer: its shutdown waits for the merge.
            let running = ctx.begin();
            let hook = ctx.peer_merge_hook_for_tests();
            let merge = async move {
                let Some(job) = take(&slot) else { return };
                let bucket = job.bucket().to_string();
                let run = async move {
                    if !hook.delay.is_zero() {
                        glommio::timer::sleep(hook.delay).await;
                    }
                    if hook.panic {
                        panic!("a planted panic in a peer merge (tests)");
                    }
                    execute(job, &dir).await
                };
                let done = match AssertUnwindSafe(run).catch_unwind().await {
                    Ok(done) => done,
                    Err(_) => Err(EngineError::Compaction {
                        bucket,
                        reason: "the merge panicked on the peer shard (its outputs are removed at the next open)"
                            .into(),
                    }),
                };
                let _ = reply.send(done);
                drop(running);
            };
            // Behind the peer's own requests, and not holding its serving task. If it cannot
            // start, the job stays in the slot and the dropped reply sends the owner to it.
            match glommio::spawn_local_into(merge, ctx.background()) {
                Ok(task) => {
                    task.detach();
                }
                Err(e) => warn!(shard = ctx.index(), error = %e, "could not start a compaction merge for a peer"),
            }
        })
    })
}

/// The answer on `outcome`: `None` if its sender is dropped unanswered, or if the peer's
/// mailbox has been closed for [`PEER_STOP_WAIT`] without an answer.
async fn wait_for(
    outcome: oneshot::Receiver<EngineResult<CompactionDone>>,
    peer: &Mailbox,
) -> Option<EngineResult<CompactionDone>> {
    let answered = async move { outcome.await.ok() };
    let stopped = async move {
        while !peer.is_closed() {
            glommio::timer::sleep(PEER_CHECK_INTERVAL).await;
        }
        glommio::timer::sleep(PEER_STOP_WAIT).await;
        None
    };
    futures_lite::future::or(answered, stopped).await
}

/// Runs `job` on this thread with a storage handle of its own on `dir`, which must exist (a
/// late merge must not create the directory of a dropped table again).
async fn execute(job: CompactionJob, dir: &std::path::Path) -> EngineResult<CompactionDone> {
    if !dir.is_dir() {
        return Err(EngineError::Compaction {
            bucket: job.bucket().to_string(),
            reason: format!("the bucket directory {} is gone", dir.display()),
        });
    }
    let storage = UringStorage::open(dir).await?;
    job.execute(&storage).await
}

fn gone(bucket: &str, peer: &Mailbox, what: &str) -> EngineError {
    EngineError::Compaction { bucket: bucket.to_string(), reason: format!("peer shard {} {what}", peer.shard()) }
}
