//! Code that runs on a shard thread: [`Rill::run_on_shard`] hands a closure an [`OnShard`],
//! whose calls reach the buckets that shard owns directly, without the mailbox, the reply
//! channel or the caller's wake-ups. This is how code that should sit next to the data (a
//! gateway's request handler, a lookup join) avoids the cross-core round trip that every call
//! from another thread pays (docs/embedding.md). Work on buckets of other shards still goes
//! through [`Rill`] from another thread.

use std::future::Future;
use std::rc::Rc;

use arrow_array::RecordBatch;

use super::Rill;
use crate::error::{Error, Result};
use crate::keys::one_key;
use crate::route::shard_of;
use crate::runtime::{block_on, ShardContext};

/// A handle to the shard a [`Rill::run_on_shard`] closure runs on (not `Send`: it stays on
/// that shard's thread).
pub struct OnShard {
    ctx: Rc<ShardContext>,
    shards: usize,
}

impl OnShard {
    /// The shard this code runs on.
    pub fn shard(&self) -> usize {
        self.ctx.index()
    }

    /// Looks up one key (`keys`: one row of the primary-key columns, by name, in key order) of
    /// an unpartitioned primary-key table whose bucket this shard owns. Returns the row (empty
    /// when missing) and whether it was found. A key of another shard's bucket is an
    /// `InvalidRequest` naming that shard.
    pub async fn lookup(&self, table: &str, keys: &RecordBatch) -> Result<(RecordBatch, bool)> {
        let catalog = self.ctx.catalog();
        let info = catalog.table(table)?;
        super::pk::pk_table(info)?;
        let refuse = |reason: String| Err(Error::InvalidRequest { table: table.to_string(), reason });
        if info.is_partitioned() || keys.num_rows() != 1 {
            return refuse("OnShard::lookup takes one key of an unpartitioned table".into());
        }
        let (bucket, key) = one_key(&info.descriptor, keys)?;
        let owner = shard_of(info.id, None, bucket, self.shards);
        if owner != self.ctx.index() {
            return refuse(format!("bucket {bucket} belongs to shard {owner}, not to shard {}", self.ctx.index()));
        }
        let open = self.ctx.bucket_in(info, None, bucket).await?;
        let found = open.pk()?.lookup(std::slice::from_ref(&key)).await?;
        Ok((found.rows, found.found.first().copied().unwrap_or(false)))
    }
}

impl Rill {
    /// Runs `f` on shard `shard`'s thread, as a request of its foreground queue, and returns
    /// its result. The future `f` returns may hold the [`OnShard`] and use it as long as it
    /// runs; it should yield (await) between pieces of work, as every task on a shard must.
    pub async fn run_on_shard_async<T, F, Fut>(&self, shard: usize, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(OnShard) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + 'static,
    {
        if shard >= self.shards() {
            return Err(Error::ShardGone { shard });
        }
        let shards = self.shards();
        self.inner.runtime.call(shard, move |ctx| async move { f(OnShard { ctx, shards }).await }).await
    }

    /// Blocking [`Self::run_on_shard_async`].
    pub fn run_on_shard<T, F, Fut>(&self, shard: usize, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(OnShard) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + 'static,
    {
        block_on(self.run_on_shard_async(shard, f))
    }
}
