//! The browser login end to end against a real `hyperclay-server`: this test plays the browser
//! over HTTP (authorize page, login form, session cookie, redirect to the loopback callback)
//! while `PendingLogin::wait` runs the app's side. Also refresh and revoke against the same
//! server. Nothing here opens the OS keyring: `logout` (which does) is tested through the CLI in
//! `auth_cli.rs`, where the environment can be controlled. Needs the server binary:
//! `cargo build -p hyperclay-server` first.

use std::thread;
use std::time::Duration;

use crate::web::{Browser, link};
use hyperclay_protocol::StatusResponse;
use hyperclay_protocol::Timestamp;
use hyperclay_sync::auth::{
    AuthError, PendingLogin, StoredToken, USER_AGENT, needs_refresh, refresh, revoke,
};
use hyperclay_testkit::TestServer;

/// Generous: the whole flow takes milliseconds; this only bounds a broken run.
const WAIT: Duration = Duration::from_secs(20);

/// The app's agent, configured as the engine configures it.
fn app_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn status_of(server: &str, token: &str) -> (u16, Option<StatusResponse>) {
    let mut resp = app_agent()
        .get(&format!("{server}/api/local-sync/status"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("status reaches the server");
    let status = resp.status().as_u16();
    let body = (status == 200).then(|| resp.body_mut().read_json().expect("a status body"));
    (status, body)
}

/// Runs `wait` on its own thread, as the app does while the user is in the browser.
fn waiting(login: PendingLogin) -> thread::JoinHandle<Result<StoredToken, AuthError>> {
    thread::spawn(move || login.wait(&app_agent(), WAIT))
}

/// A full paid login; returns the token.
fn log_in(server: &TestServer, user: &str, password: &str) -> StoredToken {
    let login = PendingLogin::begin(&server.url()).expect("begin");
    let url = login.url().to_owned();
    let app = waiting(login);
    let mut browser = Browser::new();
    let redirect = browser.sign_in(&server.url(), &url, user, password);
    assert_eq!(redirect.status, 303, "consent: {}", redirect.body);
    let callback = redirect.location.expect("a redirect to the app");
    let page = browser.get(&callback);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("you can close this tab"),
        "{}",
        page.body
    );
    app.join().expect("the waiting thread").expect("a token")
}

#[test]
fn paid_login_gives_a_token_that_works_on_status() {
    let server = TestServer::start();
    let token = log_in(&server, "demo", "demo");
    assert_eq!(token.user.name, "demo");
    assert!(token.expires_at > Timestamp::now());
    let (status, body) = status_of(&server.url(), &token.access_token);
    assert_eq!(status, 200);
    assert_eq!(body.expect("a status body").user.name, "demo");
    assert!(!needs_refresh(&token.access_token, Timestamp::now()));
}

#[test]
fn unpaid_login_ends_with_subscription_required_and_no_token() {
    let server = TestServer::start();
    let login = PendingLogin::begin(&server.url()).expect("begin");
    let url = login.url().to_owned();
    let app = waiting(login);
    let mut browser = Browser::new();
    let page = browser.sign_in(&server.url(), &url, "free", "free");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Sync is for paid subscribers"),
        "{}",
        page.body
    );
    let callback = link(&page.body, "continue");
    assert!(
        callback.contains("error=subscription_required"),
        "{callback}"
    );
    let answer = browser.get(&callback);
    assert_eq!(answer.status, 402, "{}", answer.body);
    assert!(answer.body.contains("Sync is for paid subscribers"));
    match app.join().expect("the waiting thread") {
        Err(AuthError::SubscriptionRequired) => {}
        other => panic!("expected SubscriptionRequired, got {other:?}"),
    }
}

