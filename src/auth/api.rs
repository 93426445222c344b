//! The token endpoints of the protocol (`/token`, `/refresh`, `/logout`) over the caller's ureq
//! agent, and the mapping of their replies to [`AuthError`]. Statuses are checked here, so the
//! agent may have `http_status_as_error(false)` (expected) or not. Never logs a token or a code.

use hyperclay_protocol::{
    API_PREFIX, DEVICE_CODE_GRANT, DeviceCodeResponse, DeviceTokenRequest, ErrorBody, ErrorCode,
    TokenRequest, TokenResponse,
};
use ureq::http::Response;

use super::{AuthError, StoredToken};
use crate::remote::server_text::ServerText;
use crate::remote::transport::{Failure, classify};

/// Sent with every request, as PROTOCOL.md §4 asks.
pub const USER_AGENT: &str = concat!("hyperclay-sync/", env!("HYPERCLAY_SYNC_VERSION"));

/// A server base URL without its trailing slashes, so `{base}/api/...` never has `//`.
pub(crate) fn base_url(server_url: &str) -> &str {
    server_url.trim_end_matches('/')
}

pub(crate) fn endpoint(server_url: &str, route: &str) -> String {
    format!("{}{API_PREFIX}{route}", base_url(server_url))
}

/// Trades an authorization code for a token (`POST /token`).
pub(crate) fn exchange_code(
    agent: &ureq::Agent,
    server_url: &str,
    code: &str,
    code_verifier: &str,
    redirect_uri: &str,
) -> Result<StoredToken, AuthError> {
    let body = TokenRequest {
        grant_type: "authorization_code".to_owned(),
        code: code.to_owned(),
        code_verifier: code_verifier.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
    };
    let reply = agent
        .post(&endpoint(server_url, "/token"))
        .header("User-Agent", USER_AGENT)
        .send_json(&body);
    token_from(reply)
}

/// Starts a device login (`POST /device/code`). A server without one (404) says so.
pub(crate) fn start_device_login(
    agent: &ureq::Agent,
    server_url: &str,
) -> Result<DeviceCodeResponse, AuthError> {
    let mut reply = agent
        .post(&endpoint(server_url, "/device/code"))
        .header("User-Agent", USER_AGENT)
        .send_empty()
        .map_err(transport_error)?;
    if reply.status().as_u16() == 404 {
        return Err(AuthError::DeviceLoginUnsupported);
    }
    if !reply.status().is_success() {
        return Err(status_error(&mut reply));
    }
    reply
        .body_mut()
        .read_json()
        .map_err(|e| AuthError::malformed("device login reply", e))
}

/// What one poll of a device login got.
#[derive(Debug)]
pub(crate) enum DevicePoll {
    Token(StoredToken),
    /// The user has not answered yet.
    Pending,
    /// Polled too soon: wait 5 s longer between polls from now on.
    SlowDown,
}

/// Polls `/token` with a device code once. The user's "deny" and the code's expiry end the
/// login with their own errors. Unlike the other calls here it needs an agent with
/// `http_status_as_error(false)`: "not yet" comes as a 400 whose code must be read.
pub(crate) fn poll_device_login(
    agent: &ureq::Agent,
    server_url: &str,
    device_code: &str,
) -> Result<DevicePoll, AuthError> {
    let body = DeviceTokenRequest {
        grant_type: DEVICE_CODE_GRANT.to_owned(),
        device_code: device_code.to_owned(),
    };
    let mut reply = agent
        .post(&endpoint(server_url, "/token"))
        .header("User-Agent", USER_AGENT)
        .send_json(&body)
        .map_err(transport_error)?;
    if reply.status().is_success() {
        return token_body(&mut reply).map(DevicePoll::Token);
    }
    let (status, code) = status_and_code(&mut reply);
    match code.as_deref().and_then(ErrorCode::parse) {
        Some(ErrorCode::AuthorizationPending) => Ok(DevicePoll::Pending),
        Some(ErrorCode::SlowDown) => Ok(DevicePoll::SlowDown),
        Some(ErrorCode::AccessDenied) => Err(AuthError::DeviceDenied),
        Some(ErrorCode::ExpiredToken) => Err(AuthError::DeviceExpired),
        _ => Err(error_for(status, code.as_deref())),
    }
}

/// Exchanges a still-valid token for a new one (`POST /refresh`). The old one stays valid until it
/// expires; the caller stores the new one.
pub fn refresh(
    agent: &ureq::Agent,
    server_url: &str,
    token: &str,
) -> Result<StoredToken, AuthError> {
    let reply = agent
        .post(&endpoint(server_url, "/refresh"))
        .header("User-Agent", USER_AGENT)
        .header("Authorization", format!("Bearer {token}"))
        .send_empty();
    token_from(reply)
}

/// Revokes a token on the server (`POST /logout`). A 401 comes back as
/// [`AuthError::Unauthorized`]: the token was already dead, which [`super::logout`] accepts.
pub fn revoke(agent: &ureq::Agent, server_url: &str, token: &str) -> Result<(), AuthError> {
    let mut reply = agent
        .post(&endpoint(server_url, "/logout"))
        .header("User-Agent", USER_AGENT)
        .header("Authorization", format!("Bearer {token}"))
        .send_empty()
        .map_err(transport_error)?;
    if reply.status().is_success() {
        Ok(())
    } else {
        Err(status_error(&mut reply))
    }
}

fn token_from(reply: Result<Response<ureq::Body>, ureq::Error>) -> Result<StoredToken, AuthError> {
    let mut reply = reply.map_err(transport_error)?;
    if !reply.status().is_success() {
        return Err(status_error(&mut reply));
    }
    token_body(&mut reply)
}

