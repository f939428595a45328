//! Recovery: a torn tail is truncated, mid-log corruption is reported (not dropped), sealed
//! segments reopen from their index files, and the io_uring backend starts from an empty dir.
#![allow(clippy::unwrap_used)]

mod logkit;

use futures_lite::future::block_on;
use logkit::{batch_bytes, config, ticking_clock};
use rill_engine::log::{Log, OffsetSpec, SimFaults, SimStorage, UringStorage};
use rill_engine::Error;

fn open(sim: &SimStorage) -> Result<Log<SimStorage>, Error> {
    block_on(Log::open(sim.clone(), config(), ticking_clock(0)))
}

#[test]
fn a_torn_tail_is_truncated_and_the_log_continues() {
    let sim = SimStorage::new(3, SimFaults::default());
    let log = open(&sim).unwrap();
    block_on(log.append(batch_bytes(0, 4, None))).unwrap();
    let end = block_on(log.read(0, 1, None)).unwrap().batches[0].bytes.len() as u64;
    let name = log.segment_names()[0].clone();
    drop(log);
    // A later batch that was cut off: its first 100 bytes made it, nothing after.
    let torn = batch_bytes(4, 4, None);
    let mut page = vec![0u8; 4096];
    page[..100].copy_from_slice(&torn[..100]);
    let storage = sim.clone();
    block_on(async {
        use rill_engine::log::{Storage, StorageFile};
        let f = storage.open(&name, false).await.unwrap();
        let mut first = f.read_at(0, 4096).await.unwrap();
        first.resize(4096, 0);
        first[end as usize..].copy_from_slice(&page[..4096 - end as usize]);
        f.write_at(0, &first).await.unwrap();
        f.sync().await.unwrap();
    });
    let log = open(&sim).unwrap();
    assert_eq!(log.list_offset(OffsetSpec::Latest), 4);
    block_on(log.append(batch_bytes(4, 4, None))).unwrap();
    drop(log);
    let log = open(&sim).unwrap();
    assert_eq!(log.list_offset(OffsetSpec::Latest), 8);
}

#[test]
fn corruption_in_a_sealed_segment_is_an_error_not_a_truncation() {
    let sim = SimStorage::new(4, SimFaults::default());
    let log = open(&sim).unwrap();
    for i in 0..60 {
        block_on(log.append(batch_bytes(i * 10, 10, None))).unwrap();
    }
    assert!(log.segment_count() > 2, "small segments must roll");
    let names = log.segment_names();
    drop(log);
    // Remove the first segment's index so it is rescanned, and corrupt its first batch.
    block_on(async {
        use rill_engine::log::Storage;
        sim.remove(&names[0].replace(".log", ".index")).await.unwrap();
    });
    // Byte 60 is inside the first batch's CRC-covered bytes; valid batches follow it.
    assert!(sim.flip_bit(&names[0], 60, 0));
    let e = open(&sim).err().expect("corruption must be reported");
    assert!(matches!(e, Error::Corruption { .. }), "{e}");
    assert!(e.to_string().contains(&names[0]), "{e}");
}

#[test]
fn sealed_segments_reopen_from_their_index_files() {
    let sim = SimStorage::new(6, SimFaults::default());
    let log = open(&sim).unwrap();
    for i in 0..60 {
        block_on(log.append(batch_bytes(i * 10, 10, None))).unwrap();
    }
    let names = log.segment_names();
    drop(log);
    // Corrupt the data of a sealed segment where the index says nothing is read on open:
    // opening trusts the index (no rescan), and the corruption shows up on read instead.
    sim.flip_bit(&names[0], 70, 2);
    let log = open(&sim).unwrap();
    assert_eq!(log.list_offset(OffsetSpec::Latest), 600);
    let e = block_on(log.read(0, 1, None)).unwrap_err();
    assert!(matches!(e, Error::Corruption { offset: 0, .. }), "{e}");
    // A broken index is ignored and the segment rescanned (and found corrupt here).
    block_on(async {
        use rill_engine::log::{Storage, StorageFile};
        let f = sim.open(&names[0].replace(".log", ".index"), false).await.unwrap();
        f.write_at(0, &[0xFF; 4096]).await.unwrap();
        f.sync().await.unwrap();
    });
    drop(log);
    assert!(matches!(open(&sim), Err(Error::Corruption { .. })));
}

#[test]
fn uring_backend_starts_from_an_empty_directory_and_reads_back() {
    glommio::LocalExecutorBuilder::default()
        .spawn(|| async move {
            let dir = tempfile::tempdir().unwrap();
            let storage = UringStorage::open(dir.path()).await.unwrap();
            let log = Log::open(storage.clone(), config(), ticking_clock(0)).await.unwrap();
            log.append(batch_bytes(0, 10, None)).await.unwrap();
            log.append(batch_bytes(10, 10, None)).await.unwrap();
            log.close().await.unwrap();
            let log = Log::open(storage, config(), ticking_clock(0)).await.unwrap();
            let r = log.read(0, 1 << 20, None).await.unwrap();
            assert_eq!(r.batches.len(), 2);
            assert_eq!(r.high_watermark, 20);
        })
        .unwrap()
        .join()
        .unwrap();
}
