//! Publishing a client release (`hyperclay-server release add`): the file goes into the blob
//! store by its SHA-256, its minisign signature text into the `releases` table beside it.
//!
//! The server cannot check the signature's key (only the client holds the release public key),
//! but it refuses what no client would take: a signature that does not parse as minisign, or
//! whose trusted comment is not exactly `hyperclay-sync VERSION PLATFORM`. Publishing the same
//! version and platform again is a no-op with the same bytes and refused with other bytes.

use std::io::Read;
use std::path::Path;

use hyperclay_protocol::{RELEASE_PLATFORMS, release_trusted_comment, sha256_hex};
use semver::Version;

use crate::clock::Clock;
use crate::error::ServerError;
use crate::store::Store;
use crate::store::releases::{self, Published, Release};

/// The largest release file taken (an installer or AppImage is well below).
pub const MAX_RELEASE_BYTES: u64 = 512 << 20;
/// The largest signature file taken (a `.minisig` is about 300 bytes).
const MAX_SIGNATURE_BYTES: u64 = 16 << 10;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{0:?} is not a release platform; one of: {platforms}", platforms = RELEASE_PLATFORMS.join(", "))]
    UnknownPlatform(String),
    #[error("{0:?} is not a semver version (like 0.1.0)")]
    NotSemver(String),
    #[error("{what} {path} is over {limit} bytes")]
    TooLarge {
        what: &'static str,
        path: String,
        limit: u64,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the signature is not a minisign signature: {0}")]
    NotMinisign(String),
    #[error("the signature's trusted comment is {found:?}; it must be {expected:?}")]
    WrongTrustedComment { found: String, expected: String },
    #[error(
        "{platform} {version} is already published with other bytes (sha256 {existing}); publish a new version"
    )]
    Conflict {
        platform: String,
        version: String,
        existing: String,
    },
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Whether `platform` is one the feed serves.
pub fn is_platform(platform: &str) -> bool {
    RELEASE_PLATFORMS.contains(&platform)
}

/// Reads at most `limit` bytes of `path`; more is refused.
fn read_limited(what: &'static str, path: &Path, limit: u64) -> Result<Vec<u8>, ReleaseError> {
    let failed = |source| ReleaseError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() as u64 > limit {
        return Err(ReleaseError::TooLarge {
            what,
            path: path.display().to_string(),
            limit,
        });
    }
    Ok(bytes)
}

/// Checks that `signature` is minisign text whose trusted comment names `version` and
/// `platform`.
pub fn check_signature(signature: &str, version: &str, platform: &str) -> Result<(), ReleaseError> {
    let parsed = minisign_verify::Signature::decode(signature)
        .map_err(|e| ReleaseError::NotMinisign(e.to_string()))?;
    let expected = release_trusted_comment(version, platform);
    if parsed.trusted_comment() != expected {
        return Err(ReleaseError::WrongTrustedComment {
            found: parsed.trusted_comment().to_owned(),
            expected,
        });
    }
    Ok(())
}

/// `release add`: publishes `file` as `version` for `platform`, signed by `signature_file`.
/// `Ok(false)` when exactly this was published before.
pub fn add(
    store: &mut Store,
    clock: &Clock,
    version: &str,
    platform: &str,
    file: &Path,
    signature_file: &Path,
) -> Result<(Release, bool), ReleaseError> {
    if !is_platform(platform) {
        return Err(ReleaseError::UnknownPlatform(platform.to_owned()));
    }
    let version = Version::parse(version)
        .map_err(|_| ReleaseError::NotSemver(version.to_owned()))?
        .to_string();
    let signature = read_limited("the signature", signature_file, MAX_SIGNATURE_BYTES)?;
    let signature = String::from_utf8(signature)
        .map_err(|_| ReleaseError::NotMinisign("it is not UTF-8 text".into()))?;
    check_signature(&signature, &version, platform)?;
    let bytes = read_limited("the release file", file, MAX_RELEASE_BYTES)?;
    let sha256 = sha256_hex(&bytes);
    let stored = store
        .blobs()
        .put(&sha256, &bytes)
        .map_err(ServerError::Io)?;
    let release = Release {
        platform: platform.to_owned(),
        version,
        sha256,
        size: stored.size(),
        signature,
        published_at: clock.now().as_millis(),
    };
    let tx = store.transaction()?;
    let published = releases::publish(&tx, &release)?;
    tx.commit().map_err(ServerError::Db)?;
    match published {
        Published::Added => Ok((release, true)),
        Published::AlreadyThere => Ok((release, false)),
        Published::Conflict(existing) => Err(ReleaseError::Conflict {
            platform: release.platform,
            version: release.version,
            existing,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Well-formed minisign text (its bytes are not a real signature: the server cannot check
    /// one anyway).
    const SIG: &str = "untrusted comment: signature from minisign secret key
RUQAAQIDBAUGBwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
trusted comment: hyperclay-sync 0.1.0 linux-x86_64-deb
AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==
";

    #[test]
    fn the_signature_must_be_minisign_naming_this_version_and_platform() {
        assert!(check_signature(SIG, "0.1.0", "linux-x86_64-deb").is_ok());
        assert!(matches!(
            check_signature(SIG, "0.1.1", "linux-x86_64-deb"),
            Err(ReleaseError::WrongTrustedComment { .. })
        ));
        assert!(matches!(
            check_signature(SIG, "0.1.0", "macos-aarch64"),
            Err(ReleaseError::WrongTrustedComment { .. })
        ));
        assert!(matches!(
            check_signature("not a signature", "0.1.0", "linux-x86_64-deb"),
            Err(ReleaseError::NotMinisign(_))
        ));
    }

    #[test]
    fn platforms_are_the_feeds() {
        assert!(is_platform("windows-x86_64"));
        assert!(!is_platform("linux"));
        assert!(!is_platform(""));
    }
}
