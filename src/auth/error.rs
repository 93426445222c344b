//! What can go wrong while logging in, refreshing, revoking or storing a token, each phrased so
//! the user knows what to do next. Messages must never contain a token, a code or a verifier,
//! nor raw server text (a [`ServerText`] only); causes are kept as `source()`.

use crate::remote::server_text::ServerText;
use crate::remote::transport::Cause;

/// A stored-login or decoding failure's own error.
pub type BoxedCause = Box<dyn std::error::Error + Send + Sync>;

/// Every failure of the login and token machinery.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Nobody finished signing in in the browser before the deadline.
    #[error(
        "the browser login was not finished in time; run `hyperclay-sync login` again and sign in in the browser that opens"
    )]
    Timeout,
    /// Only callbacks for another login attempt (wrong `state`) arrived before the deadline.
    #[error(
        "the browser answered a different login attempt; close old Hyperclay login tabs and run `hyperclay-sync login` again"
    )]
    StateMismatch,
    /// The account is not (or no longer) a paid subscriber.
    #[error("Sync is for paid subscribers; upgrade your Hyperclay plan, then log in again")]
    SubscriptionRequired,
    /// The server refused the authorization code (expired, used, or bound to another verifier).
    #[error(
        "the server did not accept the login code (it may have expired); run `hyperclay-sync login` again"
    )]
    InvalidGrant,
    /// The token is missing, expired or revoked.
    #[error("your Hyperclay session has ended; run `hyperclay-sync login` to log in again")]
    Unauthorized,
    /// The browser came back with an OAuth error other than `subscription_required`.
    #[error("the server refused the login ({0}); run `hyperclay-sync login` again")]
    Denied(ServerText),
    /// The server could not be reached or the connection broke.
    #[error(
        "could not reach the Hyperclay server ({0}); check your network connection and try again"
    )]
    Network(#[source] Cause),
    /// `426 client_outdated`: the server no longer accepts this version.
    #[error(
        "this version of Hyperclay Sync is no longer supported by the server; run `hyperclay-sync update` (or download the latest version), then log in again"
    )]
    ClientOutdated,
    /// The server answered with an error this client has no special handling for.
    #[error(
        "the Hyperclay server refused the request (HTTP {status}, {code}); try again later, or update Hyperclay Sync if it keeps happening"
    )]
    Server { status: u16, code: ServerText },
    /// The server (or the local store) produced something that does not parse.
    #[error(
        "received something this version does not understand ({what}{}); update Hyperclay Sync",
        .cause.as_ref().map(|c| format!(": {}", ServerText::from_wire(&c.to_string()))).unwrap_or_default()
    )]
    Malformed {
        what: String,
        #[source]
        cause: Option<BoxedCause>,
    },
    /// The token could not be read from or written to the keyring or the token file.
    #[error(
        "could not access the stored login ({what}: {cause}); check the permissions of the data folder"
    )]
    Store {
        what: String,
        #[source]
        cause: BoxedCause,
    },
    /// Logout forgot the token locally, but could not revoke it on the server.
    #[error(
        "logged out on this computer, but the server could not be told ({0}); the old login expires on its own within 10 days"
    )]
    NotRevoked(Box<AuthError>),
    /// The configured server URL cannot be used.
    #[error("the server URL {0:?} must start with http:// or https://; fix HYPERCLAY_URL")]
    BadServerUrl(String),
    /// The user chose "Deny" on the device login's page.
    #[error(
        "the login was denied in the browser; run `hyperclay-sync login --device` again and choose Allow"
    )]
    DeviceDenied,
    /// Nobody confirmed the device login's code before it expired.
    #[error(
        "the code expired before it was confirmed in a browser; run `hyperclay-sync login --device` again and enter the new code within its time"
    )]
    DeviceExpired,
    /// The server has no device login (`/device/code` is 404).
    #[error(
        "this server does not offer the login for machines without a browser; run `hyperclay-sync login` on a computer with one, or set HYPERCLAY_TOKEN"
    )]
    DeviceLoginUnsupported,
    /// The user pressed Ctrl-C (or the process was asked to stop) while the login waited.
    #[error("the login was cancelled; nothing was stored")]
    Cancelled,
    /// The loopback listener for the browser's answer could not be set up.
    #[error(
        "could not listen on 127.0.0.1 for the browser's answer ({0}); check that local connections are allowed"
    )]
    Listener(#[source] std::io::Error),
}

impl AuthError {
    /// Something that does not parse, in this client's words, with the decoder's error as cause.
    pub(crate) fn malformed(what: impl Into<String>, cause: impl Into<BoxedCause>) -> AuthError {
        AuthError::Malformed {
            what: what.into(),
            cause: Some(cause.into()),
        }
    }

    /// The stored login could not be read or written: `what` says where.
    pub(crate) fn store(what: impl Into<String>, cause: impl Into<BoxedCause>) -> AuthError {
        AuthError::Store {
            what: what.into(),
            cause: cause.into(),
        }
    }
}
