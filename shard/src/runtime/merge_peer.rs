//! Compaction merges shipped to a peer shard (`RillConfig::compaction_merges_on_peer`).
//!
//! The bucket's owner plans a compaction step and installs its outputs; the merge in between
//! (read the inputs, merge, write and sync the outputs) is a `Send` [`CompactionJob`]
//! (`rill_engine::kv::compaction_job`). This ships the job through the peer's mailbox; the
//! peer runs it in its background task queue (behind its own requests) on a storage handle of
//! its own on the bucket's directory, and sends the outcome back on a oneshot.
//!
//! - If the peer's queue refuses the job (full, closed, poisoned), the owner runs it itself:
//!   the job comes back through the slot it was shipped in.
//! - If the peer stops before it answers (shutdown), the step fails with
//!   `Error::Compaction` naming the peer, the owner logs it and plans again next round; the
//!   peer's half-written outputs are not in the manifest and the next open removes them.
//! - The owner's step awaits the reply, holding the bucket, so a reopen or close of the
//!   bucket waits for the job (`close_when_idle`), as it waits for a local step.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures_channel::oneshot;
use rill_engine::error::{Error as EngineError, Result as EngineResult};
use rill_engine::kv::compaction_job::{CompactionDone, CompactionJob};
use rill_engine::log::UringStorage;
use tracing::{debug, warn};

use super::mailbox::Mailbox;
use super::Request;

/// Runs `job` on the shard behind `peer` (or here, if its queue refuses it) against the
/// bucket directory `dir`, and returns what it wrote.
/// Counts in `on_peer` the merges the peer ran.
pub(crate) async fn merge_on_peer(
    job: CompactionJob,
    peer: &Mailbox,
    dir: PathBuf,
    on_peer: &Cell<u64>,
) -> EngineResult<CompactionDone> {
    let bucket = job.bucket().to_string();
    let slot = Arc::new(Mutex::new(Some(job)));
    let (reply, outcome) = oneshot::channel();
    let shipped = Arc::clone(&slot);
    let peer_dir = dir.clone();
    let request: Request = Box::new(move |ctx| {
        Box::pin(async move {
            let job = match shipped.lock() {
                Ok(mut job) => job.take(),
                Err(poisoned) => poisoned.into_inner().take(),
            };
            let Some(job) = job else { return };
            // Behind the peer's own requests, and not holding its serving task.
            let merge = async move {
                let _ = reply.send(execute(job, &peer_dir).await);
            };
            match glommio::spawn_local_into(merge, ctx.background()) {
                Ok(task) => {
                    task.detach();
                }
                // The reply's sender is dropped with the task: the owner sees the peer gone.
                Err(e) => warn!(shard = ctx.index(), error = %e, "could not start a compaction merge for a peer"),
            }
        })
    });
    if let Err(e) = peer.push(request) {
        let job = match slot.lock() {
            Ok(mut job) => job.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        debug!(bucket = %bucket, peer = peer.shard(), error = %e, "the peer shard refused a compaction merge; merging here");
        return match job {
            Some(job) => execute(job, &dir).await,
            None => Err(gone(&bucket, peer.shard(), "took the merge but dropped it")),
        };
    }
    let done =
        outcome.await.unwrap_or_else(|_| Err(gone(&bucket, peer.shard(), "stopped before it finished the merge")));
    if done.is_ok() {
        on_peer.set(on_peer.get() + 1);
    }
    done
}

/// Runs `job` on this thread with a storage handle of its own on `dir`.
async fn execute(job: CompactionJob, dir: &std::path::Path) -> EngineResult<CompactionDone> {
    let storage = UringStorage::open(dir).await?;
    job.execute(&storage).await
}

fn gone(bucket: &str, shard: usize, what: &str) -> EngineError {
    EngineError::Compaction { bucket: bucket.to_string(), reason: format!("peer shard {shard} {what}") }
}
