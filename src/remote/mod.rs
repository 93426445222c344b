//! The account, seen over HTTP: the protocol's calls on one keep-alive ureq agent, every reply
//! mapped to a typed [`RemoteError`], and the retry schedule. It must never follow a redirect
//! (it would carry the bearer token elsewhere), never accept a download whose bytes do not match
//! what the server announced, never wait on a body that has stopped moving, and never log a
//! token.

pub mod listing;
mod releases;
pub mod server_text;
pub mod transport;
mod versions;
pub use releases::web_url;

use std::io::Read;
use std::time::{Duration, Instant};

use hyperclay_protocol::{
    API_PREFIX, ChangesResponse, Checksum, Entry, ErrorBody, ErrorCode, HEADER_CHECKSUM,
    HEADER_MODIFIED_AT, MAX_FILE_BYTES, PutResponse, RemotePath, StatusResponse, Timestamp,
};
use ureq::http::Response;

use crate::home::config::{DEFAULT_STALL_WINDOW, LONG_POLL_MARGIN};
use server_text::ServerText;
use transport::{Cause, Failure};

pub const USER_AGENT: &str = concat!("hyperclay-sync/", env!("HYPERCLAY_SYNC_VERSION"));

/// One keep-alive agent for every call: connect 5 s, whole request 60 s, proxy from the
/// environment, no redirects, error statuses returned as replies so their bodies can be read,
/// and server certificates checked against the operating system's trust store (Keychain,
/// the Windows certificate store, `/etc/ssl` or `SSL_CERT_FILE` on Linux), as browsers do: a
/// company's TLS-inspecting proxy works once its CA is trusted by the machine.
pub fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(USER_AGENT)
        .build()
        .new_agent()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The server could not be reached at all: the engine goes offline.
    #[error("cannot reach the server: {0}")]
    Unreachable(#[source] Cause),
    /// The server's host answered that nothing listens on the port: the network works, and the
    /// server is most likely restarting. A session-wide call (a poll) is worth the retry
    /// schedule; a transfer still ends the session like [`RemoteError::Unreachable`].
    #[error("cannot reach the server: {0}")]
    NothingListening(#[source] Cause),
    /// The connection broke or timed out mid-call: worth a retry.
    #[error("network trouble: {0}")]
    Network(#[source] Cause),
    /// Server text in these variants is a [`ServerText`]: neutralised and one short line.
    #[error("the server had trouble (HTTP {status}): {message}")]
    Server { status: u16, message: ServerText },
    #[error("the server refused the path or name ({code}): {message}")]
    InvalidPath {
        code: ServerText,
        message: ServerText,
    },
    #[error("the login is no longer valid")]
    Unauthorized,
    #[error("the account is not a paid subscriber")]
    SubscriptionRequired,
    #[error("the account has no sites left")]
    SiteLimit,
    #[error("not found on the server")]
    NotFound,
    #[error("another account owns this app name")]
    NameTaken,
    #[error("the server has a newer copy")]
    Stale(Option<Box<Entry>>),
    #[error("the server forgot this session's cursor")]
    CursorExpired,
    #[error("the file is over 20 MiB")]
    TooLarge,
    #[error("the server refused the call (HTTP {status}, {code})")]
    Refused { status: u16, code: ServerText },
    /// `what` is this client's own words; the decoding error, if any, is the cause.
    #[error("the server's reply makes no sense: {what}{}", .cause.as_ref().map(|c| format!("{c}")).unwrap_or_default())]
    Malformed {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
    /// The first call's reply is not the protocol's: the URL points at some other server.
    #[error("{0} is not a Hyperclay server (check HYPERCLAY_URL or --server)")]
    NotHyperclay(String),
    /// The body stopped moving: retrying at once would only stall again.
    #[error("the transfer stalled: {0}")]
    Stalled(String),
    /// `426 client_outdated`: the server no longer accepts this version. `minimum` is the
    /// server's word, kept only when it is a semver version; `download` only when it is an
    /// http(s) URL.
    #[error("the server no longer accepts this version of Hyperclay Sync{}", .minimum.as_ref().map(|m| format!(" (it needs {m} or later)")).unwrap_or_default())]
    ClientOutdated {
        minimum: Option<semver::Version>,
        download: Option<String>,
    },
}

impl RemoteError {
    /// A reply that makes no sense, in this client's own words.
    pub fn malformed(what: impl Into<String>) -> RemoteError {
        RemoteError::Malformed {
            what: what.into(),
            cause: None,
        }
    }

    /// A reply that did not decode: the decoder's error is the cause (and the whole message, as
    /// before).
    fn undecodable(e: serde_json::Error) -> RemoteError {
        RemoteError::Malformed {
            what: String::new(),
            cause: Some(Cause::new(e)),
        }
    }

    /// Network trouble and server errors are retried; any 4xx never is.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RemoteError::Network(_) | RemoteError::Server { .. })
    }
}

/// The waits before each retry: 1, 2, 3, 4, 5 s, then give up (kept by `schedule::Schedule`).
pub const RETRY_SCHEDULE: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(3),
    Duration::from_secs(4),
    Duration::from_secs(5),
];

/// A body must move at least this much within one stall window to count as alive.
pub const STALL_MIN_BYTES: u64 = 1024;

/// Watches one body's progress, fed (time, bytes so far) samples; it never reads a clock itself.
/// A window opens at the start and again whenever [`STALL_MIN_BYTES`] more have arrived; a window
/// that lasts `window` without that much is a stall.
#[derive(Debug, Clone, Copy)]
pub struct StallDetector {
    window: Duration,
    mark: Instant,
    mark_bytes: u64,
}

impl StallDetector {
    pub fn new(window: Duration, start: Instant) -> StallDetector {
        StallDetector {
            window,
            mark: start,
            mark_bytes: 0,
        }
    }

    /// `total` bytes have moved by `now`: true once the transfer counts as stalled.
    pub fn stalled(&mut self, now: Instant, total: u64) -> bool {
        if total.saturating_sub(self.mark_bytes) >= STALL_MIN_BYTES {
            self.mark = now;
            self.mark_bytes = total;
            return false;
        }
        now.saturating_duration_since(self.mark) >= self.window
    }
}

/// A file fetched from the server, already checked against what it announced.
#[derive(Debug, Clone)]
pub struct Download {
    pub bytes: Vec<u8>,
    pub checksum: Checksum,
    pub modified_at: Timestamp,
}

/// The server at one base URL, with the current bearer token.
#[derive(Clone)]
pub struct Remote {
    agent: ureq::Agent,
    base: String,
    token: String,
    stall_window: Duration,
}

impl Remote {
    pub fn new(agent: ureq::Agent, server_url: &str, token: &str) -> Remote {
        Remote {
            agent,
            base: format!("{}{API_PREFIX}", server_url.trim_end_matches('/')),
            token: token.to_owned(),
            stall_window: DEFAULT_STALL_WINDOW,
        }
    }

    /// How long a body may go without [`STALL_MIN_BYTES`] of progress before it is abandoned.
    pub fn set_stall_window(&mut self, window: Duration) {
        self.stall_window = window;
    }

    pub fn set_token(&mut self, token: &str) {
        self.token = token.to_owned();
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The server's address, as the user gave it (without the API's prefix).
    pub fn server_url(&self) -> &str {
        self.base.strip_suffix(API_PREFIX).unwrap_or(&self.base)
    }

    /// `GET /status`, with the clock offset (server − local, ms) measured from the midpoint.
    pub fn status(&self) -> Result<(StatusResponse, i64), RemoteError> {
        let sent = Timestamp::now();
        let started = Instant::now();
        let reply = self
            .agent
            .get(format!("{}/status", self.base))
            .header("Authorization", self.auth())
            .call();
        // Any reply but the protocol's (a web page, another API's 404) means a wrong URL, which
        // no retry will mend: say so in words the user can act on.
        let mut status: StatusResponse = json(reply).map_err(|e| match e {
            RemoteError::Malformed { .. } | RemoteError::NotFound | RemoteError::Refused { .. } => {
                RemoteError::NotHyperclay(self.base.trim_end_matches(API_PREFIX).to_owned())
            }
            other => other,
        })?;
        // Shown in `status`, the tray and the log: never raw (issue 23, 4).
        status.user.name = ServerText::from_wire(&status.user.name).to_string();
        status.user.id = ServerText::from_wire(&status.user.id).to_string();
        status.plan = ServerText::from_wire(&status.plan).to_string();
        let half = i64::try_from(started.elapsed().as_millis() / 2).unwrap_or(0);
        let midpoint = sent.offset_by(half);
        Ok((
            status.clone(),
            status.server_time.as_millis() - midpoint.as_millis(),
        ))
    }

    /// One page of `GET /changes`, with the size of its body. With `wait`, the server may hold
    /// the reply that long for a change (long-polling); the call then gives up only after
    /// [`LONG_POLL_MARGIN`] more, so a dead server is still noticed.
    pub fn changes(
        &self,
        cursor: Option<&str>,
        wait: Option<Duration>,
    ) -> Result<(ChangesResponse, u64), RemoteError> {
        let mut req = self
            .agent
            .get(format!("{}/changes", self.base))
            .header("Authorization", self.auth())
            .query("limit", "1000");
        if let Some(c) = cursor {
            req = req.query("cursor", c);
        }
        if let Some(wait) = wait {
            req = req
                .query("wait", wait.as_secs().to_string())
                .config()
                .timeout_global(Some(wait + LONG_POLL_MARGIN))
                .build();
        }
        json_sized(req.call())
    }

    /// An authorised `GET url` whose reply may wait at most the stall window for any byte (the
    /// head or the body): for the bodies of files and versions.
    pub(crate) fn get_watched(
        &self,
        url: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        self.agent
            .get(url)
            .config()
            .timeout_per_read(Some(self.stall_window))
            .build()
            .header("Authorization", self.auth())
            .call()
    }

    /// `GET /files/{path}`; the bytes must match the announced checksum (and `expected`, the
    /// listing's, when given: a newer copy is refetched at the next poll instead).
    pub fn download(&self, path: &RemotePath) -> Result<Download, RemoteError> {
        // A wait of a whole window for any byte (reply head or body) is a stall.
        let reply = self.get_watched(&format!("{}/files/{}", self.base, path.to_url_path()));
        let response = check(reply)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let announced = header(HEADER_CHECKSUM)
            .ok_or_else(|| RemoteError::malformed("download without a checksum"))?;
        let modified_at = header(HEADER_MODIFIED_AT)
            .and_then(|v| Timestamp::parse(&v).ok())
            .ok_or_else(|| RemoteError::malformed("download without a modified time"))?;
        // Refused before a byte is read; a body without a length is cut off by the limit the
        // moment it passes 20 MiB (and ureq never reads past a Content-Length).
        if header("Content-Length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > MAX_FILE_BYTES)
        {
            return Err(RemoteError::TooLarge);
        }
        let bytes = read_watched(response.into_body(), MAX_FILE_BYTES, self.stall_window)?;
        let checksum = Checksum::of(&bytes);
        // An announced value that is no checksum at all matches no bytes, as before.
        if Checksum::parse(&announced).ok() != Some(checksum) {
            return Err(RemoteError::malformed(format!(
                "downloaded bytes do not match the checksum for {path}"
            )));
        }
        Ok(Download {
            bytes,
            checksum,
            modified_at,
        })
    }

    /// `PUT /folders/{path}`: creates the folder and its parents; idempotent.
    pub fn put_folder(&self, path: &RemotePath) -> Result<PutResponse, RemoteError> {
        let reply = self
            .agent
            .put(format!("{}/folders/{}", self.base, path.to_url_path()))
            .header("Authorization", self.auth())
            .send_empty();
        json(reply)
    }

    /// `PUT /files/{path}`: the server's save process keeps its current copy as a version first.
    pub fn upload(
        &self,
        path: &RemotePath,
        bytes: &[u8],
        modified_at: Timestamp,
    ) -> Result<PutResponse, RemoteError> {
        let reply = self
            .agent
            .put(format!("{}/files/{}", self.base, path.to_url_path()))
            // A socket write blocked for a whole window: the server stopped taking the body.
            // (Bytes still in the kernel's send buffer cannot be seen, so a server that takes
            // the body and never replies is left to the agent's 60 s timeout.)
            .config()
            .timeout_per_write(Some(self.stall_window))
            .build()
            .header("Authorization", self.auth())
            .header(HEADER_MODIFIED_AT, modified_at.to_rfc3339())
            .header("Content-Type", "application/octet-stream")
            .send(bytes);
        let put: PutResponse = json(reply)?;
        let stored = put.entry.checksum.as_deref().map(Checksum::parse);
        if stored != Some(Ok(Checksum::of(bytes))) {
            return Err(RemoteError::malformed(format!(
                "the server stored other content than was sent for {path}"
            )));
        }
        // Where the server keeps it is logged, mapped and written to the reports: it must obey
        // the protocol's rules like any listed path (issue 23, 4).
        if RemotePath::file(&put.entry.path).is_err() {
            return Err(RemoteError::malformed(format!(
                "the server named an invalid path for {path}"
            )));
        }
        Ok(put)
    }
}

/// Reads `body` (at most `limit` bytes), abandoning it as [`RemoteError::Stalled`] once it moves
/// less than [`STALL_MIN_BYTES`] in `window`. A body that sends nothing at all never returns from
/// a read: the request's per-read timeout (set to `window` by the caller) ends that wait.
fn read_watched(body: ureq::Body, limit: u64, window: Duration) -> Result<Vec<u8>, RemoteError> {
    let mut reader = body.into_with_config().limit(limit).reader();
    let mut detector = StallDetector::new(window, Instant::now());
    let mut bytes = Vec::new();
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(transport(ureq::Error::from(e))),
        }
        if detector.stalled(Instant::now(), bytes.len() as u64) {
            return Err(RemoteError::Stalled(format!(
                "less than {STALL_MIN_BYTES} bytes in {:.1} s ({} received)",
                window.as_secs_f64(),
                bytes.len()
            )));
        }
    }
}

