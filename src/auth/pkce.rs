//! The secrets of one browser login: the PKCE S256 pair (RFC 7636) and the `state` value.
//! Pure functions plus the OS random source; nothing here may be logged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes give the 43-character verifier RFC 7636 §4.1 recommends.
const VERIFIER_BYTES: usize = 32;
const STATE_BYTES: usize = 24;

/// A fresh random value, base64url without padding (the unreserved alphabet RFC 7636 requires).
fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn new_code_verifier() -> String {
    random_token(VERIFIER_BYTES)
}

pub(crate) fn new_state() -> String {
    random_token(STATE_BYTES)
}

/// `BASE64URL(SHA256(ASCII(code_verifier)))`, RFC 7636 §4.2.
pub(crate) fn s256_challenge(code_verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()))
}

/// Compares two secrets without stopping at the first differing byte, so response timing says
/// nothing about how much of a guessed `state` was right.
pub(crate) fn secrets_match(expected: &str, got: &str) -> bool {
    let (a, b) = (expected.as_bytes(), got.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_has_the_recommended_length_and_alphabet() {
        let v = new_code_verifier();
        assert_eq!(v.len(), 43);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(v, new_code_verifier());
    }

    #[test]
    fn states_are_random_and_url_safe() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn state_check_accepts_only_the_exact_value() {
        let s = new_state();
        assert!(secrets_match(&s, &s.clone()));
        assert!(!secrets_match(&s, ""));
        assert!(!secrets_match(&s, &s[..s.len() - 1]));
        assert!(!secrets_match(&s, &format!("{s}x")));
        let mut flipped = s.clone().into_bytes();
        flipped[0] ^= 1;
        assert!(!secrets_match(&s, &String::from_utf8(flipped).unwrap()));
    }
}
