//! Who is calling: the bearer token (401 when missing, malformed, forged, expired, revoked or
//! for an account that is gone), the paid check (402), and the browser session cookie.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};

use super::AppState;
use crate::error::ServerError;
use crate::store::{Account, Plan, accounts, grants};
use crate::token::Claims;

pub const SESSION_COOKIE: &str = "hyperclay_session";

impl AppState {
    /// The account behind the bearer token, paid or not.
    pub async fn bearer(&self, headers: &HeaderMap) -> Result<(Account, Claims), ServerError> {
        let token = bearer_token(headers)?;
        let claims = self.keys.verify(token, &self.clock)?;
        let id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ServerError::Unauthorized("the token names no account"))?;
        let jti = claims.jti.clone();
        let account = self
            .store
            .run(move |s| {
                if grants::is_revoked(s.conn(), &jti)? {
                    return Err(ServerError::Unauthorized("the token was revoked"));
                }
                accounts::by_id(s.conn(), id)?.ok_or(ServerError::Unauthorized(
                    "the token's account no longer exists",
                ))
            })
            .await?;
        Ok((account, claims))
    }

    /// The account behind the bearer token, which must be a paid subscriber.
    pub async fn paid(&self, headers: &HeaderMap) -> Result<(Account, Claims), ServerError> {
        let (account, claims) = self.bearer(headers).await?;
        if account.plan != Plan::Paid {
            return Err(ServerError::SubscriptionRequired);
        }
        Ok((account, claims))
    }

    /// The account of the browser session cookie, if there is a live session.
    pub async fn session(&self, headers: &HeaderMap) -> Result<Option<Account>, ServerError> {
        let Some(id) = session_cookie(headers) else {
            return Ok(None);
        };
        let now = self.clock.now().as_millis();
        self.store
            .run(
                move |s| match grants::session_account(s.conn(), &id, now)? {
                    Some(account_id) => accounts::by_id(s.conn(), account_id),
                    None => Ok(None),
                },
            )
            .await
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ServerError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or(ServerError::Unauthorized("no Authorization: Bearer token"))?
        .to_str()
        .map_err(|_| ServerError::Unauthorized("the Authorization header is malformed"))?;
    let (scheme, token) = value.split_once(' ').ok_or(ServerError::Unauthorized(
        "the Authorization header is malformed",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ServerError::Unauthorized(
            "the Authorization header is not a Bearer token",
        ));
    }
    Ok(token.trim())
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}
