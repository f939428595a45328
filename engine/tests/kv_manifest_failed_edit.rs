//! A manifest edit whose write or sync failed is not made durable by the next edit (it was
//! found by the PK model test: a failed flush's L0 SST came back after a restart and shadowed
//! newer rows).
#![allow(clippy::unwrap_used)]
use futures_lite::future::block_on;
use rill_engine::kv::manifest::{Edit, Manifest, SstEntry};
use rill_engine::log::{SimFaults, SimStorage};

fn entry(id: u64) -> SstEntry {
    SstEntry { id, level: 0, covers_log_offset: 5, file_bytes: 100, rows: 1, first_key: vec![1], last_key: vec![2] }
}

#[test]
fn a_failed_manifest_edit_stays_failed() {
    for sync_fault in [true, false] {
        let sim = SimStorage::new(1, SimFaults::default());
        let mut m = block_on(Manifest::open(sim.clone(), "b")).unwrap();
        let always = if sync_fault {
            SimFaults { sync_error_per_million: 1_000_000, ..SimFaults::default() }
        } else {
            SimFaults { write_error_per_million: 1_000_000, ..SimFaults::default() }
        };
        sim.set_faults(always);
        let failed = Edit { covers_log_offset: 5, next_sst_id: 8, added: vec![entry(7)], ..Edit::default() };
        assert!(block_on(m.append(&failed)).is_err());
        sim.set_faults(SimFaults::default());
        block_on(m.append(&Edit { covers_log_offset: 6, next_sst_id: 9, ..Edit::default() })).unwrap();
        let live: Vec<u64> = m.state.ssts.keys().copied().collect();
        drop(m);
        sim.crash();
        let reopened = block_on(Manifest::open(sim.clone(), "b")).unwrap();
        let recovered: Vec<u64> = reopened.state.ssts.keys().copied().collect();

        assert_eq!(recovered, live, "sync_fault={sync_fault}");
    }
}
