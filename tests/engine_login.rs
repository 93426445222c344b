//! `Command::Login` and `Command::Logout` through the library API, as the tray uses them: the
//! engine runs the browser login itself (this test plays the browser over HTTP), stores the
//! token, switches sync on and starts a session; logout forgets the token. The observer calls
//! back into the handle, which would deadlock if it were called under the state lock. An unpaid
//! account's refused login shows "Sync is for paid subscribers" until a login or logout.

// Its own binary, not a module of tests/e2e: it sets process-wide environment (see
// `browserless_env`), which the other end-to-end tests must not share.
#[path = "e2e/common/mod.rs"]
#[allow(dead_code)] // the e2e helpers; this file needs a few
mod common;
#[path = "e2e/common/web.rs"]
mod web;

use std::sync::{Arc, Mutex};

use common::*;
use hyperclay_sync::engine::Engine;
use hyperclay_sync::home::config::EngineConfig;
use hyperclay_sync::status::state::{Command, EngineState, UserError};
use web::{Browser, link};

/// Opens the authorize URL as a browser would, signs in, allows Sync, and follows the server
/// back to the app: its redirect (paid), or the "paid subscribers" page's link (unpaid).
fn log_in(server: &str, authorize_url: &str, user: &str, password: &str) {
    let mut browser = Browser::new();
    let last = browser.sign_in(server, authorize_url, user, password);
    let callback = match last.location {
        Some(callback) => callback,
        None => link(&last.body, "continue"),
    };
    browser.get(&callback);
}

/// Both tests need the same environment; it is set once, before either starts an engine.
fn browserless_env() {
    static ENV: std::sync::Once = std::sync::Once::new();
    // SAFETY: every test of this binary calls this first, and no thread of this process reads
    // the environment before the Once has finished.
    ENV.call_once(|| unsafe {
        std::env::set_var("BROWSER", "true");
        std::env::remove_var("DBUS_SESSION_BUS_ADDRESS");
    });
}

fn config_for(
    server: &TestServer,
    home: &std::path::Path,
    folder: &std::path::Path,
) -> EngineConfig {
    EngineConfig {
        home: home.to_path_buf(),
        server_url: server.url(),
        token_override: None,
        poll_interval: std::time::Duration::from_millis(200),
        stall_window: hyperclay_sync::home::config::DEFAULT_STALL_WINDOW,
        folder: Some(folder.to_path_buf()),
    }
}

#[test]
fn login_from_the_tray_syncs_and_logout_forgets_the_token() {
    browserless_env();
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let folder_path = folder.path().canonicalize().unwrap();
    std::fs::write(folder_path.join("mine.html"), "<p>mine</p>").unwrap();
    let config = config_for(&server, home.path(), &folder_path);
    let seen: Arc<Mutex<Vec<EngineState>>> = Arc::default();
    let handle_slot: Arc<Mutex<Option<hyperclay_sync::engine::EngineHandle>>> = Arc::default();
    let (s, h) = (seen.clone(), handle_slot.clone());
    let engine = Engine::start(
        config.clone(),
        Box::new(move |state| {
            if let Some(handle) = h.lock().unwrap().as_ref() {
                // Would deadlock if the engine held its state lock while calling us.
                assert_eq!(handle.state().enabled, state.enabled);
            }
            s.lock().unwrap().push(state.clone());
        }),
    )
    .unwrap();
    let handle = engine.handle();
    *handle_slot.lock().unwrap() = Some(handle.clone());
    assert!(matches!(
        Engine::start(config, Box::new(|_| {})),
        Err(hyperclay_sync::engine::EngineError::AlreadyRunning)
    ));
    assert!(handle.state().account.is_none());

    handle.send(Command::Login);
    assert!(wait_until(DEADLINE, || handle.state().login.is_some()));
    let url = handle.state().login.unwrap().url;
    log_in(&server.url(), &url, "demo", "demo");
    assert!(wait_until(DEADLINE, || {
        let s = handle.state();
        s.account.as_deref() == Some("demo") && s.enabled && s.login.is_none()
    }));
    let api = Api::new(&server.url(), &server.token("demo"));
    assert!(wait_until(DEADLINE, || api.get("mine.html").is_some()));
    assert!(
        hyperclay_sync::home::settings::load(home.path())
            .unwrap()
            .enabled
    );

    handle.send(Command::Logout);
    assert!(wait_until(DEADLINE, || handle.state().account.is_none()));
    let store = hyperclay_sync::auth::TokenStore::open(home.path(), &server.url());
    assert!(store.load().unwrap().is_none());
    // The engine is the settings' one writer: the tray sends start at login, and the engine's
    // later saves keep it.
    handle.send(Command::SetStartAtLogin(true));
    assert!(wait_until(DEADLINE, || {
        hyperclay_sync::home::settings::load(home.path())
            .unwrap()
            .start_at_login
    }));
    handle.send(Command::SetEnabled(false));
    assert!(wait_until(DEADLINE, || !handle.state().enabled));
    let s = hyperclay_sync::home::settings::load(home.path()).unwrap();
    assert!(s.start_at_login && !s.enabled);
    handle.send(Command::Shutdown);
    engine.join();
    assert!(seen.lock().unwrap().iter().any(|s| s.login.is_some()));
}

