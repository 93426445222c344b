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
            child: None,
        }
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

/// Another client of the account, straight over HTTP.
pub struct Api {
    pub url: String,
    pub token: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        Api {
            url: url.to_owned(),
            token: token.to_owned(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent(),
        }
    }

    /// The server's content of `path`, or None when it has none.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut r = self
            .agent
            .get(format!("{}/api/local-sync/files/{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .unwrap();
        (r.status() == 200).then(|| {
            let bytes = r
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        })
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
        self.agent
            .put(format!("{}/api/local-sync/files/{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("X-Modified-At", modified_at.to_rfc3339())
            .send(content)
            .unwrap()
            .status()
            .as_u16()
    }

    /// `PUT /folders/{path}`: the status.
    pub fn put_folder(&self, path: &str) -> u16 {
        self.agent
            .put(format!("{}/api/local-sync/folders/{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_empty()
            .unwrap()
            .status()
            .as_u16()
    }

    /// The platform's own save (an app edited in the browser).
    pub fn save(&self, app: &str, html: &str) {
        let r = self
            .agent
            .post(format!("{}/save/{app}", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .send(html)
            .unwrap();
        assert!(r.status().is_success(), "save failed: {}", r.status());
    }

    /// The contents of every version the server kept of `path`, newest first.
    pub fn versions(&self, path: &str) -> Vec<String> {
        let auth = format!("Bearer {}", self.token);
        let mut r = self
            .agent
            .get(format!("{}/api/local-sync/versions/{path}", self.url))
            .header("Authorization", &auth)
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let id = e["id"].as_str().unwrap();
                self.agent
                    .get(format!("{}/api/local-sync/versions/{path}/{id}", self.url))
                    .header("Authorization", &auth)
                    .call()
                    .unwrap()
                    .body_mut()
                    .read_to_string()
                    .unwrap()
            })
            .collect()
    }

    /// Every path of the account.
    pub fn paths(&self) -> Vec<String> {
        let mut r = self
            .agent
            .get(format!("{}/api/local-sync/changes", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
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
