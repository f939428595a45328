//! A bounds-checked reader over a byte slice, for the KV formats' decoders.
//!
//! Every read names what it was reading, so a short or malformed input becomes an
//! [`Error::InvalidBatch`] that says what was cut off and at which byte, never a panic.
//! Fixed-width numbers are little-endian; lengths are varints (see [`super::varint`]).

use super::varint;
use crate::error::{Error, Result};

/// Reads forward through `bytes`; `pos` only moves on a successful read.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let slice = self.pos.checked_add(len).and_then(|end| self.bytes.get(self.pos..end)).ok_or_else(|| {
            Error::invalid_batch(format!(
                "{what}: needs {len} bytes at byte {} but only {} remain",
                self.pos,
                self.remaining()
            ))
        })?;
        self.pos += len;
        Ok(slice)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    /// A varint u32.
    pub(crate) fn var_u32(&mut self, what: &str) -> Result<u32> {
        varint::get_u32(self.bytes, &mut self.pos).map_err(|e| context(what, e))
    }

    /// A varint u64.
    pub(crate) fn var_u64(&mut self, what: &str) -> Result<u64> {
        varint::get_u64(self.bytes, &mut self.pos).map_err(|e| context(what, e))
    }

    /// A varint length (an i32 on the wire, so above `i32::MAX` is an error) and that many bytes.
    pub(crate) fn var_bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let start = self.pos;
        let len = self.var_u32(what)?;
        if i32::try_from(len).is_err() {
            self.pos = start;
            return Err(Error::invalid_batch(format!("{what}: length {} at byte {start} is negative", len as i32)));
        }
        self.take(len as usize, what).inspect_err(|_| self.pos = start)
    }
}

fn context(what: &str, e: Error) -> Error {
    match e {
        Error::InvalidBatch { reason } => Error::invalid_batch(format!("{what}: {reason}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_short_input() {
        let mut c = Cursor::new(&[1, 2, 3, 0x02, 9, 9]);
        assert_eq!(c.u8("a").ok(), Some(1));
        assert_eq!(c.array::<2>("b").ok(), Some([2, 3]));
        assert_eq!(c.var_bytes("c").ok(), Some(&[9u8, 9][..]));
        assert_eq!(c.remaining(), 0);
        let err = c.u8("tail").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("tail") && err.contains("byte 6"), "{err}");
    }

    #[test]
    fn negative_and_overlong_lengths_are_errors() {
        // 0xFFFFFFFF as i32 is -1.
        let mut c = Cursor::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        assert!(c.var_bytes("s").is_err());
        assert_eq!(c.pos(), 0);
        let mut c = Cursor::new(&[0x05, 1, 2]);
        assert!(c.var_bytes("s").is_err());
        assert_eq!(c.pos(), 0);
    }
}
