//! `hyperclay-sync login` and `logout` as a user runs them, against a real `hyperclay-server`:
//! `$BROWSER` is a shell script that plays the browser with curl (login form, session cookie,
//! redirect to the app's loopback callback). Needs `curl` and the server binary
//! (`cargo build -p hyperclay-server` first).

use std::path::{Path, PathBuf};
use std::process::Output;

use hyperclay_protocol::{Timestamp, User};
use hyperclay_sync::auth::{StoredToken, TokenStore, revoke};
use hyperclay_testkit::TestServer;

/// Plays the browser: $1 is the authorize URL. Signs in as $LOGIN_USER/$LOGIN_PASSWORD (with the
/// login form's cookie and CSRF token), allows Sync on the consent page, follows the server to
/// the app's callback and saves the app's answer page in $BROWSER_OUT.
const BROWSER_SCRIPT: &str = r#"#!/bin/sh
set -eu
jar="$BROWSER_OUT.cookies"
base="${1%%/api/local-sync/*}"
# The value of the hidden field $1 in the page file $2, unescaped.
field() {
  sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1 |
    sed 's/&quot;/"/g; s/&#39;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g'
}
curl -fsS -c "$jar" -b "$jar" -o "$BROWSER_OUT.login" "$1"
back=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "username=$LOGIN_USER" --data-urlencode "password=$LOGIN_PASSWORD" \
  --data-urlencode "next=$(field next "$BROWSER_OUT.login")" \
  --data-urlencode "csrf=$(field csrf "$BROWSER_OUT.login")" "$base/login")
case "$back" in http*) ;; *) back="$base$back" ;; esac
curl -sS -c "$jar" -b "$jar" -o "$BROWSER_OUT.page" "$back"
if grep -q 'id="allow"' "$BROWSER_OUT.page"; then
  # The consent page: allow Sync.
  p="$BROWSER_OUT.page"
  answer=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
    --data-urlencode "redirect_uri=$(field redirect_uri "$p")" \
    --data-urlencode "state=$(field state "$p")" \
    --data-urlencode "code_challenge=$(field code_challenge "$p")" \
    --data-urlencode "code_challenge_method=$(field code_challenge_method "$p")" \
    --data-urlencode "csrf=$(field csrf "$p")" --data-urlencode "decision=allow" \
    "$base/api/local-sync/authorize")
else
  # Unpaid: the server shows its page with a link back to the app instead of redirecting.
  answer=$(sed -n 's/.*id="continue" href="\([^"]*\)".*/\1/p' "$BROWSER_OUT.page" | sed 's/&amp;/\&/g')
fi
curl -sS -o "$BROWSER_OUT.part" "$answer"
mv "$BROWSER_OUT.part" "$BROWSER_OUT"
"#;

struct Cli {
    home: tempfile::TempDir,
    browser_out: PathBuf,
    script: PathBuf,
}

impl Cli {
    fn new() -> Cli {
        let home = tempfile::tempdir().expect("a temp home");
        let script = home.path().join("browser.sh");
        std::fs::write(&script, BROWSER_SCRIPT).expect("write the browser script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("make the browser script executable");
        }
        Cli {
            browser_out: home.path().join("browser-answer.html"),
            script,
            home,
        }
    }

