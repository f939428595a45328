//! Statistics of an Arrow record batch: min, max and null count per collected column.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, PrimitiveArray, RecordBatch};
use arrow_schema::{DataType as ArrowType, TimeUnit};

use super::kind::{java_float_cmp, Kind};
use super::{invalid, BatchStats, ColumnStats, Scalar};
use crate::error::Result;
use crate::schema::{DataType, Schema};

/// See [`super::compute`].
pub(super) fn compute(schema: &Schema, batch: &RecordBatch) -> Result<BatchStats> {
    let arrays = batch.columns();
    if arrays.len() != schema.columns.len() {
        return Err(invalid(format!("the batch has {} columns, the schema {}", arrays.len(), schema.columns.len())));
    }
    let row_count = u32::try_from(batch.num_rows())
        .map_err(|_| invalid(format!("{} rows do not fit a batch", batch.num_rows())))?;
    let mut columns = Vec::new();
    for (index, (column, array)) in schema.columns.iter().zip(arrays).enumerate() {
        if let Some(kind) = Kind::of(&column.data_type) {
            columns.push(column_stats(index, &column.data_type, kind, array.as_ref())?);
        }
    }
    Ok(BatchStats { row_count, columns })
}

fn column_stats(index: usize, data_type: &DataType, kind: Kind, array: &dyn Array) -> Result<ColumnStats> {
    if !arrow_type_matches(data_type, array.data_type()) {
        return Err(invalid(format!(
            "column {index} ({data_type}) is backed by Arrow {}, expected {}",
            array.data_type(),
            data_type.to_arrow()
        )));
    }
    let column =
        u16::try_from(index).map_err(|_| invalid(format!("column index {index} does not fit a statistics slot")))?;
    let null_count = u32::try_from(array.null_count())
        .map_err(|_| invalid(format!("column {index} has {} nulls", array.null_count())))?;
    // A bound that does not fit its slot is left unknown: it cannot be written, and an unknown
    // bound only costs pruning.
    let (min, max) = match bounds(data_type, array) {
        Some((min, max)) if kind.fits(&min) && kind.fits(&max) => (Some(min), Some(max)),
        _ => (None, None),
    };
    Ok(ColumnStats { column, null_count, min, max })
}

/// The Arrow type must be the one [`DataType::to_arrow`] gives; a TIMESTAMP_LTZ may carry any
/// zone name.
fn arrow_type_matches(data_type: &DataType, actual: &ArrowType) -> bool {
    match (data_type.to_arrow(), actual) {
        (ArrowType::Timestamp(unit, zone), ArrowType::Timestamp(actual_unit, actual_zone)) => {
            unit == *actual_unit && zone.is_some() == actual_zone.is_some()
        }
        (expected, actual) => expected == *actual,
    }
}

/// (min, max) of the non-null values as scalars; `None` when all are null or a bound does not
/// convert.
fn bounds(data_type: &DataType, array: &dyn Array) -> Option<(Scalar, Scalar)> {
    let widen = |v: i32| Some(i64::from(v));
    match (data_type, array.data_type()) {
        (DataType::Boolean, _) => bool_bounds(array),
        (DataType::TinyInt, _) => int_bounds::<Int8Type>(array, |v| Some(i64::from(v))),
        (DataType::SmallInt, _) => int_bounds::<Int16Type>(array, |v| Some(i64::from(v))),
        (DataType::Int, _) => int_bounds::<Int32Type>(array, widen),
        (DataType::Date, _) => int_bounds::<Date32Type>(array, widen),
        (DataType::BigInt, _) => int_bounds::<Int64Type>(array, Some),
        (DataType::Decimal { .. }, _) => int_bounds::<Decimal128Type>(array, |v| i64::try_from(v).ok()),
        (DataType::Float, _) => float_bounds::<Float32Type>(array, f64::from),
        (DataType::Double, _) => float_bounds::<Float64Type>(array, |v| v),
        (DataType::Char { .. } | DataType::String, _) => string_bounds(array),
        (DataType::Time { .. }, arrow) => time_bounds(arrow, array),
        (DataType::Timestamp { .. } | DataType::TimestampLtz { .. }, ArrowType::Timestamp(unit, _)) => {
            timestamp_bounds(*unit, array)
        }
        _ => None,
    }
}

