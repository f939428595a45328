//! The KV benchmark table, its keys and values, and the key distributions.
//!
//! The table is `id BIGINT NOT NULL` (the primary key) + `v BYTES`. A key is the Fluss
//! compacted key encoding of `id` (an unsigned LEB128 varint: 1 to 4 bytes below 2^28), the
//! same bytes for rill and for RocksDB. A value is `value_bytes` pseudo-random bytes derived
//! from `(id, version)`, so they do not compress and a reader can check what it got.

use std::str::FromStr;
use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch};
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use serde::{Deserialize, Serialize};

use crate::data::SplitMix64;
use crate::Result;

/// Name of the benchmark table (and, with `/b0`, of its one bucket).
pub const TABLE: &str = "bench.kv";

/// `id BIGINT NOT NULL` + `v BYTES`.
pub fn kv_schema() -> Schema {
    Schema::new(vec![Column::not_null("id", DataType::BigInt), Column::new("v", DataType::Bytes)])
}

/// The primary-key table descriptor (default merge engine, `table.changelog.image` as given).
pub fn kv_descriptor(changelog_image: Option<&str>) -> TableDescriptor {
    let mut desc = TableDescriptor::log_table(TABLE, kv_schema());
    desc.primary_key = vec!["id".into()];
    if let Some(image) = changelog_image {
        desc.properties.insert("table.changelog.image".into(), image.into());
    }
    desc
}

/// Appends the encoded primary key of `id` (Fluss's compacted encoding of one BIGINT: the
/// value as an unsigned LEB128 varint, as `rill_engine::row::key::encode_key` writes it).
pub fn encode_id(id: u64, out: &mut Vec<u8>) {
    let mut v = id;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The encoded key of `id` as a new vector.
pub fn key_of(id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(10);
    encode_id(id, &mut k);
    k
}

/// Checks [`encode_id`] against the engine's key encoder for a few ids.
pub fn check_key_encoding() -> Result<()> {
    let schema = kv_schema();
    let ids = [0i64, 1, 127, 128, 300, 16_383, 16_384, 4_999_999, 1 << 40];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.to_vec())),
        Arc::new(BinaryArray::from_iter_values(ids.iter().map(|_| b"x"))),
    ];
    for (row, &id) in ids.iter().enumerate() {
        let mut engine = Vec::new();
        rill_engine::row::key::encode_key(&schema, &[0], &columns, row, &mut engine)
            .map_err(|e| format!("encoding key {id}: {e}"))?;
        if engine != key_of(id as u64) {
            return Err(format!(
                "key encoding of {id} differs: engine {engine:02x?}, bench {:02x?}",
                key_of(id as u64)
            ));
        }
    }
    Ok(())
}

/// Fills `out` with the value of `id` at `version` (deterministic, incompressible).
pub fn fill_value(id: u64, version: u64, out: &mut [u8]) {
    // The stream's start is itself a hash: SplitMix64 streams seeded with nearby numbers
    // overlap (seed s + golden is the stream of s one step on), which a compressor would see.
    let start = SplitMix64(id ^ version.rotate_left(40)).next_u64();
    let mut rng = SplitMix64(start);
    for chunk in out.chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// The value of `id` at `version` as a new vector.
pub fn value_of(id: u64, version: u64, value_bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; value_bytes];
    fill_value(id, version, &mut v);
    v
}

/// Logical bytes of keys `0..keys` with values of `value_bytes`: encoded key + value per row
/// (what a user stores; rill's rows also carry `id` as a column, RocksDB's do not).
pub fn logical_bytes(keys: u64, value_bytes: usize) -> u64 {
    let mut total = 0u64;
    let mut width_start = 0u64;
    for width in 1..=10u32 {
        let width_end = 1u64.checked_shl(7 * width).unwrap_or(u64::MAX).min(keys);
        if width_end > width_start {
            total += (width_end - width_start) * (u64::from(width) + value_bytes as u64);
            width_start = width_end;
        }
    }
    total
}

/// Rows of the table for `ids` at `version`: (encoded keys, Arrow rows).
pub fn rows(ids: &[u64], version: u64, value_bytes: usize) -> Result<(Vec<Vec<u8>>, RecordBatch)> {
    let keys: Vec<Vec<u8>> = ids.iter().map(|&id| key_of(id)).collect();
    let mut values = vec![0u8; value_bytes * ids.len()];
    for (chunk, &id) in values.chunks_mut(value_bytes.max(1)).zip(ids) {
        fill_value(id, version, chunk);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids.iter().map(|&id| id as i64))),
        Arc::new(BinaryArray::from_iter_values(values.chunks(value_bytes.max(1)).take(ids.len()))),
    ];
    let batch = RecordBatch::try_new(kv_schema().to_arrow(), columns).map_err(|e| format!("building rows: {e}"))?;
    Ok((keys, batch))
}

