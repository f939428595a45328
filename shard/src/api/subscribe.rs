//! Changelog subscriptions: follow a bucket from an offset, waiting on the shard (woken by
//! the log's commit notify, never polling) until new data is durable.
//!
//! A log table yields its rows; a primary-key table yields `$changelog` rows
//! (`_change_type`, `_log_offset`, `_commit_timestamp`, then the table's columns), which a
//! log table gives too with [`Subscription::with_changelog`]. Each `next` is one request to
//! the owning shard; the wait is bounded ([`SUBSCRIBE_WAIT_MS_MAX`]) and ends early when the
//! bucket closes or the shard stops.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use futures_lite::future::{block_on, or};
use rill_engine::table::virtual_tables::changelog_batch;

use super::Rill;
use crate::catalog::{TableInfo, TableKind};
use crate::error::Result;

/// Longest wait of one `next` for new data.
pub const SUBSCRIBE_WAIT_MS_MAX: u64 = 60_000;
/// The wait of `next` unless [`Subscription::with_wait_ms`] sets another.
pub const SUBSCRIBE_WAIT_MS_DEFAULT: u64 = 10_000;
/// Stored bytes read per request.
pub const SUBSCRIBE_READ_BYTES_MAX: usize = 1 << 20;

/// A cursor following one bucket (see [`Rill::subscribe`]).
pub struct Subscription {
    rill: Rill,
    info: Arc<TableInfo>,
    bucket: u32,
    shard: usize,
    /// After the batches returned so far.
    offset: i64,
    /// Where the last read ended (the offset once `pending` is drained).
    read_to: i64,
    changelog: bool,
    wait_ms: u64,
    /// Batches read but not returned yet, each with the offset after it.
    pending: VecDeque<(RecordBatch, i64)>,
}

impl Rill {
    /// Follows `bucket` of `table` from `from_offset` (e.g. a snapshot's
    /// [`crate::SnapshotOffset::log_offset`], or [`Rill::list_offsets`]). An offset before
    /// the log's start (removed by retention) or past its end fails on the first `next`
    /// with the engine's `OffsetOutOfRange` (which says the range the log holds).
    pub fn subscribe(&self, table: &str, bucket: u32, from_offset: i64) -> Result<Subscription> {
        let info = self.table(table)?;
        let shard = self.owner(&info, bucket)?;
        Ok(Subscription {
            rill: self.clone(),
            changelog: info.kind() == TableKind::PrimaryKey,
            info,
            bucket,
            shard,
            offset: from_offset,
            read_to: from_offset,
            wait_ms: SUBSCRIBE_WAIT_MS_DEFAULT,
            pending: VecDeque::new(),
        })
    }
}

impl Subscription {
    /// How long one `next` waits for new data (clamped to [`SUBSCRIBE_WAIT_MS_MAX`]; 0 =
    /// do not wait).
    pub fn with_wait_ms(mut self, wait_ms: u64) -> Self {
        self.wait_ms = wait_ms.min(SUBSCRIBE_WAIT_MS_MAX);
        self
    }

    /// Yields `$changelog` rows (true) or the table's rows (false; for a primary-key table
    /// that loses the change types).
    pub fn with_changelog(mut self, changelog: bool) -> Self {
        self.changelog = changelog;
        self
    }

    /// The offset the next read starts at (after every batch returned so far).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The bucket followed.
    pub fn bucket(&self) -> u32 {
        self.bucket
    }

    /// The next batch at or after the offset, waiting up to the wait for one to be
    /// appended; `Ok(None)` if none came in time.
    pub async fn next_async(&mut self) -> Result<Option<RecordBatch>> {
        if self.pending.is_empty() {
            let (batches, read_to) = self.read().await?;
            self.read_to = read_to;
            self.pending.extend(batches);
        }
        let next = self.pending.pop_front();
        self.offset = match (&next, self.pending.is_empty()) {
            (Some((_, end)), false) => *end,
            _ => self.read_to,
        };
        Ok(next.map(|(batch, _)| batch))
    }

    /// Blocking [`Self::next_async`].
    #[expect(
        clippy::should_implement_trait,
        reason = "not an Iterator: `Ok(None)` means no data yet, not the end, and errors are not final"
    )]
    pub fn next(&mut self) -> Result<Option<RecordBatch>> {
        block_on(self.next_async())
    }

    /// One request: read from the offset; if nothing is there, wait for a commit (or the
    /// timeout, or the bucket closing) and read once more.
    async fn read(&self) -> Result<(Vec<(RecordBatch, i64)>, i64)> {
        let (info, bucket, offset, changelog) = (Arc::clone(&self.info), self.bucket, self.read_to, self.changelog);
        let deadline = Instant::now() + Duration::from_millis(self.wait_ms);
        self.rill
            .inner
            .runtime
            .call(self.shard, move |ctx| async move {
                let mut closing = pin!(ctx.closing().wait());
                let open = ctx.bucket(&info, bucket).await?;
                let log = open.any_log();
                let mut read = log.read(offset, SUBSCRIBE_READ_BYTES_MAX, None).await?;
                let remaining = deadline.saturating_duration_since(Instant::now());
                if read.batches.is_empty() && !remaining.is_zero() {
                    let woken = or(async { log.wait_beyond(offset).await }, async {
                        or(closing.as_mut(), glommio::timer::sleep(remaining)).await;
                    });
                    woken.await;
                    read = log.read(offset, SUBSCRIBE_READ_BYTES_MAX, None).await?;
                }
                let mut batches = Vec::with_capacity(read.batches.len());
                for stored in &read.batches {
                    let rows = match changelog {
                        // Every schema of the table: batches of older ones come back widened.
                        true => changelog_batch(&open.table.schemas, stored)?,
                        false => rill_engine::schema::evolution::decode_as(
                            &stored.bytes,
                            &log.config().schemas,
                            &open.table.descriptor.schema,
                            &log.config().bucket,
                        )?,
                    };
                    let skip = usize::try_from(offset - stored.base_offset).unwrap_or(0).min(rows.num_rows());
                    if rows.num_rows() > skip {
                        batches.push((rows.slice(skip, rows.num_rows() - skip), stored.next_offset));
                    }
                }
                Ok((batches, read.next_offset))
            })
            .await
    }
}