/// TIME bounds in milliseconds of the day, whatever unit the Arrow column holds. Truncating
/// division keeps the order, so converting the raw bounds gives the converted bounds.
fn time_bounds(arrow: &ArrowType, array: &dyn Array) -> Option<(Scalar, Scalar)> {
    match arrow {
        ArrowType::Time32(TimeUnit::Second) => {
            int_bounds::<Time32SecondType>(array, |v| i64::from(v).checked_mul(1_000))
        }
        ArrowType::Time32(_) => int_bounds::<Time32MillisecondType>(array, |v| Some(v.into())),
        ArrowType::Time64(TimeUnit::Microsecond) => int_bounds::<Time64MicrosecondType>(array, |v| Some(v / 1_000)),
        ArrowType::Time64(_) => int_bounds::<Time64NanosecondType>(array, |v| Some(v / 1_000_000)),
        _ => None,
    }
}

/// TIMESTAMP bounds in epoch milliseconds, floored (flooring keeps the order).
fn timestamp_bounds(unit: TimeUnit, array: &dyn Array) -> Option<(Scalar, Scalar)> {
    match unit {
        TimeUnit::Second => int_bounds::<TimestampSecondType>(array, |v| v.checked_mul(1_000)),
        TimeUnit::Millisecond => int_bounds::<TimestampMillisecondType>(array, Some),
        TimeUnit::Microsecond => int_bounds::<TimestampMicrosecondType>(array, |v| Some(v.div_euclid(1_000))),
        TimeUnit::Nanosecond => int_bounds::<TimestampNanosecondType>(array, |v| Some(v.div_euclid(1_000_000))),
    }
}

/// Bounds of an integer-like column, mapped to i64 by `to_i64` (which must keep the order).
fn int_bounds<T: ArrowPrimitiveType>(
    array: &dyn Array,
    to_i64: impl Fn(T::Native) -> Option<i64>,
) -> Option<(Scalar, Scalar)>
where
    T::Native: Ord,
{
    let array = array.as_primitive_opt::<T>()?;
    let (min, max) = if array.null_count() == 0 {
        // Separate passes over the plain values: the compiler vectorizes each.
        let values = array.values();
        (values.iter().copied().min()?, values.iter().copied().max()?)
    } else {
        primitive_bounds(array, Ord::cmp)?
    };
    Some((Scalar::Int(to_i64(min)?), Scalar::Int(to_i64(max)?)))
}

/// Bounds of a FLOAT/DOUBLE column under Java's `Double.compare`, widened to f64.
fn float_bounds<T: ArrowPrimitiveType>(
    array: &dyn Array,
    widen: impl Fn(T::Native) -> f64,
) -> Option<(Scalar, Scalar)> {
    let cmp = |a: &T::Native, b: &T::Native| java_float_cmp(widen(*a), widen(*b));
    let (min, max) = primitive_bounds(array.as_primitive_opt::<T>()?, cmp)?;
    Some((Scalar::Float(widen(min)), Scalar::Float(widen(max))))
}

fn primitive_bounds<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
    cmp: impl Fn(&T::Native, &T::Native) -> Ordering,
) -> Option<(T::Native, T::Native)> {
    if array.null_count() == 0 {
        fold_bounds(array.values().iter().copied(), cmp)
    } else {
        fold_bounds(array.iter().flatten(), cmp)
    }
}

fn bool_bounds(array: &dyn Array) -> Option<(Scalar, Scalar)> {
    let (min, max) = fold_bounds(array.as_boolean_opt()?.iter().flatten(), Ord::cmp)?;
    Some((Scalar::Bool(min), Scalar::Bool(max)))
}

