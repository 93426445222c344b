//! The version policy (docs/protocol.md, "Client versions and updates"): which client versions
//! the server accepts and which it recommends, and the `426 client_outdated` check every API
//! call but the release feed goes through, right after DELETE is refused and before the token.
//!
//! The client names its version in `User-Agent: hyperclay-sync/VERSION[ more…]`, VERSION a
//! semver version. A missing `User-Agent`, another product, a version that is not semver, or
//! one below the minimum is refused. Versions compare as semver says (`0.2.0-rc.1` < `0.2.0`).

use hyperclay_protocol::CLIENT_PRODUCT;
use semver::Version;

use crate::error::ServerError;

/// `--min-client-version` when not given: every version is accepted, so only a missing or
/// malformed `User-Agent` is refused.
pub const DEFAULT_MIN_CLIENT_VERSION: &str = "0.0.0";
/// `--download-url` when not given: where a person gets the app by hand.
pub const DEFAULT_DOWNLOAD_URL: &str = "https://hyperclay.com/sync";

/// A version policy the server cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{flag} {value:?} is not a semver version (like 0.1.0): {source}")]
    NotSemver {
        flag: &'static str,
        value: String,
        source: semver::Error,
    },
    #[error("--latest-client-version {latest} is below --min-client-version {minimum}")]
    LatestBelowMinimum { latest: Version, minimum: Version },
    #[error("--download-url must not be empty")]
    NoDownloadUrl,
}

/// The server's version policy, checked once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPolicy {
    minimum: Version,
    /// The configured latest; `None`: the newest published release, else the minimum.
    latest: Option<Version>,
    download: String,
}

impl Default for VersionPolicy {
    fn default() -> Self {
        VersionPolicy {
            minimum: Version::new(0, 0, 0),
            latest: None,
            download: DEFAULT_DOWNLOAD_URL.to_owned(),
        }
    }
}

fn parse_flag(flag: &'static str, value: &str) -> Result<Version, PolicyError> {
    Version::parse(value).map_err(|source| PolicyError::NotSemver {
        flag,
        value: value.to_owned(),
        source,
    })
}

impl VersionPolicy {
    /// The policy of `--min-client-version`, `--latest-client-version` and `--download-url`.
    pub fn new(
        minimum: &str,
        latest: Option<&str>,
        download: &str,
    ) -> Result<VersionPolicy, PolicyError> {
        let minimum = parse_flag("--min-client-version", minimum)?;
        let latest = latest
            .map(|l| parse_flag("--latest-client-version", l))
            .transpose()?;
        if let Some(latest) = &latest
            && *latest < minimum
        {
            return Err(PolicyError::LatestBelowMinimum {
                latest: latest.clone(),
                minimum,
            });
        }
        if download.trim().is_empty() {
            return Err(PolicyError::NoDownloadUrl);
        }
        Ok(VersionPolicy {
            minimum,
            latest,
            download: download.to_owned(),
        })
    }

    pub fn minimum(&self) -> &Version {
        &self.minimum
    }

    pub fn download(&self) -> &str {
        &self.download
    }

    /// What `/status` names as `latest`: the configured latest, else `newest_release` (the
    /// newest published for any platform), else the minimum; never below the minimum.
    pub fn latest(&self, newest_release: Option<Version>) -> Version {
        self.latest
            .clone()
            .or(newest_release)
            .filter(|v| *v >= self.minimum)
            .unwrap_or_else(|| self.minimum.clone())
    }

    /// The 426 check of one request's `User-Agent` header (its raw bytes, if any).
    pub fn check(&self, user_agent: Option<&[u8]>) -> Result<(), ServerError> {
        match client_version(user_agent) {
            Some(v) if v >= self.minimum => Ok(()),
            _ => Err(ServerError::ClientOutdated {
                minimum: self.minimum.to_string(),
                download: self.download.clone(),
            }),
        }
    }
}

/// The client version a `User-Agent` names: `hyperclay-sync/` + a semver version, alone or
/// followed by a space and more. `None` for anything else.
pub fn client_version(user_agent: Option<&[u8]>) -> Option<Version> {
    let text = std::str::from_utf8(user_agent?).ok()?;
    let rest = text.strip_prefix(CLIENT_PRODUCT)?;
    let version = rest.split_once(' ').map_or(rest, |(v, _)| v);
    Version::parse(version).ok()
}

