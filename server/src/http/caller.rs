//! Who is calling: the bearer token (401 when missing, malformed, forged, expired, revoked,
//! replaced by its refreshed successor, or for an account that is gone), the paid check (402), and the browser session cookie.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::AppState;
use super::cookies::Cookie;
use crate::error::ServerError;
use crate::store::{Account, Plan, accounts, grants};
use crate::token::Claims;

impl AppState {
    /// The account behind the bearer token, paid or not.
    pub async fn bearer(&self, headers: &HeaderMap) -> Result<(Account, Claims), ServerError> {
        let token = bearer_token(headers)?;
        let claims = self.keys.verify(token, &self.clock)?;
        let id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ServerError::Unauthorized("the token names no account"))?;
        let (fam, generation) = (claims.fam.clone(), claims.generation);
        let account = self
            .store
            .run(move |s| {
                grants::admit(s.conn(), &fam, generation, id)?;
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
        Ok(self.session_with_id(headers).await?.map(|(_, a)| a))
    }

    /// The live browser session's id (what its forms' CSRF tokens are bound to) and account.
    pub async fn session_with_id(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(String, Account)>, ServerError> {
        let Some(id) = Cookie::Session.read(headers, self.secure_cookies) else {
            return Ok(None);
        };
        let now = self.clock.now().as_millis();
        self.store
            .run(
                move |s| match grants::session_account(s.conn(), &id, now)? {
                    Some(account_id) => Ok(accounts::by_id(s.conn(), account_id)?.map(|a| (id, a))),
                    None => Ok(None),
                },
            )
            .await
    }
}

pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, ServerError> {
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
