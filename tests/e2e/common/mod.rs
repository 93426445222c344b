//! Shared pieces of the engine's end-to-end tests: the real `hyperclay-sync` binary as a child
//! process (killed on drop, its log shown when a test fails), condition waits with a deadline,
//! direct calls to the server as another client would make them, and a request-counting,
//! fault-injecting HTTP proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperclay_testkit::client;
#[allow(unused_imports)]
pub use hyperclay_testkit::{ServerOptions, TestServer};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub use hyperclay_testkit::wait::until as wait_until;

/// A running `hyperclay-sync run --headless` with its own home and folder.
pub struct Client {
    pub home: tempfile::TempDir,
    pub folder: PathBuf,
    _folder_dir: tempfile::TempDir,
    url: String,
    token: String,
    /// More environment for the client process (e.g. `SSL_CERT_FILE`), set before `spawn`.
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Client {
    pub fn start(url: &str, token: &str) -> Client {
        let home = tempfile::tempdir().unwrap();
        let folder_dir = tempfile::tempdir().unwrap();
        let folder = folder_dir.path().canonicalize().unwrap();
        let mut c = Client {
            home,
            folder,
            _folder_dir: folder_dir,
            url: url.to_owned(),
            token: token.to_owned(),
            env: Vec::new(),
            child: None,
        };
        c.spawn();
        c
    }

    /// A client whose folder already holds `files` before it first starts.
    pub fn with_files(url: &str, token: &str, files: &[(&str, &str)]) -> Client {
        let mut c = Client::start_stopped(url, token);
        for (p, content) in files {
            c.write(p, content);
        }
        c.spawn();
        c
    }

    pub fn start_stopped(url: &str, token: &str) -> Client {
        let home = tempfile::tempdir().unwrap();
        let folder_dir = tempfile::tempdir().unwrap();
        let folder = folder_dir.path().canonicalize().unwrap();
        Client {
            home,
            folder,
            _folder_dir: folder_dir,
            url: url.to_owned(),
            token: token.to_owned(),
            env: Vec::new(),
            child: None,
        }
    }

    /// `key=value` in the environment of the client process from its next `spawn` on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn spawn(&mut self) {
        self.spawn_polling_every("0.2");
    }

    /// Starts the client with `HYPERCLAY_POLL_SECONDS` set to `seconds` (the plain poll, used
    /// only against servers that do not long-poll).
    pub fn spawn_polling_every(&mut self, seconds: &str) {
        let log = std::fs::File::create(self.home.path().join("stderr.log")).unwrap();
        let _ = std::fs::remove_file(self.home.path().join("status.json"));
        let child = client::headless(
            &hyperclay_testkit::bin::client(),
            self.home.path(),
            &self.url,
            &self.token,
            &self.folder,
        )
        .env("HYPERCLAY_POLL_SECONDS", seconds)
        .envs(self.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
        self.child = Some(child);
    }

    /// Points the (stopped) client at another server or account, as a logout and a login as
    /// someone else, or a changed server setting, would.
    pub fn set_login(&mut self, url: &str, token: &str) {
        url.clone_into(&mut self.url);
        token.clone_into(&mut self.token);
    }

    /// SIGTERM (SIGINT under Wine: `bin::client_stop_signal`) and wait, as a user's logout or
    /// shutdown would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A client that ignores SIGTERM is killed; the tests that care check its exit.
            let _ = hyperclay_testkit::terminate_client(&mut child, DEADLINE);
        }
    }

    pub fn status(&self) -> serde_json::Value {
        client::status(self.home.path())
    }

    /// Waits until the first session finished.
    pub fn wait_synced(&self) {
        assert!(
            wait_until(DEADLINE, || client::has_synced(&self.status())),
            "the client never finished a session"
        );
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.folder.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("logs/sync.log")).unwrap_or_default()
    }

    /// Every backup of `rel` under `sites-versions/`, as contents.
    pub fn versions(&self, dir_rel: &str) -> Vec<String> {
        let dir = self.folder.join("sites-versions").join(dir_rel);
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_file())
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- client log ----\n{}\n---- end ----", self.log());
        }
    }
}

/// `h` hours before now (negative: after).
pub fn hours_ago(h: i64) -> hyperclay_protocol::Timestamp {
    hyperclay_protocol::Timestamp::now().offset_by(-h * 3_600_000)
}

/// Sets a file's modification time, as an editor or `touch -d` would.
pub fn set_mtime(path: &Path, t: hyperclay_protocol::Timestamp) {
    filetime::set_file_mtime(
        path,
        filetime::FileTime::from_system_time(t.to_system_time()),
    )
    .unwrap();
}

/// The set-up most scenarios start from: the real server, the demo account's token, another
/// client of that account over HTTP (`api`), and the sync client, optionally behind a `proxy`
/// that counts and can fail its requests. Each constructor names the moment the test starts at.
pub struct Rig {
    pub client: Client,
    pub api: Api,
    pub proxy: Option<Proxy>,
    pub token: String,
    pub server: TestServer,
}

impl Rig {
    /// The client has finished its first session with `files` written into its folder before
    /// it started.
    pub fn synced(files: &[(&str, &str)]) -> Rig {
        let rig = Rig::stopped_with(files, false);
        rig.start()
    }

    /// As [`Rig::synced`], the client talking to the server through `rig.proxy`.
    pub fn synced_through_proxy(files: &[(&str, &str)]) -> Rig {
        let rig = Rig::stopped_with(files, true);
        rig.start()
    }

