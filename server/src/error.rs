//! Every way a request can fail, and the one place that turns a failure into the protocol's
//! error reply (`{"error", "message"}` with the status from the error table).
//!
//! Internal faults are logged here with their cause and answered with a bland 500: their text
//! may name files or SQL, which a client has no use for.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyperclay_protocol::{Entry, ErrorBody, ErrorCode, PathError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{0} already exists as a file or folder of another kind")]
    PathConflict(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("the user has not answered yet; poll again after the interval")]
    AuthorizationPending,
    #[error("polled before the interval passed; wait 5 s longer between polls from now on")]
    SlowDown,
    #[error("the user denied this login")]
    AccessDenied,
    #[error("the device code expired before the user allowed it; start a new device login")]
    ExpiredToken,
    #[error("{0}")]
    TooManyRequests(&'static str),
    #[error("sync is for paid subscribers")]
    SubscriptionRequired,
    #[error("creating this app would pass the account's limit of {0} sites")]
    SiteLimit(u64),
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed here; the sync API never deletes, renames or moves")]
    MethodNotAllowed,
    #[error("an app with this name belongs to another account; app names are unique platform-wide")]
    NameTaken,
    #[error("the write is older than the server's copy")]
    Stale(Box<Entry>),
    #[error("the cursor is unknown to this server; start again with a full listing")]
    CursorExpired,
    #[error("the body is over 20 MiB (20971520 bytes)")]
    TooLarge,
    /// A body over the small limit of the routes anyone may call (forms, `/token`).
    #[error("the body is over {0} bytes, the most this route takes")]
    BodyTooLarge(usize),
    #[error("the request did not arrive whole within {0} s")]
    RequestTimeout(u64),
    #[error(
        "this account already has the most waiting /changes requests one account may have; poll again in a few seconds"
    )]
    TooManyWaits,
    /// A connection over the server's (or this address's) connection cap, refused.
    #[error("the server has the most connections open that it takes; try again in a moment")]
    Busy,
    /// The `User-Agent` names no client version, or one below the server's minimum.
    #[error("this version of Hyperclay Sync is no longer supported; update to {minimum} or later")]
    ClientOutdated { minimum: String, download: String },
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl ServerError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ServerError::Path(e) => match e.code() {
                "invalid_name" => ErrorCode::InvalidName,
                _ => ErrorCode::InvalidPath,
            },
            ServerError::PathConflict(_) => ErrorCode::InvalidPath,
            ServerError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            ServerError::InvalidGrant(_) => ErrorCode::InvalidGrant,
            ServerError::Unauthorized(_) => ErrorCode::Unauthorized,
            ServerError::AuthorizationPending => ErrorCode::AuthorizationPending,
            ServerError::SlowDown => ErrorCode::SlowDown,
            ServerError::AccessDenied => ErrorCode::AccessDenied,
            ServerError::ExpiredToken => ErrorCode::ExpiredToken,
            ServerError::TooManyRequests(_) => ErrorCode::TooManyRequests,
            ServerError::SubscriptionRequired => ErrorCode::SubscriptionRequired,
            ServerError::SiteLimit(_) => ErrorCode::SiteLimit,
            ServerError::NotFound(_) => ErrorCode::NotFound,
            ServerError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ServerError::NameTaken => ErrorCode::NameTaken,
            ServerError::Stale(_) => ErrorCode::Stale,
            ServerError::CursorExpired => ErrorCode::CursorExpired,
            ServerError::TooLarge | ServerError::BodyTooLarge(_) => ErrorCode::TooLarge,
            ServerError::RequestTimeout(_) => ErrorCode::RequestTimeout,
            ServerError::TooManyWaits => ErrorCode::TooManyWaits,
            ServerError::Busy => ErrorCode::Busy,
            ServerError::ClientOutdated { .. } => ErrorCode::ClientOutdated,
            ServerError::Db(_) | ServerError::Io(_) | ServerError::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }

    /// The protocol reply body for this error.
    pub fn body(&self) -> ErrorBody {
        let code = self.code();
        let message = match self {
            ServerError::Db(_) | ServerError::Io(_) | ServerError::Internal(_) => {
                "internal server error".to_owned()
            }
            // The protocol's own wording for the one message a user sees verbatim.
            ServerError::SiteLimit(_) => {
                "You've run out of sites. We can't sync any more sites.".to_owned()
            }
            other => other.to_string(),
        };
        let entry = match self {
            ServerError::Stale(entry) => Some((**entry).clone()),
            _ => None,
        };
        let (minimum, download) = match self {
            ServerError::ClientOutdated { minimum, download } => {
                (Some(minimum.clone()), Some(download.clone()))
            }
            _ => (None, None),
        };
        ErrorBody {
            error: code.as_str().to_owned(),
            message,
            entry,
            minimum,
            download,
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let code = self.code();
        if code == ErrorCode::Internal {
            tracing::error!(error = %self, "request failed");
        }
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(self.body())).into_response();
        let retry_after = match code {
            // A waiting device login expires within 10 minutes; one minute frees some.
            ErrorCode::TooManyRequests => Some("60"),
            // Another waiting request of the account ends within a minute.
            ErrorCode::TooManyWaits => Some("5"),
            ErrorCode::Busy => Some("1"),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(secs),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_faults_do_not_leak_their_cause() {
        let e = ServerError::Io(std::io::Error::other("/secret/path"));
        let body = e.body();
        assert_eq!(body.error, "internal");
        assert!(!body.message.contains("secret"));
    }

    #[test]
    fn path_errors_keep_their_code() {
        let e: ServerError = PathError::DotSegment.into();
        assert_eq!(e.code(), ErrorCode::InvalidPath);
        let e: ServerError = PathError::FolderName("A".into()).into();
        assert_eq!(e.code(), ErrorCode::InvalidName);
    }
}
