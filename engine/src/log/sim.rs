//! A simulated in-memory storage backend that injects faults deterministically from a seed.
//!
//! Each file keeps its durable bytes (as of the last successful `sync`) and the writes made
//! since. [`SimStorage::crash`] throws away what was not synced the way a power cut would:
//! a random prefix of the unsynced writes survives, the first lost one may survive torn at a
//! 512-byte sector (optionally with a garbage sector where the file held nothing durable:
//! sector writes are atomic, so old data is never scrambled), and the rest is gone. Writes and syncs
//! can fail with an I/O error at a configured rate; bits of durable data can be flipped.
//! File creation, removal and truncation are durable at once (the log syncs the directory
//! after each of them anyway).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::storage::{Storage, StorageFile, WRITE_ALIGNMENT};
use crate::error::{Error, Result};

pub use super::storage::SECTOR_BYTES;

/// Fault rates, in events per million operations.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimFaults {
    pub write_error_per_million: u32,
    pub sync_error_per_million: u32,
    pub read_error_per_million: u32,
    /// On crash, write garbage into a torn sector instead of leaving the old bytes.
    pub garbage_on_tear: bool,
    /// On crash, keep each unsynced write whole, torn or not at all independently of the
    /// others (a disk cache may persist later writes before earlier ones); replaces the
    /// in-order prefix model and `garbage_on_tear`.
    pub reorder_on_crash: bool,
}

#[derive(Default)]
struct SimFile {
    durable: Vec<u8>,
    current: Vec<u8>,
    pending: Vec<(u64, Vec<u8>)>,
}

struct Disk {
    files: BTreeMap<String, Rc<RefCell<SimFile>>>,
    syncs: u64,
    zero_bytes: u64,
    rng: SplitMix64,
    faults: SimFaults,
}

/// The simulated directory; clones share the same disk.
#[derive(Clone)]
pub struct SimStorage {
    disk: Rc<RefCell<Disk>>,
}

/// An open simulated file.
pub struct SimFileHandle {
    name: String,
    file: Rc<RefCell<SimFile>>,
    disk: Rc<RefCell<Disk>>,
}

impl SimStorage {
    /// An empty disk whose faults are drawn from `seed`.
    pub fn new(seed: u64, faults: SimFaults) -> Self {
        let disk = Disk { files: BTreeMap::new(), syncs: 0, zero_bytes: 0, rng: SplitMix64(seed), faults };
        Self { disk: Rc::new(RefCell::new(disk)) }
    }

    /// Changes the fault rates (e.g. none while recovering in a test).
    pub fn set_faults(&self, faults: SimFaults) {
        self.disk.borrow_mut().faults = faults;
    }

    /// Simulates a power cut: unsynced writes are lost, torn or kept as described above.
    pub fn crash(&self) {
        let mut disk = self.disk.borrow_mut();
        let garbage = disk.faults.garbage_on_tear;
        let files: Vec<_> = disk.files.values().cloned().collect();
        for file in files {
            let mut f = file.borrow_mut();
            let mut image = f.durable.clone();
            let pending = std::mem::take(&mut f.pending);
            if disk.faults.reorder_on_crash {
                // The disk may have persisted any of the unsynced writes, each whole, torn
                // at a sector, or not at all, in any order; lost sectors keep their old bytes.
                for (position, data) in &pending {
                    let sectors = data.len().div_ceil(SECTOR_BYTES) as u64;
                    let kept = match disk.rng.below(3) {
                        0 => data.len(),
                        1 => 0,
                        _ => (disk.rng.below(sectors + 1) as usize * SECTOR_BYTES).min(data.len()),
                    };
                    apply(&mut image, *position, &data[..kept]);
                }
                f.durable = image.clone();
                f.current = image;
                continue;
            }
            let keep = disk.rng.below(pending.len() as u64 + 1) as usize;
            for (i, (position, data)) in pending.iter().enumerate() {
                if i < keep {
                    apply(&mut image, *position, data);
                } else {
                    let sectors = data.len().div_ceil(SECTOR_BYTES) as u64;
                    let torn = disk.rng.below(sectors + 1) as usize * SECTOR_BYTES;
                    let mut part = data[..torn.min(data.len())].to_vec();
                    // Garbage only lands where nothing durable was before (fresh blocks):
                    // a sector write is atomic, so a torn write never scrambles old data.
                    let fresh_from = f.durable.len().saturating_sub(*position as usize);
                    if garbage && torn > 0 && disk.rng.below(2) == 0 {
                        let from = part.len().saturating_sub(SECTOR_BYTES).max(fresh_from);
                        for byte in part.iter_mut().skip(from) {
                            *byte = disk.rng.next_u64() as u8;
                        }
                    }
                    apply(&mut image, *position, &part);
                    break;
                }
            }
            f.durable = image.clone();
            f.current = image;
        }
    }

    /// Flips one bit of the stored (durable and current) bytes of `name`.
    pub fn flip_bit(&self, name: &str, position: u64, bit: u8) -> bool {
        let disk = self.disk.borrow();
        let Some(file) = disk.files.get(name) else { return false };
        let mut f = file.borrow_mut();
        let at = position as usize;
        let mask = 1u8 << (bit % 8);
        let mut hit = false;
        if let Some(b) = f.durable.get_mut(at) {
            *b ^= mask;
            hit = true;
        }
        if let Some(b) = f.current.get_mut(at) {
            *b ^= mask;
        }
        hit
    }

    /// How many file syncs succeeded so far.
    pub fn sync_count(&self) -> u64 {
        self.disk.borrow().syncs
    }