/// The transport failure in this module's terms (the one mapping is [`transport::classify`]).
fn transport(e: ureq::Error) -> RemoteError {
    match transport::classify(e) {
        (Failure::Unreachable, cause) => RemoteError::Unreachable(cause),
        (Failure::NothingListening, cause) => RemoteError::NothingListening(cause),
        (Failure::TooLarge, _) => RemoteError::TooLarge,
        // Only transfers set these: a whole stall window without one byte moving.
        (Failure::Stalled, cause) => {
            RemoteError::Stalled(format!("nothing moved for a whole stall window ({cause})"))
        }
        (Failure::Status(_) | Failure::Broken, cause) => RemoteError::Network(cause),
    }
}

/// A 2xx reply, or the typed error its status and body stand for.
fn check(
    reply: Result<Response<ureq::Body>, ureq::Error>,
) -> Result<Response<ureq::Body>, RemoteError> {
    let mut response = reply.map_err(transport)?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let body: Option<ErrorBody> = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let code = body.as_ref().map(|b| b.error.clone()).unwrap_or_default();
    // Never raw: a message shows in the status, the tray and the log (issue 23, 4).
    let message = ServerText::from_wire(body.as_ref().map_or("", |b| b.message.as_str()));
    let parsed = ErrorCode::parse(&code);
    let code = ServerText::from_wire(&code);
    Err(match (status, parsed) {
        (426, _) => RemoteError::ClientOutdated {
            minimum: body
                .as_ref()
                .and_then(|b| b.minimum.as_deref())
                .and_then(|m| semver::Version::parse(m.trim()).ok()),
            download: body
                .as_ref()
                .and_then(|b| b.download.as_deref())
                .and_then(releases::web_url),
        },
        (500.., _) => RemoteError::Server { status, message },
        (401, _) => RemoteError::Unauthorized,
        (402, _) => RemoteError::SubscriptionRequired,
        (_, Some(ErrorCode::SiteLimit)) => RemoteError::SiteLimit,
        (_, Some(ErrorCode::InvalidPath | ErrorCode::InvalidName)) => {
            RemoteError::InvalidPath { code, message }
        }
        (404, _) => RemoteError::NotFound,
        (_, Some(ErrorCode::NameTaken)) => RemoteError::NameTaken,
        // The newer copy's entry counts only with a path that obeys the protocol.
        (_, Some(ErrorCode::Stale)) => RemoteError::Stale(
            body.and_then(|b| b.entry)
                .filter(|e| RemotePath::file(&e.path).is_ok())
                .map(Box::new),
        ),
        (410, _) => RemoteError::CursorExpired,
        (413, _) => RemoteError::TooLarge,
        _ => RemoteError::Refused { status, code },
    })
}