/// How keys are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    Uniform,
    /// YCSB's scrambled zipfian: ranks drawn with skew theta, hashed onto the key space so the
    /// hot keys are spread over the whole key range (and over many blocks).
    Zipfian,
}

impl Distribution {
    /// `uniform` or `zipfian`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Zipfian => "zipfian",
        }
    }
}

impl FromStr for Distribution {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "zipfian" => Ok(Self::Zipfian),
            other => Err(format!("unknown distribution '{other}' (uniform or zipfian)")),
        }
    }
}

/// Draws key ids in `0..n`.
pub struct KeyChooser {
    rng: SplitMix64,
    n: u64,
    zipf: Option<Zipfian>,
}

impl KeyChooser {
    /// A chooser over `0..n` (n >= 2 for zipfian).
    pub fn new(distribution: Distribution, n: u64, theta: f64, seed: u64) -> Self {
        let zipf = (distribution == Distribution::Zipfian).then(|| Zipfian::new(n, theta));
        Self { rng: SplitMix64(seed), n: n.max(1), zipf }
    }

    /// The next key id.
    pub fn next_id(&mut self) -> u64 {
        let r = self.rng.next_u64();
        match &self.zipf {
            None => r % self.n,
            Some(z) => fnv1a64(z.rank(unit(r))) % self.n,
        }
    }
}

/// A uniform f64 in [0, 1) from 53 random bits.
fn unit(r: u64) -> f64 {
    (r >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// FNV-1a over the 8 little-endian bytes of `v` (YCSB scrambles zipfian ranks with FNV).
fn fnv1a64(v: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in v.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// Zipfian ranks in `0..n` (rank 0 the most frequent), Gray et al.'s method as YCSB does it.
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    /// Skew `theta` in (0, 1); YCSB's default is 0.99. Computing zeta(n) is O(n).
    pub fn new(n: u64, theta: f64) -> Self {
        let n = n.max(2);
        let zeta = |count: u64| (1..=count).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Self { n, theta, alpha: 1.0 / (1.0 - theta), zetan, eta }
    }

    /// The rank for a uniform `u` in [0, 1).
    pub fn rank(&self, u: f64) -> u64 {
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_encoding_matches_the_engine() -> Result<()> {
        check_key_encoding()
    }

    #[test]
    fn logical_bytes_counts_each_key_width() {
        // 128 one-byte keys, then two-byte keys.
        assert_eq!(logical_bytes(128, 100), 128 * 101);
        assert_eq!(logical_bytes(130, 100), 128 * 101 + 2 * 102);
        let direct: u64 = (0..20_000u64).map(|id| key_of(id).len() as u64 + 100).sum();
        assert_eq!(logical_bytes(20_000, 100), direct);
    }

    #[test]
    fn values_are_deterministic_and_differ_by_version() {
        assert_eq!(value_of(7, 0, 100), value_of(7, 0, 100));
        assert_ne!(value_of(7, 0, 100), value_of(7, 1, 100));
        assert_ne!(value_of(7, 0, 100), value_of(8, 0, 100));
        assert_eq!(value_of(7, 0, 13).len(), 13);
        // Neighbouring ids share no 8-byte word (their streams do not overlap).
        let (a, b) = (value_of(7, 0, 96), value_of(8, 0, 96));
        assert!(a.chunks(8).all(|w| !b.chunks(8).any(|x| x == w)));
    }

    #[test]
    fn rows_hold_the_keys_and_values() -> Result<()> {
        let (keys, batch) = rows(&[3, 200, 5], 2, 100)?;
        assert_eq!(keys, vec![key_of(3), key_of(200), key_of(5)]);
        let v = batch.column(1).as_any().downcast_ref::<BinaryArray>().ok_or("not binary")?;
        assert_eq!(v.value(1), value_of(200, 2, 100).as_slice());
        Ok(())
    }

    #[test]
    fn zipfian_is_skewed_and_in_range() {
        let n = 100_000;
        let mut chooser = KeyChooser::new(Distribution::Zipfian, n, 0.99, 1);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..200_000 {
            let id = chooser.next_id();
            assert!(id < n);
            *counts.entry(id).or_insert(0u32) += 1;
        }
        let mut top: Vec<u32> = counts.values().copied().collect();
        top.sort_unstable_by(|a, b| b.cmp(a));
        // With theta 0.99 over 100k items the hottest key gets ~8% of the draws.
        assert!(top[0] > 10_000, "hottest key drawn {} times", top[0]);
        let top100: u32 = top.iter().take(100).sum();
        assert!(top100 > 60_000, "top 100 keys drawn {top100} times");
        let mut uniform = KeyChooser::new(Distribution::Uniform, n, 0.99, 1);
        assert!((0..1000).all(|_| uniform.next_id() < n));
    }
}
