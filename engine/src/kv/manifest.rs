//! The manifest: which SSTs are live, at which level, and which log offset the LSM covers.
//!
//! An append-only file `manifest-<20 digits>` of edit records, each
//! `u32 payload_len | u32 CRC32C(payload) | payload`, back to back, zero padded to 4 KiB (the
//! file is written with aligned writes like a log segment). Payload (little-endian):
//! `u8 version(=1) | i64 covers_log_offset | u64 next_sst_id | u32 removed | u64 id x removed |
//! u32 added | added x (u64 id | u8 level | i64 covers_log_offset | u64 file_bytes | u64 rows |
//! u32 first_key_len | first_key | u32 last_key_len | last_key)`.
//!
//! Opening replays the records; a torn record at the end (an edit whose sync never completed)
//! is ignored, a bad record followed by a valid one is corruption. When the file grows past
//! `MANIFEST_BYTES_MAX` the whole state is written as one record to the next numbered file,
//! which is synced before the old one is removed: a crash in between leaves both, and the
//! newest valid one wins.

use std::collections::BTreeMap;

use crate::batch::crc::crc32c;
use crate::error::{Error, Result};
use crate::log::{Storage, StorageFile, WRITE_ALIGNMENT};

/// Rewrite the manifest into a new file beyond this size.
pub const MANIFEST_BYTES_MAX: u64 = 4 << 20;
/// Most levels of the tree.
pub const LEVELS_MAX: usize = 8;
const VERSION: u8 = 1;

/// A live SST as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstEntry {
    pub id: u64,
    pub level: u8,
    pub covers_log_offset: i64,
    pub file_bytes: u64,
    pub rows: u64,
    pub first_key: Vec<u8>,
    pub last_key: Vec<u8>,
}

/// One atomic change of the LSM's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edit {
    pub covers_log_offset: i64,
    pub next_sst_id: u64,
    pub removed: Vec<u64>,
    pub added: Vec<SstEntry>,
}

/// The state the edits add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestState {
    pub covers_log_offset: i64,
    pub next_sst_id: u64,
    pub ssts: BTreeMap<u64, SstEntry>,
}

impl ManifestState {
    fn apply(&mut self, edit: &Edit) {
        self.covers_log_offset = self.covers_log_offset.max(edit.covers_log_offset);
        self.next_sst_id = self.next_sst_id.max(edit.next_sst_id);
        for id in &edit.removed {
            self.ssts.remove(id);
        }
        for entry in &edit.added {
            self.ssts.insert(entry.id, entry.clone());
        }
    }

    /// The whole state as one edit (for rewriting the manifest).
    fn as_edit(&self) -> Edit {
        Edit {
            covers_log_offset: self.covers_log_offset,
            next_sst_id: self.next_sst_id,
            removed: Vec::new(),
            added: self.ssts.values().cloned().collect(),
        }
    }
}

/// The open manifest: its state and the file edits are appended to.
pub struct Manifest<S: Storage> {
    storage: S,
    number: u64,
    file: S::File,
    size: u64,
    tail: Vec<u8>,
    tail_start: u64,
    pub state: ManifestState,
}

/// File name of manifest number `n`.
pub fn manifest_name(n: u64) -> String {
    format!("manifest-{n:020}")
}

fn parse_manifest_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("manifest-")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

impl<S: Storage> Manifest<S> {
    /// Opens the newest valid manifest in `storage`, or creates manifest 0.
    pub async fn open(storage: S, bucket: &str) -> Result<Self> {
        let mut numbers: Vec<u64> = storage.list().await?.iter().filter_map(|n| parse_manifest_name(n)).collect();
        numbers.sort_unstable();
        while let Some(&number) = numbers.last() {
            let file = storage.open(&manifest_name(number), false).await?;
            let bytes = file.read_at(0, file.size().await? as usize).await?;
            match replay(&bytes, bucket, &manifest_name(number))? {
                Some((state, size)) => {
                    for older in &numbers[..numbers.len() - 1] {
                        storage.remove(&manifest_name(*older)).await?;
                    }
                    let tail_start = size / WRITE_ALIGNMENT as u64 * WRITE_ALIGNMENT as u64;
                    let tail = bytes[tail_start as usize..size as usize].to_vec();
                    return Ok(Self { storage, number, file, size, tail, tail_start, state });
                }
                None => {
                    // An empty or torn-at-birth rewrite: fall back to the previous file.
                    file.close().await?;
                    storage.remove(&manifest_name(number)).await?;
                    numbers.pop();
                }
            }
        }
        let file = storage.open(&manifest_name(0), true).await?;
        storage.sync_dir().await?;
        let mut manifest = Self {
            storage,
            number: 0,
            file,
            size: 0,
            tail: Vec::new(),
            tail_start: 0,
            state: ManifestState::default(),
        };
        manifest.append(&Edit::default()).await?;
        Ok(manifest)
    }

