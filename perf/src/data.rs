//! Schemas and record batches for the benchmarks, with deterministic pseudo-random values.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use rill_engine::batch::{build, BuildOptions, Compression};
use rill_engine::schema::{Column, DataType, Schema};

use crate::Result;

/// The log-append table: a key, an event time, a measurement and a short tag.
pub fn events_schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::not_null("event_time", DataType::BigInt),
        Column::new("value", DataType::BigInt),
        Column::new("tag", DataType::String),
    ])
}

/// `rows` rows of [`events_schema`], starting at key `first`.
pub fn events(first: i64, rows: usize) -> Result<RecordBatch> {
    let ids: Vec<i64> = (first..).take(rows).collect();
    let mut rng = SplitMix64(first as u64);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| 1_764_000_000_000 + i * 7))),
        Arc::new(Int64Array::from_iter_values(ids.iter().map(|_| (rng.next_u64() % 1_000_000) as i64))),
        Arc::new(StringArray::from_iter_values(ids.iter().map(|i| format!("sensor-{:05}", i % 20_000)))),
    ];
    RecordBatch::try_new(events_schema().to_arrow(), columns).map_err(|e| format!("building events: {e}"))
}

/// A table of `columns` BIGINT columns (`c0`, `c1`, ...), for projection.
pub fn wide_schema(columns: usize) -> Schema {
    Schema::new((0..columns).map(|c| Column::not_null(format!("c{c}"), DataType::BigInt)).collect())
}

/// `rows` rows of [`wide_schema`]: small values with noise, so ZSTD has something to do.
pub fn wide(columns: usize, rows: usize) -> Result<RecordBatch> {
    let mut rng = SplitMix64(columns as u64 ^ rows as u64);
    let arrays: Vec<ArrayRef> = (0..columns)
        .map(|c| {
            let base = c as i64 * 1_000;
            Arc::new(Int64Array::from_iter_values((0..rows).map(|_| base + (rng.next_u64() % 4096) as i64))) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(wide_schema(columns).to_arrow(), arrays).map_err(|e| format!("building a wide batch: {e}"))
}

/// Encodes `batch` as a Fluss LogRecordBatch (append-only, no writer id).
pub fn encode(schema: &Schema, batch: &RecordBatch, compression: Compression, statistics: bool) -> Result<Vec<u8>> {
    let options = BuildOptions { compression, statistics, ..Default::default() };
    build(schema, batch, None, &options).map_err(|e| format!("encoding a batch of {} rows: {e}", batch.num_rows()))
}

/// Rows of [`events`] whose uncompressed encoded batch is as large as possible but at most
/// `target_bytes` (at least one row).
pub fn events_rows_for(target_bytes: usize, statistics: bool) -> Result<usize> {
    let size = |rows: usize| -> Result<usize> {
        Ok(encode(&events_schema(), &events(0, rows)?, Compression::None, statistics)?.len())
    };
    let (small, large) = (16, 256);
    let (small_bytes, large_bytes) = (size(small)?, size(large)?);
    let per_row = ((large_bytes - small_bytes) as f64 / (large - small) as f64).max(1.0);
    let overhead = small_bytes as f64 - per_row * small as f64;
    let mut rows = (((target_bytes as f64 - overhead) / per_row) as usize).max(1);
    // Buffers are padded to 64 bytes, so the estimate can be off by a few rows either way.
    loop {
        let bytes = size(rows)?;
        if bytes <= target_bytes || rows == 1 {
            break;
        }
        rows = rows.saturating_sub(1 + (bytes - target_bytes) / per_row.ceil() as usize).max(1);
    }
    while size(rows + 1)? <= target_bytes {
        rows += 1;
    }
    Ok(rows.max(1))
}

/// `count` distinct uncompressed [`events`] batches of about `target_bytes` each.
pub fn events_batches(target_bytes: usize, count: usize, statistics: bool) -> Result<Vec<Vec<u8>>> {
    let rows = events_rows_for(target_bytes, statistics)?;
    (0..count)
        .map(|i| encode(&events_schema(), &events((i * rows) as i64, rows)?, Compression::None, statistics))
        .collect()
}

/// A small, fast, deterministic generator (SplitMix64).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_come_close_to_the_target_without_passing_it() -> Result<()> {
        for target in [4096, 65536, 1 << 20] {
            let batches = events_batches(target, 2, false)?;
            for b in &batches {
                assert!(b.len() <= target, "{} > {target}", b.len());
                assert!(b.len() * 100 >= target * 95, "{} is far below {target}", b.len());
            }
        }
        Ok(())
    }
}
