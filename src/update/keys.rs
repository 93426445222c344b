//! The release keys this build trusts: the project's, built in; and in test builds only (debug
//! builds, or the feature `test-release-key` for a release-mode test build such as the Wine
//! stage's), the throwaway key the test kit signs with. What ships is a release build without the
//! feature: it trusts the project's key alone.

use minisign_verify::PublicKey;

/// The project's release public key (minisign). Its secret half signs every release, offline,
/// when the release is cut (docs/releasing.md); no server holds it.
const PROJECT_KEY: &str = include_str!("release-key.pub");

#[cfg(any(debug_assertions, feature = "test-release-key"))]
const TEST_KEY: &str = include_str!("../../testkit/keys/test-release.pub");

/// Every key a release may be signed with. A key that does not decode is a build mistake; it is
/// left out (and then no release verifies), never trusted in some other form.
pub fn trusted() -> Vec<PublicKey> {
    #[cfg(not(any(debug_assertions, feature = "test-release-key")))]
    let texts = [PROJECT_KEY];
    #[cfg(any(debug_assertions, feature = "test-release-key"))]
    let texts = [PROJECT_KEY, TEST_KEY];
    texts
        .into_iter()
        .filter_map(|t| PublicKey::decode(t.trim()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_project_key_and_in_a_test_build_the_test_key_decode() {
        let expected = if cfg!(any(debug_assertions, feature = "test-release-key")) {
            2
        } else {
            1
        };
        assert_eq!(super::trusted().len(), expected);
    }
}
