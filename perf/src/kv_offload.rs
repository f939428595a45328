//! A compaction helper for `rill-bench kv`: a glommio executor on another CPU that runs the
//! table's compaction merges ([`CompactionJob::execute`] on its own handle on the table's
//! directory), as a peer shard runs them for a busy shard in `rilld`. The table's own
//! executor plans each step and installs its outputs. RocksDB's background threads likewise
//! run its compactions off the writing thread.

use std::path::PathBuf;

use futures_channel::oneshot;
use glommio::channels::shared_channel::{self, ConnectedSender};
use rill_engine::error::Result as EngineResult;
use rill_engine::kv::compaction_job::{CompactionDone, CompactionJob};
use rill_engine::log::UringStorage;
use tracing::warn;

use crate::Result;

/// Jobs queued to the helper at most (the table runs one compaction at a time).
const QUEUE_DEPTH: usize = 4;

type Reply = oneshot::Sender<EngineResult<CompactionDone>>;

/// The table executor's side of a running helper.
pub struct CompactionHelper {
    jobs: ConnectedSender<(CompactionJob, Reply)>,
    cpu: usize,
}

impl CompactionHelper {
    /// Starts the helper pinned to `cpu`, running jobs against `dir`. Must be called on the
    /// table's executor (the channel's sending side connects to it). The helper stops when
    /// this is dropped.
    pub async fn start(cpu: usize, dir: PathBuf) -> Result<Self> {
        let (sender, receiver) = shared_channel::new_bounded::<(CompactionJob, Reply)>(QUEUE_DEPTH);
        glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu))
            .name("rill-compaction")
            .spawn(move || async move {
                let jobs = receiver.connect().await;
                let storage = match UringStorage::open(&dir).await {
                    Ok(storage) => storage,
                    Err(e) => {
                        warn!(dir = %dir.display(), error = %e, "the compaction helper could not open the table's directory");
                        while let Some((_, reply)) = jobs.recv().await {
                            let _ = reply.send(Err(rill_engine::error::Error::Compaction {
                                bucket: dir.display().to_string(),
                                reason: format!("the helper could not open the directory: {e}"),
                            }));
                        }
                        return;
                    }
                };
                while let Some((job, reply)) = jobs.recv().await {
                    let _ = reply.send(job.execute(&storage).await);
                }
            })
            .map_err(|e| format!("starting the compaction helper on CPU {cpu}: {e}"))?;
        Ok(Self { jobs: sender.connect().await, cpu })
    }

    /// Runs `job` on the helper and waits for its outcome.
    pub async fn run(&self, job: CompactionJob) -> EngineResult<CompactionDone> {
        let bucket = job.bucket().to_string();
        let gone = |what: &str| rill_engine::error::Error::Compaction {
            bucket: bucket.clone(),
            reason: format!("the compaction helper on CPU {} {what}", self.cpu),
        };
        let (reply, outcome) = oneshot::channel();
        if self.jobs.send((job, reply)).await.is_err() {
            return Err(gone("stopped before taking the job"));
        }
        outcome.await.unwrap_or_else(|_| Err(gone("dropped the job")))
    }

    /// The helper's CPU.
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}
