//! Release signing for tests: a minisign key pair that stands in for the project's release key,
//! so tests can publish signed releases ([`crate::TestServer::publish_release`]) and a test
//! build of the client can verify them.
//!
//! [`ReleaseKey::generate`] makes a throwaway pair per test; [`ReleaseKey::committed_test_key`]
//! loads the one committed in `testkit/keys/` (unencrypted, a throwaway: only test builds of
//! the client trust its public key, never a release build).

use std::path::PathBuf;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};

/// The committed test key pair's folder.
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keys")
}

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseKeyError {
    #[error("minisign: {0}")]
    Minisign(#[from] minisign::PError),
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// A minisign key pair that signs test releases.
#[derive(Clone)]
pub struct ReleaseKey {
    pk: PublicKey,
    sk: SecretKey,
}

impl ReleaseKey {
    /// A fresh throwaway key pair.
    ///
    /// # Panics
    /// When the system has no randomness: for tests.
    pub fn generate() -> ReleaseKey {
        let KeyPair { pk, sk } =
            KeyPair::generate_unencrypted_keypair().expect("a minisign key pair");
        ReleaseKey { pk, sk }
    }

    /// The committed throwaway pair (`testkit/keys/test-release.key` and `.pub`).
    ///
    /// # Panics
    /// When the files are missing or not minisign keys: for tests.
    pub fn committed_test_key() -> ReleaseKey {
        ReleaseKey::try_committed_test_key().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_committed_test_key() -> Result<ReleaseKey, ReleaseKeyError> {
        let read = |name: &str| {
            let path = keys_dir().join(name);
            std::fs::read_to_string(&path).map_err(|source| ReleaseKeyError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        let sk =
            SecretKeyBox::from_string(&read("test-release.key")?)?.into_unencrypted_secret_key()?;
        let pk = PublicKeyBox::from_string(&read("test-release.pub")?)?.into_public_key()?;
        Ok(ReleaseKey { pk, sk })
    }

    /// The public key as minisign writes it on one line (`RW…`), as `minisign -P` takes it.
    pub fn public_key_base64(&self) -> String {
        self.pk.to_base64()
    }

    /// The public key file's text (`untrusted comment: …` then the key).
    pub fn public_key_text(&self) -> String {
        self.pk.to_box().expect("a public key box").into_string()
    }

    /// The secret key file's text, unencrypted (only for writing the committed test key).
    pub fn secret_key_text(&self) -> String {
        self.sk
            .to_box(Some(
                "THROWAWAY hyperclay-sync TEST release key; never trusted by a release build",
            ))
            .expect("a secret key box")
            .into_string()
    }

    /// The `.minisig` text of `bytes` with `trusted_comment` (for a release:
    /// `hyperclay_protocol::release_trusted_comment(version, platform)`).
    ///
    /// # Panics
    /// When minisign cannot sign: for tests.
    pub fn sign(&self, bytes: &[u8], trusted_comment: &str) -> String {
        minisign::sign(
            Some(&self.pk),
            &self.sk,
            std::io::Cursor::new(bytes),
            Some(trusted_comment),
            Some("signature from the hyperclay-sync test release key"),
        )
        .expect("a minisign signature")
        .into_string()
    }

    /// Whether `signature` (`.minisig` text) is this key's signature of `bytes`.
    pub fn verifies(&self, bytes: &[u8], signature: &str) -> bool {
        minisign::SignatureBox::from_string(signature).is_ok_and(|sig| {
            minisign::verify(
                &self.pk,
                &sig,
                std::io::Cursor::new(bytes),
                true,
                false,
                false,
            )
            .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_signs_with_the_trusted_comment_and_verifies_only_its_own() {
        let key = ReleaseKey::generate();
        let sig = key.sign(b"release bytes", "hyperclay-sync 0.1.0 linux-x86_64-deb");
        assert!(
            sig.contains("trusted comment: hyperclay-sync 0.1.0 linux-x86_64-deb\n"),
            "{sig}"
        );
        assert!(key.verifies(b"release bytes", &sig));
        assert!(!key.verifies(b"other bytes", &sig));
        assert!(!ReleaseKey::generate().verifies(b"release bytes", &sig));
        assert_eq!(key.public_key_base64().len(), 56);
    }

    #[test]
    fn the_committed_test_key_is_a_pair() {
        let key = ReleaseKey::committed_test_key();
        let sig = key.sign(b"x", "hyperclay-sync 0.1.0 windows-x86_64");
        assert!(key.verifies(b"x", &sig));
        let public = std::fs::read_to_string(keys_dir().join("test-release.pub")).unwrap();
        assert!(public.contains(&key.public_key_base64()));
    }

    /// Writes a new committed test key pair: `cargo test -p hyperclay-testkit
    /// write_the_committed_test_key -- --ignored` (then commit testkit/keys/, and give the
    /// client's test build the new public key).
    #[test]
    #[ignore]
    fn write_the_committed_test_key() {
        let key = ReleaseKey::generate();
        std::fs::write(keys_dir().join("test-release.key"), key.secret_key_text()).unwrap();
        std::fs::write(keys_dir().join("test-release.pub"), key.public_key_text()).unwrap();
    }
}
