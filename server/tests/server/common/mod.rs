//! What every conformance test needs: a server to talk to and a small HTTP client that reads
//! any status as a reply (ureq 3 would make every non-2xx an `Err`).
//!
//! By default each test starts its own `hyperclay-server` (port 0, temp data dir). With
//! `HYPERCLAY_URL` and `HYPERCLAY_TOKEN` set (a paid account on any server), tests run against
//! that server instead; tests that need the admin CLI say so and return early.

#![allow(dead_code)]

use hyperclay_protocol::Timestamp;
use hyperclay_testkit::{ServerOptions, TestServer};

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

pub use hyperclay_testkit::http::{Api, Reply, drain_changes, enc, urlencode};

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("a test time")
}
