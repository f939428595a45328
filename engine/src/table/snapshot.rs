//! KV snapshots: a consistent, streaming Arrow scan of a bucket plus the log offset a reader
//! continues from (the bootstrap path of lookup-join caches).

use std::rc::Rc;

use arrow_array::RecordBatch;

use crate::error::Result;
use crate::kv::cache::BlockCache;
use crate::kv::merge::MergeIter;
use crate::kv::tree::{table_rows, Lsm};
use crate::log::{Storage, StorageFile};

/// A frozen view: the memtables as they were, and the SSTs it holds open.
pub struct KvSnapshot<F: StorageFile> {
    merge: MergeIter<F>,
    cache: Rc<BlockCache>,
    /// Every change below this log offset is in the snapshot; continue the changelog here.
    pub log_offset: i64,
}

impl<F: StorageFile> KvSnapshot<F> {
    /// Freezes `lsm` now.
    pub fn new<S: Storage<File = F> + Clone>(lsm: &Lsm<S>, cache: Rc<BlockCache>) -> Result<Self> {
        Ok(Self { merge: lsm.merge_all(true)?, cache, log_offset: lsm.applied_offset() })
    }

    /// The next batch of live rows in key order (table schema), or `None` at the end.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            match self.merge.next_chunk(&self.cache).await? {
                None => return Ok(None),
                Some(chunk) if chunk.num_rows() == 0 => continue,
                Some(chunk) => return table_rows(&chunk).map(Some),
            }
        }
    }
}
