//! A hostile Hyperclay server for tests: speaks just enough of the protocol (status, changes,
//! files GET and PUT) for the real client to run a session against it, and answers with
//! whatever a test scripts: traversal paths, lying sizes and checksums, malformed JSON, huge
//! listings, endless bodies, redirects. It records every request (method, target, whether it
//! carried an Authorization header) so tests can check what the client asked for.
//! One request per connection (`Connection: close`), one thread per connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperclay_protocol::{Timestamp, sha256_hex};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

/// How a reply body is sent.
#[derive(Clone, Debug)]
pub enum Body {
    /// Exactly these bytes with their true Content-Length.
    Bytes(Vec<u8>),
    /// Content-Length says `declared`, then these bytes, then the connection closes.
    Truncated { declared: usize, bytes: Vec<u8> },
    /// A Content-Length of 1 MiB, then one byte every 100 ms for as long as the client reads.
    Endless,
    /// These bytes in 64 KiB pieces with a pause of `pause_ms` between them, counted in the
    /// server's `sent` as they go (so a test can act mid-transfer).
    Slow { bytes: Vec<u8>, pause_ms: u64 },
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    pub fn json(v: &serde_json::Value) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Body::Bytes(v.to_string().into_bytes()),
        }
    }

    pub fn raw_json(text: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Body::Bytes(text.as_bytes().to_vec()),
        }
    }

    /// A file download with the protocol's headers, announcing `checksum`.
    pub fn file_with_checksum(bytes: &[u8], checksum: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                ("X-Checksum".into(), checksum.into()),
                ("X-Modified-At".into(), modified_at()),
            ],
            body: Body::Bytes(bytes.to_vec()),
        }
    }

    /// An honest file download.
    pub fn file(bytes: &[u8]) -> Reply {
        Reply::file_with_checksum(bytes, &sha256_hex(bytes))
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Body::Bytes(Vec::new()),
        }
    }

    pub fn with_body(mut self, body: Body) -> Reply {
        self.body = body;
        self
    }
}

/// A fixed time in the past, so local files written "now" are always newer.
pub fn modified_at() -> String {
    "2026-01-01T10:00:00.000Z".into()
}

pub fn status_json() -> serde_json::Value {
    json!({
        "serverTime": Timestamp::now().to_rfc3339(),
        "user": {"id": "1", "name": "hostile"},
        "plan": "paid",
        "sites": {"used": 0, "limit": 50},
    })
}

/// A listing entry announcing `bytes` at `path`, whatever `path` is.
pub fn entry(path: &str, bytes: &[u8]) -> serde_json::Value {
    let kind = if path.to_ascii_lowercase().ends_with(".html") {
        "app"
    } else {
        "upload"
    };
    json!({
        "path": path, "kind": kind, "size": bytes.len(),
        "modifiedAt": modified_at(), "checksum": sha256_hex(bytes),
    })
}

pub fn changes(entries: Vec<serde_json::Value>, cursor: &str) -> serde_json::Value {
    json!({
        "serverTime": Timestamp::now().to_rfc3339(),
        "cursor": cursor, "hasMore": false, "entries": entries,
    })
}

