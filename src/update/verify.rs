//! Whether a release may be installed: what the feed says is checked before a byte is fetched
//! (a newer version, this platform, a signature by a trusted key over that very version and
//! platform), and the bytes are checked as they arrive (their size, SHA-256 and signature).

use hyperclay_protocol::{ReleaseResponse, release_trusted_comment};
use minisign_verify::{PublicKey, Signature, StreamVerifier};
use semver::Version;
use sha2::{Digest, Sha256};

use crate::remote::server_text::ServerText;
use crate::update::policy::is_newer;

/// The largest release file taken (an installer is a few MB).
pub const MAX_RELEASE_BYTES: u64 = 512 * 1024 * 1024;

/// Why a release is refused. None of these installs anything.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the newest release ({0}) is not newer than this version")]
    NotNewer(String),
    #[error("the feed answered for another platform")]
    OtherPlatform,
    #[error("the release's size ({0} bytes) is over the {MAX_RELEASE_BYTES}-byte limit")]
    TooBig(u64),
    #[error("the release's SHA-256 is not a SHA-256")]
    BadChecksum,
    #[error("the release's signature is not a minisign signature: refused")]
    Unreadable(#[source] minisign_verify::Error),
    #[error("the release is not signed by the Hyperclay release key: refused")]
    UntrustedKey,
    #[error("the release's signature is for another version or platform: refused")]
    OtherRelease,
    #[error("the downloaded file is {got} bytes, not the {expected} the release names: refused")]
    WrongSize { expected: u64, got: u64 },
    #[error("the downloaded file does not match the release's SHA-256: refused")]
    Tampered,
    #[error(
        "the downloaded file's signature does not verify with the Hyperclay release key: refused"
    )]
    BadSignature(#[source] minisign_verify::Error),
}

/// A release whose announcement checked out, and the key that must verify its bytes.
pub struct Announced {
    pub version: Version,
    pub size: u64,
    pub sha256: [u8; 32],
    pub url: String,
    signature: Signature,
    key: PublicKey,
}

/// Checks a feed reply for `platform` against this build's version and trusted keys.
pub fn announced(
    release: &ReleaseResponse,
    platform: &str,
    own: &Version,
    keys: &[PublicKey],
) -> Result<Announced, Refusal> {
    if release.platform != platform {
        return Err(Refusal::OtherPlatform);
    }
    let version = is_newer(own, &release.version)
        .ok_or_else(|| Refusal::NotNewer(ServerText::from_wire(&release.version).to_string()))?;
    if release.size > MAX_RELEASE_BYTES {
        return Err(Refusal::TooBig(release.size));
    }
    let mut sha256 = [0_u8; 32];
    hex::decode_to_slice(release.sha256.trim(), &mut sha256).map_err(|_| Refusal::BadChecksum)?;
    let signature = Signature::decode(&release.signature).map_err(Refusal::Unreadable)?;
    // The key is picked by trying: minisign-verify does not expose a signature's key id.
    let key = keys
        .iter()
        .find(|k| k.verify_stream(&signature).is_ok())
        .cloned()
        .ok_or(Refusal::UntrustedKey)?;
    // The trusted comment is signed with the file: it binds the bytes to this version and
    // platform, so an old signed release cannot be served as a newer one.
    if signature.trusted_comment() != release_trusted_comment(&release.version, platform) {
        return Err(Refusal::OtherRelease);
    }
    Ok(Announced {
        version,
        size: release.size,
        sha256,
        url: release.url.clone(),
        signature,
        key,
    })
}

/// The checks the bytes go through as they arrive.
pub struct Arriving<'a> {
    announced: &'a Announced,
    sha: Sha256,
    signature: StreamVerifier<'a>,
    got: u64,
}