    /// Appends `edit`, durably, then applies it to the state.
    pub async fn append(&mut self, edit: &Edit) -> Result<()> {
        let record = encode_record(edit);
        if self.size + record.len() as u64 > MANIFEST_BYTES_MAX && self.size > 0 {
            let mut next = self.state.clone();
            next.apply(edit);
            return self.rewrite(next).await;
        }
        let mut page = self.tail.clone();
        page.extend_from_slice(&record);
        page.resize(page.len().next_multiple_of(WRITE_ALIGNMENT), 0);
        // A failed write or sync leaves the record out of `tail`, so the next append writes
        // over whatever of it reached the disk instead of making it durable after all.
        self.file.write_at(self.tail_start, &page).await?;
        self.file.sync().await?;
        self.tail.extend_from_slice(&record);
        self.size += record.len() as u64;
        let keep_from = self.size / WRITE_ALIGNMENT as u64 * WRITE_ALIGNMENT as u64;
        self.tail.drain(..(keep_from - self.tail_start) as usize);
        self.tail_start = keep_from;
        self.state.apply(edit);
        Ok(())
    }

    /// Writes `state` as the only record of the next manifest file and drops the current one.
    async fn rewrite(&mut self, state: ManifestState) -> Result<()> {
        let number = self.number + 1;
        let record = encode_record(&state.as_edit());
        let file = self.storage.open(&manifest_name(number), true).await?;
        let mut page = record.clone();
        page.resize(page.len().next_multiple_of(WRITE_ALIGNMENT), 0);
        file.write_at(0, &page).await?;
        file.sync().await?;
        self.storage.sync_dir().await?;
        let old = std::mem::replace(&mut self.file, file);
        old.close().await?;
        self.storage.remove(&manifest_name(self.number)).await?;
        self.storage.sync_dir().await?;
        self.number = number;
        self.size = record.len() as u64;
        let keep_from = self.size / WRITE_ALIGNMENT as u64 * WRITE_ALIGNMENT as u64;
        self.tail = record[keep_from as usize..].to_vec();
        self.tail_start = keep_from;
        self.state = state;
        Ok(())
    }

    /// Closes the file.
    pub async fn close(self) -> Result<()> {
        self.file.close().await
    }
}

/// Replays a manifest file. `None` when it holds no valid record at all.
fn replay(bytes: &[u8], bucket: &str, name: &str) -> Result<Option<(ManifestState, u64)>> {
    let mut state = ManifestState::default();
    let mut at = 0usize;
    let mut records = 0;
    while let Some(result) = next_record(bytes, at) {
        match result {
            Ok((edit, len)) => {
                state.apply(&edit);
                at += len;
                records += 1;
            }
            Err(reason) => {
                if valid_record_after(bytes, at + 1) {
                    return Err(Error::Corruption {
                        bucket: bucket.to_string(),
                        segment: name.to_string(),
                        offset: -1,
                        position: at as u64,
                        reason: format!("manifest record {records}: {reason}; a valid record follows"),
                    });
                }
                break;
            }
        }
    }
    Ok((records > 0).then_some((state, at as u64)))
}

/// The record at `at`: `None` at the zero-padded end, `Some(Err)` when it is bad.
fn next_record(bytes: &[u8], at: usize) -> Option<std::result::Result<(Edit, usize), String>> {
    let rest = bytes.get(at..)?;
    if rest.iter().all(|&b| b == 0) {
        return None;
    }
    let word = |i: usize| rest.get(i..i + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    let (Some(len), Some(crc)) = (word(0), word(4)) else { return Some(Err("truncated header".into())) };
    let Some(payload) = rest.get(8..8 + len as usize) else { return Some(Err("truncated payload".into())) };
    if len == 0 || crc32c(payload) != crc {
        return Some(Err("CRC mismatch".into()));
    }
    Some(decode_edit(payload).map(|edit| (edit, 8 + len as usize)))
}

fn valid_record_after(bytes: &[u8], from: usize) -> bool {
    (from..bytes.len()).any(|at| matches!(next_record(bytes, at), Some(Ok(_))))
}

fn encode_record(edit: &Edit) -> Vec<u8> {
    let mut p = vec![VERSION];
    p.extend_from_slice(&edit.covers_log_offset.to_le_bytes());
    p.extend_from_slice(&edit.next_sst_id.to_le_bytes());
    p.extend_from_slice(&(edit.removed.len() as u32).to_le_bytes());
    for id in &edit.removed {
        p.extend_from_slice(&id.to_le_bytes());
    }
    p.extend_from_slice(&(edit.added.len() as u32).to_le_bytes());
    for e in &edit.added {
        p.extend_from_slice(&e.id.to_le_bytes());
        p.push(e.level);
        p.extend_from_slice(&e.covers_log_offset.to_le_bytes());
        p.extend_from_slice(&e.file_bytes.to_le_bytes());
        p.extend_from_slice(&e.rows.to_le_bytes());
        for key in [&e.first_key, &e.last_key] {
            p.extend_from_slice(&(key.len() as u32).to_le_bytes());
            p.extend_from_slice(key);
        }
    }
    let mut record = (p.len() as u32).to_le_bytes().to_vec();
    record.extend_from_slice(&crc32c(&p).to_le_bytes());
    record.extend_from_slice(&p);
    record
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        let out = self.bytes.get(self.at..self.at + n).ok_or("edit truncated")?;
        self.at += n;
        Ok(out)
    }
    fn u64(&mut self) -> std::result::Result<u64, String> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn u32(&mut self) -> std::result::Result<u32, String> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn u8(&mut self) -> std::result::Result<u8, String> {
        self.take(1).map(|b| b[0])
    }
}

