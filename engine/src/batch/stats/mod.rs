//! Per-batch column statistics: Fluss's statistics section (V1/V2) and its in-memory form.
//!
//! # Byte layout (statistics version 1)
//!
//! Everything is little-endian. `N` = number of statistics slots; offsets are from the start of
//! the section, which follows the i32 `statistics_length` of the batch header.
//!
//! ```text
//! offset      width    field
//! 0           1        version, always 1
//! 1           2        N (i16, >= 0)
//! 3           2*N      column index of each slot (i16): the column's position in the schema
//! 3+2N        4*N      null count of each slot (i32, 0..=record_count)
//! 3+6N        4        min_row_len (i32)
//! 7+6N        ..       min row: an AlignedRow with N fields, field i = minimum of slot i
//! ..          4        max_row_len (i32)
//! ..          ..       max row: an AlignedRow with N fields, field i = maximum of slot i
//! ```
//!
//! The section ends exactly after the max row. A field of the min/max rows is null when the
//! slot has no bound: every value was null, or the writer did not collect that type (Java
//! writes null bounds for CHAR, fluss-rs for BYTES/BINARY), or it could not represent it.
//! The slot order is free (`[1, 0]` is valid); a column appears at most once.
//!
//! "No statistics" has two spellings, both accepted by [`decode`]: an empty section
//! (`statistics_length = 0`, what fluss-rs and [`encode`] write), and Java's 27-byte block
//! with `N = 0` and two empty 8-byte AlignedRows:
//! `01 | 00 00 | 08 00 00 00 | 00 x 8 | 08 00 00 00 | 00 x 8`.
//!
//! The AlignedRow layout is described in `aligned_row.rs`; how each type sits in its 8-byte
//! slot, and its [`Scalar`], is in the table on [`Scalar`].
//!
//! Bounds of FLOAT/DOUBLE follow Java's `Float.compare` / `Double.compare` (what the Fluss
//! server prunes with): `-0.0 < 0.0`, and NaN sorts above `+inf`, so a column holding a NaN has
//! a NaN maximum. Strings compare as UTF-8 bytes.

mod aligned_row;
mod block;
mod collect;
mod kind;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use arrow_array::RecordBatch;

use crate::error::{Error, Result};
use crate::schema::{DataType, Schema};

/// One statistics value, in the unit Fluss stores it in.
///
/// | Fluss type | `Scalar` | bytes in the AlignedRow slot |
/// |---|---|---|
/// | BOOLEAN | `Bool` | 1 byte, 0 or 1 |
/// | TINYINT / SMALLINT / INT / BIGINT | `Int` | 1 / 2 / 4 / 8 bytes |
/// | DATE | `Int`: days since 1970-01-01 | 4 bytes |
/// | TIME(p), every p | `Int`: milliseconds of the day | 4 bytes |
/// | DECIMAL(p, s), p <= 18 | `Int`: the unscaled value (`12.34` in DECIMAL(5,2) is `1234`) | 8 bytes |
/// | TIMESTAMP(p) / TIMESTAMP_LTZ(p), p <= 3 | `Int`: epoch milliseconds | 8 bytes |
/// | TIMESTAMP(p) / TIMESTAMP_LTZ(p), p > 3 | `Int`: epoch milliseconds, floored | slot = `offset << 32 \| nano_of_milli`, 8-byte epoch millis in the variable area |
/// | FLOAT / DOUBLE | `Float` (a FLOAT widened exactly to f64) | f32 / f64 |
/// | CHAR(n) / STRING | `Str` | inline when <= 7 bytes, else `offset << 32 \| len` + variable area |
///
/// Every TIME and TIMESTAMP scalar is in milliseconds, floored, whatever the precision: the
/// unit predicate literals use and the precision the exact filters compare at. For p > 3 the
/// digits below the millisecond are dropped on decode, and [`encode`] writes the min as
/// `(millis, 0 ns)` and the max as `(millis, 999_999 ns)`, so the bounds on the wire still
/// enclose every value (fluss-rs writes the exact nanos there; both are valid bounds).
/// TIMESTAMP (a local date-time) and TIMESTAMP_LTZ (an instant) use the same numbers.
///
/// BINARY, BYTES and DECIMAL with p > 18 are not collected; statistics written by others for
/// them decode with unknown bounds.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// Orders two scalars of the same variant as Fluss orders statistics: integers and
    /// booleans naturally, strings by their UTF-8 bytes, floats by Java's `Double.compare`
    /// (`-0.0 < 0.0`, every NaN equal and above `+inf`). `None` for different variants.
    pub fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Self::Bool(a), Self::Bool(b)) => Some(a.cmp(b)),
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(b)),
            (Self::Float(a), Self::Float(b)) => Some(kind::java_float_cmp(*a, *b)),
            (Self::Str(a), Self::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            _ => None,
        }
    }
}

