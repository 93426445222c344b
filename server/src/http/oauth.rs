//! `POST /token` (authorization code + PKCE verifier, or a device code the user allowed → access
//! token, starting a token family), `/device/code` (starts a device login), `/refresh` (the
//! family's next generation) and `/logout` (ends the family).
//! A code is consumed by its first exchange attempt, right or wrong, so a leaked code cannot
//! be brute-forced against verifiers; a device code is 32 random bytes, so guessing one is
//! hopeless, and it gives a token once.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hyperclay_protocol::{
    DEVICE_CODE_GRANT, DeviceCodeResponse, DeviceTokenRequest, Timestamp, TokenRequest,
    TokenResponse,
};

use super::AppState;
use super::api::user_of;
use super::body::read_small_body;
use super::caller::bearer_token;
use crate::client_addr::ClientAddr;
use crate::device::{Full, NotYet};
use crate::error::ServerError;
use crate::oauth::check_exchange;
use crate::store::{Account, Plan, accounts, grants};
use crate::token::TOKEN_LIFETIME_SECS;

/// The `grantType` of a `/token` body, before the body is read as that grant's request.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantType {
    grant_type: String,
}

pub async fn token(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TokenResponse>, ServerError> {
    let body = read_small_body(&headers, body).await?;
    let malformed = |what: &str| {
        ServerError::InvalidRequest(format!("the body must be JSON {{grantType, {what}}}"))
    };
    let grant: GrantType =
        serde_json::from_slice(&body).map_err(|_| malformed("code, codeVerifier, redirectUri"))?;
    let account = match grant.grant_type.as_str() {
        "authorization_code" => {
            let req: TokenRequest = serde_json::from_slice(&body)
                .map_err(|_| malformed("code, codeVerifier, redirectUri"))?;
            code_account(&st, req).await?
        }
        DEVICE_CODE_GRANT => {
            let req: DeviceTokenRequest =
                serde_json::from_slice(&body).map_err(|_| malformed("deviceCode"))?;
            device_account(&st, &req.device_code).await?
        }
        _ => {
            return Err(ServerError::InvalidRequest(format!(
                "grantType must be authorization_code or {DEVICE_CODE_GRANT}"
            )));
        }
    };
    if account.plan != Plan::Paid {
        return Err(ServerError::SubscriptionRequired);
    }
    let (id, exp) = (account.id, st.clock.now_secs() + TOKEN_LIFETIME_SECS);
    let fam = st
        .store
        .run(move |s| grants::new_family(s.conn(), id, exp))
        .await?;
    issue(&st, &account, &fam, 1).map(Json)
}

/// The account an authorization code was issued for.
async fn code_account(st: &AppState, req: TokenRequest) -> Result<Account, ServerError> {
    let now_ms = st.clock.now().as_millis();
    st.store
        .run(move |s| {
            let tx = s.transaction()?;
            let grant = grants::take_code(&tx, &req.code)?;
            tx.commit()?;
            let grant = grant.ok_or(ServerError::InvalidGrant("the code is unknown"))?;
            check_exchange(&grant, now_ms, &req.redirect_uri, &req.code_verifier)
                .map_err(ServerError::InvalidGrant)?;
            accounts::by_id(s.conn(), grant.account_id)?.ok_or(ServerError::InvalidGrant(
                "the code's account no longer exists",
            ))
        })
        .await
}

/// The account whose user allowed this device login; each answer of RFC 8628 §3.5 otherwise.
async fn device_account(st: &AppState, device_code: &str) -> Result<Account, ServerError> {
    let id = st
        .device_logins
        .poll(device_code, st.clock.now().as_millis())
        .map_err(|not_yet| match not_yet {
            NotYet::Pending => ServerError::AuthorizationPending,
            NotYet::SlowDown => ServerError::SlowDown,
            NotYet::Denied => ServerError::AccessDenied,
            NotYet::Expired => ServerError::ExpiredToken,
            NotYet::Unknown => ServerError::InvalidGrant(
                "the device code is unknown, or was already exchanged for a token",
            ),
        })?;
    st.store
        .run(move |s| accounts::by_id(s.conn(), id))
        .await?
        .ok_or(ServerError::InvalidGrant(
            "the account that allowed this login no longer exists",
        ))
}

/// The optional body of `/device/code`: how the device calls itself.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceCodeRequest {
    device_name: Option<String>,
}

