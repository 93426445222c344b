//! What every conformance test needs: a server to talk to and a small HTTP client that reads
//! any status as a reply (ureq 3 would make every non-2xx an `Err`).
//!
//! By default each test starts its own `hyperclay-server` (port 0, temp data dir). With
//! `HYPERCLAY_URL` and `HYPERCLAY_TOKEN` set (a paid account on any server), tests run against
//! that server instead; tests that need the admin CLI say so and return early.

#![allow(dead_code)]

use std::time::Duration;

use hyperclay_protocol::{ErrorBody, ErrorCode, RemotePath, Timestamp};
use hyperclay_testkit::{ServerOptions, TestServer};
use serde::de::DeserializeOwned;

pub const MIB: usize = 1024 * 1024;

/// The server under test.
pub struct Target {
    pub url: String,
    pub token: String,
    /// Our own server, with its admin CLI; `None` against an external server.
    pub local: Option<TestServer>,
    /// Unique per test, so that tests sharing an account (or the platform's app names) never
    /// collide.
    pub tag: String,
}

fn unique_tag() -> String {
    format!("t{:08x}", rand::random::<u32>())
}

fn start_local(opts: ServerOptions) -> TestServer {
    TestServer::start_bin(env!("CARGO_BIN_EXE_hyperclay-server").into(), opts)
}

fn remote() -> Option<(String, String)> {
    let url = std::env::var("HYPERCLAY_URL").ok()?;
    let token = std::env::var("HYPERCLAY_TOKEN").ok()?;
    Some((url.trim_end_matches('/').to_owned(), token))
}

impl Target {
    /// The server under test: an external one when configured, else a fresh local one logged
    /// in as the paid demo account.
    pub fn new() -> Target {
        match remote() {
            Some((url, token)) => Target {
                url,
                token,
                local: None,
                tag: unique_tag(),
            },
            None => Target::local_with(ServerOptions {
                demo: true,
                ..ServerOptions::default()
            }),
        }
    }

    /// A local server, or `None` (the test is skipped) against an external server.
    pub fn local() -> Option<Target> {
        Target::local_opts(ServerOptions {
            demo: true,
            ..ServerOptions::default()
        })
    }

    pub fn local_opts(opts: ServerOptions) -> Option<Target> {
        if remote().is_some() {
            eprintln!("skipped: this case needs the reference server's admin CLI");
            return None;
        }
        Some(Target::local_with(opts))
    }

    fn local_with(opts: ServerOptions) -> Target {
        let server = start_local(opts);
        let token = server.token("demo");
        Target {
            url: server.url(),
            token,
            local: Some(server),
            tag: unique_tag(),
        }
    }

    pub fn server(&self) -> &TestServer {
        self.local.as_ref().expect("a local server")
    }

    pub fn server_mut(&mut self) -> &mut TestServer {
        self.local.as_mut().expect("a local server")
    }

    /// A client authenticated as the test account.
    pub fn api(&self) -> Api {
        Api::new(&self.url, Some(&self.token))
    }

    /// A client with `token`.
    pub fn api_as(&self, token: &str) -> Api {
        Api::new(&self.url, Some(token))
    }

    pub fn anonymous(&self) -> Api {
        Api::new(&self.url, None)
    }

    /// A folder name unique to this test.
    pub fn dir(&self) -> String {
        self.tag.clone()
    }

    /// An app file name unique to this test (app names are platform-wide).
    pub fn app(&self, stem: &str) -> String {
        format!("{stem}-{}.html", self.tag)
    }

    /// A new paid account on the local server and its token.
    pub fn new_account(&self, name: &str, paid: bool, site_limit: u32) -> String {
        self.server().add_user(name, "pw", paid, site_limit);
        self.server().token(name)
    }
}

/// An HTTP reply of any status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not the expected JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
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
            (200..300).contains(&self.status),
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

pub struct Api {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A URL tail with each segment percent-encoded as the protocol requires.
pub fn enc(path: &str) -> String {
    RemotePath::file(path)
        .map(|p| p.to_url_path())
        .unwrap_or_else(|_| path.to_owned())
}

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("a test time")
}

impl Api {
    pub fn new(base: &str, token: Option<&str>) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
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
            agent,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn finish(&self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut resp = r.expect("the request reached the server");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * MIB as u64)
            .read_to_vec()
            .expect("read the reply body");
        Reply {
            status,
            headers,
            body,
        }
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// `GET {base}{path}` with extra headers.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.get(&self.url(path));
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.finish(req.call())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn put_with(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.put(&self.url(path));
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.finish(req.send(body))
    }

    pub fn post_with(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.post(&self.url(path));
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.finish(req.send(body))
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("json");
        self.post_with(path, &bytes, &[("Content-Type", "application/json")])
    }

    pub fn delete(&self, path: &str) -> Reply {
        let mut req = self.agent.delete(&self.url(path));
        if let Some(a) = self.auth() {
            req = req.header("Authorization", &a);
        }
        self.finish(req.call())
    }

    pub fn status(&self) -> Reply {
        self.get("/api/local-sync/status")
    }

    pub fn changes(&self, cursor: Option<&str>, limit: Option<usize>) -> Reply {
        let mut q = Vec::new();
        if let Some(c) = cursor {
            q.push(format!("cursor={}", urlencode(c)));
        }
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        let query = if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        };
        self.get(&format!("/api/local-sync/changes{query}"))
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
            &[("X-Modified-At", modified_at)],
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
}

pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Pages through `/changes` from `cursor` until `hasMore` is false; returns every entry and
/// the final cursor.
pub fn drain_changes(
    api: &Api,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> (Vec<hyperclay_protocol::Entry>, String) {
    let mut cursor = cursor.map(str::to_owned);
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let page: hyperclay_protocol::ChangesResponse = api.changes(cursor.as_deref(), limit).ok();
        all.extend(page.entries);
        cursor = Some(page.cursor);
        if !page.has_more {
            return (all, cursor.unwrap_or_default());
        }
    }
    panic!("changes never finished paging");
}
