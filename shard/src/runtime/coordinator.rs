//! What shard 0 needs to change the catalog on its own (auto-partitioning in its background
//! maintenance): a way to reach every shard's mailbox, the handle's view of the catalog to
//! update, the clock and the data directory.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, RwLock};

use futures_channel::oneshot;

use super::context::ShardContext;
use super::Request;
use crate::bucket::partition_dir;
use crate::catalog::{AutoPartitionChanges, CatalogSnapshot, PartitionInfo};
use crate::config::Clock;
use crate::error::{Error, Result};

/// The catalog snapshot the `Rill` handles route with, shared with shard 0.
pub(crate) type Published = Arc<RwLock<Arc<CatalogSnapshot>>>;

/// Shard 0's means to publish catalog changes it makes itself.
pub(crate) struct Coordinator {
    /// Every shard's mailbox, set once all shards are started.
    pub(crate) peers: super::Peers,
    pub(crate) published: Published,
    pub(crate) clock: Clock,
    pub(crate) data_dir: PathBuf,
}

/// Remembers `snapshot` in `published` if it is newer.
pub(crate) fn remember(published: &Published, snapshot: &Arc<CatalogSnapshot>) {
    let mut current = match published.write() {
        Ok(c) => c,
        Err(poisoned) => poisoned.into_inner(),
    };
    if snapshot.version > current.version {
        *current = Arc::clone(snapshot);
    }
}

/// Deletes a dropped partition's directory (a crash before this leaves an orphan that the
/// next open removes).
pub(crate) fn remove_partition_data(data_dir: &std::path::Path, dropped: &PartitionInfo) -> Result<()> {
    let dir = partition_dir(data_dir, dropped.table_id, dropped.id);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(format!("removing {}", dir.display()), e)),
        _ => Ok(()),
    }
}

impl ShardContext {
    /// One round of auto-partitioning (shard 0 only): change the catalog, have every shard
    /// install it, then remove the data of the dropped partitions.
    pub(crate) async fn run_auto_partitioning(self: &Rc<Self>) -> Result<AutoPartitionChanges> {
        let coordinator = self.coordinator().ok_or_else(|| Error::Runtime {
            reason: format!("auto-partitioning sent to shard {}, but shard 0 owns the catalog", self.index()),
        })?;
        let now_ms = coordinator.clock.now_ms();
        let Some((snapshot, changes)) = self.with_owner(|c| c.auto_partition(now_ms))? else {
            return Ok(AutoPartitionChanges::default());
        };
        self.publish_everywhere(coordinator, &snapshot).await?;
        remember(&coordinator.published, &snapshot);
        for dropped in &changes.dropped {
            remove_partition_data(&coordinator.data_dir, dropped)?;
        }
        Ok(changes)
    }

    async fn publish_everywhere(
        self: &Rc<Self>,
        coordinator: &Coordinator,
        snapshot: &Arc<CatalogSnapshot>,
    ) -> Result<()> {
        let peers = coordinator.peers.get().ok_or_else(|| Error::Runtime { reason: "shards still starting".into() })?;
        let mut replies = Vec::with_capacity(peers.len());
        for (shard, mailbox) in peers.iter().enumerate().filter(|(s, _)| *s != self.index()) {
            let (tx, rx) = oneshot::channel();
            let snapshot = Arc::clone(snapshot);
            let request: Request = Box::new(move |ctx| {
                Box::pin(async move {
                    let _ = tx.send(ctx.install(snapshot).await);
                })
            });
            mailbox.push(request)?;
            replies.push((shard, rx));
        }
        let mut outcome = self.install(Arc::clone(snapshot)).await;
        for (shard, rx) in replies {
            let reply = rx.await.unwrap_or(Err(Error::ShardGone { shard }));
            if let (Err(e), true) = (reply, outcome.is_ok()) {
                outcome = Err(e);
            }
        }
        outcome
    }
}
