//! End to end: `hyperclay-sync login` on a machine with no display (or `login --device`) against
//! the real reference server. The test reads the code the real binary prints, confirms it on the
//! server's real `/device` page over HTTP as a browser would (login form and its CSRF cookie,
//! session cookie, consent form and its CSRF token), and checks what the app stored and what
//! `status` says; then the denied, expired and Ctrl-C cases, which store nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hyperclay_testkit::{ServerOptions, TestServer};

/// How long any one step may take on a loaded machine; a real run takes a second or two.
const STEP: Duration = Duration::from_secs(60);

fn server(lifetime_secs: Option<u64>) -> TestServer {
    TestServer::start_with(ServerOptions {
        demo: true,
        device_interval_secs: Some(1),
        device_lifetime_secs: lifetime_secs,
        ..ServerOptions::default()
    })
}

/// A fresh sync home and the environment of a machine without a display or a browser.
struct Machine {
    home: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            home: tempfile::tempdir().expect("a temp home"),
        }
    }

    fn sync_home(&self) -> PathBuf {
        self.home.path().join("sync-home")
    }

    fn command(&self, server: &TestServer, args: &[&str]) -> Command {
        let mut cmd = hyperclay_testkit::bin::client_command();
        cmd.args(args)
            .env("HYPERCLAY_URL", server.url())
            .env("HYPERCLAY_SYNC_HOME", self.sync_home())
            .env("HOME", self.home.path())
            .env_remove("HYPERCLAY_TOKEN")
            // No session bus: the token goes to the 0600 file, never the tester's keyring.
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("BROWSER")
            .env_remove("SSH_CONNECTION");
        cmd
    }

    /// Starts a login; returns it once it has printed its code.
    fn start_login(&self, server: &TestServer, args: &[&str]) -> Login {
        let mut child = self
            .command(server, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hyperclay-sync login");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut login = Login {
            child,
            lines,
            printed: Vec::new(),
        };
        let code = login.line_after("First copy your one-time code: ");
        let complete = login.line_after("or open ");
        login
            .printed
            .push(format!("code={code} complete={complete}"));
        login
    }

    fn token_files(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.sync_home().join("tokens")) {
            Ok(dir) => dir
                .map(|e| e.expect("a dir entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn status_json(&self, server: &TestServer) -> serde_json::Value {
        let out = self
            .command(server, &["status", "--json"])
            .output()
            .expect("run hyperclay-sync status");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
    }
}

struct Login {
    child: Child,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl Login {
    /// The rest of the first printed line starting with `prefix`.
    fn line_after(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + hyperclay_testkit::wait::scaled(STEP);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.printed.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => panic!("no line {prefix:?} printed; got {:?}", self.printed),
            }
        }
    }

    fn code(&self) -> String {
        self.field("code=")
    }

    fn complete_url(&self) -> String {
        self.field("complete=")
    }

    fn field(&self, key: &str) -> String {
        self.printed
            .last()
            .and_then(|l| l.split(' ').find_map(|w| w.strip_prefix(key)))
            .expect("recorded by start_login")
            .to_owned()
    }

    /// Waits for the app to exit; its output (stdout: what was not read yet).
    fn finish(mut self) -> Output {
        let deadline = Instant::now() + hyperclay_testkit::wait::scaled(STEP);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the app") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the login did not end; it printed {:?}", self.printed);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        let rest: Vec<String> = self.lines.try_iter().collect();
        let mut stdout = self.printed.join("\n");
        stdout.push('\n');
        stdout.push_str(&rest.join("\n"));
        Output {
            status,
            stdout: stdout.into_bytes(),
            stderr: stderr.into_bytes(),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ------------------------------------------------------------------ the browser, over HTTP

fn browser_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

struct Page {
    status: u16,
    html: String,
    location: Option<String>,
    cookie: Option<String>,
}

fn page_of(reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
    let mut reply = reply.expect("the server answers");
    let header = |name: &str| {
        reply
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header("location");
    let cookie =
        header("set-cookie").map(|c| c.split(';').next().unwrap_or_default().trim().to_owned());
    Page {
        status: reply.status().as_u16(),
        location,
        cookie,
        html: reply.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str, cookie: Option<&str>) -> Page {
    let mut req = browser_agent().get(url);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    page_of(req.call())
}

fn post_form(url: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
    page_of(
        browser_agent()
            .post(url)
            .header("Cookie", cookie)
            .send_form(fields.iter().copied()),
    )
}

/// The value of the first hidden field `name` of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').expect("a closing quote") + start;
    html[start..end].replace("&amp;", "&")
}

/// Opens the complete URL the app printed in a browser that has no session, logs in as
/// `user`, and answers the consent page with `decision`. Returns the final page.
fn confirm_in_browser(
    server: &TestServer,
    complete_url: &str,
    user: &str,
    code: &str,
    decision: &str,
) -> Page {
    let first = get(complete_url, None);
    assert_eq!(first.status, 200, "{}", first.html);
    assert!(first.html.contains("id=\"password\""), "the login form");
    let form_cookie = first.cookie.expect("the login form's cookie");
    let login = post_form(
        &format!("{}/login", server.url()),
        &form_cookie,
        &[
            ("username", user),
            ("password", user),
            ("next", &hidden(&first.html, "next")),
            ("csrf", &hidden(&first.html, "csrf")),
        ],
    );
    assert_eq!(login.status, 303, "{}", login.html);
    let session = login.cookie.expect("a session cookie");
    let back = login.location.expect("back to /device");
    let consent = get(&format!("{}{back}", server.url()), Some(&session));
    assert_eq!(consent.status, 200, "{}", consent.html);
    assert!(
        consent.html.contains(&format!("<b id=\"user\">{user}</b>")),
        "the consent page names the account: {}",
        consent.html
    );
    // The code came in the link, so the page does not show it: the user types the one their
    // terminal shows (issue 23, 2).
    assert!(!consent.html.contains(code), "{}", consent.html);
    assert!(
        consent
            .html
            .contains("Type the code that your device shows"),
        "{}",
        consent.html
    );
    post_form(
        &format!("{}/device", server.url()),
        &session,
        &[
            ("user_code", code),
            ("csrf", &hidden(&consent.html, "csrf")),
            ("decision", decision),
        ],
    )
}

// ------------------------------------------------------------------------------------ cases

#[test]
fn login_without_a_display_uses_a_code_confirmed_in_a_browser() {
    let server = server(None);
    let machine = Machine::new();
    // No --device: no DISPLAY, no WAYLAND_DISPLAY and no BROWSER choose it.
    let login = machine.start_login(&server, &["login"]);
    let code = login.code();
    assert!(
        login
            .printed
            .iter()
            .any(|l| l.contains(&format!("{}/device", server.url()))),
        "the page is printed: {:?}",
        login.printed
    );
    let done = confirm_in_browser(&server, &login.complete_url(), "demo", &code, "allow");
    assert_eq!(done.status, 200, "{}", done.html);

    let out = login.finish();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("Logged in as demo"), "{stdout}");

    let files = machine.token_files();
    assert_eq!(
        files.len(),
        1,
        "stored as the browser login stores: {files:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0])
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let token = stored_access_token(&files[0]);
    assert!(!stdout.contains(&token) && !stderr.contains(&token));
    let status = machine.status_json(&server);
    assert_eq!(status["account"], "demo", "{status}");
    // The stored token works against the server.
    let reply = browser_agent()
        .get(format!("{}/api/local-sync/status", server.url()))
        .header("User-Agent", hyperclay_testkit::http::client_user_agent())
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("the server answers");
    assert_eq!(reply.status().as_u16(), 200);
}

#[test]
fn a_denied_device_login_says_so_and_stores_nothing() {
    let server = server(None);
    let machine = Machine::new();
    let login = machine.start_login(&server, &["login", "--device"]);
    let code = login.code();
    let done = confirm_in_browser(&server, &login.complete_url(), "demo", &code, "deny");
    assert_eq!(done.status, 200, "{}", done.html);
    let out = login.finish();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the login was denied in the browser"),
        "{stderr}"
    );
    assert!(stderr.contains("login --device"), "with a hint: {stderr}");
    assert!(machine.token_files().is_empty());
    assert_eq!(
        machine.status_json(&server)["account"],
        serde_json::Value::Null
    );
}

#[test]
fn an_expired_device_login_says_so_and_stores_nothing() {
    let server = server(Some(2));
    let machine = Machine::new();
    let login = machine.start_login(&server, &["login", "--device"]);
    let out = login.finish();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the code expired before it was confirmed"),
        "{stderr}"
    );
    assert!(stderr.contains("login --device"), "with a hint: {stderr}");
    assert!(machine.token_files().is_empty());
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_a_device_login_cleanly() {
    let server = server(None);
    let machine = Machine::new();
    let login = machine.start_login(&server, &["login", "--device"]);
    let pid = login.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let out = login.finish();
    let stderr = text(&out.stderr);
    // Ended by itself, not by the signal's default effect.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the login was cancelled"), "{stderr}");
    assert!(machine.token_files().is_empty());
}

fn stored_access_token(file: &Path) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).expect("read the token file"))
            .expect("the token file is JSON");
    json["token"]["accessToken"]
        .as_str()
        .expect("an access token in the file")
        .to_owned()
}