    /// The server and the account are up; the client is not started (`rig.start()` starts it
    /// and waits for its first session), so the test can lay out its folder and the server's
    /// side first.
    pub fn stopped() -> Rig {
        Rig::stopped_with(&[], false)
    }

    fn stopped_with(files: &[(&str, &str)], proxied: bool) -> Rig {
        let server = TestServer::start();
        let token = server.token("demo");
        let api = Api::new(&server.url(), &token);
        let proxy = proxied.then(|| Proxy::start(&server.url()));
        let url = proxy
            .as_ref()
            .map_or_else(|| server.url(), |p| p.url.clone());
        let client = Client::start_stopped(&url, &token);
        for (p, content) in files {
            client.write(p, content);
        }
        Rig {
            client,
            api,
            proxy,
            token,
            server,
        }
    }

    /// Starts the client and waits for its first session.
    pub fn start(mut self) -> Rig {
        self.client.spawn();
        self.client.wait_synced();
        self
    }

    /// The proxy of [`Rig::synced_through_proxy`].
    pub fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("a rig started through a proxy")
    }
}

/// Another client of the account, straight over HTTP (the test kit's one client, as this
/// account).
pub struct Api {
    pub url: String,
    pub token: String,
    http: hyperclay_testkit::http::Api,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        Api {
            url: url.to_owned(),
            token: token.to_owned(),
            http: hyperclay_testkit::http::Api::new(url, Some(token)).keep_alive(),
        }
    }

    /// The same, saying it is client version `version` (a server with a minimum refuses the
    /// test kit's own version).
    pub fn as_version(url: &str, token: &str, version: &str) -> Api {
        let http = hyperclay_testkit::http::Api::new(url, Some(token))
            .keep_alive()
            .with_user_agent(Some(&format!("hyperclay-sync/{version}")));
        Api {
            url: url.to_owned(),
            token: token.to_owned(),
            http,
        }
    }

    /// The server's content of `path`, or None when it has none.
    pub fn get(&self, path: &str) -> Option<String> {
        let r = self.http.get(&format!("/api/local-sync/files/{path}"));
        (r.status == 200).then(|| r.text())
    }

    /// A new app created by another client "now": proof, once it arrives, that polls ran.
    pub fn marker(&self, name: &str) {
        let status = self.put(
            &format!("{name}.html"),
            b"<p>marker</p>",
            hyperclay_protocol::Timestamp::now(),
        );
        assert_eq!(status, 200, "creating the marker failed");
    }

    pub fn put(
        &self,
        path: &str,
        content: &[u8],
        modified_at: hyperclay_protocol::Timestamp,
    ) -> u16 {
        self.http
            .put_raw(path, content, &modified_at.to_rfc3339())
            .status
    }

    /// `PUT /folders/{path}`: the status.
    pub fn put_folder(&self, path: &str) -> u16 {
        self.http
            .put_with(&format!("/api/local-sync/folders/{path}"), b"", &[])
            .status
    }

    /// The platform's own save (an app edited in the browser).
    pub fn save(&self, app: &str, html: &str) {
        let r = self
            .http
            .try_platform_save(app, html.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.is_success(), "save failed: {} {}", r.status, r.text());
    }

    /// The contents of every version the server kept of `path`, newest first.
    pub fn versions(&self, path: &str) -> Vec<String> {
        let v: serde_json::Value = self
            .http
            .get(&format!("/api/local-sync/versions/{path}"))
            .json();
        v["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let id = e["id"].as_str().unwrap();
                self.http
                    .get(&format!("/api/local-sync/versions/{path}/{id}"))
                    .text()
            })
            .collect()
    }

    /// Every path of the account.
    pub fn paths(&self) -> Vec<String> {
        let v: serde_json::Value = self.http.get("/api/local-sync/changes").json();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A request seen by the proxy.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
}

/// An HTTP proxy in front of a server: counts requests and can answer some with a 500.
pub struct Proxy {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests whose "METHOD path" starts with the prefix get this status and error code
    /// instead of reaching the server.
    fault: Arc<Mutex<Option<(String, u16, String)>>>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fault = Arc::new(Mutex::new(None));
        let (s, f) = (seen.clone(), fault.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (s, f, up) = (s.clone(), f.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, &s, &f);
                });
            }
        });
        Proxy { url, seen, fault }
    }

    /// From now on, answer requests starting with `prefix` ("PUT /api/...") with this error.
    pub fn fail(&self, prefix: &str, status: u16, code: &str) {
        *self.fault.lock().unwrap() = Some((prefix.to_owned(), status, code.to_owned()));
    }

    pub fn heal(&self) {
        *self.fault.lock().unwrap() = None;
    }

    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(path_prefix))
            .count()
    }
}

/// One request per connection: read it, count it, fail it or forward it with `Connection: close`.
fn serve(
    conn: TcpStream,
    upstream: &str,
    seen: &Mutex<Vec<Seen>>,
    fault: &Mutex<Option<(String, u16, String)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut request_line = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if request_line.is_empty() {
            request_line = line.trim_end().to_owned();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
    });
    let mut conn = conn;
    let failing = fault.lock().unwrap().clone();
    if let Some((prefix, status, code)) = failing
        && format!("{method} {path}").starts_with(&prefix)
    {
        let body = format!(r#"{{"error":"{code}","message":"injected"}}"#);
        write!(
            conn,
            "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        conn.write_all(body.as_bytes())?;
        return Ok(());
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(&head)?;
    up.write_all(&body)?;
    let mut reply = Vec::new();
    up.read_to_end(&mut reply)?;
    conn.write_all(&reply)?;
    Ok(())
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}