impl<'a> Arriving<'a> {
    pub fn new(announced: &'a Announced) -> Result<Arriving<'a>, Refusal> {
        let signature = announced
            .key
            .verify_stream(&announced.signature)
            .map_err(Refusal::BadSignature)?;
        Ok(Arriving {
            announced,
            sha: Sha256::new(),
            signature,
            got: 0,
        })
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.signature.update(bytes);
        self.got += bytes.len() as u64;
    }

    /// All bytes are in: size, SHA-256, then the signature.
    pub fn finish(mut self) -> Result<(), Refusal> {
        if self.got != self.announced.size {
            return Err(Refusal::WrongSize {
                expected: self.announced.size,
                got: self.got,
            });
        }
        if <[u8; 32]>::from(self.sha.finalize()) != self.announced.sha256 {
            return Err(Refusal::Tampered);
        }
        self.signature.finalize().map_err(Refusal::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Key {
        pair: minisign::KeyPair,
    }

    impl Key {
        fn new() -> Key {
            Key {
                pair: minisign::KeyPair::generate_unencrypted_keypair().unwrap(),
            }
        }

        fn public(&self) -> PublicKey {
            PublicKey::decode(&self.pair.pk.to_box().unwrap().to_string()).unwrap()
        }

        fn sign(&self, bytes: &[u8], comment: &str) -> String {
            minisign::sign(None, &self.pair.sk, bytes, Some(comment), None)
                .unwrap()
                .to_string()
        }
    }

    const PLATFORM: &str = "linux-x86_64-appimage";

    fn release(key: &Key, bytes: &[u8], version: &str, comment: &str) -> ReleaseResponse {
        ReleaseResponse {
            version: version.into(),
            platform: PLATFORM.into(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            url: "/f".into(),
            signature: key.sign(bytes, comment),
        }
    }

    fn own() -> Version {
        Version::parse("0.1.0").unwrap()
    }

    fn arrive(a: &Announced, bytes: &[u8]) -> Result<(), Refusal> {
        let mut arriving = Arriving::new(a)?;
        for chunk in bytes.chunks(7) {
            arriving.update(chunk);
        }
        arriving.finish()
    }

    #[test]
    fn a_release_signed_by_a_trusted_key_for_this_version_and_platform_passes() {
        let key = Key::new();
        let bytes = b"new build".repeat(100);
        let r = release(
            &key,
            &bytes,
            "0.1.1",
            "hyperclay-sync 0.1.1 linux-x86_64-appimage",
        );
        let a = announced(&r, PLATFORM, &own(), &[key.public()]).unwrap();
        assert_eq!(a.version, Version::parse("0.1.1").unwrap());
        arrive(&a, &bytes).unwrap();
    }

    #[test]
    fn another_key_another_comment_or_an_older_version_is_refused_before_any_download() {
        let (key, stranger) = (Key::new(), Key::new());
        let bytes = b"new build";
        let good = "hyperclay-sync 0.1.1 linux-x86_64-appimage";
        let r = release(&stranger, bytes, "0.1.1", good);
        assert!(matches!(
            announced(&r, PLATFORM, &own(), &[key.public()]),
            Err(Refusal::UntrustedKey)
        ));
        // A real signature of 0.1.1 served as 0.2.0.
        let r = ReleaseResponse {
            version: "0.2.0".into(),
            ..release(&key, bytes, "0.1.1", good)
        };
        assert!(matches!(
            announced(&r, PLATFORM, &own(), &[key.public()]),
            Err(Refusal::OtherRelease)
        ));
        let r = release(
            &key,
            bytes,
            "0.0.9",
            "hyperclay-sync 0.0.9 linux-x86_64-appimage",
        );
        assert!(matches!(
            announced(&r, PLATFORM, &own(), &[key.public()]),
            Err(Refusal::NotNewer(_))
        ));
        let r = release(&key, bytes, "0.1.1", "hyperclay-sync 0.1.1 windows-x86_64");
        assert!(matches!(
            announced(&r, PLATFORM, &own(), &[key.public()]),
            Err(Refusal::OtherRelease)
        ));
        let r = ReleaseResponse {
            signature: "untrusted comment: x\nnot base64".into(),
            ..release(&key, bytes, "0.1.1", good)
        };
        assert!(matches!(
            announced(&r, PLATFORM, &own(), &[key.public()]),
            Err(Refusal::Unreadable(_))
        ));
    }

    #[test]
    fn tampered_or_cut_bytes_are_refused_after_the_download() {
        let key = Key::new();
        let bytes = b"new build".repeat(50);
        let good = "hyperclay-sync 0.1.1 linux-x86_64-appimage";
        let r = release(&key, &bytes, "0.1.1", good);
        let a = announced(&r, PLATFORM, &own(), &[key.public()]).unwrap();
        let mut evil = bytes.clone();
        evil[3] ^= 1;
        assert!(matches!(arrive(&a, &evil), Err(Refusal::Tampered)));
        assert!(matches!(
            arrive(&a, &bytes[..10]),
            Err(Refusal::WrongSize { .. })
        ));
        // The feed's SHA-256 made to match tampered bytes: the signature still refuses them.
        let r = ReleaseResponse {
            sha256: hex::encode(Sha256::digest(&evil)),
            ..r
        };
        let a = announced(&r, PLATFORM, &own(), &[key.public()]).unwrap();
        assert!(matches!(arrive(&a, &evil), Err(Refusal::BadSignature(_))));
    }
}
