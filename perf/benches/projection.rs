//! Zero-copy projection of 10 of 200 BIGINT columns: the time should not grow with the rows,
//! since only the header and the Arrow metadata are read (column bytes are sliced, not copied).

use std::hint::black_box;
use std::time::Duration;

use arrow_buffer::Buffer;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rill_engine::batch::{project, Compression};
use rill_perf::data;

const COLUMNS: usize = 200;
const ROWS: [usize; 3] = [1_000, 10_000, 100_000];

fn projection(c: &mut Criterion) {
    let schema = data::wide_schema(COLUMNS);
    let arrow = schema.to_arrow();
    let picked: Vec<usize> = (0..10).map(|i| i * COLUMNS / 10).collect();
    let mut group = c.benchmark_group("project_10_of_200");
    for (name, compression) in [("none", Compression::None), ("zstd", Compression::Zstd)] {
        for rows in ROWS {
            let batch = data::wide(COLUMNS, rows).expect("wide batch");
            let bytes = Buffer::from_vec(data::encode(&schema, &batch, compression, false).expect("encoded batch"));
            let projected = project(&bytes, &arrow, &picked).expect("projection");
            eprintln!(
                "project_10_of_200/{name}/{rows}: batch {} bytes, projection {} bytes ({:.1}%) in {} parts",
                bytes.len(),
                projected.len,
                projected.len as f64 * 100.0 / bytes.len() as f64,
                projected.parts.len()
            );
            group.bench_with_input(BenchmarkId::new(name, rows), &bytes, |b, bytes| {
                b.iter(|| project(black_box(bytes), &arrow, &picked).expect("projection"))
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = projection
}
criterion_main!(benches);
