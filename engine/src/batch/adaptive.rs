//! Compression of server-built batches (a primary-key table's changelog) that stops trying
//! while the data does not compress.
//!
//! ZSTD spends about as much CPU on incompressible bytes (random ids, already compressed
//! payloads) as on compressible ones, for nothing: Arrow IPC then stores each buffer raw
//! anyway. Fluss readers accept any body compression in any batch (the codec is per Arrow
//! message), so a batch may go out uncompressed while the table says ZSTD. After a batch that
//! compressed to more than [`INCOMPRESSIBLE_PERCENT`] of its raw bytes, the next
//! [`SKIP_BATCHES`] go uncompressed; then one is compressed again to look.

use std::cell::Cell;

use arrow_array::RecordBatch;

use super::Compression;

/// A batch whose encoding is at least this share (in percent) of its raw buffer bytes did
/// not compress enough to be worth the CPU.
pub const INCOMPRESSIBLE_PERCENT: usize = 90;
/// Batches built uncompressed after one that did not compress, before trying again.
pub const SKIP_BATCHES: u32 = 32;

/// The table's codec, and how many batches still skip it.
#[derive(Debug)]
pub struct AdaptiveCompression {
    codec: Compression,
    skip_left: Cell<u32>,
}

impl AdaptiveCompression {
    /// Compresses with `codec` while it pays.
    pub fn new(codec: Compression) -> Self {
        Self { codec, skip_left: Cell::new(0) }
    }

    /// The compression for the next batch.
    pub fn choose(&self) -> Compression {
        match self.skip_left.get() {
            0 => self.codec,
            n => {
                self.skip_left.set(n - 1);
                Compression::None
            }
        }
    }

    /// Records how a batch built with `chosen` came out: `encoded_bytes` for `batch`.
    pub fn observe(&self, chosen: Compression, batch: &RecordBatch, encoded_bytes: usize) {
        if chosen == Compression::None || self.codec == Compression::None {
            return;
        }
        let raw: usize = batch.columns().iter().map(|c| c.get_buffer_memory_size()).sum();
        if encoded_bytes.saturating_mul(100) >= raw.saturating_mul(INCOMPRESSIBLE_PERCENT) {
            self.skip_left.set(SKIP_BATCHES);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow_array::BinaryArray;
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch(values: Vec<Vec<u8>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Binary, false)]));
        let array = BinaryArray::from_iter_values(values);
        RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap()
    }

    #[test]
    fn skips_after_an_incompressible_batch_then_tries_again() {
        let adaptive = AdaptiveCompression::new(Compression::Zstd);
        let b = batch(vec![vec![7u8; 1000]; 10]);
        let raw: usize = b.columns().iter().map(|c| c.get_buffer_memory_size()).sum();
        assert_eq!(adaptive.choose(), Compression::Zstd);
        // Compressed well: keep compressing.
        adaptive.observe(Compression::Zstd, &b, raw / 10);
        assert_eq!(adaptive.choose(), Compression::Zstd);
        // Did not compress: the next SKIP_BATCHES go raw, then one is compressed again.
        adaptive.observe(Compression::Zstd, &b, raw);
        for _ in 0..SKIP_BATCHES {
            assert_eq!(adaptive.choose(), Compression::None);
        }
        assert_eq!(adaptive.choose(), Compression::Zstd);
        // An uncompressed batch teaches nothing.
        adaptive.observe(Compression::None, &b, raw * 2);
        assert_eq!(adaptive.choose(), Compression::Zstd);
    }

    #[test]
    fn a_table_without_compression_never_compresses() {
        let adaptive = AdaptiveCompression::new(Compression::None);
        let b = batch(vec![vec![1u8; 10]]);
        adaptive.observe(Compression::None, &b, 1);
        assert_eq!(adaptive.choose(), Compression::None);
    }
}