#[test]
fn a_callback_with_a_wrong_state_is_refused_and_the_real_one_still_works() {
    let server = TestServer::start();
    let login = PendingLogin::begin(&server.url()).expect("begin");
    let url = login.url().to_owned();
    let app = waiting(login);
    let mut browser = Browser::new();
    let redirect = browser.sign_in(&server.url(), &url, "demo", "demo");
    let callback = redirect.location.expect("a redirect to the app");
    // The real code with someone else's state: a login CSRF attempt.
    let (head, query) = callback.split_once('?').expect("a query");
    let forged_query: Vec<String> = query
        .split('&')
        .map(|p| {
            if p.starts_with("state=") {
                "state=forged".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    let forged = browser.get(&format!("{head}?{}", forged_query.join("&")));
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(!forged.body.contains("close this tab"));
    let stray = browser.get(&format!("{head}/../favicon.ico"));
    assert_eq!(stray.status, 404);
    let real = browser.get(&callback);
    assert_eq!(real.status, 200, "{}", real.body);
    let token = app.join().expect("the waiting thread").expect("a token");
    assert_eq!(status_of(&server.url(), &token.access_token).0, 200);
    // Exactly one callback: nothing listens any more.
    assert!(
        browser.agent.get(&callback).call().is_err(),
        "the loopback listener is closed after the login"
    );
}

#[test]
fn a_code_the_server_does_not_know_ends_with_invalid_grant_and_no_connected_page() {
    let server = TestServer::start();
    let login = PendingLogin::begin(&server.url()).expect("begin");
    let url = login.url().to_owned();
    let app = waiting(login);
    // The right state (it is in the authorize URL) with a made-up code.
    let query = url.split_once('?').expect("a query").1;
    let param = |key: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{key}=")))
            .expect("the parameter")
            .to_owned()
    };
    let redirect_uri = param("redirect_uri")
        .replace("%3A", ":")
        .replace("%2F", "/");
    let mut browser = Browser::new();
    let answer = browser.get(&format!(
        "{redirect_uri}?code=made-up&state={}",
        param("state")
    ));
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(!answer.body.contains("close this tab"), "{}", answer.body);
    assert!(answer.body.contains("Login failed"), "{}", answer.body);
    match app.join().expect("the waiting thread") {
        Err(AuthError::InvalidGrant) => {}
        other => panic!("expected InvalidGrant, got {other:?}"),
    }
}

#[test]
fn refresh_returns_a_new_token_and_stale_tokens_are_detected() {
    let server = TestServer::start();
    let day_old = server.token_aged("demo", 24 * 3600 + 60);
    assert!(needs_refresh(&day_old, Timestamp::now()));
    let fresh = refresh(&app_agent(), &server.url(), &day_old).expect("refresh");
    assert_ne!(fresh.access_token, day_old);
    assert_eq!(fresh.user.name, "demo");
    assert!(!needs_refresh(&fresh.access_token, Timestamp::now()));
    assert_eq!(status_of(&server.url(), &fresh.access_token).0, 200);
    // A token past its 10 days cannot be refreshed: the user must log in again.
    let expired = server.token_aged("demo", 11 * 24 * 3600);
    match refresh(&app_agent(), &server.url(), &expired) {
        Err(AuthError::Unauthorized) => {}
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[test]
fn revoke_makes_the_old_token_401() {
    let server = TestServer::start();
    let token = log_in(&server, "demo", "demo");
    revoke(&app_agent(), &server.url(), &token.access_token).expect("revoke");
    assert_eq!(status_of(&server.url(), &token.access_token).0, 401);
    match revoke(&app_agent(), &server.url(), &token.access_token) {
        Err(AuthError::Unauthorized) => {}
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    match refresh(&app_agent(), &server.url(), &token.access_token) {
        Err(AuthError::Unauthorized) => {}
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_a_transient_network_error() {
    let dead = dead_server_url();
    match refresh(&app_agent(), &dead, "a.b.c") {
        Err(e @ AuthError::Network(_)) => assert!(e.is_transient()),
        other => panic!("expected Network, got {other:?}"),
    }
    match revoke(&app_agent(), &dead, "a.b.c") {
        Err(e @ AuthError::Network(_)) => assert!(e.is_transient()),
        other => panic!("expected Network, got {other:?}"),
    }
}

/// A URL where nothing listens: a port the OS gave us and that we closed again.
fn dead_server_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
