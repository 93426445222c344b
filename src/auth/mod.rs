//! Logging in and holding a token: the browser login (RFC 8252 loopback + PKCE S256 + state),
//! token storage (OS keyring, else a private file), and the refresh and revoke calls. The engine
//! decides when to use them (its refresh is single-flight); this module provides the pieces.
//!
//! Never log, print or put into an error a token, an authorization code or a code verifier.

mod api;
mod callback;
mod error;
mod freshness;
mod login;
mod pkce;
mod store;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub use api::{USER_AGENT, refresh, revoke};
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