/// Statistics of one column of one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    /// Position of the column in the table schema.
    pub column: u16,
    /// Number of null values in the column (at most the batch's row count).
    pub null_count: u32,
    /// Smallest value, or `None` when there is no bound: every value is null
    /// (`null_count == row_count`), or the bound is unknown (a type rill does not collect, or
    /// a writer that left it out). `min` and `max` are both `Some` or both `None`.
    pub min: Option<Scalar>,
    /// Largest value; `None` exactly when `min` is `None`.
    pub max: Option<Scalar>,
}

/// Statistics of one batch: the collected columns (others are unknown: they cannot prune).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchStats {
    /// Rows in the batch (the header's record count).
    pub row_count: u32,
    /// One entry per statistics slot, in slot order.
    pub columns: Vec<ColumnStats>,
}

impl BatchStats {
    /// The statistics of a column by schema position, if collected.
    pub fn column(&self, column: usize) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| usize::from(c.column) == column)
    }
}

/// True when statistics are collected for columns of this type: BOOLEAN, the integers,
/// FLOAT, DOUBLE, DATE, TIME, CHAR, STRING, DECIMAL with precision <= 18, and TIMESTAMP /
/// TIMESTAMP_LTZ of every precision. See [`Scalar`] for the representation.
pub fn is_stats_type(data_type: &DataType) -> bool {
    kind::Kind::of(data_type).is_some()
}

/// Computes statistics of `batch` for every column of `schema` whose type [`is_stats_type`].
///
/// The batch's columns must match the schema positionally, with the Arrow types of
/// [`DataType::to_arrow`] (a TIMESTAMP_LTZ may carry any zone). A bound that does not fit its
/// slot (a DECIMAL unscaled value beyond i64, a TIME beyond i32 milliseconds, a seconds
/// timestamp beyond i64 milliseconds) is left unknown rather than failing the batch.
pub fn compute(schema: &Schema, batch: &RecordBatch) -> Result<BatchStats> {
    collect::compute(schema, batch)
}

/// Appends the statistics section (without the i32 length that precedes it in the header)
/// to `out`. Writes nothing when `stats` has no columns or no rows, which is how fluss-rs
/// spells "no statistics". On error `out` is left as it was.
///
/// Fails when a column index is outside `schema` or repeated, a bound does not match its
/// column's type (see [`Scalar`]) or its range, only one of min/max is set, `min > max`, or a
/// null count exceeds the row count.
pub fn encode(schema: &Schema, stats: &BatchStats, out: &mut Vec<u8>) -> Result<()> {
    block::encode(schema, stats, out)
}

/// Decodes a statistics section. `row_count` comes from the batch header.
///
/// Accepts both spellings of "no statistics" (see the module docs). Every length, offset and
/// column index is checked against `bytes` and `schema`; anything malformed is an
/// [`Error::InvalidBatch`](crate::error::Error::InvalidBatch). Slots of types rill does not
/// collect decode with `min`/`max` `None` and their null count.
pub fn decode(schema: &Schema, bytes: &[u8], row_count: u32) -> Result<BatchStats> {
    block::decode(schema, bytes, row_count)
}

/// A malformed-statistics error (bad bytes, or stats that do not fit the schema or batch).
fn invalid(reason: String) -> Error {
    Error::invalid_batch(format!("statistics: {reason}"))
}
