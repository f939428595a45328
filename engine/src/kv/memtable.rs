//! The Arrow memtable of a primary-key bucket.
//!
//! Rows arrive as Arrow record batches (one per write request, already merged by the merge
//! engine) and are kept as immutable chunks; an ordered key index maps each encoded primary
//! key to its newest row (chunk, row) or to a tombstone. A lookup slices the row out of its
//! chunk; a flush gathers the live rows in key order with `interleave` into SST rows. Rows
//! overwritten later stay in their chunk until the next consolidation or flush, which the
//! byte accounting includes, so the budget bounds real memory.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::interleave::interleave;

use super::memkey::MemKey;
use crate::error::{Error, Result};

/// Consolidate the chunks when there are more than this many (many tiny writes).
pub const CHUNKS_MAX: usize = 512;
/// Estimated bookkeeping bytes per index entry (tree node share + slot).
const ENTRY_OVERHEAD_BYTES: usize = 48;

/// Where a key's newest version lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Row { chunk: u32, row: u32 },
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
    index: BTreeMap<MemKey, Slot>,
    chunk_bytes: usize,
    key_bytes: usize,
}

impl Memtable {
    /// An empty memtable for rows of `schema` (the table's Arrow schema).
    pub fn new(schema: SchemaRef) -> Self {
        Self { schema, chunks: Vec::new(), index: BTreeMap::new(), chunk_bytes: 0, key_bytes: 0 }
    }

    /// Approximate memory held, in bytes.
    pub fn bytes(&self) -> usize {
        self.chunk_bytes + self.key_bytes + self.index.len() * ENTRY_OVERHEAD_BYTES
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
        let chunk = self.chunks.len() as u32;
        let mut any_row = false;
        for (i, key) in keys.iter().enumerate() {
            let slot = if deleted[i] { Slot::Tombstone } else { Slot::Row { chunk, row: i as u32 } };
            any_row |= !deleted[i];
            if self.index.insert(MemKey::new(key), slot).is_none() {
                self.key_bytes += key.len();
            }
        }
        if any_row {
            self.chunk_bytes += rows.get_array_memory_size();
            self.chunks.push(rows.clone());
        } else {
            // Keep chunk numbering dense: an empty chunk for a delete-only write.
            self.chunks.push(rows.slice(0, 0));
        }
        if self.chunks.len() > CHUNKS_MAX {
            self.consolidate()?;
        }
        Ok(())
    }

    /// The newest version of `key`, if the memtable has one.
    pub fn get(&self, key: &[u8]) -> Option<MemValue<'_>> {
        self.index.get(key).map(|slot| self.value(*slot))
    }

    fn value(&self, slot: Slot) -> MemValue<'_> {
        match slot {
            Slot::Tombstone => MemValue::Deleted,
            Slot::Row { chunk, row } => MemValue::Row(&self.chunks[chunk as usize], row as usize),
        }
    }

    /// Keys starting with `prefix`, in order, with their newest versions.
    pub fn prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = (&'a [u8], MemValue<'a>)> + 'a {
        self.index
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.as_slice().starts_with(prefix))
            .map(|(k, slot)| (k.as_slice(), self.value(*slot)))
    }

    /// All rows in key order as SST rows: `_key`, `_tombstone`, then the table columns.
    pub fn sorted_rows(&self, sst_schema: SchemaRef) -> Result<RecordBatch> {
        let keys = BinaryArray::from_iter_values(self.index.keys());
        let tombstones = BooleanArray::from_iter(self.index.values().map(|s| Some(*s == Slot::Tombstone)));
        let picks: Vec<(usize, usize)> = self
            .index
            .values()
            .map(|s| match s {
                Slot::Row { chunk, row } => (*chunk as usize, *row as usize),
                Slot::Tombstone => (self.chunks.len(), 0),
            })
            .collect();
        let mut columns: Vec<ArrayRef> = vec![Arc::new(keys), Arc::new(tombstones)];
        columns.extend(self.gather(&picks)?);
        RecordBatch::try_new(sst_schema, columns).map_err(|e| Error::arrow("building memtable rows", e))
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

    /// Puts `newer`'s writes on top of this memtable's (after a failed flush).
    pub fn absorb(&mut self, newer: Memtable) {
        let base = self.chunks.len() as u32;
        self.chunk_bytes += newer.chunk_bytes;
        self.chunks.extend(newer.chunks);
        for (key, slot) in newer.index {
            let slot = match slot {
                Slot::Row { chunk, row } => Slot::Row { chunk: chunk + base, row },
                Slot::Tombstone => Slot::Tombstone,
            };
            let len = key.as_slice().len();
            if self.index.insert(key, slot).is_none() {
                self.key_bytes += len;
            }
        }
    }

    /// Rewrites the live rows into one chunk (after many small writes).
    fn consolidate(&mut self) -> Result<()> {
        let live: Vec<(MemKey, usize, usize)> = self
            .index
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Row { chunk, row } => Some((k.clone(), *chunk as usize, *row as usize)),
                Slot::Tombstone => None,
            })
            .collect();
        let picks: Vec<(usize, usize)> = live.iter().map(|(_, c, r)| (*c, *r)).collect();
        let columns = if self.schema.fields().is_empty() { Vec::new() } else { self.gather(&picks)? };
        let merged = RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| Error::arrow("consolidating the memtable", e))?;
        for (row, (key, _, _)) in live.iter().enumerate() {
            self.index.insert(key.clone(), Slot::Row { chunk: 0, row: row as u32 });
        }
        self.chunk_bytes = merged.get_array_memory_size();
        self.chunks = vec![merged];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

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

    #[test]
    fn sorted_rows_and_consolidation_keep_the_newest_rows() {
        let mut m = Memtable::new(schema());
        for round in 0..(CHUNKS_MAX + 10) as i64 {
            let id = round % 7;
            m.apply(&[key(id)], &[round % 11 == 0], &rows(&[id], &format!("r{round}-"))).expect("apply");
        }
        assert!(m.chunks.len() <= CHUNKS_MAX);
        let sst_schema = Arc::new(Schema::new(
            [Field::new("_key", DataType::Binary, false), Field::new("_tombstone", DataType::Boolean, false)]
                .into_iter()
                .chain(schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)))
                .collect::<Vec<_>>(),
        ));
        let sorted = m.sorted_rows(sst_schema).expect("rows");
        assert_eq!(sorted.num_rows(), 7);
        let keys = sorted.column(0).as_any().downcast_ref::<BinaryArray>().expect("binary");
        assert!((1..keys.len()).all(|i| keys.value(i - 1) < keys.value(i)));
        let last = (CHUNKS_MAX + 9) as i64;
        assert_eq!(value_of(&m, last % 7), Some(format!("r{last}-{}", last % 7)));
    }
}