    /// Bytes written by `write_zeros` so far.
    pub fn zero_bytes_written(&self) -> u64 {
        self.disk.borrow().zero_bytes
    }

    /// The current size of `name`, if it exists.
    pub fn file_len(&self, name: &str) -> Option<u64> {
        self.disk.borrow().files.get(name).map(|f| f.borrow().current.len() as u64)
    }

    fn fault(&self, per_million: u32) -> bool {
        per_million > 0 && self.disk.borrow_mut().rng.below(1_000_000) < u64::from(per_million)
    }
}

fn apply(image: &mut Vec<u8>, position: u64, data: &[u8]) {
    let at = position as usize;
    if image.len() < at + data.len() {
        image.resize(at + data.len(), 0);
    }
    image[at..at + data.len()].copy_from_slice(data);
}

/// Returns Pending once (waking itself), so reads, writes and syncs take a turn of the executor
/// the way real I/O does: appends arriving meanwhile get staged and share the next sync, and
/// writes reading old rows from SSTs interleave with other writes.
async fn io_turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

fn injected(what: &str) -> std::io::Error {
    std::io::Error::other(format!("injected {what} fault"))
}

impl Storage for SimStorage {
    type File = SimFileHandle;

    async fn open(&self, name: &str, create: bool) -> Result<SimFileHandle> {
        let mut disk = self.disk.borrow_mut();
        let file = match disk.files.get(name) {
            Some(file) => Rc::clone(file),
            None if create => {
                let file = Rc::new(RefCell::new(SimFile::default()));
                disk.files.insert(name.to_string(), Rc::clone(&file));
                file
            }
            None => {
                let e = std::io::Error::from(std::io::ErrorKind::NotFound);
                return Err(Error::io(format!("opening sim:{name}"), e));
            }
        };
        Ok(SimFileHandle { name: name.to_string(), file, disk: Rc::clone(&self.disk) })
    }

    async fn list(&self) -> Result<Vec<String>> {
        Ok(self.disk.borrow().files.keys().cloned().collect())
    }

    async fn remove(&self, name: &str) -> Result<()> {
        self.disk.borrow_mut().files.remove(name);
        Ok(())
    }

    async fn sync_dir(&self) -> Result<()> {
        Ok(())
    }

    fn describe(&self, name: &str) -> String {
        format!("sim:{name}")
    }
}

impl SimFileHandle {
    fn storage(&self) -> SimStorage {
        SimStorage { disk: Rc::clone(&self.disk) }
    }
}

impl StorageFile for SimFileHandle {
    async fn read_at(&self, position: u64, len: usize) -> Result<Vec<u8>> {
        io_turn().await;
        let faults = self.disk.borrow().faults;
        if self.storage().fault(faults.read_error_per_million) {
            return Err(Error::io(format!("reading sim:{}", self.name), injected("read")));
        }
        let f = self.file.borrow();
        let from = (position as usize).min(f.current.len());
        let to = (from + len).min(f.current.len());
        Ok(f.current[from..to].to_vec())
    }

    async fn write_at(&self, position: u64, data: &[u8]) -> Result<()> {
        if position as usize % WRITE_ALIGNMENT != 0 || data.len() % WRITE_ALIGNMENT != 0 {
            let e = std::io::Error::from(std::io::ErrorKind::InvalidInput);
            return Err(Error::io(format!("unaligned write to sim:{} at {position}", self.name), e));
        }
        io_turn().await;
        let faults = self.disk.borrow().faults;
        if self.storage().fault(faults.write_error_per_million) {
            return Err(Error::io(format!("writing sim:{}", self.name), injected("write")));
        }
        let mut f = self.file.borrow_mut();
        apply(&mut f.current, position, data);
        f.pending.push((position, data.to_vec()));
        Ok(())
    }

    async fn write_zeros(&self, position: u64, len: u64) -> Result<()> {
        self.write_at(position, &vec![0; len as usize]).await?;
        self.disk.borrow_mut().zero_bytes += len;
        Ok(())
    }

    async fn sync(&self) -> Result<()> {
        // Like fdatasync, a sync covers the writes completed before it was issued, not those
        // that complete while it is in flight.
        let covered = self.file.borrow().pending.len();
        io_turn().await;
        let faults = self.disk.borrow().faults;
        if self.storage().fault(faults.sync_error_per_million) {
            return Err(Error::io(format!("syncing sim:{}", self.name), injected("sync")));
        }
        self.disk.borrow_mut().syncs += 1;
        let mut f = self.file.borrow_mut();
        let covered = covered.min(f.pending.len());
        let synced: Vec<_> = f.pending.drain(..covered).collect();
        for (position, data) in synced {
            apply(&mut f.durable, position, &data);
        }
        Ok(())
    }

    async fn allocate(&self, len: u64) -> Result<()> {
        // Like fallocate: zeros past the end, durable at once (as truncation is here).
        let mut f = self.file.borrow_mut();
        let len = len as usize;
        if f.current.len() < len {
            f.current.resize(len, 0);
        }
        if f.durable.len() < len {
            f.durable.resize(len, 0);
        }
        Ok(())
    }

    async fn size(&self) -> Result<u64> {
        Ok(self.file.borrow().current.len() as u64)
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        let mut f = self.file.borrow_mut();
        f.current.resize(len as usize, 0);
        f.durable.resize(len as usize, 0);
        f.pending.retain(|(p, _)| *p < len);
        Ok(())
    }

    async fn close(self) -> Result<()> {
        Ok(())
    }
}

/// A tiny deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }
}
