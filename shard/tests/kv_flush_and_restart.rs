//! Primary-key buckets that flush their memtables to SSTs (sharing one block cache per shard)
//! answer lookups the same before and after a restart with another shard count.
#![allow(clippy::unwrap_used)]

mod common;

#[test]
fn flushed_buckets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table("db.users", 3)).unwrap();
    let ids: Vec<i64> = (0..6000).collect();
    for chunk in ids.chunks(1000) {
        rill.upsert("db.users", common::users(chunk, 0)).unwrap();
    }
    let updated: Vec<i64> = (0..6000).step_by(7).collect();
    rill.upsert("db.users", common::users(&updated, 3)).unwrap();
    let probe: Vec<i64> = (5990..6010).chain((0..6000).step_by(97)).collect();
    let before = common::lookup_scores(&rill, "db.users", &probe);
    assert_eq!(before.1.iter().filter(|f| !**f).count(), 10);
    assert!(before.0.iter().all(|(id, s)| *s == id * 10 + if id % 7 == 0 { 3 } else { 0 }));
    let sst_files = walk(dir.path()).into_iter().filter(|p| p.ends_with(".sst")).count();
    assert!(sst_files > 0, "memtables of 64 KiB must have flushed");
    rill.shutdown();
    drop(rill);

    let rill = common::open(dir.path(), 3);
    assert_eq!(common::lookup_scores(&rill, "db.users", &probe), before);
    rill.shutdown();
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}
