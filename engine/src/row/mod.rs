//! Fluss row formats: CompactedRow, compacted keys, bucketing, KvRecordBatch (being written).