fn string_bounds(array: &dyn Array) -> Option<(Scalar, Scalar)> {
    let array = array.as_string_opt::<i32>()?;
    let (min, max) = if array.null_count() == 0 {
        // Straight over the offsets: no per-value null check or UTF-8 view.
        let (offsets, data) = (array.value_offsets(), array.value_data());
        let values = offsets.windows(2).map(|w| &data[w[0] as usize..w[1] as usize]);
        let (min, max) = fold_bounds(values.map(PrefixedBytes::new), PrefixedBytes::cmp)?;
        let (min, max) = (min.bytes, max.bytes);
        (std::str::from_utf8(min).ok()?, std::str::from_utf8(max).ok()?)
    } else {
        let values = array.iter().flatten().map(|s| PrefixedBytes::new(s.as_bytes()));
        let (min, max) = fold_bounds(values, PrefixedBytes::cmp)?;
        (std::str::from_utf8(min.bytes).ok()?, std::str::from_utf8(max.bytes).ok()?)
    };
    Some((Scalar::Str(min.to_owned()), Scalar::Str(max.to_owned())))
}

/// A byte string with its first 8 bytes as a big-endian number (zero padded): comparing the
/// numbers orders most strings at once; equal prefixes go on 8 bytes at a time the same way
/// (no `memcmp` call, which costs more than the compare for short strings).
#[derive(Clone, Copy)]
struct PrefixedBytes<'a> {
    prefix: u64,
    bytes: &'a [u8],
}

/// Bytes `at..at + 8` of `bytes` as a big-endian number, zero padded past the end.
#[inline]
fn chunk_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(eight) => {
            let mut head = [0u8; 8];
            head.copy_from_slice(eight);
            u64::from_be_bytes(head)
        }
        // Byte by byte: a copy of a variable length would be a `memcpy` call.
        None => bytes
            .get(at..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .fold(0, |v, (i, &b)| v | u64::from(b) << (56 - 8 * i)),
    }
}

impl<'a> PrefixedBytes<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { prefix: chunk_at(bytes, 0), bytes }
    }

    /// Lexicographic byte order: zero-padded big-endian chunks compare as the bytes do, and
    /// when every chunk ties the shorter string (a prefix of the other, or equal to it padded
    /// with zero bytes) is the smaller one.
    fn cmp(a: &Self, b: &Self) -> Ordering {
        if a.prefix != b.prefix {
            return a.prefix.cmp(&b.prefix);
        }
        let mut at = 8;
        while at < a.bytes.len() && at < b.bytes.len() {
            let (x, y) = (chunk_at(a.bytes, at), chunk_at(b.bytes, at));
            if x != y {
                return x.cmp(&y);
            }
            at += 8;
        }
        a.bytes.len().cmp(&b.bytes.len())
    }
}

