//! The JSON bodies of the protocol. Field names are camelCase on the wire.
//!
//! Paths inside these types are plain strings: what a server sends must be validated with
//! [`crate::RemotePath`] before the client acts on it.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    App,
    Upload,
    Folder,
}

/// One file, folder or app in a listing, or a tombstone (`deleted: true`) in an incremental one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub modified_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sites {
    pub used: u64,
    pub limit: u64,
}

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub server_time: Timestamp,
    pub user: User,
    pub plan: String,
    pub sites: Sites,
    /// Which client versions the server accepts and recommends. A server that predates the
    /// version policy omits it; the client then assumes no policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientVersions>,
}

/// `client` in the status reply: the version policy (semver strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientVersions {
    /// The newest release: a client below it may offer "Update to …" and syncs on.
    pub latest: String,
    /// The oldest version the server accepts: below it every API call is `426 client_outdated`.
    pub minimum: String,
    /// A page where a person downloads the app by hand.
    pub download: String,
}

/// `GET /releases/latest?platform=P`: the newest published release for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseResponse {
    pub version: String,
    pub platform: String,
    pub size: u64,
    /// Full lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Where the file is downloaded: an absolute URL, or a path on this server.
    pub url: String,
    /// The minisign signature of the file (the `.minisig` text), whose trusted comment is
    /// exactly `hyperclay-sync VERSION PLATFORM`.
    pub signature: String,
}

/// The platforms a release is published for: `{os}-{arch}`, and on Linux `-{package}`.
pub const RELEASE_PLATFORMS: [&str; 8] = [
    "windows-x86_64",
    "windows-aarch64",
    "macos-x86_64",
    "macos-aarch64",
    "linux-x86_64-appimage",
    "linux-x86_64-deb",
    "linux-aarch64-appimage",
    "linux-aarch64-deb",
];

/// The trusted comment a release's signature must carry.
pub fn release_trusted_comment(version: &str, platform: &str) -> String {
    format!("hyperclay-sync {version} {platform}")
}

/// The `User-Agent` product token of the sync client.
pub const CLIENT_PRODUCT: &str = "hyperclay-sync/";

/// `GET /changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangesResponse {
    pub server_time: Timestamp,
    pub cursor: String,
    pub has_more: bool,
    pub entries: Vec<Entry>,
    /// The `wait` (seconds) the server honoured: present only when the request asked to wait
    /// and the server long-polls. Its absence tells a client to poll on its own clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

/// `PUT /files/{path}` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutResponse {
    pub server_time: Timestamp,
    pub entry: Entry,
}

/// `POST /token` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: String,
    pub code_verifier: String,
    pub redirect_uri: String,
}

/// The `grantType` of a device login's `POST /token` (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `POST /token` body of a device login, polled until the user has answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTokenRequest {
    pub grant_type: String,
    pub device_code: String,
}

/// `POST /device/code` reply: what a device login shows its user, and how it polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodeResponse {
    /// The secret the client polls `/token` with; never shown.
    pub device_code: String,
    /// The short code the user types in or confirms, e.g. `WDJB-MJHT`.
    pub user_code: String,
    /// The page where the user enters `userCode`.
    pub verification_uri: String,
    /// `verificationUri` with the code filled in.
    pub verification_uri_complete: String,
    /// Seconds until both codes expire.
    pub expires_in: u64,
    /// Seconds the client waits between two polls.
    pub interval: u64,
}

/// `POST /token` and `POST /refresh` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_at: Timestamp,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub id: String,
    pub saved_at: Timestamp,
    pub checksum: String,
    pub size: u64,
}

/// `GET /versions/{path}`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionsResponse {
    pub versions: Vec<VersionInfo>,
}

/// The body of every non-2xx reply. `entry` comes with `stale`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
    /// `client_outdated`: the oldest version the server accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<String>,
    /// `client_outdated`: where a person downloads the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<String>,
}

/// The error codes of the protocol, with the status each goes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidPath,
    InvalidName,
    InvalidGrant,
    InvalidRequest,
    Unauthorized,
    SubscriptionRequired,
    SiteLimit,
    NotFound,
    MethodNotAllowed,
    NameTaken,
    Stale,
    CursorExpired,
    TooLarge,
    Internal,
    /// Device login: the user has not answered yet; poll again after the interval.
    AuthorizationPending,
    /// Device login: polled before the interval passed; wait 5 s longer from now on.
    SlowDown,
    /// Device login: the user denied it.
    AccessDenied,
    /// Device login: the codes expired before the user allowed it.
    ExpiredToken,
    /// Too many device logins started from one address (or on the server) are waiting.
    TooManyRequests,
    /// A request (or its small body) did not arrive whole within the server's deadline.
    RequestTimeout,
    /// This account already has the most `/changes?wait=` requests waiting that one account may.
    TooManyWaits,
    /// The server (or this address) has the most connections open that it takes.
    Busy,
    /// The `User-Agent` names no client version, or one below the server's minimum.
    ClientOutdated,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 23] = [
        ErrorCode::InvalidPath,
        ErrorCode::InvalidName,
        ErrorCode::InvalidGrant,
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::SubscriptionRequired,
        ErrorCode::SiteLimit,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NameTaken,
        ErrorCode::Stale,
        ErrorCode::CursorExpired,
        ErrorCode::TooLarge,
        ErrorCode::Internal,
        ErrorCode::AuthorizationPending,
        ErrorCode::SlowDown,
        ErrorCode::AccessDenied,
        ErrorCode::ExpiredToken,
        ErrorCode::TooManyRequests,
        ErrorCode::RequestTimeout,
        ErrorCode::TooManyWaits,
        ErrorCode::Busy,
        ErrorCode::ClientOutdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::SubscriptionRequired => "subscription_required",
            ErrorCode::SiteLimit => "site_limit",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::Stale => "stale",
            ErrorCode::CursorExpired => "cursor_expired",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Internal => "internal",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::TooManyWaits => "too_many_waits",
            ErrorCode::Busy => "busy",
            ErrorCode::ClientOutdated => "client_outdated",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status that carries this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidPath
            | ErrorCode::InvalidName
            | ErrorCode::InvalidGrant
            | ErrorCode::InvalidRequest
            | ErrorCode::AuthorizationPending
            | ErrorCode::SlowDown
            | ErrorCode::AccessDenied
            | ErrorCode::ExpiredToken => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::SubscriptionRequired => 402,
            ErrorCode::SiteLimit => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::NameTaken | ErrorCode::Stale => 409,
            ErrorCode::CursorExpired => 410,
            ErrorCode::TooLarge => 413,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::ClientOutdated => 426,
            ErrorCode::TooManyWaits | ErrorCode::Busy => 503,
            ErrorCode::Internal => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_uses_camel_case_and_omits_absent_fields() {
        let e = Entry {
            path: "a".into(),
            kind: EntryKind::Folder,
            size: None,
            modified_at: Timestamp::from_millis(0),
            checksum: None,
            deleted: false,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"path":"a","kind":"folder","modifiedAt":"1970-01-01T00:00:00.000Z"}"#
        );
        let tomb: Entry = serde_json::from_str(
            r#"{"path":"x.html","kind":"app","deleted":true,"modifiedAt":"2026-11-26T10:00:00.000Z"}"#,
        )
        .unwrap();
        assert!(tomb.deleted);
    }

    #[test]
    fn error_codes_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
        }
        assert_eq!(ErrorCode::SiteLimit.status(), 403);
    }
}
