//! Data types, schemas and table descriptors.

pub mod evolution;
mod table;
mod types;

pub use evolution::{Schemas, SCHEMA_VERSIONS_MAX};
pub use table::{Schema, TableDescriptor, BUCKETS_MAX, COLUMNS_MAX};
pub use types::{Column, DataType, DECIMAL_PRECISION_MAX, TIME_PRECISION_MAX};
