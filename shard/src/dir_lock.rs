//! The data directory's `LOCK` file: an exclusive `flock` held while a [`crate::Rill`] has the
//! directory open, so a second open (in this process or another) fails instead of running two
//! sets of shards on the same files. The kernel drops the lock when the file is closed, also
//! when the process dies, so a crash never leaves a stale lock behind.
//!
//! `libc::flock` rather than `std::fs::File::try_lock` (the same call): that is stable only
//! since Rust 1.89, above the workspace's `rust-version`.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Error, Result};

/// File name of the lock inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held lock on a data directory; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `data_dir` (creating `LOCK`), without waiting: `DataDirLocked` if
    /// another open handle holds it.
    pub(crate) fn acquire(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        loop {
            // SAFETY: the descriptor belongs to `file`, open for the whole call; flock only
            // takes a lock on it and touches no memory.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Self { _file: file });
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => continue,
                std::io::ErrorKind::WouldBlock => {
                    return Err(Error::DataDirLocked { dir: data_dir.display().to_string() })
                }
                _ => return Err(Error::io(format!("locking {}", path.display()), e)),
            }
        }
    }
}
