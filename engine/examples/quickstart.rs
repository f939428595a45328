//! Quickstart: create a log table, append batches, recover after a restart, and read back a
//! projection and a filtered scan. Until the `rilld` server exists (issue 4/6), this is the
//! "main job" of the README.
//!
//! `cargo run -p rill-engine --example quickstart [DATA_DIR]` (default `./rill-data`).

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_buffer::Buffer;
use rill_engine::batch::{build, ipc, project, BatchView, BuildOptions};
use rill_engine::log::{system_clock, Log, LogConfig, OffsetSpec, UringStorage};
use rill_engine::predicate::Predicate;
use rill_engine::schema::{Column, DataType, Schema};

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("city", DataType::String),
        Column::new("temperature", DataType::Double),
        Column::new("at", DataType::TimestampLtz { precision: 3 }),
    ])
}

fn readings(first: i64, rows: i64) -> RecordBatch {
    let cities = ["Lisbon", "Oslo", "Quito", "Perth"];
    let ids: Vec<i64> = (first..first + rows).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(StringArray::from_iter_values(ids.iter().map(|i| cities[(*i % 4) as usize]))),
        Arc::new(Float64Array::from_iter_values(ids.iter().map(|i| 10.0 + (*i % 25) as f64))),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(ids.iter().map(|i| 1_764_000_000_000 + i * 1000))
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(schema().to_arrow(), columns).expect("columns match the schema")
}

async fn run(dir: std::path::PathBuf) -> rill_engine::Result<()> {
    let storage = UringStorage::open(&dir).await?;
    let config = || LogConfig::new("demo.readings/b0", schema());
    let log = Log::open(storage.clone(), config(), system_clock()).await?;
    let start = log.list_offset(OffsetSpec::Latest);
    println!("opened {} at offset {start} ({} segment(s))", dir.display(), log.segment_count());
    for i in 0..4 {
        let batch = build(&schema(), &readings(start + i * 100, 100), None, &BuildOptions::default())?;
        let info = log.append(batch).await?;
        println!("appended offsets {}..{} (durable)", info.base_offset, info.next_offset);
    }
    log.close().await?;

    let log = Log::open(storage, config(), system_clock()).await?;
    let end = log.list_offset(OffsetSpec::Latest);
    println!("recovered: offsets {}..{end}", log.list_offset(OffsetSpec::Earliest));

    let arrow_schema = schema().to_arrow();
    let read = log.read(start, 1 << 20, None).await?;
    let first = &read.batches[0];
    let projected = project(&first.bytes, &arrow_schema, &[1, 2])?;
    let bytes = Buffer::from_vec(projected.to_vec());
    let view = BatchView::parse(bytes.as_slice())?;
    let message = bytes.slice_with_length(view.ipc_range().start, view.ipc_range().len());
    let columns = Arc::new(arrow_schema.project(&[1, 2]).map_err(|e| rill_engine::Error::arrow("projecting", e))?);
    let rows = ipc::decode(&message, columns, false)?;
    println!(
        "projection [city, temperature] of batch at offset {}: {} rows, {} of {} bytes",
        first.base_offset,
        rows.num_rows(),
        projected.len,
        first.bytes.len()
    );
    println!("{:?}", rows.slice(0, 3));

    let predicate = Predicate::parse(&format!("id >= {}", start + 350), &schema())?;
    let mut offset = start;
    let mut kept = 0;
    while offset < end {
        let r = log.read(offset, 1 << 20, Some(&predicate)).await?;
        kept += r.batches.len();
        offset = r.next_offset;
    }
    println!(
        "scan with `{}` read {kept} of 4 batches (the rest were pruned by statistics)",
        predicate.display_with(&schema())
    );
    log.close().await
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "rill-data".into());
    let dir = std::path::PathBuf::from(dir);
    let outcome = glommio::LocalExecutorBuilder::default().spawn(move || run(dir)).map(|handle| handle.join());
    match outcome {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => {
            eprintln!("quickstart failed: {e}");
            std::process::exit(1);
        }
        _ => {
            eprintln!("could not start the glommio executor (is io_uring available?)");
            std::process::exit(1);
        }
    }
}
