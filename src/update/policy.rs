//! What the server's version policy means for this build: a pure judgement over three versions.

use hyperclay_protocol::ClientVersions;
use semver::Version;

/// Where this build stands against the server's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// At or above the latest (or the server named no usable latest).
    Current,
    /// Accepted, but a newer release exists: offered, never pressed.
    Behind { latest: Version },
    /// Below the minimum: the server refuses every call, so syncing stops.
    Outdated { minimum: Version },
}

/// Judges `own` against the server's `policy`. A version the server wrote that is not semver is
/// ignored (logged by the caller): this build cannot know it is too old from a string it cannot
/// read, and the server's 426 still says so if it is.
pub fn judge(own: &Version, policy: &ClientVersions) -> Standing {
    if let Ok(minimum) = Version::parse(policy.minimum.trim())
        && *own < minimum
    {
        return Standing::Outdated { minimum };
    }
    match Version::parse(policy.latest.trim()) {
        Ok(latest) if *own < latest => Standing::Behind { latest },
        _ => Standing::Current,
    }
}

/// Whether a release's `version` is worth installing over `own`: strictly newer only, so a feed
/// can never move this build back to an older (perhaps vulnerable) release.
pub fn is_newer(own: &Version, release: &str) -> Option<Version> {
    Version::parse(release.trim()).ok().filter(|v| v > own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(latest: &str, minimum: &str) -> ClientVersions {
        ClientVersions {
            latest: latest.into(),
            minimum: minimum.into(),
            download: "https://hyperclay.com/sync".into(),
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn below_the_minimum_is_outdated_whatever_the_latest_says() {
        assert_eq!(
            judge(&v("0.1.0"), &policy("0.3.0", "0.2.0")),
            Standing::Outdated {
                minimum: v("0.2.0")
            }
        );
        assert_eq!(
            judge(&v("0.1.0"), &policy("garbage", "0.1.1")),
            Standing::Outdated {
                minimum: v("0.1.1")
            }
        );
    }

    #[test]
    fn accepted_but_behind_is_offered_and_current_is_quiet() {
        assert_eq!(
            judge(&v("0.1.0"), &policy("0.1.1", "0.1.0")),
            Standing::Behind { latest: v("0.1.1") }
        );
        assert_eq!(
            judge(&v("0.1.1"), &policy("0.1.1", "0.0.0")),
            Standing::Current
        );
        assert_eq!(
            judge(&v("0.2.0"), &policy("0.1.1", "0.1.0")),
            Standing::Current
        );
    }

    #[test]
    fn semver_order_not_text_order_and_prereleases_come_first() {
        assert_eq!(
            judge(&v("0.9.0"), &policy("0.10.0", "0.0.0")),
            Standing::Behind {
                latest: v("0.10.0")
            }
        );
        assert_eq!(
            judge(&v("0.2.0-rc.1"), &policy("0.2.0", "0.2.0")),
            Standing::Outdated {
                minimum: v("0.2.0")
            }
        );
    }

    #[test]
    fn unreadable_versions_from_the_server_are_ignored() {
        assert_eq!(judge(&v("0.1.0"), &policy("", "v1")), Standing::Current);
        assert_eq!(
            judge(&v("0.1.0"), &policy("1.0", "\u{202e}9.9.9")),
            Standing::Current
        );
    }

    #[test]
    fn only_a_strictly_newer_release_is_installed() {
        assert_eq!(is_newer(&v("0.1.0"), "0.1.1"), Some(v("0.1.1")));
        assert_eq!(is_newer(&v("0.1.1"), "0.1.1"), None);
        assert_eq!(is_newer(&v("0.1.1"), "0.1.0"), None);
        assert_eq!(is_newer(&v("0.1.1"), "latest"), None);
    }
}
