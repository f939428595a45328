//! The handle works from plain threads (concurrently) and from a tokio program.
#![allow(clippy::unwrap_used)]

mod common;

#[test]
fn many_threads_append_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 4)).unwrap();
    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let rill = rill.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    rill.append("db.events", None, common::events(t * 1000 + i * 4, 4)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rows = common::all_events(&rill, "db.events");
    assert_eq!(rows.len(), 400);
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    ids.dedup();
    assert_eq!(ids.len(), 400);
    rill.shutdown();
}

#[test]
fn works_from_tokio() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        rill.create_table_async(common::pk_table("db.users", 3)).await.unwrap();
        rill.create_table_async(common::log_table("db.events", 2)).await.unwrap();
        let tasks: Vec<_> = (0..4i64)
            .map(|t| {
                let rill = rill.clone();
                tokio::spawn(async move {
                    let ids: Vec<i64> = (t * 10..t * 10 + 10).collect();
                    rill.upsert_async("db.users", common::users(&ids, 0)).await.unwrap();
                    rill.append_async("db.events", None, common::events(t * 10, 10)).await.unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let (rows, found) = rill.lookup_async("db.users", common::user_keys(&[5, 39, 40])).await.unwrap();
        assert_eq!(found, [true, true, false]);
        assert_eq!(rows.num_rows(), 2);
        let scan = rill.scan_async("db.events", 0, 0, 1 << 20, Some(vec![1]), None).await.unwrap();
        assert!(scan.batches.iter().all(|b| b.num_columns() == 1));
    });
    rill.shutdown();
}

#[test]
fn scan_projects_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::log_table("db.events", 1)).unwrap();
    for i in 0..4 {
        rill.append("db.events", Some(0), common::events(i * 10, 10)).unwrap();
    }
    let r = rill.scan("db.events", 0, 0, 1 << 20, None, Some("id >= 25 AND city = 'Oslo'".into())).unwrap();
    let ids: Vec<i64> = r.batches.iter().flat_map(common::rows_of).map(|r| r.0).collect();
    assert_eq!(ids, [25, 29, 33, 37]);
    assert_eq!(r.high_watermark, 40);
    // From the middle of a batch: rows before the offset are not returned.
    let r = rill.scan("db.events", 0, 15, 1, Some(vec![0]), None).unwrap();
    assert_eq!(r.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert_eq!(r.batches[0].num_columns(), 1);
    assert_eq!(r.next_offset, 20);
    rill.shutdown();
}

#[test]
fn scan_iter_reads_from_an_offset_spec_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("db.events", 1)).unwrap();
    for i in 0..30 {
        rill.append("db.events", Some(0), common::events(i * 100, 100)).unwrap();
    }
    let rows: usize = rill
        .scan_iter("db.events", 0, rill_shard::OffsetSpec::Earliest, None, None)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 3000);
    let late = rill.scan_iter("db.events", 0, rill_shard::OffsetSpec::Latest, None, None).unwrap();
    assert_eq!(late.count(), 0);
    let filtered: usize = rill
        .scan_iter("db.events", 0, rill_shard::OffsetSpec::Earliest, Some(vec![0]), Some("id < 150".into()))
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(filtered, 150);
    rill.shutdown();
}
