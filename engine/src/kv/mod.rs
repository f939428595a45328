//! Primary-key storage: a hand-written LSM (Arrow memtable, columnar SSTs, manifest, leveled
//! compaction, block cache).

pub mod cache;
pub mod compaction;
pub mod compaction_job;
pub mod manifest;
pub mod memindex;
pub mod memkey;
pub mod memtable;
pub mod merge;
mod multi_get;
mod prefetch;
pub mod sst;
pub mod sst_ids;
pub mod step;
pub mod tree;
mod warm;
