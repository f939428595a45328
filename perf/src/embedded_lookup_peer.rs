//! The in-engine peer of the embedded lookups, on an executor thread of its own that stays up
//! between rounds, so that its rounds interleave with the embedded ones.
//!
//! Why: the VM's speed moves by a third from one minute to the next (the same in-engine
//! lookups took 2.4 µs in one run and 3.1 µs in the next). Measured a phase after the other
//! (the `Rill` shut down, the peer opening and warming the buckets for half a minute), the
//! ratio embedded / in-engine moved with it (1.10x and 1.57x for the same code). Interleaved,
//! both systems see the same minutes. The peer opens a copy of the `Rill`'s data dir, so both
//! are open at once; its executor is pinned to CPU 0 as shard 0 is, and each waits while the
//! other runs a round.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rill_shard::TableInfo;

use crate::embedded_bench::{EmbeddedConfig, PhaseResult};
use crate::embedded_peer::{close_buckets, lookup_round, on_executor, open_buckets, shape, warm};
use crate::Result;

/// What the peer's thread answers: ready (after the warm-up), or a round's result.
type Answer = Result<Option<PhaseResult>>;

/// The peer's executor thread, holding the buckets open and warm between rounds.
pub struct LookupPeer {
    /// Rounds to run (the key ids); `None` closes the buckets and ends the thread.
    rounds: Sender<Option<Arc<Vec<u64>>>>,
    answers: Receiver<Answer>,
    /// Returns the buckets' shape after the last round.
    thread: JoinHandle<Result<String>>,
}

impl LookupPeer {
    /// Opens the buckets of `table` under `data_dir` (a copy of the `Rill`'s) on a new
    /// executor thread and warms the cache as the embedded side does; returns when warm.
    pub fn start(data_dir: PathBuf, table: TableInfo, config: EmbeddedConfig) -> Result<Self> {
        let (rounds, round_rx) = channel::<Option<Arc<Vec<u64>>>>();
        let (answer_tx, answers) = channel::<Answer>();
        let thread = std::thread::Builder::new()
            .name("rill-in-engine-rounds".into())
            .spawn(move || {
                let c = config.clone();
                on_executor(&config, move || async move {
                    let tables = match open_buckets(&data_dir, &table, &c).await {
                        Ok(tables) => tables,
                        Err(e) => {
                            let _ = answer_tx.send(Err(e.clone()));
                            return Err(e);
                        }
                    };
                    let buckets = table.descriptor.bucket_count;
                    let warmed = warm(&tables, buckets, c.keys).await;
                    let _ = answer_tx.send(warmed.map(|()| None));
                    // Blocking between rounds is fine: the executor has nothing else to do.
                    while let Ok(Some(ids)) = round_rx.recv() {
                        let round = lookup_round(&tables, buckets, &ids, &c).await;
                        if answer_tx.send(round.map(Some)).is_err() {
                            break;
                        }
                    }
                    let note = shape(&tables);
                    close_buckets(tables).await?;
                    Ok(note)
                })
            })
            .map_err(|e| format!("starting the in-engine lookup thread: {e}"))?;
        let peer = Self { rounds, answers, thread };
        match peer.answers.recv() {
            Ok(Ok(None)) => Ok(peer),
            Ok(Ok(Some(_))) => Err("the in-engine peer answered a round before it was asked".into()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(peer.finish().err().unwrap_or_else(|| "the in-engine peer stopped".into())),
        }
    }

    /// One round of single-key lookups of `ids`, timed on the peer's executor.
    pub fn round(&self, ids: &Arc<Vec<u64>>) -> Result<PhaseResult> {
        self.rounds.send(Some(Arc::clone(ids))).map_err(|_| "the in-engine peer stopped".to_string())?;
        match self.answers.recv() {
            Ok(Ok(Some(result))) => Ok(result),
            Ok(Ok(None)) => Err("the in-engine peer answered a round with nothing".into()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the in-engine peer stopped during a round".into()),
        }
    }

    /// Closes the buckets; returns their shape.
    pub fn finish(self) -> Result<String> {
        let _ = self.rounds.send(None);
        self.thread.join().map_err(|_| "the in-engine lookup thread panicked".to_string())?
    }
}
