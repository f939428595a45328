//! The statistics block: header (version, slots, null counts) and the min/max AlignedRows.
//! The layout is drawn in the module docs of `stats`.

use std::collections::HashSet;

use super::aligned_row::{RowReader, RowWriter};
use super::kind::Kind;
use super::{invalid, BatchStats, ColumnStats, Scalar};
use crate::error::Result;
use crate::schema::Schema;

/// The only statistics format version Fluss writes.
const VERSION: u8 = 1;

/// See [`super::encode`].
pub(super) fn encode(schema: &Schema, stats: &BatchStats, out: &mut Vec<u8>) -> Result<()> {
    if stats.columns.is_empty() || stats.row_count == 0 {
        return Ok(());
    }
    let kinds = check_for_encode(schema, stats)?;
    let slots = i16::try_from(stats.columns.len())
        .map_err(|_| invalid(format!("{} statistics slots are too many", stats.columns.len())))?;
    let mut block = vec![VERSION];
    block.extend_from_slice(&slots.to_le_bytes());
    for column in &stats.columns {
        // `check_for_encode` kept every index within 0..=i16::MAX.
        block.extend_from_slice(&(column.column as i16).to_le_bytes());
    }
    for column in &stats.columns {
        block.extend_from_slice(&(column.null_count as i32).to_le_bytes());
    }
    for bound in [Bound::Min, Bound::Max] {
        let row = write_row(stats, &kinds, bound)?;
        let len =
            i32::try_from(row.len()).map_err(|_| invalid(format!("a bound row of {} bytes is too long", row.len())))?;
        block.extend_from_slice(&len.to_le_bytes());
        block.extend_from_slice(&row);
    }
    debug_assert!(decode(schema, &block, stats.row_count).is_ok_and(|d| d.columns.len() == kinds.len()));
    out.extend_from_slice(&block);
    Ok(())
}

#[derive(Clone, Copy)]
enum Bound {
    Min,
    Max,
}

/// Checks `stats` against the schema and the format's limits: what [`decode`] would check on
/// the way back. Returns the slot kind of each column (`None`: a type rill does not collect).
fn check_for_encode(schema: &Schema, stats: &BatchStats) -> Result<Vec<Option<Kind>>> {
    let mut seen = HashSet::new();
    let mut kinds = Vec::with_capacity(stats.columns.len());
    for c in &stats.columns {
        let column = schema.columns.get(usize::from(c.column)).filter(|_| c.column <= i16::MAX as u16);
        let column = column.ok_or_else(|| {
            invalid(format!("column {} is outside the schema of {} columns", c.column, schema.columns.len()))
        })?;
        if !seen.insert(c.column) {
            return Err(invalid(format!("column {} has two statistics slots", c.column)));
        }
        if c.null_count > stats.row_count || i32::try_from(c.null_count).is_err() {
            return Err(invalid(format!("column {} has {} nulls in {} rows", c.column, c.null_count, stats.row_count)));
        }
        let kind = Kind::of(&column.data_type);
        check_bounds(c, kind, &column.data_type.to_string())?;
        kinds.push(kind);
    }
    Ok(kinds)
}

/// Min and max are both set or both unset, fit the column's kind, and are in order.
fn check_bounds(c: &ColumnStats, kind: Option<Kind>, type_name: &str) -> Result<()> {
    let (min, max) = match (&c.min, &c.max) {
        (None, None) => return Ok(()),
        (Some(min), Some(max)) => (min, max),
        _ => return Err(invalid(format!("column {} has only one of min and max", c.column))),
    };
    let Some(kind) = kind else {
        return Err(invalid(format!("column {} is {type_name}, which has no statistics", c.column)));
    };
    if !kind.fits(min) || !kind.fits(max) {
        return Err(invalid(format!("column {} ({type_name}) cannot hold the bounds {min:?} and {max:?}", c.column)));
    }
    if min.compare(max).is_some_and(|o| o.is_gt()) {
        return Err(invalid(format!("column {}: min {min:?} is above max {max:?}", c.column)));
    }
    Ok(())
}