/// Whether a request to `path` is an API call the version check applies to: everything under
/// `/api/local-sync/` but the release feed (an outdated client must reach it to update) and
/// the consent page (`/authorize`, shown in a browser, which names no client version).
pub fn is_checked(path: &str) -> bool {
    let Some(tail) = path.strip_prefix("/api/local-sync/") else {
        return false;
    };
    !(tail.starts_with("releases/") || tail == "authorize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn ua(s: &str) -> Option<Version> {
        client_version(Some(s.as_bytes()))
    }

    #[test]
    fn the_user_agent_names_a_semver_version_of_the_client() {
        assert_eq!(client_version(None), None, "missing");
        assert_eq!(ua(""), None);
        assert_eq!(ua("curl/8"), None);
        assert_eq!(ua("curl/8.5.0"), None);
        assert_eq!(ua("hyperclay-sync/"), None);
        assert_eq!(ua("hyperclay-sync/abc"), None);
        assert_eq!(ua("hyperclay-sync/9.9"), None, "not semver");
        assert_eq!(ua("hyperclay-sync/v0.1.0"), None);
        assert_eq!(ua("hyperclay-sync/ 0.1.0"), None);
        assert_eq!(ua("Hyperclay-Sync/0.1.0"), None, "the product is exact");
        assert_eq!(ua("xhyperclay-sync/0.1.0"), None);
        assert_eq!(ua("hyperclay-sync/0.1.0"), Some(v("0.1.0")));
        assert_eq!(ua("hyperclay-sync/0.1.0 (windows)"), Some(v("0.1.0")));
        assert_eq!(
            ua("hyperclay-sync/0.2.0-rc.1 tray/1"),
            Some(v("0.2.0-rc.1"))
        );
        assert_eq!(client_version(Some(b"hyperclay-sync/0.1.0\xff")), None);
    }

    #[test]
    fn versions_below_the_minimum_are_outdated_pre_releases_included() {
        let policy = VersionPolicy::new("0.2.0", None, DEFAULT_DOWNLOAD_URL).unwrap();
        let check = |s: &str| policy.check(Some(s.as_bytes())).is_ok();
        assert!(!check("hyperclay-sync/0.1.9"));
        assert!(
            !check("hyperclay-sync/0.2.0-rc.1"),
            "a pre-release is below"
        );
        assert!(check("hyperclay-sync/0.2.0"));
        assert!(check("hyperclay-sync/0.2.1-rc.1"));
        assert!(check("hyperclay-sync/0.10.0"), "semver, not text, order");
        assert!(check("hyperclay-sync/1.0.0 (linux)"));
        match policy.check(None) {
            Err(ServerError::ClientOutdated { minimum, download }) => {
                assert_eq!(
                    (minimum.as_str(), download.as_str()),
                    ("0.2.0", DEFAULT_DOWNLOAD_URL)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_policy_refuses_only_what_names_no_version() {
        let policy = VersionPolicy::default();
        assert!(policy.check(Some(b"hyperclay-sync/0.0.0")).is_ok());
        assert!(policy.check(Some(b"hyperclay-sync/0.1.0")).is_ok());
        assert!(policy.check(Some(b"curl/8")).is_err());
        assert!(policy.check(None).is_err());
    }

    #[test]
    fn a_policy_is_checked_at_start() {
        assert!(matches!(
            VersionPolicy::new("0.1", None, "x"),
            Err(PolicyError::NotSemver { .. })
        ));
        assert!(matches!(
            VersionPolicy::new("0.1.0", Some("latest"), "x"),
            Err(PolicyError::NotSemver { .. })
        ));
        assert!(matches!(
            VersionPolicy::new("0.2.0", Some("0.1.0"), "x"),
            Err(PolicyError::LatestBelowMinimum { .. })
        ));
        assert!(matches!(
            VersionPolicy::new("0.1.0", None, " "),
            Err(PolicyError::NoDownloadUrl)
        ));
        assert!(VersionPolicy::new("0.1.0", Some("0.1.0"), "x").is_ok());
    }

    #[test]
    fn latest_is_configured_else_the_newest_release_else_the_minimum() {
        let configured = VersionPolicy::new("0.1.0", Some("0.3.0"), "x").unwrap();
        assert_eq!(configured.latest(Some(v("0.4.0"))), v("0.3.0"));
        let open = VersionPolicy::new("0.1.0", None, "x").unwrap();
        assert_eq!(open.latest(Some(v("0.4.0"))), v("0.4.0"));
        assert_eq!(open.latest(None), v("0.1.0"));
        assert_eq!(
            open.latest(Some(v("0.0.9"))),
            v("0.1.0"),
            "never below the minimum"
        );
    }

    #[test]
    fn every_api_route_but_the_feed_and_the_consent_page_is_checked() {
        for checked in [
            "/api/local-sync/status",
            "/api/local-sync/changes",
            "/api/local-sync/files/a.html",
            "/api/local-sync/folders/x",
            "/api/local-sync/versions/a.html",
            "/api/local-sync/token",
            "/api/local-sync/device/code",
            "/api/local-sync/refresh",
            "/api/local-sync/logout",
            "/api/local-sync/no-such-route",
            "/api/local-sync/releases",
        ] {
            assert!(is_checked(checked), "{checked}");
        }
        for free in [
            "/api/local-sync/releases/latest",
            "/api/local-sync/releases/linux-x86_64-deb/0.1.0/file",
            "/api/local-sync/authorize",
            "/",
            "/login",
            "/device",
            "/save/app",
            "/app",
            "/api/local-syncx/status",
        ] {
            assert!(!is_checked(free), "{free}");
        }
    }
}
