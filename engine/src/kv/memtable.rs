//! The Arrow memtable of a primary-key bucket.
//!
//! Rows arrive as Arrow record batches (one per write request, already merged by the merge
//! engine) and are kept as immutable chunks; a key index ([`MemIndex`]: a hash table with
//! the keys' order kept as sorted runs) maps each encoded primary key to its newest row
//! (write, row) or to a tombstone, and a directory maps a write to the chunk and first row
//! holding it. A lookup slices the row out of its chunk; a flush gathers
//! the live rows in key order with `interleave` into SST rows. When many writes have made
//! small chunks, the newest ones are concatenated into one (no key moves: only the directory
//! changes). Rows overwritten later stay in their chunk until the flush, which the byte
//! accounting includes, so the budget bounds real memory.

use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::concat::concat_batches;
use arrow_select::interleave::interleave;

use super::memindex::{MemIndex, Ordered};
use super::sst::hash64;
use crate::error::{Error, Result};

/// Concatenate the newest chunks when this many were added since the last time (many small
/// writes).
pub const CHUNKS_MAX: usize = 512;
/// Keys a memtable made with [`Memtable::new`] takes before its index grows (nothing known
/// about its keys yet; an idle bucket's memtable stays small).
pub const EXPECTED_KEYS_DEFAULT: usize = 256;

/// Where a key's newest version lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Row `row` of write `write` (see [`Memtable::writes`]).
    Row {
        write: u32,
        row: u32,
    },
    Tombstone,
}

/// What the memtable knows about a key.
#[derive(Clone, Debug)]
pub enum MemValue<'a> {
    Row(&'a RecordBatch, usize),
    Deleted,
}

/// The mutable in-memory part of an LSM.
pub struct Memtable {
    schema: SchemaRef,
    chunks: Vec<RecordBatch>,
    /// Per write: (chunk, its first row in the chunk).
    writes: Vec<(u32, u32)>,
    /// Chunks from this one on were added one per write since the last concatenation.
    tail_from: usize,
    index: MemIndex,
    chunk_bytes: usize,
}

impl Memtable {
    /// An empty memtable for rows of `schema` (the table's Arrow schema), its index sized for
    /// [`EXPECTED_KEYS_DEFAULT`] keys.
    pub fn new(schema: SchemaRef) -> Self {
        Self::with_expected_keys(schema, EXPECTED_KEYS_DEFAULT)
    }

    /// An empty memtable whose index takes `keys` keys before it grows (a flush sizes the
    /// next memtable for as many keys as the one it writes).
    pub fn with_expected_keys(schema: SchemaRef, keys: usize) -> Self {
        Self {
            schema,
            chunks: Vec::new(),
            writes: Vec::new(),
            tail_from: 0,
            index: MemIndex::with_expected_keys(keys),
            chunk_bytes: 0,
        }
    }

    /// Approximate memory held, in bytes: the rows' chunks and the index.
    pub fn bytes(&self) -> usize {
        self.chunk_bytes + self.index.bytes()
    }

    /// Number of keys (rows and tombstones).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Applies one write: `rows` (table schema) holds the new versions; `keys[i]` is the key
    /// of row `i`, or of a delete when `deleted[i]` (its row's values are ignored).
    pub fn apply(&mut self, keys: &[Vec<u8>], deleted: &[bool], rows: &RecordBatch) -> Result<()> {
        if keys.len() != rows.num_rows() || deleted.len() != keys.len() {
            return Err(Error::invalid_batch(format!(
                "memtable write of {} keys, {} delete flags and {} rows",
                keys.len(),
                deleted.len(),
                rows.num_rows()
            )));
        }
        if rows.schema().fields() != self.schema.fields() {
            return Err(Error::invalid_batch("memtable write with another schema"));
        }
        let write = u32::try_from(self.writes.len()).map_err(|_| Error::invalid_batch("too many memtable writes"))?;
        let chunk = u32::try_from(self.chunks.len()).map_err(|_| Error::invalid_batch("too many memtable chunks"))?;
        // Every key's bucket is hinted before the first insert, so their misses overlap.
        let hashes: Vec<u64> = keys.iter().map(|k| hash64(k)).collect();
        for &hash in &hashes {
            self.index.prefetch(hash);
        }
        let mut any_row = false;
        for (i, (key, &hash)) in keys.iter().zip(&hashes).enumerate() {
            let slot = if deleted[i] { Slot::Tombstone } else { Slot::Row { write, row: i as u32 } };
            any_row |= !deleted[i];
            self.index.insert(key, hash, slot)?;
        }
        self.writes.push((chunk, 0));
        if any_row {
            self.chunk_bytes += rows.get_array_memory_size();
            self.chunks.push(rows.clone());
        } else {
            // Keep one chunk per write until the tail is concatenated: an empty one.
            self.chunks.push(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        if self.chunks.len() - self.tail_from > CHUNKS_MAX {
            self.concatenate_tail()?;
        }
        Ok(())
    }

    /// The newest version of `key`, if the memtable has one.
    pub fn get(&self, key: &[u8]) -> Option<MemValue<'_>> {
        self.get_hashed(key, hash64(key))
    }

    /// [`Self::get`] of a key whose [`hash64`] the caller has (it also probes SST blooms).
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Option<MemValue<'_>> {
        if self.index.is_empty() {
            return None;
        }
        self.index.get(key, hash).map(|slot| self.value(slot))
    }

