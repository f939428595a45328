//! A hint to the CPU that memory will be read soon: a batched lookup issues the hints for all
//! its keys before it probes any, so their cache misses overlap instead of coming one after
//! another.

/// Asks the CPU to bring the cache line holding `value` closer (a no-op off x86-64).
#[inline]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory; `value` is a valid reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
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