fn token_body(reply: &mut Response<ureq::Body>) -> Result<StoredToken, AuthError> {
    let mut token: TokenResponse = reply
        .body_mut()
        .read_json()
        .map_err(|e| AuthError::malformed("token reply", e))?;
    if token.access_token.is_empty() {
        return Err(AuthError::Malformed {
            what: "token reply without a token".to_owned(),
            cause: None,
        });
    }
    // The account name is stored, logged and shown: never raw (issue 23, 4).
    token.user.name = ServerText::from_wire(&token.user.name).to_string();
    token.user.id = ServerText::from_wire(&token.user.id).to_string();
    Ok(StoredToken::from(token))
}

/// Maps a non-2xx reply by its status and `error` code, never by its text (PROTOCOL.md, Errors).
fn status_error(reply: &mut Response<ureq::Body>) -> AuthError {
    let (status, code) = status_and_code(reply);
    error_for(status, code.as_deref())
}

/// A non-2xx reply's status and `error` code (when its body is the protocol's error body).
fn status_and_code(reply: &mut Response<ureq::Body>) -> (u16, Option<String>) {
    let status = reply.status().as_u16();
    let code = reply
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .ok()
        .and_then(|text| serde_json::from_str::<ErrorBody>(&text).ok())
        .map(|body| body.error);
    (status, code)
}

pub(crate) fn error_for(status: u16, code: Option<&str>) -> AuthError {
    match (status, code.and_then(ErrorCode::parse)) {
        (_, Some(ErrorCode::InvalidGrant)) => AuthError::InvalidGrant,
        (401, _) | (_, Some(ErrorCode::Unauthorized)) => AuthError::Unauthorized,
        (402, _) | (_, Some(ErrorCode::SubscriptionRequired)) => AuthError::SubscriptionRequired,
        (426, _) | (_, Some(ErrorCode::ClientOutdated)) => AuthError::ClientOutdated,
        _ => AuthError::Server {
            status,
            code: ServerText::from_wire(code.unwrap_or("no error code")),
        },
    }
}

/// The transport failure in this module's terms (the one mapping is
/// [`crate::remote::transport::classify`]).
fn transport_error(e: ureq::Error) -> AuthError {
    match classify(e) {
        // Only when the caller's agent turns statuses into errors; the body is gone by then.
        (Failure::Status(status), _) => error_for(status, None),
        (_, cause) => AuthError::Network(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_join_without_double_slashes() {
        assert_eq!(
            endpoint("http://127.0.0.1:8787/", "/token"),
            "http://127.0.0.1:8787/api/local-sync/token"
        );
        assert_eq!(
            endpoint("https://hyperclay.com", "/refresh"),
            "https://hyperclay.com/api/local-sync/refresh"
        );
    }

    #[test]
    fn errors_follow_status_and_code() {
        assert!(matches!(
            error_for(400, Some("invalid_grant")),
            AuthError::InvalidGrant
        ));
        assert!(matches!(error_for(401, None), AuthError::Unauthorized));
        assert!(matches!(
            error_for(402, Some("subscription_required")),
            AuthError::SubscriptionRequired
        ));
        assert!(matches!(
            error_for(400, Some("invalid_request")),
            AuthError::Server { status: 400, .. }
        ));
        match error_for(503, None) {
            AuthError::Server { status, code } => {
                assert_eq!((status, code.as_str()), (503, "no error code"))
            }
            other => panic!("{other:?}"),
        }
    }

    /// A one-request HTTP server that records the request head and answers with `reply`.
    fn one_shot_server(reply: &'static str) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            stream.write_all(reply.as_bytes()).unwrap();
            String::from_utf8(head).unwrap().to_ascii_lowercase()
        });
        (url, handle)
    }

    fn agent_with_default_user_agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    #[test]
    fn requests_name_the_client_and_carry_the_bearer_token() {
        let (url, server) = one_shot_server(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n{\"error\":\"unauthorized\",\"message\":\"expired\"}",
        );
        let result = refresh(&agent_with_default_user_agent(), &url, "tok.en.x");
        assert!(matches!(result, Err(AuthError::Unauthorized)), "{result:?}");
        let head = server.join().unwrap();
        assert!(
            head.starts_with("post /api/local-sync/refresh http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!(
                "\r\nuser-agent: {}\r\n",
                USER_AGENT.to_ascii_lowercase()
            )),
            "{head}"
        );
        assert!(
            head.contains("\r\nauthorization: bearer tok.en.x\r\n"),
            "{head}"
        );
    }

    #[test]
    fn an_agent_that_turns_statuses_into_errors_still_maps_them() {
        let (url, server) =
            one_shot_server("HTTP/1.1 402 Payment Required\r\nContent-Length: 0\r\n\r\n");
        let strict = ureq::Agent::new_with_defaults();
        let result = revoke(&strict, &url, "t");
        assert!(
            matches!(result, Err(AuthError::SubscriptionRequired)),
            "{result:?}"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_token_reply_that_does_not_parse_is_malformed() {
        let (url, server) = one_shot_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        );
        let result = refresh(&agent_with_default_user_agent(), &url, "t");
        assert!(
            matches!(result, Err(AuthError::Malformed { .. })),
            "{result:?}"
        );
        server.join().unwrap();
    }

    #[test]
    fn user_agent_names_the_product_and_version() {
        assert_eq!(
            USER_AGENT,
            format!("hyperclay-sync/{}", env!("HYPERCLAY_SYNC_VERSION"))
        );
    }
}
