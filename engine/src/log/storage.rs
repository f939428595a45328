//! The storage seam: every byte the log reads or writes goes through these traits.
//!
//! Two implementations: [`super::uring::UringStorage`] (glommio `DmaFile`, io_uring, O_DIRECT)
//! and [`super::sim::SimStorage`] (in memory, injecting faults from a seed). Both are driven
//! from one thread (a shard), so the futures are not `Send`.

use std::future::Future;

use crate::error::Result;

/// Writes must start and end on multiples of this many bytes (O_DIRECT's rule; the simulated
/// backend enforces the same so the same code path is tested).
pub const WRITE_ALIGNMENT: usize = 4096;

/// Granularity at which a write cut off by a crash tears: each sector is written whole or not
/// at all (recovery relies on it; the simulated backend tears at it).
pub const SECTOR_BYTES: usize = 512;

/// A directory of files.
pub trait Storage: 'static {
    /// An open file.
    type File: StorageFile;

    /// Opens `name` for reading and writing, creating it when `create` is set.
    fn open(&self, name: &str, create: bool) -> impl Future<Output = Result<Self::File>>;
    /// Names of the files in the directory (unsorted).
    fn list(&self) -> impl Future<Output = Result<Vec<String>>>;
    /// Removes `name`.
    fn remove(&self, name: &str) -> impl Future<Output = Result<()>>;
    /// Makes file creations and removals durable.
    fn sync_dir(&self) -> impl Future<Output = Result<()>>;
    /// A human-readable location for error messages.
    fn describe(&self, name: &str) -> String;
}

/// One open file.
pub trait StorageFile: 'static {
    /// Reads up to `len` bytes at `position`; fewer only at the end of the file.
    fn read_at(&self, position: u64, len: usize) -> impl Future<Output = Result<Vec<u8>>>;
    /// Writes `data` at `position`; both must be multiples of [`WRITE_ALIGNMENT`].
    fn write_at(&self, position: u64, data: &[u8]) -> impl Future<Output = Result<()>>;
    /// Writes the concatenation of `parts` at `position`; the position and the total length
    /// must be multiples of [`WRITE_ALIGNMENT`]. The default concatenates and calls
    /// [`StorageFile::write_at`]; a backend that copies into its own I/O buffers anyway copies
    /// straight from the parts.
    fn write_vectored_at(&self, position: u64, parts: &[&[u8]]) -> impl Future<Output = Result<()>> {
        async move { self.write_at(position, &parts.concat()).await }
    }
    /// Writes `len` zero bytes at `position` (both multiples of [`WRITE_ALIGNMENT`]). The
    /// default writes them from a zeroed buffer of `len` bytes; a backend can reuse one
    /// smaller buffer.
    fn write_zeros(&self, position: u64, len: u64) -> impl Future<Output = Result<()>> {
        async move { self.write_at(position, &vec![0; len as usize]).await }
    }
    /// Reserves disk space so the file is at least `len` bytes (the new bytes read as zeros).
    /// Writes into reserved space neither allocate blocks nor grow the file, so they can be
    /// issued asynchronously and in parallel (an O_DIRECT write that extends a file is not).
    fn allocate(&self, len: u64) -> impl Future<Output = Result<()>>;
    /// Makes every completed write durable (fdatasync).
    fn sync(&self) -> impl Future<Output = Result<()>>;
    /// The file's size in bytes (may include zero padding past the data).
    fn size(&self) -> impl Future<Output = Result<u64>>;
    /// Cuts or extends the file to `len` bytes.
    fn truncate(&self, len: u64) -> impl Future<Output = Result<()>>;
    /// Closes the file.
    fn close(self) -> impl Future<Output = Result<()>>;
}
