//! Content checksums: the full lowercase hex SHA-256 of the raw bytes.

use sha2::{Digest, Sha256};

/// The protocol checksum of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True when `s` has the shape of a protocol checksum (64 lowercase hex digits).
pub fn is_checksum(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_has_the_well_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_checksum(&sha256_hex(b"x")));
        assert!(!is_checksum("E3B0"));
    }
}