fn write_row(stats: &BatchStats, kinds: &[Option<Kind>], bound: Bound) -> Result<Vec<u8>> {
    let mut row = RowWriter::new(stats.columns.len());
    for (slot, (c, kind)) in stats.columns.iter().zip(kinds).enumerate() {
        let value = match bound {
            Bound::Min => &c.min,
            Bound::Max => &c.max,
        };
        match (value, kind) {
            (Some(value), Some(kind)) => write_value(&mut row, slot, *kind, value, bound)?,
            _ => row.set_null(slot),
        }
    }
    Ok(row.finish())
}

/// Nanos of a millisecond.
const NANOS_PER_MILLI: u32 = 1_000_000;

/// Writes one checked value (`kind.fits(value)` holds) into its slot.
fn write_value(row: &mut RowWriter, slot: usize, kind: Kind, value: &Scalar, bound: Bound) -> Result<()> {
    match (kind, value) {
        (Kind::Bool, Scalar::Bool(v)) => row.set_fixed(slot, &[u8::from(*v)]),
        (Kind::Int8, Scalar::Int(v)) => row.set_fixed(slot, &(*v as i8).to_le_bytes()),
        (Kind::Int16, Scalar::Int(v)) => row.set_fixed(slot, &(*v as i16).to_le_bytes()),
        (Kind::Int32, Scalar::Int(v)) => row.set_fixed(slot, &(*v as i32).to_le_bytes()),
        (Kind::Int64, Scalar::Int(v)) => row.set_fixed(slot, &v.to_le_bytes()),
        (Kind::Float32, Scalar::Float(v)) => row.set_fixed(slot, &(*v as f32).to_le_bytes()),
        (Kind::Float64, Scalar::Float(v)) => row.set_fixed(slot, &v.to_le_bytes()),
        (Kind::Str, Scalar::Str(v)) => row.set_string(slot, v.as_bytes())?,
        (Kind::PreciseTimestamp, Scalar::Int(millis)) => {
            // The scalar is floored to the millisecond; the digits below are gone, so the max
            // covers its whole millisecond to stay an upper bound.
            let nanos: u32 = match bound {
                Bound::Min => 0,
                Bound::Max => NANOS_PER_MILLI - 1,
            };
            row.set_timestamp(slot, *millis, nanos)?;
        }
        (kind, value) => return Err(invalid(format!("slot {slot}: {value:?} does not fit {kind:?}"))),
    }
    Ok(())
}

/// See [`super::decode`].
pub(super) fn decode(schema: &Schema, bytes: &[u8], row_count: u32) -> Result<BatchStats> {
    let mut stats = BatchStats { row_count, columns: Vec::new() };
    if bytes.is_empty() {
        return Ok(stats);
    }
    let mut reader = ByteReader { bytes, at: 0 };
    let version = reader.u8("the version")?;
    if version != VERSION {
        return Err(invalid(format!("version {version} is not supported (only {VERSION})")));
    }
    let slots = reader.i16("the column count")?;
    let slots = usize::try_from(slots).map_err(|_| invalid(format!("the column count {slots} is negative")))?;
    let columns = read_columns(&mut reader, schema, slots)?;
    let null_counts = read_null_counts(&mut reader, slots, row_count)?;
    let min_row = reader.row("the min row")?;
    let max_row = reader.row("the max row")?;
    if reader.at != bytes.len() {
        return Err(invalid(format!(
            "{} bytes follow the max row (block of {} bytes)",
            bytes.len() - reader.at,
            bytes.len()
        )));
    }
    let min_row = RowReader::new(min_row, slots, "min row")?;
    let max_row = RowReader::new(max_row, slots, "max row")?;
    for (slot, (column, null_count)) in columns.into_iter().zip(null_counts).enumerate() {
        let kind = schema.columns.get(usize::from(column)).and_then(|c| Kind::of(&c.data_type));
        let (min, max) = match kind {
            Some(kind) => read_bounds(&min_row, &max_row, slot, kind)?,
            None => (None, None),
        };
        stats.columns.push(ColumnStats { column, null_count, min, max });
    }
    Ok(stats)
}

