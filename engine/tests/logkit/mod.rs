//! Shared helpers of the log tests: a small table, batch building, a join for futures, and
//! proptest case counts that stay small in CI and grow with RILL_SOAK=1.
#![allow(dead_code, clippy::unwrap_used)]

pub mod model;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use rill_engine::batch::{build, BuildOptions, Compression};
use rill_engine::log::{Clock, LogConfig};
use rill_engine::schema::{Column, DataType, Schema};

/// Proptest cases: `ci` normally, `ci * 20` with RILL_SOAK=1.
pub fn cases(ci: u32) -> u32 {
    if std::env::var("RILL_SOAK").is_ok_and(|v| v == "1") {
        ci * 20
    } else {
        ci
    }
}

/// The test table: `id BIGINT NOT NULL, note STRING`.
pub fn schema() -> Schema {
    Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::new("note", DataType::String)])
}

/// A config with small segments so tests roll often.
pub fn config() -> LogConfig {
    let mut c = LogConfig::new("test.table/b0", schema());
    c.segment_bytes_max = 16 * 1024;
    c.retention_ms_max = None;
    c
}

/// A fixed clock that ticks by 1 ms per call.
pub fn ticking_clock(start: i64) -> Clock {
    let now = std::cell::Cell::new(start);
    Box::new(move || {
        let t = now.get();
        now.set(t + 1);
        t
    })
}

/// An Arrow batch of `rows` rows whose ids start at `first_id`.
pub fn record_batch(first_id: i64, rows: usize) -> RecordBatch {
    let ids: Vec<i64> = (first_id..first_id + rows as i64).collect();
    let notes: Vec<Option<String>> = ids.iter().map(|i| (i % 3 != 0).then(|| format!("note-{i}"))).collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(notes))];
    RecordBatch::try_new(schema().to_arrow(), columns).unwrap()
}

/// A stored-format batch of `rows` rows, optionally from an idempotent writer.
pub fn batch_bytes(first_id: i64, rows: usize, writer: Option<(i64, i32)>) -> Vec<u8> {
    let mut options = BuildOptions { compression: Compression::None, ..BuildOptions::default() };
    if let Some((id, seq)) = writer {
        options.writer_id = id;
        options.batch_sequence = seq;
    }
    build(&schema(), &record_batch(first_id, rows), None, &options).unwrap()
}

/// The bytes of a batch that the log does not rewrite (all but base offset and commit time).
pub fn stable_part(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (bytes[8..13].to_vec(), bytes[21..].to_vec())
}

/// Polls all futures to completion on the current task.
pub async fn join_all<T>(futures: Vec<Pin<Box<dyn Future<Output = T> + '_>>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.unwrap()).collect()
}