#[test]
fn an_unpaid_login_shows_why_until_the_next_login_or_logout() {
    browserless_env();
    let server = TestServer::start();
    server.add_user("unpaid", "unpaid-pw", false, 10);
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let folder_path = folder.path().canonicalize().unwrap();
    let engine = Engine::start(
        config_for(&server, home.path(), &folder_path),
        Box::new(|_| {}),
    )
    .unwrap();
    let handle = engine.handle();
    let log_in_as = |user: &str, password: &str| {
        handle.send(Command::Login);
        assert!(wait_until(DEADLINE, || handle.state().login.is_some()));
        let url = handle.state().login.unwrap().url;
        log_in(&server.url(), &url, user, password);
    };

    log_in_as("unpaid", "unpaid-pw");
    assert!(
        wait_until(DEADLINE, || {
            let s = handle.state();
            s.login.is_none() && s.error == Some(UserError::SubscriptionRequired)
        }),
        "{:?}",
        handle.state()
    );
    assert!(handle.state().account.is_none());
    assert_eq!(
        UserError::SubscriptionRequired.message(),
        "Sync is for paid subscribers"
    );

    // A paid login clears it.
    log_in_as("demo", "demo");
    assert!(wait_until(DEADLINE, || {
        let s = handle.state();
        s.account.as_deref() == Some("demo") && s.error.is_none() && s.login.is_none()
    }));

    handle.send(Command::Logout);
    assert!(wait_until(DEADLINE, || handle.state().account.is_none()));

    // Refused again, then a logout (with no login held) clears it.
    log_in_as("unpaid", "unpaid-pw");
    assert!(wait_until(DEADLINE, || {
        handle.state().error == Some(UserError::SubscriptionRequired)
    }));
    handle.send(Command::Logout);
    assert!(wait_until(DEADLINE, || {
        let s = handle.state();
        s.account.is_none() && s.error.is_none()
    }));

    // Any other refusal is only logged: no error line.
    handle.send(Command::Login);
    assert!(wait_until(DEADLINE, || handle.state().login.is_some()));
    let url = handle.state().login.unwrap().url;
    let param = |name: &str| {
        let raw = url
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap();
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .unwrap()
            .into_owned()
    };
    let (callback, state) = (param("redirect_uri"), param("state"));
    Browser::new().get(&format!("{callback}?error=access_denied&state={state}"));
    assert!(wait_until(DEADLINE, || handle.state().login.is_none()));
    assert_eq!(handle.state().error, None);
    handle.send(Command::Shutdown);
    engine.join();
}
