//! Password hashing with Argon2id (the crate's recommended parameters). A password never
//! leaves this module except as a PHC hash string, and is never logged.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;

use crate::error::ServerError;

pub fn hash(password: &str) -> Result<String, ServerError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(format!("password hashing failed: {e}")))
}

/// A hash of a random password, for checking logins of names that do not exist.
pub fn decoy_hash() -> Result<&'static str, ServerError> {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DECOY.get() {
        return Ok(h);
    }
    let h = hash(&hex::encode(rand::random::<[u8; 16]>()))?;
    Ok(DECOY.get_or_init(|| h))
}

/// True when `password` matches `phc_hash`. A malformed hash never matches.
pub fn verify(password: &str, phc_hash: &str) -> bool {
    match PasswordHash::new(phc_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_right_password_only() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert!(!verify("", decoy_hash().unwrap()));
    }
}
