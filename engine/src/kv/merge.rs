//! K-way merge of sorted runs (memtable rows, SSTs, levels) into one key-ordered stream,
//! newest version first: the engine of compaction and of KV snapshots.
//!
//! A run yields SST-schema batches (`_key`, `_tombstone`, table columns) in key order with
//! unique keys. Runs are ranked: run 0 is the newest. For each key the newest run's row wins;
//! older versions are skipped. Output comes in chunks of about `chunk_rows` rows, gathered with
//! `interleave` from the input batches (no per-row copies beyond the gather).

use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::interleave::interleave;

use super::cache::BlockCache;
use super::sst::{key_column, tombstone_column, ReadAhead, SstReader};
use crate::error::{Error, Result};
use crate::log::StorageFile;

/// Where a run's batches come from.
pub enum RunSource<F: StorageFile> {
    /// Batches already in memory (a frozen memtable).
    Memory(std::vec::IntoIter<RecordBatch>),
    /// SSTs with disjoint, ascending key ranges (one SST, or a level), read in key order
    /// through a read-ahead.
    Ssts { readers: Vec<Rc<SstReader<F>>>, sst: usize, block: usize, ahead: ReadAhead },
}

impl<F: StorageFile> RunSource<F> {
    /// A run over SSTs in key order, read through `ahead` (reset between SSTs).
    pub fn ssts(readers: Vec<Rc<SstReader<F>>>, ahead: ReadAhead) -> Self {
        Self::Ssts { readers, sst: 0, block: 0, ahead }
    }

    async fn next_batch(&mut self, cache: &BlockCache) -> Result<Option<Arc<RecordBatch>>> {
        match self {
            Self::Memory(batches) => Ok(batches.next().map(Arc::new)),
            Self::Ssts { readers, sst, block, ahead } => loop {
                let Some(reader) = readers.get(*sst) else { return Ok(None) };
                if *block < reader.block_count() {
                    // Scans read around the cache so they do not evict the lookups' blocks.
                    let _ = cache;
                    let batch = Arc::new(ahead.block(reader, *block, reader.block_count()).await?);
                    *block += 1;
                    return Ok(Some(batch));
                }
                *sst += 1;
                *block = 0;
                ahead.reset();
            },
        }
    }
}

struct Cursor<F: StorageFile> {
    source: RunSource<F>,
    batch: Option<Arc<RecordBatch>>,
    row: usize,
}

impl<F: StorageFile> Cursor<F> {
    fn key(&self) -> Option<&[u8]> {
        let batch = self.batch.as_ref()?;
        key_column(batch).map(|k| k.value(self.row))
    }

    /// Moves to the next row, loading the next non-empty batch when needed.
    async fn advance(&mut self, cache: &BlockCache) -> Result<()> {
        self.row += 1;
        self.settle(cache).await
    }

    /// Makes the cursor point at a row, loading batches until one has the current row (or
    /// the run ends).
    async fn settle(&mut self, cache: &BlockCache) -> Result<()> {
        while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
            match self.source.next_batch(cache).await? {
                Some(batch) => {
                    self.batch = Some(batch);
                    self.row = 0;
                }
                None => {
                    self.batch = None;
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Merges runs (index 0 = newest) into key-ordered chunks, one row per key.
pub struct MergeIter<F: StorageFile> {
    cursors: Vec<Cursor<F>>,
    schema: SchemaRef,
    drop_tombstones: bool,
    chunk_rows: usize,
    started: bool,
}

impl<F: StorageFile> MergeIter<F> {
    /// A merge of `runs` producing batches of `schema` (the SST schema).
    pub fn new(runs: Vec<RunSource<F>>, schema: SchemaRef, drop_tombstones: bool, chunk_rows: usize) -> Self {
        let cursors = runs.into_iter().map(|source| Cursor { source, batch: None, row: 0 }).collect();
        Self { cursors, schema, drop_tombstones, chunk_rows: chunk_rows.max(1), started: false }
    }

    /// The next chunk of merged rows, or `None` at the end.
    pub async fn next_chunk(&mut self, cache: &BlockCache) -> Result<Option<RecordBatch>> {
        if !self.started {
            self.started = true;
            for cursor in &mut self.cursors {
                cursor.settle(cache).await?;
            }
        }
        let mut sources: Vec<Arc<RecordBatch>> = Vec::new();
        let mut picks: Vec<(usize, usize)> = Vec::new();
        while picks.len() < self.chunk_rows {
            let Some(winner) = self.smallest() else { break };
            let Some(batch) = self.cursors[winner].batch.clone() else { break };
            let row = self.cursors[winner].row;
            let tombstone = tombstone_column(&batch).is_some_and(|t| t.value(row));
            if !(tombstone && self.drop_tombstones) {
                let at = match sources.iter().position(|s| Arc::ptr_eq(s, &batch)) {
                    Some(at) => at,
                    None => {
                        sources.push(Arc::clone(&batch));
                        sources.len() - 1
                    }
                };
                picks.push((at, row));
            }
            // The winner's key, borrowed from its batch (kept alive by `batch`), not copied:
            // older runs holding the same key skip it, then the winner moves on.
            let key = key_column(&batch).map(|k| k.value(row));
            for (i, cursor) in self.cursors.iter_mut().enumerate() {
                if i != winner && cursor.key() == key {
                    cursor.advance(cache).await?;
                }
            }
            self.cursors[winner].advance(cache).await?;
        }
        if picks.is_empty() {
            return Ok(if self.smallest().is_none() {
                None
            } else {
                Some(RecordBatch::new_empty(self.schema.clone()))
            });
        }
        gather(&self.schema, &sources, &picks).map(Some)
    }

    /// The cursor with the smallest key; on ties the newest (lowest index).
    fn smallest(&self) -> Option<usize> {
        let mut best: Option<(usize, &[u8])> = None;
        for (i, cursor) in self.cursors.iter().enumerate() {
            if let Some(key) = cursor.key() {
                if best.is_none_or(|(_, b)| key < b) {
                    best = Some((i, key));
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

fn gather(schema: &SchemaRef, sources: &[Arc<RecordBatch>], picks: &[(usize, usize)]) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for i in 0..schema.fields().len() {
        let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(i).as_ref()).collect();
        columns.push(interleave(&arrays, picks).map_err(|e| Error::arrow("merging sorted runs", e))?);
    }
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Error::arrow("merging sorted runs", e))
}