    /// Asks the CPU for what [`Self::get_hashed`] of `hash` reads first (its index bucket).
    pub fn prefetch_hash(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    fn value(&self, slot: Slot) -> MemValue<'_> {
        match slot {
            Slot::Tombstone => MemValue::Deleted,
            Slot::Row { write, row } => {
                let (chunk, row) = self.locate(write, row);
                MemValue::Row(&self.chunks[chunk], row)
            }
        }
    }

    /// The chunk and row of row `row` of write `write`.
    fn locate(&self, write: u32, row: u32) -> (usize, usize) {
        let (chunk, first) = self.writes[write as usize];
        (chunk as usize, (first + row) as usize)
    }

    /// Keys starting with `prefix`, in order, with their newest versions.
    pub fn prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = (&'a [u8], MemValue<'a>)> + 'a {
        self.index.prefix(prefix).into_iter().map(|(k, slot)| (k, self.value(slot)))
    }

    /// All rows in key order as SST rows: `_key`, `_tombstone`, then the table columns.
    pub fn sorted_rows(&self, sst_schema: SchemaRef) -> Result<RecordBatch> {
        let mut all = self.sorted_chunks(sst_schema, usize::MAX);
        all.next().unwrap_or_else(|| Ok(RecordBatch::new_empty(Arc::clone(&all.schema))))
    }

    /// [`Self::sorted_rows`] `chunk_rows` rows at a time: a flush gathers (and writes) one
    /// chunk after another instead of the whole memtable in one step, so the tasks sharing
    /// its thread run between chunks.
    pub fn sorted_chunks(&self, sst_schema: SchemaRef, chunk_rows: usize) -> SortedChunks<'_> {
        SortedChunks {
            memtable: self,
            schema: sst_schema,
            ordered: self.index.ordered(),
            chunk_rows: chunk_rows.max(1),
        }
    }

    /// Rows `entries` (in key order) as SST rows.
    fn sst_rows(&self, schema: &SchemaRef, entries: &[(&[u8], Slot)]) -> Result<RecordBatch> {
        let keys = BinaryArray::from_iter_values(entries.iter().map(|(k, _)| k));
        let tombstones = BooleanArray::from_iter(entries.iter().map(|(_, s)| Some(*s == Slot::Tombstone)));
        let picks: Vec<(usize, usize)> = entries
            .iter()
            .map(|(_, s)| match s {
                Slot::Row { write, row } => self.locate(*write, *row),
                Slot::Tombstone => (self.chunks.len(), 0),
            })
            .collect();
        let mut columns: Vec<ArrayRef> = vec![Arc::new(keys), Arc::new(tombstones)];
        columns.extend(self.gather(&picks)?);
        RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Error::arrow("building memtable rows", e))
    }

    /// The table columns of the rows at `picks` ((chunk, row); chunk == chunks.len() = a null row).
    fn gather(&self, picks: &[(usize, usize)]) -> Result<Vec<ArrayRef>> {
        let mut out = Vec::with_capacity(self.schema.fields().len());
        for (i, field) in self.schema.fields().iter().enumerate() {
            let null_row = new_null_array(field.data_type(), 1);
            let mut sources: Vec<&dyn Array> = self.chunks.iter().map(|c| c.column(i).as_ref()).collect();
            sources.push(null_row.as_ref());
            out.push(interleave(&sources, picks).map_err(|e| Error::arrow("gathering memtable rows", e))?);
        }
        Ok(out)
    }

    /// Frees the memtable a step at a time, yielding between steps: a full memtable is
    /// hundreds of thousands of allocations (index nodes, one chunk per write), and freeing
    /// them in one go held the thread for about 10 ms.
    pub async fn release_in_steps(mut self) {
        while !self.index.is_empty() {
            let more = self.index.release(RELEASE_ENTRIES_PER_STEP);
            crate::kv::step::end_of_step().await;
            if !more {
                break;
            }
        }
        while !self.chunks.is_empty() {
            let keep = self.chunks.len().saturating_sub(RELEASE_CHUNKS_PER_STEP);
            self.chunks.truncate(keep);
            crate::kv::step::end_of_step().await;
        }
    }

    /// Puts `newer`'s writes on top of this memtable's (after a failed flush).
    pub fn absorb(&mut self, newer: Memtable) -> Result<()> {
        let (chunk_base, write_base) = (self.chunks.len() as u32, self.writes.len() as u32);
        self.chunk_bytes += newer.chunk_bytes;
        self.chunks.extend(newer.chunks);
        self.writes.extend(newer.writes.iter().map(|&(chunk, first)| (chunk + chunk_base, first)));
        for (key, slot) in newer.index.entries() {
            let slot = match slot {
                Slot::Row { write, row } => Slot::Row { write: write + write_base, row },
                Slot::Tombstone => Slot::Tombstone,
            };
            self.index.insert(key, hash64(key), slot)?;
        }
        Ok(())
    }

    /// Concatenates the chunks added since the last time into one; only the directory of the
    /// writes in them changes.
    fn concatenate_tail(&mut self) -> Result<()> {
        let tail = &self.chunks[self.tail_from..];
        let mut firsts = Vec::with_capacity(tail.len());
        let mut rows = 0u32;
        for chunk in tail {
            firsts.push(rows);
            rows += chunk.num_rows() as u32;
        }
        let merged =
            concat_batches(&self.schema, tail).map_err(|e| Error::arrow("concatenating memtable chunks", e))?;
        let tail_bytes: usize = tail.iter().map(RecordBatch::get_array_memory_size).sum();
        let at = self.tail_from as u32;
        // Writes are numbered in chunk order: those in the tail are the last ones.
        for w in self.writes.iter_mut().rev() {
            if w.0 < at {
                break;
            }
            *w = (at, firsts[(w.0 - at) as usize] + w.1);
        }
        self.chunk_bytes = self.chunk_bytes - tail_bytes.min(self.chunk_bytes) + merged.get_array_memory_size();
        self.chunks.truncate(self.tail_from);
        self.chunks.push(merged);
        self.tail_from = self.chunks.len();
        Ok(())
    }
}