    /// The app's answer page as the browser script saved it. The app may exit as soon as it
    /// has answered, before the script has written the page: wait for it.
    fn browser_answer(&self) -> String {
        let deadline = std::time::Instant::now()
            + hyperclay_testkit::wait::scaled(std::time::Duration::from_secs(30));
        loop {
            if let Ok(page) = std::fs::read_to_string(&self.browser_out) {
                return page;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the browser script saved no answer in 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn sync_home(&self) -> PathBuf {
        self.home.path().join("sync-home")
    }

    fn run(&self, server: &TestServer, args: &[&str], user: &str, password: &str) -> Output {
        self.run_at(&server.url(), args, user, password)
    }

    fn run_at(&self, server_url: &str, args: &[&str], user: &str, password: &str) -> Output {
        let mut command = hyperclay_testkit::bin::client_command();
        command
            .args(args)
            .env("HYPERCLAY_URL", server_url)
            .env("HYPERCLAY_SYNC_HOME", self.sync_home())
            .env("BROWSER_OUT", &self.browser_out)
            .env("LOGIN_USER", user)
            .env("LOGIN_PASSWORD", password)
            .env("HOME", self.home.path())
            .env_remove("HYPERCLAY_TOKEN")
            // No session bus: the keyring is unusable, so the token goes to the 0600 file (and
            // the test never touches the keyring of whoever runs it).
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        if under_wine() {
            // A Windows program cannot start a Linux script as its browser: the script is
            // started here with the URL the program prints, as a user would open it.
            command.env_remove("BROWSER");
            return self.run_playing_the_browser(command);
        }
        command
            .env("BROWSER", &self.script)
            .output()
            .expect("run hyperclay-sync")
    }

    /// Runs `command` and, when it prints the login URL ("… visit: URL"), plays the browser
    /// for it with the script; returns the program's output once it has exited.
    fn run_playing_the_browser(&self, mut command: std::process::Command) -> Output {
        use std::io::{BufRead as _, Read as _};
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run hyperclay-sync");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let errors = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = stderr.read_to_end(&mut all);
            all
        });
        let mut stdout = Vec::new();
        let mut browser = None;
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some((_, url)) = line.split_once("visit: ")
                && browser.is_none()
            {
                browser = Some(
                    std::process::Command::new("sh")
                        .arg(&self.script)
                        .arg(url.trim())
                        .env("BROWSER_OUT", &self.browser_out)
                        .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
                        .spawn()
                        .expect("start the browser script"),
                );
            }
            stdout.extend_from_slice(line.as_bytes());
            line.clear();
        }
        let status = child.wait().expect("wait for hyperclay-sync");
        if let Some(mut browser) = browser {
            let _ = browser.wait();
        }
        Output {
            status,
            stdout,
            stderr: errors.join().unwrap_or_default(),
        }
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
}

/// The client under test is the Windows program under Wine, which keeps its token in Credential
/// Manager (the prefix's registry) rather than in a file.
fn under_wine() -> bool {
    hyperclay_testkit::bin::client_runner().is_some()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

fn status_code(server: &TestServer, token: &str) -> u16 {
    hyperclay_testkit::http::Api::new(&server.url(), Some(token))
        .status()
        .status
}

#[test]
fn login_then_logout_from_the_command_line() {
    let server = TestServer::start();
    let cli = Cli::new();

    let out = cli.run(&server, &["login"], "demo", "demo");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let shown = format!(
        "If nothing opens, visit: {}/api/local-sync/authorize?",
        server.url()
    );
    assert!(stdout.contains(&shown), "{stdout}");
    assert!(stdout.contains("Logged in as demo"), "{stdout}");
    let page = cli.browser_answer();
    assert!(page.contains("you can close this tab"), "{page}");

    let files = cli.token_files();
    assert_eq!(files.len(), 1, "{files:?}");
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
    assert_eq!(status_code(&server, &token), 200);

    let out = cli.run(&server, &["logout"], "demo", "demo");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(cli.token_files().is_empty());
    assert_eq!(status_code(&server, &token), 401);
}

#[test]
fn an_unpaid_account_cannot_log_in_from_the_command_line() {
    let server = TestServer::start();
    let cli = Cli::new();
    let out = cli.run(&server, &["login"], "free", "free");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains("Sync is for paid subscribers"), "{stderr}");
    assert!(!stdout.contains("Logged in"), "{stdout}");
    let page = cli.browser_answer();
    assert!(page.contains("Sync is for paid subscribers"), "{page}");
    assert!(cli.token_files().is_empty());
}

fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

#[test]
fn logout_forgets_a_token_the_server_already_revoked() {
    let server = TestServer::start();
    let cli = Cli::new();
    let out = cli.run(&server, &["login"], "demo", "demo");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = cli.token_files();
    if under_wine() {
        // In Credential Manager, which only the program reads back: `status` shows the login.
        // A new password ends every token of the account behind the app's back.
        assert!(files.is_empty(), "a token file under Wine: {files:?}");
        let status = cli.run(&server, &["status"], "demo", "demo");
        assert!(
            text(&status.stdout).contains("Account:   demo"),
            "{status:?}"
        );
        server.cli(&["user", "set", "demo", "--password", "changed"]);
    } else {
        assert_eq!(files.len(), 1, "{files:?}");
        let token = stored_access_token(&files[0]);
        revoke(&plain_agent(), &server.url(), &token).expect("revoke behind the app's back");
    }

    let out = cli.run(&server, &["logout"], "demo", "demo");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stdout.contains("could not be told"), "{stdout}");
    assert!(cli.token_files().is_empty());
    if under_wine() {
        let status = cli.run(&server, &["status"], "demo", "demo");
        assert!(text(&status.stdout).contains("Logged out"), "{status:?}");
    }
    // Logged out already: still fine.
    let out = cli.run(&server, &["logout"], "demo", "demo");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn logout_without_the_server_forgets_locally_and_says_the_server_was_not_told() {
    let cli = Cli::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let dead = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    drop(listener);
    TokenStore::file_only(&cli.sync_home(), &dead)
        .save(&StoredToken {
            access_token: "h.p.s".to_owned(),
            expires_at: Timestamp::now(),
            user: User {
                id: "u".to_owned(),
                name: "demo".to_owned(),
            },
        })
        .expect("save a token file");
    assert_eq!(cli.token_files().len(), 1);

    let out = cli.run_at(&dead, &["logout"], "demo", "demo");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("could not be told"), "{stdout}");
    assert!(cli.token_files().is_empty());
}