/// The URL tail of `path` as the client would send it: each `/`-segment percent-encoded.
pub fn url_tail(path: &str) -> String {
    path.split('/')
        .map(|s| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// What the server answers; tests change it while the client runs.
#[derive(Clone, Debug)]
pub struct Script {
    pub status: Reply,
    /// `GET /changes` without a cursor.
    pub full: Reply,
    /// `GET /changes?cursor=…`.
    pub incremental: Reply,
    /// `GET /files/{tail}` by URL tail; anything else is a 404.
    pub files: HashMap<String, Reply>,
    /// When set, every PUT reply claims the server keeps the file at this path instead.
    pub put_path: Option<String>,
    /// When set, every `GET /changes` is a page of this many entries never seen before, with
    /// `hasMore: true` and a new cursor: a listing that never ends.
    pub endless_pages: Option<usize>,
    /// Any other `GET` by exact path (the query left off): the release feed and its files.
    pub other: HashMap<String, Reply>,
}

impl Script {
    /// A well-behaved server holding `files` (path → content).
    pub fn serving(files: &[(&str, &[u8])]) -> Script {
        let mut s = Script {
            status: Reply::json(&status_json()),
            full: Reply::json(&changes(Vec::new(), "c1")),
            incremental: Reply::json(&changes(Vec::new(), "c1")),
            files: HashMap::new(),
            put_path: None,
            endless_pages: None,
            other: HashMap::new(),
        };
        s.set_files(files);
        s
    }

    /// Lists `files` in the full listing and serves each honestly.
    pub fn set_files(&mut self, files: &[(&str, &[u8])]) {
        self.full = Reply::json(&changes(
            files.iter().map(|(p, b)| entry(p, b)).collect(),
            "c1",
        ));
        for (p, b) in files {
            self.files.insert(url_tail(p), Reply::file(b));
        }
    }
}

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

pub struct HostileServer {
    pub url: String,
    pub script: Arc<Mutex<Script>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes sent so far by `Body::Slow` replies.
    pub sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HostileServer {
    pub fn start(script: Script) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let script = Arc::new(Mutex::new(script));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (sc, se, st, sn) = (script.clone(), seen.clone(), stop.clone(), sent.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let (sc, se, st, sn) = (sc.clone(), se.clone(), st.clone(), sn.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &sc, &se, &st, &sn);
                });
            }
        });
        HostileServer {
            url,
            script,
            seen,
            sent,
            stop,
        }
    }

    pub fn edit(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.script.lock().expect("script"));
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// How many requests of `method` had a target starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.target.starts_with(prefix))
            .count()
    }

    /// Incremental polls seen so far.
    pub fn polls(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r.target.starts_with("/api/local-sync/changes") && r.target.contains("cursor=")
            })
            .count()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve(
    conn: TcpStream,
    script: &Mutex<Script>,
    seen: &Mutex<Vec<Seen>>,
    stop: &AtomicBool,
    sent: &AtomicUsize,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            authorization = Some(line["authorization:".len()..].trim().to_owned());
        }
    }
    let mut body = vec![0; length.min(64 << 20)];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    seen.lock().expect("seen").push(Seen {
        method: method.clone(),
        target: target.clone(),
        authorization,
        body: body.clone(),
    });
    let path = target.split('?').next().unwrap_or("").to_owned();
    let reply = {
        let s = script.lock().expect("script");
        match (method.as_str(), path.as_str()) {
            ("GET", "/api/local-sync/status") => s.status.clone(),
            ("GET", "/api/local-sync/changes") if s.endless_pages.is_some() => endless_page(
                s.endless_pages.unwrap_or(0),
                seen.lock().expect("seen").len(),
            ),
            ("GET", "/api/local-sync/changes") if target.contains("cursor=") => {
                s.incremental.clone()
            }
            ("GET", "/api/local-sync/changes") => s.full.clone(),
            ("GET", p) if s.other.contains_key(p) => s.other[p].clone(),
            ("GET", p) if p.starts_with("/api/local-sync/files/") => {
                // Matched decoded: clients may leave unreserved characters unencoded.
                let wanted = decode(&p["/api/local-sync/files/".len()..]);
                s.files
                    .iter()
                    .find(|(k, _)| decode(k) == wanted)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(not_found)
            }
            ("PUT", p) if p.starts_with("/api/local-sync/files/") => {
                let tail = &p["/api/local-sync/files/".len()..];
                let decoded = percent_encoding::percent_decode_str(tail)
                    .decode_utf8_lossy()
                    .into_owned();
                let mut e = entry(s.put_path.as_deref().unwrap_or(&decoded), &body);
                e["modifiedAt"] = json!(Timestamp::now().to_rfc3339());
                Reply::json(&json!({"serverTime": Timestamp::now().to_rfc3339(), "entry": e}))
            }
            ("PUT", p) if p.starts_with("/api/local-sync/folders/") => Reply {
                status: 204,
                headers: Vec::new(),
                body: Body::Bytes(Vec::new()),
            },
            _ => not_found(),
        }
    };
    respond(conn, &reply, stop, sent)
}

/// Page number `n` of a listing that never ends: `size` fresh entries, more to come.
fn endless_page(size: usize, n: usize) -> Reply {
    let entries = (0..size)
        .map(|i| entry(&format!("endless/p{n}-{i}.txt"), b"x"))
        .collect();
    let mut page = changes(entries, &format!("endless-{n}"));
    page["hasMore"] = json!(true);
    Reply::json(&page)
}

fn decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

fn not_found() -> Reply {
    let mut r = Reply::raw_json(r#"{"error":"not_found","message":"no such file"}"#);
    r.status = 404;
    r
}

fn respond(
    mut conn: TcpStream,
    reply: &Reply,
    stop: &AtomicBool,
    sent: &AtomicUsize,
) -> std::io::Result<()> {
    let (declared, bytes): (usize, &[u8]) = match &reply.body {
        Body::Bytes(b) => (b.len(), b),
        Body::Truncated { declared, bytes } => (*declared, bytes),
        Body::Endless => (1 << 20, &[]),
        Body::Slow { bytes, .. } => (bytes.len(), &[]),
    };
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {declared}\r\n\r\n"));
    conn.write_all(head.as_bytes())?;
    conn.write_all(bytes)?;
    if let Body::Slow { bytes, pause_ms } = &reply.body {
        for piece in bytes.chunks(64 * 1024) {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            conn.write_all(piece)?;
            conn.flush()?;
            sent.fetch_add(piece.len(), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(*pause_ms));
        }
    }
    if matches!(reply.body, Body::Endless) {
        for _ in 0..(1 << 20) {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            conn.write_all(b"x")?;
        }
    }
    conn.flush()?;
    Ok(())
}

/// Records every request it gets (as "another host" a redirect points to); answers 200.
pub struct Bystander {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Bystander {
    pub fn start() -> Bystander {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut reader = match conn.try_clone() {
                    Ok(c) => BufReader::new(c),
                    Err(_) => continue,
                };
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut authorization = None;
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                    if line.to_ascii_lowercase().starts_with("authorization:") {
                        authorization = Some(line.trim().to_owned());
                    }
                }
                let mut parts = request_line.split_whitespace();
                s.lock().expect("seen").push(Seen {
                    method: parts.next().unwrap_or("").to_owned(),
                    target: parts.next().unwrap_or("").to_owned(),
                    authorization,
                    body: Vec::new(),
                });
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Bystander { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

/// Every file under `dir` (recursively, not following symlinks), as paths relative to it.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) => {
                    if let Ok(rel) = p.strip_prefix(dir) {
                        out.push(rel.to_string_lossy().into_owned());
                    }
                }
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}
