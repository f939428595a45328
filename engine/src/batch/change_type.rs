//! Change types of changelog records: one byte per record, Fluss's codes.

use crate::error::{Error, Result};

/// What a record does to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ChangeType {
    /// +A: a row of an append-only (log) table.
    AppendOnly = 0,
    /// +I
    Insert = 1,
    /// -U: the row before an update.
    UpdateBefore = 2,
    /// +U: the row after an update.
    UpdateAfter = 3,
    /// -D
    Delete = 4,
}

impl ChangeType {
    /// Parses a stored change-type byte.
    pub fn from_byte(byte: u8) -> Result<Self> {
        Ok(match byte {
            0 => Self::AppendOnly,
            1 => Self::Insert,
            2 => Self::UpdateBefore,
            3 => Self::UpdateAfter,
            4 => Self::Delete,
            other => return Err(Error::invalid_batch(format!("unknown change type byte {other}"))),
        })
    }

    /// Fluss's short form (+A, +I, -U, +U, -D).
    pub fn short_string(self) -> &'static str {
        match self {
            Self::AppendOnly => "+A",
            Self::Insert => "+I",
            Self::UpdateBefore => "-U",
            Self::UpdateAfter => "+U",
            Self::Delete => "-D",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_is_an_error() {
        for code in 0..=4u8 {
            assert_eq!(ChangeType::from_byte(code).map(|c| c as u8).ok(), Some(code));
        }
        assert!(ChangeType::from_byte(5).is_err());
    }
}
