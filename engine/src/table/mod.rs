//! Table semantics: primary-key tables and their merge engines.

pub mod changelog;
mod fluss_kv;
mod lww;
pub mod merge;
pub mod pk;
mod prewrite;
mod replay;
pub mod snapshot;
pub mod virtual_tables;
mod write_turn;

pub use changelog::ChangelogImage;
pub use pk::{KvWrite, LookupResult, PkConfig, PkTable, WriteResult};