/// The smallest and largest item under `cmp`; on ties the first one seen stays (as in Java,
/// which matters only for which NaN's bits are kept).
fn fold_bounds<T: Copy>(mut values: impl Iterator<Item = T>, cmp: impl Fn(&T, &T) -> Ordering) -> Option<(T, T)> {
    let first = values.next()?;
    Some(values.fold((first, first), |(min, max), v| {
        let min = if cmp(&v, &min).is_lt() { v } else { min };
        let max = if cmp(&v, &max).is_gt() { v } else { max };
        (min, max)
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BinaryArray, Float32Array, Int32Array, Int64Array, StringArray, Time32SecondArray,
        Time64NanosecondArray, TimestampSecondArray,
    };

    use super::*;
    use crate::schema::Column;

    fn stats_of(data_type: DataType, array: ArrayRef) -> Result<BatchStats> {
        let schema = Schema::new(vec![Column::new("c", data_type)]);
        let batch = RecordBatch::try_new(schema.to_arrow(), vec![array]).expect("batch");
        compute(&schema, &batch)
    }

    fn bounds_of(data_type: DataType, array: ArrayRef) -> (Option<Scalar>, Option<Scalar>) {
        let stats = stats_of(data_type, array).expect("compute");
        let column = stats.columns.first().expect("one column");
        (column.min.clone(), column.max.clone())
    }

    #[test]
    fn float_bounds_follow_java_order() {
        let neg_nan = f32::from_bits(0xFFC0_0000);
        let array = Float32Array::from(vec![Some(-0.0), Some(neg_nan), None, Some(0.0)]);
        let (min, max) = bounds_of(DataType::Float, Arc::new(array));
        assert!(matches!(min, Some(Scalar::Float(v)) if v == 0.0 && v.is_sign_negative()));
        assert!(matches!(max, Some(Scalar::Float(v)) if v.is_nan()));
    }

    #[test]
    fn time_and_timestamp_become_millis() {
        let time = Arc::new(Time32SecondArray::from(vec![7_200, 3_600]));
        let bounds = bounds_of(DataType::Time { precision: 0 }, time);
        assert_eq!(bounds, (Some(Scalar::Int(3_600_000)), Some(Scalar::Int(7_200_000))));

        let nanos = Arc::new(Time64NanosecondArray::from(vec![1_999_999, 5_000_000]));
        let bounds = bounds_of(DataType::Time { precision: 9 }, nanos);
        assert_eq!(bounds, (Some(Scalar::Int(1)), Some(Scalar::Int(5))));

        let ts = Arc::new(TimestampSecondArray::from(vec![-2, 1]));
        let bounds = bounds_of(DataType::Timestamp { precision: 0 }, ts);
        assert_eq!(bounds, (Some(Scalar::Int(-2_000)), Some(Scalar::Int(1_000))));
    }

    #[test]
    fn unrepresentable_bounds_are_unknown() {
        // i32::MAX seconds of day is beyond i32 milliseconds.
        let time = Arc::new(Time32SecondArray::from(vec![i32::MAX, 1]));
        let stats = stats_of(DataType::Time { precision: 0 }, time).expect("compute");
        assert_eq!(stats.columns, vec![ColumnStats { column: 0, null_count: 0, min: None, max: None }]);
    }

    #[test]
    fn strings_compare_as_bytes() {
        let array = Arc::new(StringArray::from(vec!["b", "é", "a", "Z"]));
        let bounds = bounds_of(DataType::String, array);
        assert_eq!(bounds, (Some(Scalar::Str("Z".into())), Some(Scalar::Str("é".into()))));
    }

    #[test]
    fn skips_types_not_collected() {
        let schema = Schema::new(vec![Column::new("bytes", DataType::Bytes), Column::new("n", DataType::BigInt)]);
        let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![&b"x"[..]]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![4]));
        let batch = RecordBatch::try_new(schema.to_arrow(), vec![bytes, n]).expect("batch");
        let stats = compute(&schema, &batch).expect("compute");
        assert_eq!(stats.columns.iter().map(|c| c.column).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn rejects_a_batch_that_does_not_match_the_schema() {
        let ints = Schema::new(vec![Column::new("n", DataType::Int)]);
        let int32: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        let batch = RecordBatch::try_new(ints.to_arrow(), vec![int32]).expect("batch");
        let longs = Schema::new(vec![Column::new("n", DataType::BigInt)]);
        assert!(compute(&longs, &batch).is_err());
        let two = Schema::new(vec![Column::new("n", DataType::Int), Column::new("m", DataType::Int)]);
        assert!(compute(&two, &batch).is_err());
    }

    proptest::proptest! {
        /// The prefix shortcut orders strings exactly as comparing their bytes does (short
        /// strings, shared prefixes, NUL bytes and multi-byte characters included), with and
        /// without nulls.
        #[test]
        fn string_bounds_match_a_byte_order_oracle(
            values in proptest::collection::vec(proptest::option::weighted(0.9, "[a\\x00\\u{e9}\\u{1F600}]{0,20}"), 1..40)
        ) {
            let array: ArrayRef = Arc::new(StringArray::from(values.clone()));
            let present: Vec<&String> = values.iter().flatten().collect();
            let expected = present.iter().min_by(|a, b| a.as_bytes().cmp(b.as_bytes())).zip(
                present.iter().max_by(|a, b| a.as_bytes().cmp(b.as_bytes())),
            );
            let without_nulls: ArrayRef = Arc::new(StringArray::from_iter_values(present.iter()));
            for array in [array, without_nulls] {
                let (min, max) = bounds_of(DataType::String, array);
                match expected {
                    Some((lo, hi)) => {
                        proptest::prop_assert!(matches!(&min, Some(Scalar::Str(s)) if s == *lo));
                        proptest::prop_assert!(matches!(&max, Some(Scalar::Str(s)) if s == *hi));
                    }
                    None => proptest::prop_assert!(min.is_none() && max.is_none()),
                }
            }
        }
    }
}
