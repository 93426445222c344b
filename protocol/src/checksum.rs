//! Content checksums: the full lowercase hex SHA-256 of the raw bytes.
//!
//! On the wire (JSON, the `X-Checksum` header) a checksum is always the 64-digit hex string;
//! [`Checksum`] is the same value held as its 32 bytes, for whoever keeps many of them in memory.

use std::fmt;
use std::str::FromStr;

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

/// A protocol checksum as its 32 raw bytes: [`Checksum::parse`] accepts exactly what
/// [`is_checksum`] does, and [`Checksum::to_hex`] (or `Display`) gives back that same string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum([u8; 32]);

/// A string that is not a protocol checksum (64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a checksum (64 lowercase hex digits)")]
pub struct ChecksumError;

impl Checksum {
    /// The checksum of `bytes`.
    pub fn of(bytes: &[u8]) -> Checksum {
        Checksum(Sha256::digest(bytes).into())
    }

    /// The checksum written as 64 lowercase hex digits; anything else (upper case, another
    /// length, a prefix) is refused.
    pub fn parse(s: &str) -> Result<Checksum, ChecksumError> {
        if !is_checksum(s) {
            return Err(ChecksumError);
        }
        let mut out = [0_u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ChecksumError)?;
        Ok(Checksum(out))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Checksum {
        Checksum(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The wire form: 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0_u8; 64];
        hex::encode_to_slice(self.0, &mut buf).map_err(|_| fmt::Error)?;
        let s = std::str::from_utf8(&buf).map_err(|_| fmt::Error)?;
        f.pad(s)
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Checksum {
    type Err = ChecksumError;

    fn from_str(s: &str) -> Result<Checksum, ChecksumError> {
        Checksum::parse(s)
    }
}

impl TryFrom<&str> for Checksum {
    type Error = ChecksumError;

    fn try_from(s: &str) -> Result<Checksum, ChecksumError> {
        Checksum::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn empty_input_has_the_well_known_digest() {
        assert_eq!(sha256_hex(b""), EMPTY);
        assert!(is_checksum(&sha256_hex(b"x")));
        assert!(!is_checksum("E3B0"));
    }

    #[test]
    fn a_checksum_is_its_hex_in_32_bytes() {
        let c = Checksum::of(b"");
        assert_eq!(c.to_hex(), EMPTY);
        assert_eq!(c.to_string(), EMPTY);
        assert_eq!(format!("{c:?}"), EMPTY);
        assert_eq!(format!("{c:.8}"), &EMPTY[..8]);
        assert_eq!(Checksum::parse(EMPTY), Ok(c));
        assert_eq!(EMPTY.parse::<Checksum>(), Ok(c));
        assert_eq!(Checksum::from_bytes(*c.as_bytes()), c);
        assert_eq!(std::mem::size_of::<Checksum>(), 32);
    }

    #[test]
    fn only_the_protocol_shape_parses() {
        for bad in [
            "",
            "e3b0",
            &EMPTY.to_ascii_uppercase(),
            &EMPTY[..63],
            &format!("{EMPTY}0"),
            &format!(" {}", &EMPTY[1..]),
            &format!("{}g", &EMPTY[..63]),
            &format!("0x{}", &EMPTY[2..]),
            &format!("{}é", &EMPTY[..62]),
        ] {
            assert_eq!(Checksum::parse(bad), Err(ChecksumError), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_agrees_with_is_checksum_and_round_trips(s in "[0-9a-f]{64}|[0-9a-fA-F]{62,66}|\\PC*") {
            let parsed = Checksum::parse(&s);
            prop_assert_eq!(parsed.is_ok(), is_checksum(&s));
            if let Ok(c) = parsed {
                prop_assert_eq!(c.to_hex(), s);
            }
        }

        #[test]
        fn of_matches_sha256_hex(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            prop_assert_eq!(Checksum::of(&bytes).to_hex(), sha256_hex(&bytes));
        }
    }
}
