//! The release keys this build trusts: the project's, built in; and in test builds only
//! (feature `test-release-key`), the throwaway key the test kit signs with.

use minisign_verify::PublicKey;

/// The project's release public key (minisign). Its secret half signs every release, offline,
/// when the release is cut (docs/releasing.md); no server holds it.
const PROJECT_KEY: &str = include_str!("release-key.pub");

#[cfg(feature = "test-release-key")]
const TEST_KEY: &str = include_str!("../../testkit/keys/test-release.pub");

/// Every key a release may be signed with. A key that does not decode is a build mistake; it is
/// left out (and then no release verifies), never trusted in some other form.
pub fn trusted() -> Vec<PublicKey> {
    #[cfg(not(feature = "test-release-key"))]
    let texts = [PROJECT_KEY];
    #[cfg(feature = "test-release-key")]
    let texts = [PROJECT_KEY, TEST_KEY];
    texts
        .into_iter()
        .filter_map(|t| PublicKey::decode(t.trim()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_project_key_decodes() {
        assert!(!super::trusted().is_empty());
    }
}
