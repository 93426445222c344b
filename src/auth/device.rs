//! The device login (RFC 8628), for machines where no browser can reach our loopback listener
//! (a server over SSH, a machine with no display): the server hands out a short code, the user
//! confirms it in a browser anywhere, and this side polls `/token` until they have.
//!
//! The device code is a secret like an authorization code: it goes to the server only, never to
//! a log, an error or a `Debug` output. The user code is meant to be shown.

use std::ffi::OsString;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::api::{self, DevicePoll};
use super::{AuthError, StoredToken};

/// What a `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN: Duration = Duration::from_secs(5);
/// The interval when the server names none that makes sense (RFC 8628 §3.2's default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Bounds on what a server may ask: polling more often than every second helps nobody, and a
/// login that waits more than an hour has been forgotten.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// True when a browser login cannot work here, so `login` uses the device login as gh does:
/// on Linux and the BSDs, no `DISPLAY` and no `WAYLAND_DISPLAY`; anywhere, an SSH session
/// (`SSH_CONNECTION`) without a display, whose browser would open on another screen (or none).
/// Except when `BROWSER` names a browser: it runs here (a text browser works in a terminal), so
/// our loopback listener is its loopback too.
pub fn no_browser_here(var: impl Fn(&str) -> Option<OsString>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if set("BROWSER") {
        return false;
    }
    let display = set("DISPLAY") || set("WAYLAND_DISPLAY");
    let desktop_without_x = cfg!(any(target_os = "macos", windows));
    if set("SSH_CONNECTION") {
        return desktop_without_x || !display;
    }
    !desktop_without_x && !display
}

/// A device login waiting for its user.
pub struct DeviceLogin {
    server_url: String,
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: Duration,
    interval: Duration,
}

impl std::fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceLogin")
            .field("server_url", &self.server_url)
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .finish_non_exhaustive()
    }
}

/// The longest user code or verification address shown.
const MAX_SHOWN_FIELD: usize = 1024;

