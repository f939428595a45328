//! A test-only way to make a shard task panic, to check what callers see (see
//! [`crate::Error::ShardPanicked`]).

use futures_lite::future::block_on;

use super::Rill;
use crate::error::{Error, Result};

impl Rill {
    /// Runs a request on `shard` that panics with `message`. For tests of panic handling
    /// only: afterwards the shard serves nothing until the `Rill` is reopened.
    #[doc(hidden)]
    pub async fn panic_on_shard_for_tests_async(&self, shard: usize, message: &str) -> Result<()> {
        if shard >= self.shards() {
            return Err(Error::ShardGone { shard });
        }
        let message = message.to_string();
        self.inner
            .runtime
            .call(shard, move |_ctx| async move {
                if !message.is_empty() {
                    panic!("{message}");
                }
                Ok(())
            })
            .await
    }

    /// Blocking [`Self::panic_on_shard_for_tests_async`].
    #[doc(hidden)]
    pub fn panic_on_shard_for_tests(&self, shard: usize, message: &str) -> Result<()> {
        block_on(self.panic_on_shard_for_tests_async(shard, message))
    }

    /// Makes the compaction merges `shard` runs for other shards wait `delay` first, then
    /// panic if `panic` (caught and answered as an error). For tests of peer merges only.
    #[doc(hidden)]
    pub fn hook_peer_merges_for_tests(&self, shard: usize, delay: std::time::Duration, panic: bool) -> Result<()> {
        if shard >= self.shards() {
            return Err(Error::ShardGone { shard });
        }
        block_on(self.inner.runtime.call(shard, move |ctx| async move {
            ctx.set_peer_merge_hook_for_tests(crate::runtime::context::PeerMergeHook { delay, panic });
            Ok(())
        }))
    }

    /// Makes `shard`'s background maintenance panic with `message` at its next round. For
    /// tests of panic handling only: afterwards the shard serves nothing until the `Rill` is
    /// reopened.
    #[doc(hidden)]
    pub fn panic_in_maintenance_for_tests(&self, shard: usize, message: &str) -> Result<()> {
        if shard >= self.shards() {
            return Err(Error::ShardGone { shard });
        }
        let message = message.to_string();
        block_on(self.inner.runtime.call(shard, move |ctx| async move {
            ctx.panic_in_maintenance_for_tests(message);
            Ok(())
        }))
    }
}
