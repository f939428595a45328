//! The pre-write buffer of a primary-key bucket: writes whose changelog is appended but not
//! yet durable, in log order, and the newest of their values per key, so that a write which
//! follows one of them merges on top of it (lookups see only durable data).
//!
//! The per-key index is built lazily: a write only looks a key up here when another write is
//! in flight, so a bucket written one request at a time never pays for it. The index covers
//! the pending writes with ids below `indexed_to`; [`PreWrite::get`] extends it first.

use std::collections::{HashMap, VecDeque};

use arrow_array::RecordBatch;

use crate::kv::tree::RowRef;

/// One write between its append and its application to the memtable.
pub(super) struct Pending {
    pub id: u64,
    /// The final state per key of the write (no key twice): keys, delete flags, rows.
    pub keys: Vec<Vec<u8>>,
    pub deleted: Vec<bool>,
    pub rows: RecordBatch,
    /// Set when the write is durable.
    pub next_offset: Option<i64>,
}

/// What the buffer knows about a key.
pub(super) enum Buffered {
    /// The newest not-yet-durable value (`None` = deleted).
    Value(Option<RowRef>),
    /// No pending write has the key: the LSM decides.
    Absent,
}

#[derive(Default)]
pub(super) struct PreWrite {
    /// Newest not-yet-durable value per key of the indexed writes: (write id, row or None).
    values: HashMap<Vec<u8>, (u64, Option<RowRef>)>,
    pending: VecDeque<Pending>,
    next_id: u64,
    /// Writes with ids below this are in `values`.
    indexed_to: u64,
}

impl PreWrite {
    /// The pending writes' newest value of `key`.
    pub fn get(&mut self, key: &[u8]) -> Buffered {
        if self.pending.is_empty() {
            return Buffered::Absent;
        }
        self.index_pending();
        match self.values.get(key) {
            Some((_, value)) => Buffered::Value(value.clone()),
            None => Buffered::Absent,
        }
    }

    fn index_pending(&mut self) {
        let Some(last) = self.pending.back() else { return };
        if last.id < self.indexed_to {
            return;
        }
        for p in self.pending.iter().filter(|p| p.id >= self.indexed_to) {
            for (i, key) in p.keys.iter().enumerate() {
                let value = (!p.deleted[i]).then(|| (p.rows.clone(), i));
                self.values.insert(key.clone(), (p.id, value));
            }
        }
        self.indexed_to = last.id + 1;
    }

    /// Queues a write's final rows; returns its id.
    pub fn stage(&mut self, keys: Vec<Vec<u8>>, deleted: Vec<bool>, rows: RecordBatch) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.push_back(Pending { id, keys, deleted, rows, next_offset: None });
        id
    }

    /// Marks write `id` durable at `next_offset`.
    pub fn mark_durable(&mut self, id: u64, next_offset: i64) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.id == id) {
            p.next_offset = Some(next_offset);
        }
    }

    /// Takes the oldest write if it is durable (writes are applied in log order).
    pub fn pop_durable(&mut self) -> Option<Pending> {
        if self.pending.front().is_none_or(|p| p.next_offset.is_none()) {
            return None;
        }
        let p = self.pending.pop_front()?;
        if p.id < self.indexed_to {
            for key in &p.keys {
                if self.values.get(key).is_some_and(|(owner, _)| *owner == p.id) {
                    self.values.remove(key);
                }
            }
        }
        if self.pending.is_empty() {
            debug_assert!(self.values.is_empty(), "pre-write values left without a pending write");
            self.values.clear();
        }
        Some(p)
    }

    /// Forgets everything (the table is closed after a failed append).
    pub fn clear(&mut self) {
        self.values.clear();
        self.pending.clear();
        self.indexed_to = self.next_id;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Array, Int64Array};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn rows(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).expect("batch")
    }

    fn value(b: Buffered) -> Option<Option<i64>> {
        match b {
            Buffered::Absent => None,
            Buffered::Value(None) => Some(None),
            Buffered::Value(Some((batch, row))) => {
                let col = batch.column(0).as_any().downcast_ref::<Int64Array>().expect("i64");
                Some(Some(col.value(row)))
            }
        }
    }

    #[test]
    fn newest_pending_value_wins_and_durable_writes_leave_in_order() {
        let mut pre = PreWrite::default();
        assert!(matches!(pre.get(b"a"), Buffered::Absent));
        let first = pre.stage(vec![b"a".to_vec(), b"b".to_vec()], vec![false, false], rows(&[1, 2]));
        // Indexed lazily: the first lookup sees the first write.
        assert_eq!(value(pre.get(b"a")), Some(Some(1)));
        let second = pre.stage(vec![b"a".to_vec(), b"c".to_vec()], vec![false, true], rows(&[3, 0]));
        assert_eq!(value(pre.get(b"a")), Some(Some(3)));
        assert_eq!(value(pre.get(b"b")), Some(Some(2)));
        assert_eq!(value(pre.get(b"c")), Some(None));
        assert_eq!(value(pre.get(b"d")), None);
        // The second write is durable first: nothing leaves until the first is too.
        pre.mark_durable(second, 20);
        assert!(pre.pop_durable().is_none());
        pre.mark_durable(first, 10);
        let p = pre.pop_durable().expect("first");
        assert_eq!((p.id, p.next_offset), (first, Some(10)));
        // "a" belongs to the second write and stays; "b" is gone.
        assert_eq!(value(pre.get(b"a")), Some(Some(3)));
        assert_eq!(value(pre.get(b"b")), None);
        let p = pre.pop_durable().expect("second");
        assert_eq!(p.id, second);
        assert!(pre.pop_durable().is_none());
        assert_eq!(value(pre.get(b"a")), None);
        assert!(pre.values.is_empty());
    }

    #[test]
    fn writes_never_looked_up_are_never_indexed() {
        let mut pre = PreWrite::default();
        for round in 0..3 {
            let id = pre.stage(vec![b"k".to_vec()], vec![false], rows(&[round]));
            pre.mark_durable(id, round);
            assert!(pre.pop_durable().is_some());
        }
        assert!(pre.values.is_empty());
        // An unindexed write followed by an indexed lookup.
        let a = pre.stage(vec![b"k".to_vec()], vec![false], rows(&[7]));
        assert_eq!(value(pre.get(b"k")), Some(Some(7)));
        pre.clear();
        assert!(matches!(pre.get(b"k"), Buffered::Absent));
        let b = pre.stage(vec![b"k".to_vec()], vec![false], rows(&[8]));
        assert!(b > a);
        assert_eq!(value(pre.get(b"k")), Some(Some(8)));
    }
}
