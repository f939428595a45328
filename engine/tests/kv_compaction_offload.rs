//! A compaction's merge runs as a `CompactionJob` on another thread, against that thread's own
//! `UringStorage` on the bucket's directory; the owner installs the outputs. Lookups agree
//! with what was written throughout and after a restart; a failed or abandoned job leaves the
//! table as it was, and its outputs are removed at the next open.
#![allow(clippy::unwrap_used)]

mod pkkit;

use pkkit::keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use arrow_array::{Array, StringArray};
use futures_channel::oneshot;
use glommio::LocalExecutorBuilder;
use rill_engine::error::Error;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::compaction_job::{CompactionDone, CompactionJob};
use rill_engine::log::{system_clock, UringStorage};
use rill_engine::table::PkTable;

type Table = PkTable<UringStorage>;

async fn open(dir: &Path) -> Table {
    let (desc, config) = pkkit::small_table();
    let storage = UringStorage::open(dir).await.unwrap();
    let cache = Rc::new(BlockCache::new(1 << 20));
    PkTable::open(storage, desc, config, cache, system_clock()).await.unwrap()
}

async fn write(table: &Table, oracle: &mut BTreeMap<i64, String>, ids: &[i64], tag: &str, delete: bool) {
    // Long values, so the data outgrows L1's target and compactions reach L2.
    let values: Vec<String> = ids.iter().map(|i| format!("{tag}-{i}-{}", "v".repeat(200))).collect();
    let w = pkkit::write_of(ids, &values, delete);
    table.write(w).await.unwrap();
    for (id, value) in ids.iter().zip(values) {
        if delete {
            oracle.remove(id);
        } else {
            oracle.insert(*id, value);
        }
    }
}

/// Every id up to 1000 reads as the oracle says.
async fn check(table: &Table, oracle: &BTreeMap<i64, String>) {
    let ids: Vec<i64> = (0..1000).collect();
    let found = table.lookup(&keys(&ids)).await.unwrap();
    let values = found.rows.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    let mut row = 0;
    for (i, id) in ids.iter().enumerate() {
        let actual = found.found[i].then(|| {
            row += 1;
            values.value(row - 1).to_string()
        });
        assert_eq!(actual.as_ref(), oracle.get(id), "id {id}");
    }
}

/// Writes rounds of upserts and deletes, flushing each, until L0 is due for compaction.
async fn fill(table: &Table, oracle: &mut BTreeMap<i64, String>, rounds: i64) {
    for round in 0..rounds {
        let ids: Vec<i64> = (0..200).map(|i| (i * 7 + round * 13) % 1000).collect();
        write(table, oracle, &ids, &format!("r{round}"), false).await;
        let gone: Vec<i64> = (round..1000).step_by(37).collect();
        write(table, oracle, &gone, "x", true).await;
        table.flush().await.unwrap();
    }
}

/// Runs `job` on a thread of its own (its own glommio executor and storage handle on `dir`)
/// and returns the outcome to the owner's executor.
async fn run_elsewhere(dir: PathBuf, job: CompactionJob) -> rill_engine::Result<CompactionDone> {
    let (reply, outcome) = oneshot::channel();
    let owner = std::thread::current().id();
    std::thread::spawn(move || {
        let result = LocalExecutorBuilder::default()
            .spawn(move || async move {
                assert_ne!(std::thread::current().id(), owner);
                let storage = UringStorage::open(&dir).await?;
                job.execute(&storage).await
            })
            .expect("executor")
            .join()
            .expect("join");
        let _ = reply.send(result);
    });
    outcome.await.expect("the helper thread replied")
}

fn sst_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".sst"))
        .count()
}

fn on_executor<F, Fut>(body: F)
where
    F: FnOnce(PathBuf) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    LocalExecutorBuilder::default().spawn(move || body(path)).unwrap().join().unwrap();
}

