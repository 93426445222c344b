//! Logging in and holding a token: the browser login (RFC 8252 loopback + PKCE S256 + state),
//! the device login for machines without a browser (RFC 8628), token storage (OS keyring, else a
//! private file), and the refresh and revoke calls. The engine decides when to use them (its
//! refresh is single-flight); this module provides the pieces.
//!
//! Never log, print or put into an error a token, an authorization code, a device code or a code
//! verifier.

mod api;
mod callback;
mod device;
mod error;
mod freshness;
mod login;
mod pkce;
mod store;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub use api::{USER_AGENT, refresh, revoke};
pub use device::{DeviceLogin, no_browser_here};
pub use error::AuthError;
pub use freshness::{REFRESH_AFTER_MS, needs_refresh};
pub use login::PendingLogin;
pub use store::{StoredToken, TokenBackend, TokenStore};

/// How long a browser login may take before it is abandoned.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl AuthError {
    /// Worth trying again later without the user doing anything (network trouble, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Network(_) => true,
            AuthError::Server { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// `hyperclay-sync login`: prints the authorize URL, tries to open a browser, waits for the
/// answer, stores the token and prints who is logged in.
pub fn login_interactive(
    home: &Path,
    server_url: &str,
    agent: &ureq::Agent,
) -> Result<StoredToken, AuthError> {
    let store = TokenStore::open(home, server_url);
    let pending = PendingLogin::begin(server_url)?;
    let url = pending.url().to_owned();
    println!("Opening your browser\u{2026} If nothing opens, visit: {url}");
    let _ = std::io::stdout().flush();
    // On its own thread: with $BROWSER set, webbrowser waits for that command to exit, and a
    // command that waits for our callback page would otherwise wait for us forever.
    let opener = std::thread::Builder::new()
        .name("open-browser".into())
        .spawn(move || match webbrowser::open(&url) {
            Ok(()) => log::info!("Login: asked the system to open a browser"),
            Err(e) => log::info!("Login: could not open a browser ({e}); the URL was printed"),
        });
    if let Err(e) = opener {
        log::info!("Login: could not start the browser opener ({e}); the URL was printed");
    }
    let token = pending.wait(agent, LOGIN_TIMEOUT)?;
    store.save(&token)?;
    println!("Logged in as {}", token.user.name);
    Ok(token)
}

/// `hyperclay-sync login --device` (and `login` where no browser can work): prints the page
/// and the code to confirm there, waits until the user has (Ctrl-C cancels, storing nothing),
/// stores the token exactly as the browser login does and prints who is logged in.
pub fn login_device(
    home: &Path,
    server_url: &str,
    agent: &ureq::Agent,
) -> Result<StoredToken, AuthError> {
    let store = TokenStore::open(home, server_url);
    // Caught from before the code is shown: a Ctrl-C once it is always ends the wait cleanly.
    let stop = stop_requests();
    let login = DeviceLogin::begin(agent, server_url)?;
    let minutes = login.expires_in().as_secs().div_ceil(60);
    println!("First copy your one-time code: {}", login.user_code());
    println!(
        "Then open {} in a browser on any device and enter it,",
        login.verification_uri()
    );
    println!("or open {}", login.verification_uri_complete());
    println!(
        "Waiting for you to allow Hyperclay Sync there (the code expires in {minutes} min; \
         Ctrl-C cancels)\u{2026}"
    );
    let _ = std::io::stdout().flush();
    let token = login.wait(agent, &stop)?;
    store.save(&token)?;
    println!("Logged in as {}", token.user.name);
    Ok(token)
}

/// Receives once Ctrl-C (or SIGTERM) arrives, which from this call on no longer ends the
/// process at once: the login stops at its next step, cleanly, storing nothing half done.
fn stop_requests() -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = catch_stop().and_then(|wait| {
        std::thread::Builder::new()
            .name("login-stop".into())
            .spawn(move || {
                wait();
                let _ = tx.send(());
            })
    });
    // Without a handler a signal keeps its default effect, which also ends the wait.
    if let Err(e) = waiter {
        log::warn!("Login: Ctrl-C cannot be caught ({e}); it ends the program");
    }
    rx
}

/// Installs the stop handlers now (not when a thread gets round to it), and returns the wait
/// for the first stop.
#[cfg(unix)]
fn catch_stop() -> std::io::Result<impl FnOnce() + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut interrupt, mut terminate) = {
        let _inside = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    Ok(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    })
}

/// Elsewhere Ctrl-C is caught from the waiting thread's first poll, a moment after this call.
#[cfg(not(unix))]
fn catch_stop() -> std::io::Result<impl FnOnce() + Send> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(move || {
        let _ = runtime.block_on(tokio::signal::ctrl_c());
    })
}

/// `hyperclay-sync logout`: revokes the stored token on the server (one that is already dead is
/// fine), then forgets it. The token is forgotten even when the server cannot be reached; that
/// case still returns the error so the caller can say the server was not told. Prints nothing.
pub fn logout(home: &Path, server_url: &str, agent: &ureq::Agent) -> Result<(), AuthError> {
    let store = TokenStore::open(home, server_url);
    let revoked = match store.load() {
        Ok(Some(token)) => match revoke(agent, server_url, &token.access_token) {
            Ok(()) | Err(AuthError::Unauthorized) => Ok(()),
            Err(e) => Err(e),
        },
        Ok(None) => Ok(()),
        // An unreadable entry cannot be revoked, but it can still be forgotten.
        Err(e) => {
            log::warn!("Logout: the stored login could not be read ({e}); forgetting it");
            Ok(())
        }
    };
    store.clear()?;
    match revoked {
        Ok(()) => {
            log::info!("Logged out");
            Ok(())
        }
        Err(e) => {
            log::warn!("Logged out on this computer, but the server was not told: {e}");
            Err(AuthError::NotRevoked(Box::new(e)))
        }
    }
}