impl DeviceLogin {
    /// Asks the server for a device login (`POST /device/code`).
    pub fn begin(agent: &ureq::Agent, server_url: &str) -> Result<DeviceLogin, AuthError> {
        let base = api::base_url(server_url);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AuthError::BadServerUrl(base.to_owned()));
        }
        let d = api::start_device_login(agent, base)?;
        // Printed to the terminal as they are: one short line of plain ASCII (issue 23, 4).
        let shown_safely = |s: &str| {
            !s.is_empty() && s.len() <= MAX_SHOWN_FIELD && s.chars().all(|c| c.is_ascii_graphic())
        };
        if d.device_code.is_empty()
            || !shown_safely(&d.user_code)
            || !shown_safely(&d.verification_uri)
            || !shown_safely(&d.verification_uri_complete)
        {
            return Err(AuthError::Malformed {
                what: "device login reply with an empty, unprintable or overlong field".to_owned(),
                cause: None,
            });
        }
        let interval = match d.interval {
            0 => DEFAULT_INTERVAL,
            secs => Duration::from_secs(secs).max(MIN_INTERVAL),
        };
        log::info!("Login: device login started (server {base})");
        Ok(DeviceLogin {
            server_url: base.to_owned(),
            device_code: d.device_code,
            user_code: d.user_code,
            verification_uri: d.verification_uri,
            verification_uri_complete: d.verification_uri_complete,
            expires_in: Duration::from_secs(d.expires_in).min(MAX_WAIT),
            interval,
        })
    }

    /// The code the user enters on [`Self::verification_uri`].
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The page with the code filled in (to open, or to copy to a phone).
    pub fn verification_uri_complete(&self) -> &str {
        &self.verification_uri_complete
    }

    /// How long the user has to confirm the code.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// Polls every interval (5 s longer after each `slow_down`) until the user allows or denies,
    /// the code expires, or `stop` receives (or its sender goes away: nobody can stop us then,
    /// and waiting stays right). Network trouble and server errors are retried until the code
    /// expires: the user may still be typing the code in.
    pub fn wait(self, agent: &ureq::Agent, stop: &Receiver<()>) -> Result<StoredToken, AuthError> {
        let deadline = Instant::now() + self.expires_in;
        let mut interval = self.interval;
        loop {
            let now = Instant::now();
            if now >= deadline {
                log::warn!("Login: the device code expired before it was confirmed");
                return Err(AuthError::DeviceExpired);
            }
            match stop.recv_timeout(interval.min(deadline - now)) {
                Ok(()) => {
                    log::info!("Login: the device login was cancelled");
                    return Err(AuthError::Cancelled);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(interval),
            }
            match api::poll_device_login(agent, &self.server_url, &self.device_code) {
                Ok(DevicePoll::Token(token)) => {
                    log::info!("Login: connected as {} (device login)", token.user.name);
                    return Ok(token);
                }
                Ok(DevicePoll::Pending) => {}
                Ok(DevicePoll::SlowDown) => {
                    interval += SLOW_DOWN;
                    log::info!("Login: the server asked to poll every {interval:?}");
                }
                Err(e) if e.is_transient() => {
                    log::warn!("Login: polling the device login failed ({e}); trying again");
                }
                Err(e) => {
                    log::warn!("Login failed: {e}");
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_machine_without_a_display_or_over_ssh_gets_the_device_login() {
        let desktop_without_x = cfg!(any(target_os = "macos", windows));
        assert_eq!(no_browser_here(env(&[])), !desktop_without_x);
        assert_eq!(no_browser_here(env(&[("DISPLAY", "")])), !desktop_without_x);
        assert!(!no_browser_here(env(&[("DISPLAY", ":0")])));
        assert!(!no_browser_here(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
        assert!(no_browser_here(env(&[(
            "SSH_CONNECTION",
            "10.0.0.2 5000 10.0.0.1 22"
        )])));
        // X forwarding: the browser opens on the user's screen, and its loopback is ours.
        assert_eq!(
            no_browser_here(env(&[
                ("SSH_CONNECTION", "10.0.0.2 5000 10.0.0.1 22"),
                ("DISPLAY", "localhost:10.0"),
            ])),
            desktop_without_x
        );
        assert!(!no_browser_here(env(&[
            ("SSH_CONNECTION", "10.0.0.2 5000 10.0.0.1 22"),
            ("BROWSER", "w3m"),
        ])));
    }

    #[test]
    fn refuses_a_server_url_without_a_scheme() {
        let agent = ureq::Agent::new_with_defaults();
        assert!(matches!(
            DeviceLogin::begin(&agent, "localhyperclay.com:8787"),
            Err(AuthError::BadServerUrl(_))
        ));
    }

    #[test]
    fn the_device_code_never_shows_in_debug_output() {
        let login = DeviceLogin {
            server_url: "http://127.0.0.1:9".into(),
            device_code: "secret-device-code".into(),
            user_code: "WDJB-MJHT".into(),
            verification_uri: "http://127.0.0.1:9/device".into(),
            verification_uri_complete: "http://127.0.0.1:9/device?user_code=WDJB-MJHT".into(),
            expires_in: Duration::from_secs(600),
            interval: Duration::from_secs(5),
        };
        let shown = format!("{login:?}");
        assert!(shown.contains("WDJB-MJHT"));
        assert!(!shown.contains("secret-device-code"), "{shown}");
    }

    #[test]
    fn a_stop_ends_the_wait_before_any_poll() {
        let login = DeviceLogin {
            // Nothing listens here: a poll would be a network error, retried, never a stop.
            server_url: "http://127.0.0.1:9".into(),
            device_code: "d".into(),
            user_code: "WDJB-MJHT".into(),
            verification_uri: "http://127.0.0.1:9/device".into(),
            verification_uri_complete: "http://127.0.0.1:9/device?user_code=WDJB-MJHT".into(),
            expires_in: Duration::from_secs(600),
            interval: Duration::from_secs(600),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(()).expect("the receiver lives");
        let agent = ureq::Agent::new_with_defaults();
        assert!(matches!(login.wait(&agent, &rx), Err(AuthError::Cancelled)));
    }

    /// A server that answers each of `replies` (status, JSON body) to one request in turn and
    /// counts the requests.
    fn scripted_server(
        replies: Vec<(u16, &'static str)>,
    ) -> (String, std::thread::JoinHandle<usize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let handle = std::thread::spawn(move || {
            let mut served = 0;
            for (status, body) in replies {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).expect("read") == 1 {
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let mut request_body = vec![0u8; length];
                stream.read_exact(&mut request_body).expect("read the body");
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(reply.as_bytes()).expect("write");
                served += 1;
            }
            served
        });
        (url, handle)
    }

    fn waiting_at(server_url: &str) -> DeviceLogin {
        DeviceLogin {
            server_url: server_url.into(),
            device_code: "d".into(),
            user_code: "WDJB-MJHT".into(),
            verification_uri: format!("{server_url}/device"),
            verification_uri_complete: format!("{server_url}/device?user_code=WDJB-MJHT"),
            expires_in: Duration::from_secs(600),
            interval: Duration::from_millis(10),
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    const TOKEN: &str = r#"{"accessToken":"a.b.c","expiresAt":"2030-01-01T00:00:00.000Z","user":{"id":"1","name":"demo"}}"#;

    /// Pending, slow_down and passing server trouble all keep it polling; the token ends it.
    #[test]
    fn waits_through_pending_slow_down_and_server_trouble_for_the_token() {
        let (url, server) = scripted_server(vec![
            (400, r#"{"error":"authorization_pending","message":"m"}"#),
            (400, r#"{"error":"slow_down","message":"m"}"#),
            (503, r#"{"error":"internal","message":"m"}"#),
            (200, TOKEN),
        ]);
        let (_keep, stop) = std::sync::mpsc::channel();
        let token = waiting_at(&url).wait(&agent(), &stop).expect("a token");
        assert_eq!(token.user.name, "demo");
        assert_eq!(server.join().expect("the server"), 4);
    }

    #[test]
    fn denied_expired_and_unknown_codes_end_the_wait_with_their_own_errors() {
        for (reply, expected) in [
            (r#"{"error":"access_denied","message":"m"}"#, "DeviceDenied"),
            (
                r#"{"error":"expired_token","message":"m"}"#,
                "DeviceExpired",
            ),
            (r#"{"error":"invalid_grant","message":"m"}"#, "InvalidGrant"),
        ] {
            let (url, server) = scripted_server(vec![(400, reply)]);
            let (_keep, stop) = std::sync::mpsc::channel();
            let got = waiting_at(&url).wait(&agent(), &stop);
            assert_eq!(
                format!("{:?}", got.expect_err("an error")),
                expected,
                "{reply}"
            );
            assert_eq!(server.join().expect("the server"), 1);
        }
    }

    #[test]
    fn a_server_without_the_device_login_says_so() {
        let (url, server) = scripted_server(vec![(404, r#"{"error":"not_found","message":"m"}"#)]);
        assert!(matches!(
            DeviceLogin::begin(&agent(), &url),
            Err(AuthError::DeviceLoginUnsupported)
        ));
        server.join().expect("the server");
    }

    #[test]
    fn an_unprintable_user_code_is_refused() {
        let (url, server) = scripted_server(vec![(
            200,
            r#"{"deviceCode":"d","userCode":"WDJB\u001b[2J","verificationUri":"http://x/device","verificationUriComplete":"http://x/device?user_code=W","expiresIn":600,"interval":5}"#,
        )]);
        assert!(matches!(
            DeviceLogin::begin(&agent(), &url),
            Err(AuthError::Malformed { .. })
        ));
        server.join().expect("the server");
    }

    #[test]
    fn an_overlong_verification_address_is_refused() {
        let reply = format!(
            r#"{{"deviceCode":"d","userCode":"WDJB","verificationUri":"http://x/{}","verificationUriComplete":"http://x/device?user_code=W","expiresIn":600,"interval":5}}"#,
            "a".repeat(5000)
        );
        let (url, server) = scripted_server(vec![(200, Box::leak(reply.into_boxed_str()))]);
        assert!(matches!(
            DeviceLogin::begin(&agent(), &url),
            Err(AuthError::Malformed { .. })
        ));
        server.join().expect("the server");
    }
}
