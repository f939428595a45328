//! CRC32C (Castagnoli), the checksum Fluss batches and rill's own files use.

use crc_fast::CrcAlgorithm;

/// CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    // Crc32Iscsi is CRC-32C; the value fits in 32 bits.
    crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, bytes) as u32
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_castagnoli_check_value() {
        // The standard check value of CRC-32C over "123456789".
        assert_eq!(super::crc32c(b"123456789"), 0xE306_9283);
    }
}
