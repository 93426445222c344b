//! The one HTTP client of the tests and the benchmark: the protocol's calls against a server,
//! every reply whole (status, headers, body) whatever its status, never following a redirect.
//! The server suites assert on replies (`Reply::ok`, `Reply::expect_error`), the end-to-end
//! tests read files and versions as another client of the account, the benchmark seeds
//! accounts and makes its floor PUTs. `Api::try_*` return a transport error; the plain calls
//! are for tests, where a server that cannot be reached is a failed test. It never logs a token.

use std::time::Duration;

use hyperclay_protocol::{
    ChangesResponse, Entry, EntryKind, ErrorBody, ErrorCode, HEADER_CHECKSUM, HEADER_MODIFIED_AT,
    RemotePath, Timestamp,
};
use serde::de::DeserializeOwned;

/// The version of the sync client (`hyperclay-sync`, the root package) that [`Api`] says it is
/// by default, as the client itself does (`User-Agent: hyperclay-sync/VERSION`).
pub const CLIENT_VERSION: &str = "0.1.0";

/// The `User-Agent` the real client sends, which every API call but the release feed needs
/// (else 426 `client_outdated`).
pub fn client_user_agent() -> String {
    format!("{}{CLIENT_VERSION}", hyperclay_protocol::CLIENT_PRODUCT)
}

/// The most of a reply body read (a file is at most 20 MiB; a listing of 100,000 entries less).
const BODY_LIMIT: u64 = 64 << 20;

/// A request that got no reply.
#[derive(Debug, thiserror::Error)]
#[error("{method} {url}: {source}")]
pub struct HttpError {
    method: &'static str,
    url: String,
    #[source]
    source: ureq::Error,
}

/// An HTTP reply of any status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON of type `T`.
    ///
    /// # Panics
    /// When it is not: for tests.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        self.try_json().unwrap_or_else(|e| {
            panic!(
                "status {}: body is not the expected JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    pub fn try_json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts a 2xx status and parses the body.
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!(
            self.is_success(),
            "expected success, got {}: {}",
            self.status,
            self.text()
        );
        self.json()
    }

    /// Asserts the protocol error reply `code` with its status from the error table, and a
    /// non-empty message.
    pub fn expect_error(&self, code: ErrorCode) -> ErrorBody {
        assert_eq!(
            self.status,
            code.status(),
            "expected {} ({}), got {}: {}",
            code.as_str(),
            code.status(),
            self.status,
            self.text()
        );
        let body: ErrorBody = self.json();
        assert_eq!(body.error, code.as_str(), "{}", self.text());
        assert!(!body.message.is_empty(), "error without a message");
        body
    }
}

/// A client of one server, as one account (or none).
#[derive(Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    /// Sent as `User-Agent` unless a request gives its own; `None` sends none at all.
    user_agent: Option<String>,
    agent: ureq::Agent,
}

/// A URL tail with each segment percent-encoded as the protocol requires (a path the rules
/// refuse is sent as given, so tests can send hostile ones).
pub fn enc(path: &str) -> String {
    RemotePath::file(path)
        .map(|p| p.to_url_path())
        .unwrap_or_else(|_| path.to_owned())
}

pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Api {
    pub fn new(base: &str, token: Option<&str>) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            // Never ureq's own name: a request has the client's User-Agent, its own, or none.
            .user_agent(ureq::config::AutoHeaderValue::None)
            .timeout_global(Some(Duration::from_secs(60)))
            // A fresh connection per request: a refusal sent before the body was read closes
            // the connection, and reusing a pooled one then races that close ("Peer
            // disconnected", seen under load in `hostile_and_malformed_paths_are_refused`).
            .max_idle_connections(0)
            .build()
            .into();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            user_agent: Some(client_user_agent()),
            agent,
        }
    }

    /// The same server and account saying it is `user_agent` (`None`: no `User-Agent` at all),
    /// for the version policy's tests.
    pub fn with_user_agent(&self, user_agent: Option<&str>) -> Api {
        Api {
            user_agent: user_agent.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The same server and account over keep-alive connections: for the benchmark's floor,
    /// where a new connection per request would be part of what is measured.
    pub fn keep_alive(&self) -> Api {
        Api {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                // Never ureq's own name: a request has the client's User-Agent, its own, or none.
                .user_agent(ureq::config::AutoHeaderValue::None)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `method {base}{path}` with `headers` and `body` (none for GET and DELETE).
    pub fn try_request(
        &self,
        method: &'static str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, HttpError> {
        let url = self.url(path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let own_agent = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"));
        if let (Some(ua), false) = (&self.user_agent, own_agent) {
            req = req.header("User-Agent", ua);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let failed = |source| HttpError {
            method,
            url: url.clone(),
            source,
        };
        let request = req
            .body(body.unwrap_or_default().to_vec())
            .map_err(|e| failed(ureq::Error::Http(e)))?;
        let mut resp = self.agent.run(request).map_err(failed)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(failed)?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn request(
        &self,
        method: &'static str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("the request did not reach the server: {e}"))
    }

    /// `GET {base}{path}` with extra headers.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers, None)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn put_with(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        self.request("PUT", path, headers, Some(body))
    }

    pub fn post_with(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        self.request("POST", path, headers, Some(body))
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("json");
        self.post_with(path, &bytes, &[("Content-Type", "application/json")])
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, &[], None)
    }

    pub fn status(&self) -> Reply {
        self.get("/api/local-sync/status")
    }

    pub fn try_changes(
        &self,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Reply, HttpError> {
        let mut q = Vec::new();
        if let Some(c) = cursor {
            q.push(format!("cursor={}", urlencode(c)));
        }
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        let query = match q.is_empty() {
            true => String::new(),
            false => format!("?{}", q.join("&")),
        };
        self.try_request("GET", &format!("/api/local-sync/changes{query}"), &[], None)
    }

    pub fn changes(&self, cursor: Option<&str>, limit: Option<usize>) -> Reply {
        self.try_changes(cursor, limit)
            .unwrap_or_else(|e| panic!("the request did not reach the server: {e}"))
    }

    /// `GET /changes?cursor=C&wait=W`: a long-poll (`wait` passed as given, to test bad ones).
    pub fn changes_wait(&self, cursor: &str, wait: &str) -> Reply {
        self.get(&format!(
            "/api/local-sync/changes?cursor={}&wait={}",
            urlencode(cursor),
            urlencode(wait)
        ))
    }

    /// PUT a file at a plain path (encoded here) with `X-Modified-At`.
    pub fn put_file(&self, path: &str, body: &[u8], modified_at: &str) -> Reply {
        self.put_raw(&enc(path), body, modified_at)
    }

    /// PUT a file at an already-encoded URL tail.
    pub fn put_raw(&self, encoded: &str, body: &[u8], modified_at: &str) -> Reply {
        self.put_with(
            &format!("/api/local-sync/files/{encoded}"),
            body,
            &[(HEADER_MODIFIED_AT, modified_at)],
        )
    }

    /// PUT a file stamped `modified_at`, with its checksum, as a client saving an edit does.
    pub fn try_put_summed(
        &self,
        path: &str,
        body: &[u8],
        modified_at: Timestamp,
        checksum: &str,
    ) -> Result<Reply, HttpError> {
        let stamp = modified_at.to_rfc3339();
        self.try_request(
            "PUT",
            &format!("/api/local-sync/files/{}", enc(path)),
            &[(HEADER_MODIFIED_AT, &stamp), (HEADER_CHECKSUM, checksum)],
            Some(body),
        )
    }

    pub fn get_file(&self, path: &str) -> Reply {
        self.get(&format!("/api/local-sync/files/{}", enc(path)))
    }

    pub fn put_folder(&self, path: &str) -> Reply {
        let encoded = RemotePath::folder(path)
            .map(|p| p.to_url_path())
            .unwrap_or_else(|_| path.to_owned());
        self.put_with(&format!("/api/local-sync/folders/{encoded}"), b"", &[])
    }

    pub fn versions(&self, path: &str) -> Reply {
        self.get(&format!("/api/local-sync/versions/{}", enc(path)))
    }

    pub fn version(&self, path: &str, id: &str) -> Reply {
        self.get(&format!(
            "/api/local-sync/versions/{}/{}",
            enc(path),
            urlencode(id)
        ))
    }

    /// `GET /releases/latest?platform=P` (the release feed: no token needed).
    pub fn release_latest(&self, platform: &str) -> Reply {
        self.get(&format!(
            "/api/local-sync/releases/latest?platform={}",
            urlencode(platform)
        ))
    }

    /// `GET /releases/{platform}/{version}/file`.
    pub fn release_file(&self, platform: &str, version: &str) -> Reply {
        self.get(&format!(
            "/api/local-sync/releases/{}/{}/file",
            urlencode(platform),
            urlencode(version)
        ))
    }

    /// The platform's own save (`POST /save/{app}`, an app edited in the browser).
    pub fn try_platform_save(&self, app: &str, html: &[u8]) -> Result<Reply, HttpError> {
        self.try_request("POST", &format!("/save/{app}"), &[], Some(html))
    }

    /// Pages through `/changes` from `cursor` until `hasMore` is false; every entry and the
    /// final cursor.
    pub fn try_drain_changes(
        &self,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(Vec<Entry>, String), DrainError> {
        let mut cursor = cursor.map(str::to_owned);
        let mut all = Vec::new();
        for _ in 0..10_000 {
            let reply = self.try_changes(cursor.as_deref(), limit)?;
            if !reply.is_success() {
                return Err(DrainError::Refused(reply.status, reply.text()));
            }
            let page: ChangesResponse = reply.try_json()?;
            all.extend(page.entries);
            cursor = Some(page.cursor);
            if !page.has_more {
                return Ok((all, cursor.unwrap_or_default()));
            }
        }
        Err(DrainError::Endless)
    }

    /// Every live file of the account (folders and tombstones left out) and the cursor after
    /// the listing.
    pub fn try_files(&self) -> Result<(Vec<Entry>, String), DrainError> {
        let (all, cursor) = self.try_drain_changes(None, None)?;
        let files = all
            .into_iter()
            .filter(|e| !e.deleted && e.kind != EntryKind::Folder)
            .collect();
        Ok((files, cursor))
    }
}

/// Why a whole listing could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("GET /changes: HTTP {0}: {1}")]
    Refused(u16, String),
    #[error("GET /changes: the reply is not the protocol's JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("GET /changes never finished paging")]
    Endless,
}

/// [`Api::try_drain_changes`] for tests.
pub fn drain_changes(
    api: &Api,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> (Vec<Entry>, String) {
    api.try_drain_changes(cursor, limit)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`CLIENT_VERSION`] is the root package's version, as the client sends it.
    #[test]
    fn the_client_version_is_the_sync_packages() {
        let manifest = include_str!("../../Cargo.toml");
        let package = manifest
            .split("\n[package]\n")
            .nth(1)
            .expect("the root manifest has a [package]");
        let version = package
            .lines()
            .find_map(|l| l.strip_prefix("version = \""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("the package has a version");
        assert_eq!(version, CLIENT_VERSION);
        assert_eq!(client_user_agent(), format!("hyperclay-sync/{version}"));
    }
}
