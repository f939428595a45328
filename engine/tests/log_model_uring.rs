//! The log model test on the io_uring backend (glommio DmaFile, O_DIRECT) in a temp dir on a
//! real filesystem. A "crash" drops the log without closing it and then tears the active
//! segment's tail with garbage, as a lost write would.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::path::PathBuf;

use glommio::LocalExecutorBuilder;
use logkit::model::{op, run, Backend};
use proptest::prelude::*;
use rill_engine::log::UringStorage;

struct Uring {
    storage: UringStorage,
    dir: PathBuf,
}

impl Backend for Uring {
    type S = UringStorage;
    fn storage(&self) -> UringStorage {
        self.storage.clone()
    }
    fn crash(&self) {
        // Everything written was synced or failed; emulate a torn, never-acknowledged write
        // past the end of the newest segment.
        let newest = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .max();
        if let Some(path) = newest {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend_from_slice(&[0x5A; 700]);
            std::fs::write(&path, bytes).unwrap();
        }
    }
    fn set_faults(&self, _on: bool) {}
}

fn run_case(ops: Vec<logkit::model::Op>) {
    LocalExecutorBuilder::default()
        .spawn(move || async move {
            let dir = tempfile::tempdir().unwrap();
            let storage = UringStorage::open(dir.path()).await.unwrap();
            let backend = Uring { storage, dir: dir.path().to_path_buf() };
            run(&backend, &ops).await;
        })
        .unwrap()
        .join()
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(24), ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_batches_survive_restarts_on_disk(ops in proptest::collection::vec(op(), 1..25)) {
        run_case(ops);
    }
}
