//! Idempotent writers: a writer id plus a batch sequence per bucket makes a retried write
//! safe. A retry (same writer id and sequence as one of the writer's last
//! `WRITER_BATCHES_KEPT` batches in that bucket) is acknowledged with the first attempt's
//! offsets and not applied again; a sequence that skips ahead fails with the engine's
//! `OutOfOrderSequence`; one older than that window with `DuplicateSequence`.
//!
//! Writer ids come from [`Rill::new_writer_id`]: a counter persisted in the data directory
//! (`writer_ids`), handed out in blocks, so ids are never reused, across restarts too (a
//! crash skips the rest of a block). Sequences are the caller's: start at 0 for each
//! (writer id, bucket) and add 1 per batch (wrapping at `i32::MAX`); resend a batch with its
//! own sequence. The bucket state is rebuilt from the log on restart, so retries across a
//! restart are recognised too; a writer idle past the log's `writer_idle_expiry_ms` is
//! forgotten (its next batch may start anywhere).
//!
//! Limits of primary-key writes: keep one write in flight per (writer id, bucket); a write
//! that changes nothing (deleting an absent key) uses its sequence in memory only, so after
//! a restart the writer's next sequence reads as a gap (take a new writer id then).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_array::RecordBatch;
use futures_lite::future::block_on;

use super::{AppendInfo, Rill, WriteInfo};
use crate::error::{Error, Result};

/// Writer ids reserved per write of the `writer_ids` file.
pub const WRITER_ID_BLOCK: i64 = 1024;
const WRITER_IDS_FILE: &str = "writer_ids";

/// One batch of an idempotent writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterSeq {
    /// From [`Rill::new_writer_id`] (any id >= 0 works; that one is never handed out twice).
    pub writer_id: i64,
    /// The batch's sequence in this bucket: 0, 1, 2, ... (>= 0).
    pub sequence: i32,
}

impl WriterSeq {
    pub(crate) fn check(&self, table: &str) -> Result<()> {
        if self.writer_id < 0 || self.sequence < 0 {
            return Err(Error::InvalidRequest {
                table: table.to_string(),
                reason: format!(
                    "writer id {} and sequence {} must both be >= 0 (negative means no writer)",
                    self.writer_id, self.sequence
                ),
            });
        }
        Ok(())
    }
}

/// The writer-id counter of a data directory: (next id, end of the persisted block).
pub(crate) struct WriterIds {
    path: PathBuf,
    next: Mutex<(i64, i64)>,
}

impl WriterIds {
    /// Loads the counter (0 for a new directory).
    pub(crate) fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(WRITER_IDS_FILE);
        let end = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|e| Error::Catalog {
                path: path.display().to_string(),
                reason: format!("writer id counter '{}' is not a number: {e}", text.trim()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        Ok(Self { path, next: Mutex::new((end, end)) })
    }

    /// The next id, persisting a new block first when the current one is used up.
    pub(crate) fn allocate(&self) -> Result<i64> {
        let mut guard = match self.next.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (next, end) = *guard;
        if next >= end {
            let new_end = next + WRITER_ID_BLOCK;
            persist(&self.path, new_end)?;
            *guard = (next, new_end);
        }
        guard.0 = next + 1;
        Ok(next)
    }
}

/// Writes `end` durably: a temporary file, synced, renamed over the old one, directory synced.
fn persist(path: &Path, end: i64) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let io = |what: &str, e| Error::io(format!("{what} {}", tmp.display()), e);
    let mut file = std::fs::File::create(&tmp).map_err(|e| io("creating", e))?;
    file.write_all(format!("{end}\n").as_bytes()).map_err(|e| io("writing", e))?;
    file.sync_all().map_err(|e| io("syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("renaming", e))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))?;
    }
    Ok(())
}

impl Rill {
    /// A writer id no other caller of this data directory got or will get.
    pub fn new_writer_id(&self) -> Result<i64> {
        self.inner.writer_ids.allocate()
    }

    /// [`Rill::append_async`] to `bucket` as batch `writer.sequence` of `writer.writer_id`:
    /// a retry returns the first attempt's offsets with `duplicate` set.
    pub async fn append_idempotent_async(
        &self,
        table: &str,
        bucket: u32,
        batch: RecordBatch,
        writer: WriterSeq,
    ) -> Result<AppendInfo> {
        writer.check(table)?;
        self.append_as(table, Some(bucket), batch, Some(writer)).await
    }

    /// Blocking [`Self::append_idempotent_async`].
    pub fn append_idempotent(
        &self,
        table: &str,
        bucket: u32,
        batch: RecordBatch,
        writer: WriterSeq,
    ) -> Result<AppendInfo> {
        block_on(self.append_idempotent_async(table, bucket, batch, writer))
    }

    /// [`Rill::upsert_async`] of rows that all belong to `bucket` (else `InvalidRequest`),
    /// as batch `writer.sequence` of `writer.writer_id`: a retry changes nothing and reports
    /// `duplicates: 1`.
    pub async fn upsert_idempotent_async(
        &self,
        table: &str,
        bucket: u32,
        rows: RecordBatch,
        writer: WriterSeq,
    ) -> Result<WriteInfo> {
        writer.check(table)?;
        let info = self.pk_info(table)?;
        rill_engine::batch::builder::check_schema(&info.descriptor.schema, &rows)?;
        self.write(&info, &rows, false, None, Some((bucket, writer))).await
    }

    /// Blocking [`Self::upsert_idempotent_async`].
    pub fn upsert_idempotent(
        &self,
        table: &str,
        bucket: u32,
        rows: RecordBatch,
        writer: WriterSeq,
    ) -> Result<WriteInfo> {
        block_on(self.upsert_idempotent_async(table, bucket, rows, writer))
    }

    /// [`Rill::delete_async`] of keys that all belong to `bucket`, idempotently (see
    /// [`Self::upsert_idempotent_async`]).
    pub async fn delete_idempotent_async(
        &self,
        table: &str,
        bucket: u32,
        keys: RecordBatch,
        writer: WriterSeq,
    ) -> Result<WriteInfo> {
        writer.check(table)?;
        let info = self.pk_info(table)?;
        let wide = crate::keys::widen_keys(&info.descriptor, &keys)?;
        self.write(&info, &wide, true, None, Some((bucket, writer))).await
    }

    /// Blocking [`Self::delete_idempotent_async`].
    pub fn delete_idempotent(
        &self,
        table: &str,
        bucket: u32,
        keys: RecordBatch,
        writer: WriterSeq,
    ) -> Result<WriteInfo> {
        block_on(self.delete_idempotent_async(table, bucket, keys, writer))
    }
}
