//! A hint to the CPU that memory will be read soon: a batched lookup issues the hints for all
//! its keys before it probes any, so their cache misses overlap instead of coming one after
//! another.

/// Asks the CPU to bring the cache line holding `value` closer (a no-op off x86-64).
#[inline]
pub fn prefetch<T: ?Sized>(value: &T) {
    prefetch_address(std::ptr::from_ref(value).cast::<u8>());
}

/// Hints what cloning and reading `arc` touch: its reference counts (just before the value
/// in the allocation) and the value's first and last line. Taking a reference (an atomic
/// increment) on a line not in the cache stalls until it arrives.
pub fn prefetch_arc<T>(arc: &std::sync::Arc<T>) {
    let value = std::sync::Arc::as_ptr(arc).cast::<u8>();
    prefetch_address(value.wrapping_sub(2 * size_of::<usize>()));
    prefetch_address(value);
    prefetch_address(value.wrapping_add(size_of::<T>().saturating_sub(1)));
}

/// [`prefetch`] of an address that need not be valid.
#[inline]
fn prefetch_address(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Bytes of a slice worth hinting whole (a 4 KiB block's key column is a few hundred bytes;
/// beyond this only the first part is hinted).
const PREFETCH_BYTES_MAX: usize = 512;

/// Hints the cache lines of `items` (those of its first [`PREFETCH_BYTES_MAX`] bytes).
pub fn prefetch_slice<T>(items: &[T]) {
    let size = size_of::<T>().max(1);
    let per_line = (64 / size).max(1);
    for item in items.iter().take(PREFETCH_BYTES_MAX / size).step_by(per_line) {
        prefetch(item);
    }
}

/// Hints the values of row `row` of every column of `batch` that a gather of the row will
/// read, in two hops: [`RowHop::Slots`] (fixed-width values, validity bits, the offsets of
/// variable-width values; reads the array structs) and then [`RowHop::Bytes`] (the bytes of
/// variable-width values; reads their offsets, so hint the slots of every row first).
pub fn prefetch_row(batch: &arrow_array::RecordBatch, row: usize, hop: RowHop) {
    for column in batch.columns() {
        prefetch_value(column.as_ref(), row, hop);
    }
}

/// Which memory of a row [`prefetch_row`] hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowHop {
    Slots,
    Bytes,
}

fn prefetch_value(array: &dyn arrow_array::Array, row: usize, hop: RowHop) {
    use arrow_array::cast::AsArray;
    use arrow_array::downcast_primitive_array;
    use arrow_schema::DataType;
    if row >= array.len() {
        return;
    }
    if hop == RowHop::Slots {
        if let Some(nulls) = array.nulls() {
            prefetch_bit(nulls.inner(), row);
        }
    }
    // Offsets (`Slots`) or value bytes (`Bytes`) of a variable-width value.
    fn bytes<O: arrow_array::OffsetSizeTrait>(offsets: &[O], values: &[u8], row: usize, hop: RowHop) {
        match hop {
            RowHop::Slots => prefetch_slice(&offsets[row..row + 2]),
            RowHop::Bytes => {
                let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
                prefetch_slice(values.get(start..end).unwrap_or_default());
            }
        }
    }
    downcast_primitive_array!(
        array => if hop == RowHop::Slots { prefetch(&array.values()[row]) },
        DataType::Utf8 => { let a = array.as_string::<i32>(); bytes(a.value_offsets(), a.value_data(), row, hop) }
        DataType::LargeUtf8 => { let a = array.as_string::<i64>(); bytes(a.value_offsets(), a.value_data(), row, hop) }
        DataType::Binary => { let a = array.as_binary::<i32>(); bytes(a.value_offsets(), a.value_data(), row, hop) }
        DataType::LargeBinary => { let a = array.as_binary::<i64>(); bytes(a.value_offsets(), a.value_data(), row, hop) }
        DataType::FixedSizeBinary(_) => if hop == RowHop::Slots { prefetch_slice(array.as_fixed_size_binary().value(row)) },
        DataType::Boolean => if hop == RowHop::Slots { prefetch_bit(array.as_boolean().values(), row) },
        _ => {}
    )
}

/// Hints the byte holding bit `row` of `bits` (a validity or boolean buffer).
fn prefetch_bit(bits: &arrow_buffer::BooleanBuffer, row: usize) {
    if let Some(byte) = bits.values().get((bits.offset() + row) / 8) {
        prefetch(byte);
    }
}
