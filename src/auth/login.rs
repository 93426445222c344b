//! One browser login (RFC 8252 loopback redirect + PKCE S256 + state): listen, build the authorize
//! URL, take exactly one valid callback, exchange its code. The code, the verifier and the state
//! are secrets: they go to the server and the browser only, never to a log or a `Debug` output.

use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::callback::{CallbackServer, Outcome, Page};
use super::pkce::{new_code_verifier, new_state, s256_challenge, secrets_match};
use super::{AuthError, StoredToken, api};
use crate::remote::server_text::ServerText;

/// RFC 3986 unreserved characters stay as they are; everything else in a query value is escaped.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A browser login waiting for its callback.
pub struct PendingLogin {
    server_url: String,
    authorize_url: String,
    redirect_uri: String,
    state: String,
    code_verifier: String,
    callbacks: CallbackServer,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("server_url", &self.server_url)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// Binds 127.0.0.1:0, makes the state and the code verifier, builds the authorize URL.
    pub fn begin(server_url: &str) -> Result<PendingLogin, AuthError> {
        let base = api::base_url(server_url);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AuthError::BadServerUrl(base.to_owned()));
        }
        let callbacks = CallbackServer::bind().map_err(AuthError::Listener)?;
        let redirect_uri = format!("http://127.0.0.1:{}/callback", callbacks.port());
        let state = new_state();
        let code_verifier = new_code_verifier();
        let authorize_url = format!(
            "{}?redirect_uri={}&state={}&code_challenge={}&code_challenge_method=S256",
            api::endpoint(base, "/authorize"),
            utf8_percent_encode(&redirect_uri, QUERY_VALUE),
            utf8_percent_encode(&state, QUERY_VALUE),
            utf8_percent_encode(&s256_challenge(&code_verifier), QUERY_VALUE),
        );
        log::info!("Login: waiting for the browser on {redirect_uri} (server {base})");
        Ok(PendingLogin {
            server_url: base.to_owned(),
            authorize_url,
            redirect_uri,
            state,
            code_verifier,
            callbacks,
        })
    }

    /// The page the user must open to sign in. Show it too: opening a browser may silently fail.
    pub fn url(&self) -> &str {
        &self.authorize_url
    }

    /// Blocks until exactly one valid callback arrives (others get an error page and are
    /// ignored; a wrong `state` is refused), answers the browser, and exchanges the code at
    /// `/token`. Gives up after `timeout` (5 min in production).
    ///
    /// The code is exchanged before the browser is answered, so its page tells the truth
    /// ("Connected" only once a token is in hand).
    pub fn wait(self, agent: &ureq::Agent, timeout: Duration) -> Result<StoredToken, AuthError> {
        let deadline = Instant::now() + timeout;
        let mut saw_other_attempt = false;
        loop {
            let Some(incoming) = self.callbacks.next(deadline) else {
                log::warn!("Login: no answer from the browser in time");
                return Err(if saw_other_attempt {
                    AuthError::StateMismatch
                } else {
                    AuthError::Timeout
                });
            };
            let callback = match &incoming.request {
                Ok(callback) => callback,
                Err(rejection) => {
                    log::debug!("Login: ignored a request on the callback port ({rejection:?})");
                    let page = rejection.page();
                    incoming.answer(&page);
                    continue;
                }
            };
            if !secrets_match(&self.state, &callback.state) {
                saw_other_attempt = true;
                log::warn!("Login: refused a browser answer that belongs to another login attempt");
                incoming.answer(&Page::error(
                    400,
                    "Wrong login attempt",
                    "This answer belongs to another login attempt. Use the newest login page \
                     opened by Hyperclay Sync.",
                ));
                continue;
            }
            let result = match &callback.outcome {
                Outcome::Error(code) if code == "subscription_required" => {
                    Err(AuthError::SubscriptionRequired)
                }
                Outcome::Error(code) => Err(AuthError::Denied(ServerText::from_wire(code))),
                Outcome::Code(code) => api::exchange_code(
                    agent,
                    &self.server_url,
                    code,
                    &self.code_verifier,
                    &self.redirect_uri,
                ),
            };
            let page = match &result {
                Ok(_) => Page::connected(),
                Err(AuthError::SubscriptionRequired) => Page::error(
                    402,
                    "Sync is for paid subscribers",
                    "Sync is for paid subscribers. Upgrade your Hyperclay plan, then log in again \
                     from Hyperclay Sync.",
                ),
                Err(e) => Page::error(400, "Login failed", format!("Login failed: {e}.")),
            };
            incoming.answer(&page);
            match &result {
                Ok(token) => log::info!("Login: connected as {}", token.user.name),
                Err(e) => log::warn!("Login failed: {e}"),
            }
            return result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn query_param<'a>(url: &'a str, key: &str) -> &'a str {
        let query = url.split_once('?').unwrap().1;
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{key}=")))
            .unwrap()
    }

    #[test]
    fn authorize_url_carries_everything_the_server_needs() {
        let login = PendingLogin::begin("http://127.0.0.1:8787/").unwrap();
        let url = login.url();
        assert!(
            url.starts_with("http://127.0.0.1:8787/api/local-sync/authorize?"),
            "{url}"
        );
        assert_eq!(
            query_param(url, "redirect_uri"),
            format!(
                "http%3A%2F%2F127.0.0.1%3A{}%2Fcallback",
                login.callbacks.port()
            )
        );
        assert_eq!(query_param(url, "state"), login.state);
        assert_eq!(
            query_param(url, "code_challenge"),
            s256_challenge(&login.code_verifier)
        );
        assert_eq!(query_param(url, "code_challenge_method"), "S256");
        assert!(!url.contains(&login.code_verifier));
        let shown = format!("{login:?}");
        assert!(!shown.contains(&login.state) && !shown.contains(&login.code_verifier));
    }

    #[test]
    fn refuses_a_server_url_without_a_scheme() {
        assert!(matches!(
            PendingLogin::begin("localhyperclay.com:8787"),
            Err(AuthError::BadServerUrl(_))
        ));
    }

    fn send(port: u16, request_line: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "{request_line}\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    }

    /// Without any server: the wrong state is refused, a stray request is ignored, and the
    /// subscription error (which needs no token exchange) ends the wait.
    #[test]
    fn wrong_state_is_refused_then_the_real_answer_ends_the_wait() {
        let login = PendingLogin::begin("http://127.0.0.1:9").unwrap();
        let port = login.callbacks.port();
        let state = login.state.clone();
        let waiter = std::thread::spawn(move || {
            login.wait(&ureq::Agent::new_with_defaults(), Duration::from_secs(20))
        });
        let favicon = send(port, "GET /favicon.ico HTTP/1.1");
        assert!(favicon.starts_with("HTTP/1.1 404"), "{favicon}");
        let wrong = send(
            port,
            "GET /callback?error=subscription_required&state=not-it HTTP/1.1",
        );
        assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
        let right = send(
            port,
            &format!("GET /callback?error=subscription_required&state={state} HTTP/1.1"),
        );
        assert!(right.starts_with("HTTP/1.1 402"), "{right}");
        assert!(right.contains("Sync is for paid subscribers"));
        assert!(matches!(
            waiter.join().unwrap(),
            Err(AuthError::SubscriptionRequired)
        ));
        // Exactly one callback: the listener is gone once the wait is over.
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn times_out_and_says_whether_only_other_attempts_answered() {
        let login = PendingLogin::begin("http://127.0.0.1:9").unwrap();
        let agent = ureq::Agent::new_with_defaults();
        assert!(matches!(
            login.wait(&agent, Duration::ZERO),
            Err(AuthError::Timeout)
        ));

        let login = PendingLogin::begin("http://127.0.0.1:9").unwrap();
        let port = login.callbacks.port();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let result = login.wait(&ureq::Agent::new_with_defaults(), Duration::from_secs(3));
            tx.send(()).unwrap();
            result
        });
        let wrong = send(port, "GET /callback?code=c&state=not-it HTTP/1.1");
        assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
        rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(matches!(
            waiter.join().unwrap(),
            Err(AuthError::StateMismatch)
        ));
    }
}