/// `POST /device/code`: starts a device login (RFC 8628 §3.1). No body is needed (there is one
/// client, the sync app); a JSON `{"deviceName"}` names the device on the consent page, which
/// otherwise shows its User-Agent and "unknown device".
pub async fn device_code(
    State(st): State<AppState>,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DeviceCodeResponse>, ServerError> {
    let body = read_small_body(&headers, body).await?;
    let name = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<DeviceCodeRequest>(&body)
            .map_err(|_| {
                ServerError::InvalidRequest(
                    "the body must be empty or JSON {deviceName}".to_owned(),
                )
            })?
            .device_name
    };
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let device = crate::device::describe_device(name.as_deref(), agent);
    let started = st
        .device_logins
        .start(peer, &device, st.clock.now().as_millis())
        .map_err(|full| match full {
            Full::Address => ServerError::TooManyRequests(
                "too many device logins from this address are waiting; finish or let them \
                 expire (10 minutes), then try again",
            ),
            Full::Server => ServerError::TooManyRequests(
                "too many device logins are waiting on this server; try again in a few minutes",
            ),
        })?;
    let base = own_base(&st, &headers);
    let verification_uri = format!("{base}/device");
    Ok(Json(DeviceCodeResponse {
        device_code: started.device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={}", started.user_code),
        user_code: started.user_code,
        verification_uri,
        expires_in: started.expires_in_secs,
        interval: started.interval_secs,
    }))
}

/// This server's address as the client reached it (the `Host` it used), so the page the user is
/// sent to is the same server.
fn own_base(st: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if st.secure_cookies { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// The next generation of the presented token's family. The presented token keeps working
/// until its successor is first used (so requests already in flight do not fail). Checked
/// here rather than by the usual bearer check, which would refuse a replaced token before its
/// replay could be noticed: a replay revokes the family (see [`grants::rotate`]).
pub async fn refresh(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<TokenResponse>, ServerError> {
    let claims = st.keys.verify(bearer_token(&headers)?, &st.clock)?;
    let id: i64 = claims
        .sub
        .parse()
        .map_err(|_| ServerError::Unauthorized("the token names no account"))?;
    let exp = st.clock.now_secs() + TOKEN_LIFETIME_SECS;
    let fam = claims.fam.clone();
    let (account, generation) = st
        .store
        .run(move |s| {
            let account = accounts::by_id(s.conn(), id)?.ok_or(ServerError::Unauthorized(
                "the token's account no longer exists",
            ))?;
            let tx = s.transaction()?;
            let generation = grants::rotate(&tx, &claims.fam, claims.generation, id, exp);
            // A refused refresh may have revoked the family: that must stick.
            tx.commit()?;
            let generation = generation?;
            if account.plan != Plan::Paid {
                return Err(ServerError::SubscriptionRequired);
            }
            Ok((account, generation))
        })
        .await?;
    issue(&st, &account, &fam, generation).map(Json)
}

/// Ends the presented token's whole family: every token refreshed from the same login. Any
/// genuine, unexpired token of the family may do it, even one already replaced by its
/// successor: leaving must always work (for unpaid accounts too), and ending a login is
/// never a harm its holder could do.
pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ServerError> {
    let claims = st.keys.verify(bearer_token(&headers)?, &st.clock)?;
    let id: i64 = claims
        .sub
        .parse()
        .map_err(|_| ServerError::Unauthorized("the token names no account"))?;
    st.store
        .run(move |s| grants::end_family(s.conn(), &claims.fam, id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn issue(
    st: &AppState,
    account: &Account,
    fam: &str,
    generation: i64,
) -> Result<TokenResponse, ServerError> {
    let (token, claims) = st
        .keys
        .issue(&account.public_id(), (fam, generation), &st.clock, 0)?;
    Ok(TokenResponse {
        access_token: token,
        expires_at: Timestamp::from_millis(claims.exp.saturating_mul(1000)),
        user: user_of(account),
    })
}