fn read_columns(reader: &mut ByteReader<'_>, schema: &Schema, slots: usize) -> Result<Vec<u16>> {
    let mut columns = Vec::with_capacity(slots.min(schema.columns.len()));
    let mut seen = HashSet::new();
    for slot in 0..slots {
        let index = reader.i16("a column index")?;
        let column = u16::try_from(index).ok().filter(|&c| usize::from(c) < schema.columns.len()).ok_or_else(|| {
            invalid(format!("slot {slot} names column {index}, outside the schema of {} columns", schema.columns.len()))
        })?;
        if !seen.insert(column) {
            return Err(invalid(format!("column {column} has two statistics slots")));
        }
        columns.push(column);
    }
    Ok(columns)
}

fn read_null_counts(reader: &mut ByteReader<'_>, slots: usize, row_count: u32) -> Result<Vec<u32>> {
    let mut counts = Vec::with_capacity(slots);
    for slot in 0..slots {
        let count = reader.i32("a null count")?;
        let count = u32::try_from(count)
            .ok()
            .filter(|&c| c <= row_count)
            .ok_or_else(|| invalid(format!("slot {slot} has a null count of {count} in {row_count} rows")))?;
        counts.push(count);
    }
    Ok(counts)
}

/// The bounds of one slot: both null (no bound), or both values in order.
fn read_bounds(
    min_row: &RowReader<'_>,
    max_row: &RowReader<'_>,
    slot: usize,
    kind: Kind,
) -> Result<(Option<Scalar>, Option<Scalar>)> {
    match (min_row.is_null(slot), max_row.is_null(slot)) {
        (true, true) => return Ok((None, None)),
        (false, false) => {}
        _ => return Err(invalid(format!("slot {slot} has only one of min and max"))),
    }
    let min = read_value(min_row, slot, kind)?;
    let max = read_value(max_row, slot, kind)?;
    if min.compare(&max).is_some_and(|o| o.is_gt()) {
        return Err(invalid(format!("slot {slot}: min {min:?} is above max {max:?}")));
    }
    Ok((Some(min), Some(max)))
}

/// Reads one non-null value.
fn read_value(row: &RowReader<'_>, slot: usize, kind: Kind) -> Result<Scalar> {
    let bytes = row.slot(slot)?;
    let [b0, b1, b2, b3, ..] = bytes;
    Ok(match kind {
        Kind::Bool => Scalar::Bool(b0 != 0),
        Kind::Int8 => Scalar::Int(i64::from(b0 as i8)),
        Kind::Int16 => Scalar::Int(i64::from(i16::from_le_bytes([b0, b1]))),
        Kind::Int32 => Scalar::Int(i64::from(i32::from_le_bytes([b0, b1, b2, b3]))),
        Kind::Int64 => Scalar::Int(i64::from_le_bytes(bytes)),
        Kind::Float32 => Scalar::Float(f64::from(f32::from_le_bytes([b0, b1, b2, b3]))),
        Kind::Float64 => Scalar::Float(f64::from_le_bytes(bytes)),
        Kind::Str => {
            let text = std::str::from_utf8(row.string(slot)?)
                .map_err(|e| invalid(format!("slot {slot}: a string bound is not UTF-8: {e}")))?;
            Scalar::Str(text.to_owned())
        }
        // Floored to the millisecond (nanos >= 0), the precision filters compare at.
        Kind::PreciseTimestamp => Scalar::Int(row.timestamp(slot)?.0),
    })
}

/// Reads little-endian fields off the block, never past its end.
struct ByteReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ByteReader<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len());
        let taken = end.and_then(|end| self.bytes.get(self.at..end));
        let taken = taken.ok_or_else(|| {
            invalid(format!(
                "{what} needs {len} bytes at offset {}, past the end of the {}-byte block",
                self.at,
                self.bytes.len()
            ))
        })?;
        self.at += len;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| invalid(format!("{what} is short")))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    fn i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_le_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    /// An i32 length followed by that many bytes.
    fn row(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.i32(what)?;
        let len = usize::try_from(len).map_err(|_| invalid(format!("{what} has a negative length {len}")))?;
        self.take(len, what)
    }
}
