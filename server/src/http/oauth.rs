//! `POST /token` (authorization code + PKCE verifier → access token, starting a token family),
//! `/refresh` (the family's next generation) and `/logout` (ends the family).
//! A code is consumed by its first exchange attempt, right or wrong, so a leaked code cannot
//! be brute-forced against verifiers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hyperclay_protocol::{Timestamp, TokenRequest, TokenResponse};

use super::AppState;
use super::api::user_of;
use super::caller::bearer_token;
use crate::error::ServerError;
use crate::oauth::check_exchange;
use crate::store::{Account, Plan, accounts, grants};
use crate::token::TOKEN_LIFETIME_SECS;

pub async fn token(
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<TokenResponse>, ServerError> {
    let req: TokenRequest = serde_json::from_slice(&body).map_err(|_| {
        ServerError::InvalidRequest(
            "the body must be JSON {grantType, code, codeVerifier, redirectUri}".into(),
        )
    })?;
    if req.grant_type != "authorization_code" {
        return Err(ServerError::InvalidRequest(
            "grantType must be authorization_code".into(),
        ));
    }
    let now_ms = st.clock.now().as_millis();
    let account = st
        .store
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
        .await?;
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
