//! The value a Lookup or PrefixLookup answers with: the row with its schema id in front.
//!
//! ```text
//! [schema_id: i16 little-endian][CompactedRow]
//! ```
//! Unlike inside a KvRecordBatch (whose header carries the schema id once), every lookup value
//! names its own schema, so rows written under older schemas can be returned as stored. The
//! client rejects a negative schema id, and so does [`split_lookup_value`].

use crate::error::{Error, Result};

/// Bytes of the schema-id prefix.
pub const SCHEMA_ID_LEN: usize = 2;

/// Appends `[schema_id][row]` to `out`.
pub fn encode_lookup_value(schema_id: i16, row: &[u8], out: &mut Vec<u8>) {
    debug_assert!(schema_id >= 0, "schema ids are not negative");
    out.reserve(SCHEMA_ID_LEN + row.len());
    out.extend_from_slice(&schema_id.to_le_bytes());
    out.extend_from_slice(row);
}

/// `[schema_id][row]` as a new vector.
pub fn lookup_value(schema_id: i16, row: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SCHEMA_ID_LEN + row.len());
    encode_lookup_value(schema_id, row, &mut out);
    out
}

/// Splits a lookup value into its schema id and its CompactedRow bytes.
pub fn split_lookup_value(value: &[u8]) -> Result<(i16, &[u8])> {
    let Some((id, row)) = value.split_first_chunk::<SCHEMA_ID_LEN>() else {
        return Err(Error::invalid_batch(format!(
            "lookup value of {} bytes is shorter than its {SCHEMA_ID_LEN}-byte schema id",
            value.len()
        )));
    };
    let schema_id = i16::from_le_bytes(*id);
    if schema_id < 0 {
        return Err(Error::invalid_batch(format!("lookup value has negative schema id {schema_id}")));
    }
    Ok((schema_id, row))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn golden_bytes_and_errors() {
        assert_eq!(lookup_value(0x0102, &[0xAA, 0xBB]), [0x02, 0x01, 0xAA, 0xBB]);
        assert_eq!(split_lookup_value(&[0x05, 0x00, 0x00, 0x07]).ok(), Some((5, &[0x00u8, 0x07][..])));
        assert_eq!(split_lookup_value(&[0x05, 0x00]).ok(), Some((5, &[][..])));
        assert!(split_lookup_value(&[0x05]).is_err());
        assert!(split_lookup_value(&[0xFF, 0xFF, 0x00]).is_err(), "schema id -1");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn round_trips(id in 0i16..=i16::MAX, row in proptest::collection::vec(any::<u8>(), 0..64)) {
            let value = lookup_value(id, &row);
            prop_assert_eq!(split_lookup_value(&value).ok(), Some((id, &row[..])));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
            let _ = split_lookup_value(&bytes);
        }
    }
}