fn decode_edit(payload: &[u8]) -> std::result::Result<Edit, String> {
    let mut r = Reader { bytes: payload, at: 0 };
    if r.u8()? != VERSION {
        return Err("unknown edit version".into());
    }
    let covers_log_offset = r.u64()? as i64;
    let next_sst_id = r.u64()?;
    let removed_count = r.u32()? as usize;
    let removed = (0..removed_count.min(payload.len())).map(|_| r.u64()).collect::<std::result::Result<_, _>>()?;
    let added_count = r.u32()? as usize;
    let mut added = Vec::with_capacity(added_count.min(1024));
    for _ in 0..added_count {
        let id = r.u64()?;
        let level = r.u8()?;
        if usize::from(level) >= LEVELS_MAX {
            return Err(format!("level {level} out of range"));
        }
        let covers = r.u64()? as i64;
        let file_bytes = r.u64()?;
        let rows = r.u64()?;
        let first_len = r.u32()? as usize;
        let first_key = r.take(first_len)?.to_vec();
        let last_len = r.u32()? as usize;
        let last_key = r.take(last_len)?.to_vec();
        added.push(SstEntry { id, level, covers_log_offset: covers, file_bytes, rows, first_key, last_key });
    }
    if r.at != payload.len() {
        return Err("trailing bytes in edit".into());
    }
    Ok(Edit { covers_log_offset, next_sst_id, removed, added })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{SimFaults, SimStorage};
    use futures_lite::future::block_on;

    fn entry(id: u64, level: u8) -> SstEntry {
        SstEntry {
            id,
            level,
            covers_log_offset: id as i64 * 10,
            file_bytes: 4096,
            rows: 7,
            first_key: vec![1, 2],
            last_key: vec![9],
        }
    }

    #[test]
    fn edits_survive_reopen_and_rewrite() {
        let sim = SimStorage::new(1, SimFaults::default());
        let mut m = block_on(Manifest::open(sim.clone(), "b")).expect("open");
        for id in 0..200u64 {
            let edit = Edit {
                covers_log_offset: id as i64 * 10,
                next_sst_id: id + 1,
                removed: if id > 0 { vec![id - 1] } else { vec![] },
                added: vec![entry(id, (id % 3) as u8)],
            };
            block_on(m.append(&edit)).expect("append");
        }
        let expected = m.state.clone();
        assert_eq!(expected.ssts.len(), 1);
        drop(m);
        sim.crash();
        let m = block_on(Manifest::open(sim.clone(), "b")).expect("reopen");
        assert_eq!(m.state, expected);
    }

    #[test]
    fn a_bad_record_before_a_good_one_is_corruption() {
        let sim = SimStorage::new(2, SimFaults::default());
        let mut m = block_on(Manifest::open(sim.clone(), "b")).expect("open");
        for id in 0..3u64 {
            block_on(m.append(&Edit { next_sst_id: id + 1, added: vec![entry(id, 0)], ..Edit::default() }))
                .expect("append");
        }
        drop(m);
        assert!(sim.flip_bit(&manifest_name(0), 30, 1));
        assert!(matches!(block_on(Manifest::open(sim, "b")), Err(Error::Corruption { .. })));
    }

    #[test]
    fn rewrite_threshold_rolls_to_the_next_file() {
        let sim = SimStorage::new(3, SimFaults::default());
        let mut m = block_on(Manifest::open(sim.clone(), "b")).expect("open");
        let big = SstEntry { first_key: vec![7; 60_000], ..entry(1, 0) };
        for id in 0..100u64 {
            let e = SstEntry { id, ..big.clone() };
            block_on(m.append(&Edit { next_sst_id: id + 1, added: vec![e], ..Edit::default() })).expect("append");
        }
        assert!(m.number > 0);
        let state = m.state.clone();
        drop(m);
        let m = block_on(Manifest::open(sim.clone(), "b")).expect("reopen");
        assert_eq!(m.state, state);
        assert_eq!(sim.file_len(&manifest_name(0)), None);
    }
}
