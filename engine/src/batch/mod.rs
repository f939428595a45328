//! Fluss's LogRecordBatch: header, statistics, change types, Arrow IPC payload, projection.

pub mod adaptive;
pub mod builder;
pub mod change_type;
pub mod crc;
pub mod header;
pub mod ipc;
pub mod projection;
pub mod stats;
pub mod view;

pub use builder::{build, BuildOptions, Compression};
pub use change_type::ChangeType;
pub use header::{Header, Magic};
pub use projection::{project, ProjectedBatch};
pub use view::BatchView;