/// Index entries freed per step of [`Memtable::release_in_steps`].
const RELEASE_ENTRIES_PER_STEP: usize = 1 << 14;
/// Chunks (a write's rows: several buffers each) freed per step.
const RELEASE_CHUNKS_PER_STEP: usize = 1 << 10;

/// A memtable's rows in key order, a chunk at a time ([`Memtable::sorted_chunks`]): each
/// chunk takes the next keys of one ordered walk of the index, so no step touches more than
/// one chunk's entries (a flush yields between chunks).
pub struct SortedChunks<'a> {
    memtable: &'a Memtable,
    schema: SchemaRef,
    ordered: Ordered<'a>,
    chunk_rows: usize,
}

impl<'a> Iterator for SortedChunks<'a> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let entries: Vec<(&[u8], Slot)> = self.ordered.by_ref().take(self.chunk_rows).collect();
        if entries.is_empty() {
            return None;
        }
        Some(self.memtable.sst_rows(&self.schema, &entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::collections::BTreeMap;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("v", DataType::Utf8, true)]))
    }

    fn rows(ids: &[i64], v: &str) -> RecordBatch {
        let vs: Vec<String> = ids.iter().map(|i| format!("{v}{i}")).collect();
        RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(vs))])
            .expect("valid")
    }

    fn key(i: i64) -> Vec<u8> {
        i.to_be_bytes().to_vec()
    }

    fn value_of(m: &Memtable, k: i64) -> Option<String> {
        match m.get(&key(k))? {
            MemValue::Deleted => Some("<deleted>".into()),
            MemValue::Row(b, r) => {
                let col = b.column(1).as_any().downcast_ref::<StringArray>().expect("utf8");
                Some(col.value(r).to_string())
            }
        }
    }

    #[test]
    fn newest_version_wins_and_deletes_are_tombstones() {
        let mut m = Memtable::new(schema());
        m.apply(&[key(1), key(2)], &[false, false], &rows(&[1, 2], "a")).expect("apply");
        m.apply(&[key(2), key(3)], &[false, true], &rows(&[2, 3], "b")).expect("apply");
        assert_eq!(value_of(&m, 1).as_deref(), Some("a1"));
        assert_eq!(value_of(&m, 2).as_deref(), Some("b2"));
        assert_eq!(value_of(&m, 3).as_deref(), Some("<deleted>"));
        assert_eq!(value_of(&m, 4), None);
        assert_eq!(m.prefix(&key(2)[..7]).count(), 3);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
        #[test]
        fn agrees_with_a_map_across_tail_concatenations(
            writes in proptest::collection::vec(
                proptest::collection::vec((0i64..300, proptest::bool::weighted(0.2)), 1..4),
                1..(3 * CHUNKS_MAX),
            ),
        ) {
            let mut m = Memtable::new(schema());
            let mut oracle: BTreeMap<i64, Option<String>> = BTreeMap::new();
            for (round, records) in writes.iter().enumerate() {
                let ids: Vec<i64> = records.iter().map(|(id, _)| *id).collect();
                let deleted: Vec<bool> = records.iter().map(|(_, d)| *d).collect();
                let keys: Vec<Vec<u8>> = ids.iter().map(|&i| key(i)).collect();
                m.apply(&keys, &deleted, &rows(&ids, &format!("w{round}-"))).expect("apply");
                for (id, d) in records {
                    oracle.insert(*id, (!d).then(|| format!("w{round}-{id}")));
                }
            }
            for (id, want) in &oracle {
                let want = Some(want.clone().unwrap_or_else(|| "<deleted>".into()));
                proptest::prop_assert_eq!(value_of(&m, *id), want);
            }
            proptest::prop_assert!(m.chunks.len() - m.tail_from <= CHUNKS_MAX);
        }
    }

    #[test]
    fn sorted_rows_and_consolidation_keep_the_newest_rows() {
        let mut m = Memtable::new(schema());
        for round in 0..(CHUNKS_MAX + 10) as i64 {
            let id = round % 7;
            m.apply(&[key(id)], &[round % 11 == 0], &rows(&[id], &format!("r{round}-"))).expect("apply");
        }
        assert!(m.chunks.len() - m.tail_from <= CHUNKS_MAX);
        assert!(m.tail_from > 0, "the tail was concatenated");
        let sst_schema = Arc::new(Schema::new(
            [Field::new("_key", DataType::Binary, false), Field::new("_tombstone", DataType::Boolean, false)]
                .into_iter()
                .chain(schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)))
                .collect::<Vec<_>>(),
        ));
        let sorted = m.sorted_rows(Arc::clone(&sst_schema)).expect("rows");
        assert_eq!(sorted.num_rows(), 7);
        let chunks: Vec<RecordBatch> =
            m.sorted_chunks(Arc::clone(&sst_schema), 3).collect::<Result<_>>().expect("chunks");
        assert_eq!(chunks.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [3, 3, 1]);
        assert_eq!(concat_batches(&sst_schema, &chunks).expect("concat"), sorted, "chunks add up to the rows");
        let keys = sorted.column(0).as_any().downcast_ref::<BinaryArray>().expect("binary");
        assert!((1..keys.len()).all(|i| keys.value(i - 1) < keys.value(i)));
        let last = (CHUNKS_MAX + 9) as i64;
        assert_eq!(value_of(&m, last % 7), Some(format!("r{last}-{}", last % 7)));
    }

    #[test]
    fn a_flushed_memtable_is_freed_in_steps() {
        let mut m = Memtable::new(schema());
        let ids: Vec<i64> = (0..(RELEASE_ENTRIES_PER_STEP + 10) as i64).collect();
        for batch in ids.chunks(1000) {
            let keys: Vec<Vec<u8>> = batch.iter().map(|&i| key(i)).collect();
            m.apply(&keys, &vec![false; batch.len()], &rows(batch, "v")).expect("apply");
        }
        let mut release = std::pin::pin!(m.release_in_steps());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut polls = 1;
        while std::future::Future::poll(release.as_mut(), &mut cx).is_pending() {
            polls += 1;
        }
        // Two steps of index entries, one of chunks, each followed by a yield.
        assert_eq!(polls, 4, "freed a step per poll");
    }
}