fn json<T: serde::de::DeserializeOwned>(
    reply: Result<Response<ureq::Body>, ureq::Error>,
) -> Result<T, RemoteError> {
    json_sized(reply).map(|(value, _)| value)
}

/// The largest JSON reply read: one listing page may be big, but never this big.
pub const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// A JSON reply and how many bytes its body had.
fn json_sized<T: serde::de::DeserializeOwned>(
    reply: Result<Response<ureq::Body>, ureq::Error>,
) -> Result<(T, u64), RemoteError> {
    let mut response = check(reply)?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_JSON_BYTES)
        .read_to_vec()
        .map_err(transport)?;
    let value = serde_json::from_slice(&bytes).map_err(RemoteError::undecodable)?;
    Ok((value, bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trouble_that_may_pass_is_retryable() {
        let server = RemoteError::Server {
            status: 500,
            message: ServerText::default(),
        };
        assert!(server.is_retryable());
        assert!(RemoteError::Network(Cause::text("reset")).is_retryable());
        assert!(!RemoteError::SiteLimit.is_retryable());
        assert!(!RemoteError::Stalled("slow".into()).is_retryable());
        assert!(!RemoteError::Unauthorized.is_retryable());
    }

    const W: Duration = Duration::from_secs(10);

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_trickle_stalls_once_a_window_passes_without_a_kib() {
        let t0 = Instant::now();
        let mut d = StallDetector::new(W, t0);
        // One byte every 100 ms, as a misbehaving server sends it.
        let mut stalled_at = None;
        for i in 1..=200_u64 {
            if d.stalled(at(t0, i * 100), i) {
                stalled_at = Some(i * 100);
                break;
            }
        }
        assert_eq!(stalled_at, Some(10_000));
    }

    #[test]
    fn silence_stalls_and_nothing_stalls_before_the_window() {
        let t0 = Instant::now();
        let mut d = StallDetector::new(W, t0);
        assert!(!d.stalled(at(t0, 0), 0));
        assert!(!d.stalled(at(t0, 9_999), STALL_MIN_BYTES - 1));
        assert!(d.stalled(at(t0, 10_000), STALL_MIN_BYTES - 1));
    }

    #[test]
    fn a_slow_steady_body_never_stalls() {
        let t0 = Instant::now();
        let mut d = StallDetector::new(W, t0);
        // 150 bytes a second: a KiB every ~7 s, 20 MiB-scale durations.
        for s in 1..=600_u64 {
            assert!(!d.stalled(at(t0, s * 1000), s * 150), "stalled at {s} s");
        }
    }

    #[test]
    fn a_fast_start_then_a_stop_stalls_a_window_after_the_last_progress() {
        let t0 = Instant::now();
        let mut d = StallDetector::new(W, t0);
        assert!(!d.stalled(at(t0, 500), 5 << 20));
        assert!(!d.stalled(at(t0, 1_000), 6 << 20));
        // A few stray bytes do not count as progress.
        assert!(!d.stalled(at(t0, 6_000), (6 << 20) + 10));
        assert!(!d.stalled(at(t0, 10_999), (6 << 20) + 20));
        assert!(d.stalled(at(t0, 11_000), (6 << 20) + 20));
    }

    #[test]
    fn progress_after_a_quiet_spell_opens_a_new_window() {
        let t0 = Instant::now();
        let mut d = StallDetector::new(W, t0);
        assert!(!d.stalled(at(t0, 9_000), 0));
        assert!(!d.stalled(at(t0, 9_500), 4096));
        assert!(!d.stalled(at(t0, 19_000), 4096));
        assert!(d.stalled(at(t0, 19_500), 4096));
    }

    /// A server on 127.0.0.1:0 that answers one connection with `head` (if any), then `trickle`
    /// bytes one by one, then holds the connection open, never reading the request body, until
    /// the test drops the returned sender.
    fn silent_server(
        head: Option<String>,
        trickle: usize,
    ) -> (String, std::sync::mpsc::Sender<()>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (hold, held) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let Ok((conn, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(conn);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let mut conn = reader.into_inner();
            if let Some(head) = head {
                let _ = conn.write_all(head.as_bytes());
                for _ in 0..trickle {
                    if conn.write_all(b"x").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            let _ = held.recv();
        });
        (url, hold)
    }

    fn file_head(length: u64) -> String {
        format!(
            "HTTP/1.1 200 OK\r\n{HEADER_CHECKSUM}: {}\r\n{HEADER_MODIFIED_AT}: \
             2026-11-26T10:00:00.000Z\r\nContent-Length: {length}\r\n\r\n",
            Checksum::of(b"")
        )
    }

    fn quick_remote(url: &str) -> Remote {
        let mut remote = Remote::new(agent(), url, "t");
        remote.set_stall_window(Duration::from_millis(300));
        remote
    }

    fn some_path() -> RemotePath {
        RemotePath::file("slow.html").expect("path")
    }

    #[test]
    fn a_download_whose_body_goes_silent_is_abandoned_as_stalled() {
        let (url, _hold) = silent_server(Some(file_head(1000)), 0);
        let r = quick_remote(&url).download(&some_path());
        assert!(matches!(r, Err(RemoteError::Stalled(_))), "{r:?}");
    }

    #[test]
    fn a_download_that_trickles_is_abandoned_as_stalled() {
        // 50 bytes a second, far below a KiB per window, for longer than several windows.
        let (url, _hold) = silent_server(Some(file_head(1000)), 1000);
        let r = quick_remote(&url).download(&some_path());
        assert!(matches!(r, Err(RemoteError::Stalled(_))), "{r:?}");
    }

    #[test]
    fn a_download_with_no_reply_at_all_is_abandoned_as_stalled() {
        let (url, _hold) = silent_server(None, 0);
        let r = quick_remote(&url).download(&some_path());
        assert!(matches!(r, Err(RemoteError::Stalled(_))), "{r:?}");
    }

    #[test]
    fn a_download_announcing_more_than_20_mib_is_refused_before_reading() {
        let (url, _hold) = silent_server(Some(file_head(MAX_FILE_BYTES + 1)), 0);
        // The body never comes: only the announced length can have refused it.
        let r = quick_remote(&url).download(&some_path());
        assert_eq!(r.map(|d| d.bytes.len()), Err(RemoteError::TooLarge));
    }

    #[test]
    fn an_upload_the_server_stops_taking_is_abandoned_as_stalled() {
        // Far more than the kernel buffers on both ends hold, so a write must block.
        let (url, _hold) = silent_server(None, 0);
        let body = vec![b'x'; MAX_FILE_BYTES as usize];
        let r = quick_remote(&url).upload(&some_path(), &body, Timestamp::now());
        assert!(matches!(r, Err(RemoteError::Stalled(_))), "{r:?}");
    }
}
