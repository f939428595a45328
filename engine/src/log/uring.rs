//! The io_uring backend: glommio `DmaFile` (O_DIRECT) in one directory.
//!
//! Two glommio traps are handled here (see shared/STYLE.md): files are opened read+write
//! (`DmaFile::create` would open them write-only), and before any other file on the disk is
//! opened with DMA, a non-empty probe file is, so glommio's one-time polled-I/O probe cannot
//! be fooled by an empty file into switching on polled reads that then fail with EOPNOTSUPP.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::io::{DmaFile, OpenOptions};

use super::join::join_all;
use super::storage::{Storage, StorageFile, WRITE_ALIGNMENT};
use crate::error::{Error, Result};

/// Name of the probe file kept in every data directory.
pub const PROBE_FILE: &str = ".rill-probe";

/// A directory on a real filesystem, accessed through io_uring with O_DIRECT.
#[derive(Clone, Debug)]
pub struct UringStorage {
    dir: PathBuf,
}

/// An open `DmaFile`.
pub struct UringFile {
    file: DmaFile,
    path: PathBuf,
}

fn glommio_io(context: String, e: glommio::GlommioError<()>) -> Error {
    Error::io(context, std::io::Error::from(e))
}

impl UringStorage {
    /// Opens (creating) `dir` and primes glommio's polled-I/O probe with a non-empty file.
    /// Must run on a glommio executor.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self> {
        // This thread runs a glommio executor: background steps may pause on its timers.
        crate::kv::step::reactor_present();
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let probe = dir.join(PROBE_FILE);
        std::fs::write(&probe, [0xA5u8; WRITE_ALIGNMENT])
            .map_err(|e| Error::io(format!("writing {}", probe.display()), e))?;
        let file = OpenOptions::new()
            .read(true)
            .dma_open(&probe)
            .await
            .map_err(|e| glommio_io(format!("opening {}", probe.display()), e))?;
        let read = file.read_at(0, WRITE_ALIGNMENT).await;
        let _ = file.close().await;
        read.map_err(|e| glommio_io(format!("reading {}", probe.display()), e))?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Storage for UringStorage {
    type File = UringFile;

    async fn open(&self, name: &str, create: bool) -> Result<UringFile> {
        let path = self.dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .dma_open(&path)
            .await
            .map_err(|e| glommio_io(format!("opening {}", path.display()), e))?;
        Ok(UringFile { file, path })
    }

    async fn list(&self) -> Result<Vec<String>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io(format!("listing {}", self.dir.display()), e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", self.dir.display()), e))?;
            if let Some(name) = entry.file_name().to_str() {
                if name != PROBE_FILE {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    async fn remove(&self, name: &str) -> Result<()> {
        let path = self.dir.join(name);
        glommio::io::remove(&path).await.map_err(|e| glommio_io(format!("removing {}", path.display()), e))
    }

    async fn sync_dir(&self) -> Result<()> {
        // glommio's `Directory::open` fails with EBADF here, so the directory is synced with a
        // plain fsync: it blocks the executor briefly, and happens only on segment roll,
        // retention and start-up.
        let sync = std::fs::File::open(&self.dir).and_then(|d| d.sync_all());
        sync.map_err(|e| Error::io(format!("syncing {}", self.dir.display()), e))
    }

    fn describe(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// Writes larger than this are split into chunks of this size, all in flight at once.
const WRITE_CHUNK_BYTES: usize = 1 << 20;
const _: () = assert!(WRITE_CHUNK_BYTES % WRITE_ALIGNMENT == 0);

impl UringFile {
    /// Writes bytes `from..from + len` of the concatenation of `parts` at `position + from`
    /// (aligned), copying them into one DMA buffer and retrying short writes.
    async fn write_chunk(&self, position: u64, parts: &[&[u8]], from: usize, len: usize) -> Result<()> {
        let mut written = 0usize;
        while written < len {
            let at = position + (from + written) as u64;
            let mut buffer = self.file.alloc_dma_buffer(len - written);
            copy_range(parts, from + written, buffer.as_bytes_mut());
            let n = self
                .file
                .write_at(buffer, at)
                .await
                .map_err(|e| glommio_io(format!("writing {} at {at}", self.path.display()), e))?;
            if n == 0 || n % WRITE_ALIGNMENT != 0 {
                let e = std::io::Error::new(std::io::ErrorKind::WriteZero, format!("short write of {n} bytes"));
                return Err(Error::io(format!("writing {} at {at}", self.path.display()), e));
            }
            written += n;
        }
        Ok(())
    }
}

/// Copies bytes `from..from + out.len()` of the concatenation of `parts` into `out`.
fn copy_range(parts: &[&[u8]], from: usize, out: &mut [u8]) {
    let mut skip = from;
    let mut filled = 0;
    for part in parts {
        if filled == out.len() {
            break;
        }
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        let take = (part.len() - skip).min(out.len() - filled);
        out[filled..filled + take].copy_from_slice(&part[skip..skip + take]);
        filled += take;
        skip = 0;
    }
    assert_eq!(filled, out.len(), "invariant: the parts hold the range copied");
}

impl StorageFile for UringFile {
    async fn read_at(&self, position: u64, len: usize) -> Result<Vec<u8>> {
        let read = self
            .file
            .read_at(position, len)
            .await
            .map_err(|e| glommio_io(format!("reading {} at {position}", self.path.display()), e))?;
        // One copy: glommio's buffers are not Send, Arrow's must be.
        Ok(read.to_vec())
    }

    async fn write_at(&self, position: u64, data: &[u8]) -> Result<()> {
        self.write_vectored_at(position, &[data]).await
    }

    async fn write_vectored_at(&self, position: u64, parts: &[&[u8]]) -> Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        debug_assert!(position as usize % WRITE_ALIGNMENT == 0 && total % WRITE_ALIGNMENT == 0);
        // Large writes go out as several chunks in flight at once (the device overlaps them);
        // each chunk is copied into its own DMA buffer when its future is first polled.
        let chunks: Vec<_> = (0..total)
            .step_by(WRITE_CHUNK_BYTES)
            .map(|from| self.write_chunk(position, parts, from, WRITE_CHUNK_BYTES.min(total - from)))
            .collect();
        join_all(chunks).await.into_iter().collect()
    }

    async fn write_zeros(&self, position: u64, len: u64) -> Result<()> {
        debug_assert!(position % WRITE_ALIGNMENT as u64 == 0 && len % WRITE_ALIGNMENT as u64 == 0);
        if len == 0 {
            return Ok(());
        }
        // One zeroed DMA buffer, written at every chunk's position at once.
        let chunk = (WRITE_CHUNK_BYTES as u64).min(len) as usize;
        let mut buffer = self.file.alloc_dma_buffer(chunk);
        buffer.as_bytes_mut().fill(0);
        let buffer = Rc::new(buffer);
        let writes: Vec<_> = (0..len)
            .step_by(chunk)
            .map(|from| {
                let at = position + from;
                let want = chunk.min((len - from) as usize);
                let buffer = Rc::clone(&buffer);
                async move {
                    let n = if want == chunk {
                        self.file
                            .write_rc_at(buffer, at)
                            .await
                            .map_err(|e| glommio_io(format!("writing zeros to {} at {at}", self.path.display()), e))?
                    } else {
                        0
                    };
                    if n % WRITE_ALIGNMENT != 0 {
                        let e = std::io::Error::new(std::io::ErrorKind::WriteZero, format!("short write of {n} bytes"));
                        return Err(Error::io(format!("writing zeros to {} at {at}", self.path.display()), e));
                    }
                    // A last piece shorter than the buffer, or the rest of a short write.
                    if n < want {
                        let rest = vec![0u8; want - n];
                        return self.write_chunk(at + n as u64, &[&rest], 0, rest.len()).await;
                    }
                    Ok(())
                }
            })
            .collect();
        join_all(writes).await.into_iter().collect()
    }

    async fn allocate(&self, len: u64) -> Result<()> {
        self.file
            .pre_allocate(len, false)
            .await
            .map_err(|e| glommio_io(format!("allocating {} bytes for {}", len, self.path.display()), e))
    }

    async fn sync(&self) -> Result<()> {
        self.file.fdatasync().await.map_err(|e| glommio_io(format!("syncing {}", self.path.display()), e))
    }

    async fn size(&self) -> Result<u64> {
        self.file.file_size().await.map_err(|e| glommio_io(format!("sizing {}", self.path.display()), e))
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        self.file.truncate(len).await.map_err(|e| glommio_io(format!("truncating {} to {len}", self.path.display()), e))
    }

    async fn close(self) -> Result<()> {
        self.file.close().await.map_err(|e| glommio_io(format!("closing {}", self.path.display()), e))
    }
}