#[test]
fn merges_on_another_thread_install_on_the_owner() {
    on_executor(|dir| async move {
        let table = open(&dir).await;
        let mut oracle = BTreeMap::new();
        let mut steps = 0;
        for batch in 0..4i64 {
            fill(&table, &mut oracle, 4).await;
            let during: Vec<i64> = (batch * 50..batch * 50 + 50).collect();
            for round in 0.. {
                assert!(round < 100, "compaction converges");
                let (owner, written, during, dir) = (&table, &mut oracle, &during, dir.clone());
                let stepped = table
                    .lsm()
                    .compact_once_with(|job| async move {
                        // The owner writes and flushes (a new L0 SST) while the merge runs.
                        let (done, ()) = futures_lite::future::zip(run_elsewhere(dir, job), async {
                            write(owner, written, during, &format!("during{round}"), false).await;
                            owner.flush().await.unwrap();
                        })
                        .await;
                        done
                    })
                    .await
                    .unwrap();
                if !stepped {
                    break;
                }
                steps += 1;
                check(&table, &oracle).await;
            }
            assert!(table.lsm().level_sizes()[0] < 3, "batch {batch}: {:?}", table.lsm().level_sizes());
        }
        assert!(steps >= 4, "L0 -> L1 and deeper compactions ran elsewhere: {steps}");
        assert!(table.lsm().level_sizes()[2..].iter().sum::<usize>() > 0, "{:?}", table.lsm().level_sizes());
        table.lsm().collect_garbage().await.unwrap();
        let live: usize = table.lsm().level_sizes().iter().sum();
        assert_eq!(sst_count(&dir), live, "replaced SSTs are deleted");
        drop(table);
        let table = open(&dir).await;
        check(&table, &oracle).await;
    });
}

#[test]
fn a_failed_job_changes_nothing() {
    on_executor(|dir| async move {
        let table = open(&dir).await;
        let mut oracle = BTreeMap::new();
        fill(&table, &mut oracle, 3).await;
        let before = table.lsm().level_sizes();
        let failed = table
            .lsm()
            .compact_once_with(|job| async move {
                Err(Error::Compaction { bucket: job.bucket().to_string(), reason: "the helper went away".into() })
            })
            .await;
        assert!(matches!(failed, Err(Error::Compaction { .. })), "{failed:?}");
        assert_eq!(table.lsm().level_sizes(), before);
        check(&table, &oracle).await;
        // The turn was given back: the next step runs.
        assert!(table.lsm().compact_once_with(|job| run_elsewhere(dir.clone(), job)).await.unwrap());
        check(&table, &oracle).await;
    });
}

#[test]
fn outputs_naming_a_live_sst_are_refused() {
    on_executor(|dir| async move {
        let table = open(&dir).await;
        let mut oracle = BTreeMap::new();
        fill(&table, &mut oracle, 3).await;
        let before = table.lsm().level_sizes();
        let storage = table.lsm().storage().clone();
        // Results naming one of the job's inputs, or an id never handed out, as an output.
        let input = *table.lsm().sst_ids_by_level()[0].first().unwrap();
        for stray in [input, u64::MAX / 2] {
            let storage = storage.clone();
            let refused = table
                .lsm()
                .compact_once_with(|job| async move {
                    let mut outputs = job.execute(&storage).await?.outputs().to_vec();
                    outputs[0].id = stray;
                    Ok(CompactionDone::new(outputs))
                })
                .await;
            assert!(matches!(refused, Err(Error::Compaction { .. })), "{stray}: {refused:?}");
            assert_eq!(table.lsm().level_sizes(), before);
            check(&table, &oracle).await;
        }
        drop(table);
        let table = open(&dir).await;
        assert_eq!(table.lsm().level_sizes(), before, "the manifest never listed the refused outputs");
        check(&table, &oracle).await;
    });
}

#[test]
fn outputs_of_a_job_never_installed_are_removed_at_open() {
    on_executor(|dir| async move {
        let table = open(&dir).await;
        let mut oracle = BTreeMap::new();
        fill(&table, &mut oracle, 3).await;
        let live = sst_count(&dir);
        // The merge finishes elsewhere, but the owner "crashes" before installing it.
        let abandoned = table
            .lsm()
            .compact_once_with(|job| async {
                let done = run_elsewhere(dir.clone(), job).await?;
                Err(Error::Compaction { bucket: format!("{} outputs", done.outputs().len()), reason: "crash".into() })
            })
            .await;
        assert!(abandoned.is_err());
        assert!(sst_count(&dir) > live, "the outputs are on disk, not installed");
        drop(table);
        let table = open(&dir).await;
        assert_eq!(sst_count(&dir), live, "the uninstalled outputs were removed");
        check(&table, &oracle).await;
        assert!(table.lsm().compact_once_with(|job| run_elsewhere(dir.clone(), job)).await.unwrap());
        check(&table, &oracle).await;
    });
}
