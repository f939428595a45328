//! Batch encode (build) and what an append does to an incoming batch: parse + CRC verify, and
//! the payload decode + statistics of `validate_payload`; a plain copy is the baseline.

use std::hint::black_box;
use std::time::Duration;

use arrow_buffer::Buffer;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rill_engine::batch::{ipc, stats, BatchView, Compression};
use rill_perf::data;
use rill_perf::log_append::human_size;

const SIZES: [usize; 3] = [4096, 65536, 1 << 20];

fn encoded(target: usize, compression: Compression, statistics: bool) -> (arrow_array::RecordBatch, Vec<u8>) {
    let rows = data::events_rows_for(target, statistics).expect("rows for the target size");
    let batch = data::events(0, rows).expect("events batch");
    let bytes = data::encode(&data::events_schema(), &batch, compression, statistics).expect("encoded batch");
    (batch, bytes)
}

fn encode(c: &mut Criterion) {
    let schema = data::events_schema();
    let mut group = c.benchmark_group("batch_encode");
    for target in SIZES {
        for (name, compression, statistics) in [
            ("none", Compression::None, false),
            ("none+stats", Compression::None, true),
            ("zstd", Compression::Zstd, false),
        ] {
            // Throughput counts the uncompressed batch, so the three variants compare.
            let (batch, plain) = encoded(target, Compression::None, statistics);
            group.throughput(Throughput::Bytes(plain.len() as u64));
            group.bench_with_input(BenchmarkId::new(name, human_size(target)), &batch, |b, batch| {
                b.iter(|| data::encode(&schema, black_box(batch), compression, statistics).expect("encode"))
            });
        }
    }
    group.finish();
}

fn parse_and_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_parse_crc");
    for target in SIZES {
        let (_, bytes) = encoded(target, Compression::None, false);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("none", human_size(target)), &bytes, |b, bytes| {
            b.iter(|| {
                let view = BatchView::parse(black_box(bytes)).expect("parse");
                view.verify_crc().expect("crc");
                view.header.record_count
            })
        });
    }
    group.finish();
}

/// What `Log::append` adds with `validate_payload` (or a batch without statistics): a copy
/// of the IPC message into an Arrow buffer, a full decode, and statistics of every column.
fn validate_payload(c: &mut Criterion) {
    let schema = data::events_schema();
    let arrow = schema.to_arrow();
    let mut group = c.benchmark_group("append_validate_payload");
    for target in SIZES {
        let (_, bytes) = encoded(target, Compression::None, false);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("decode", human_size(target)), &bytes, |b, bytes| {
            b.iter(|| {
                let view = BatchView::parse(black_box(bytes)).expect("parse");
                let message = Buffer::from(view.ipc_bytes());
                ipc::decode(&message, arrow.clone(), false).expect("decode").num_rows()
            })
        });
        let message = Buffer::from(BatchView::parse(&bytes).expect("parse").ipc_bytes());
        let batch = ipc::decode(&message, arrow.clone(), false).expect("decode");
        group.bench_with_input(BenchmarkId::new("stats", human_size(target)), &batch, |b, batch| {
            b.iter(|| stats::compute(&schema, black_box(batch)).expect("stats"))
        });
        group.bench_with_input(BenchmarkId::new("decode+stats", human_size(target)), &bytes, |b, bytes| {
            b.iter(|| {
                let view = BatchView::parse(black_box(bytes)).expect("parse");
                let message = Buffer::from(view.ipc_bytes());
                let batch = ipc::decode(&message, arrow.clone(), false).expect("decode");
                stats::compute(&schema, &batch).expect("stats")
            })
        });
    }
    group.finish();
}

/// A plain copy of the batch bytes, to price the copies on the append path.
fn copy_baseline(c: &mut Criterion) {
    let mut group = c.benchmark_group("copy_baseline");
    for target in SIZES {
        let bytes = vec![0x5Au8; target];
        group.throughput(Throughput::Bytes(target as u64));
        group.bench_with_input(BenchmarkId::new("vec_clone", human_size(target)), &bytes, |b, bytes| {
            b.iter(|| black_box(bytes).clone())
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode, parse_and_verify, validate_payload, copy_baseline
}
criterion_main!(benches);
