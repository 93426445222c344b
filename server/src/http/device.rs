//! `/device`: where the user of a device login (RFC 8628 §3.3) confirms, in a browser anywhere,
//! the code their terminal shows. It asks for the code, then shows a consent page naming the
//! account; only the consent page's POST (this browser's session and CSRF token, from this
//! origin's own page) allows or denies the login. Like every page here: no script, nothing
//! unescaped, never framed.
//!
//! User codes are short enough to guess, so every code looked up counts: wrong ones lock the
//! account and the address out as wrong passwords do (their own counts, not the password's).

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::pages::{esc, from_own_page, hidden, login_page, logout_form, page, with_retry_after};
use crate::device::CodeProblem;
use crate::login_limits::Refusal;
use crate::oauth::{csrf_matches, csrf_token};
use crate::store::{Account, Plan};

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
}

const TITLE: &str = "Log in Hyperclay Sync on another device";

/// The form asking for the code, with `error` above it.
fn code_form(sid: &str, status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p id=\"error\" class=\"error\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<p>Enter the code that <b>hyperclay-sync login</b> shows in your terminal.</p>\n\
         <form method=\"get\" action=\"/device\">\n\
         <label for=\"user_code\">Code</label>\n\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autocapitalize=\"characters\" \
         placeholder=\"WDJB-MJHT\" autofocus>\n\
         <button id=\"continue\" type=\"submit\">Continue</button>\n</form>\n{}",
        logout_form(sid)
    );
    page(status, TITLE, &body)
}

/// Why a looked-up code is refused, as a page; `None` when the lookup may go on.
fn refused(st: &AppState, account: &Account, peer: SocketAddr, sid: &str) -> Option<Response> {
    let now = st.clock.now().as_millis();
    match st.user_code_limits.admit(&account.name, peer.ip(), now) {
        Ok(_permit) => None,
        Err(Refusal::LockedOut { retry_after_secs }) => Some(with_retry_after(
            code_form(
                sid,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many wrong codes. Wait a while, then try again."),
            ),
            retry_after_secs,
        )),
        Err(Refusal::Busy) => Some(with_retry_after(
            code_form(
                sid,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The server is busy. Try again in a moment."),
            ),
            1,
        )),
    }
}

/// A code no login waits for: counted as a guess, and the form again.
fn unknown_code(st: &AppState, account: &Account, peer: SocketAddr, sid: &str) -> Response {
    st.user_code_limits
        .failed(&account.name, peer.ip(), st.clock.now().as_millis());
    code_form(
        sid,
        StatusCode::BAD_REQUEST,
        Some(
            "No login waits for this code. Check it against your terminal; a code lasts 10 \
             minutes and can be answered once.",
        ),
    )
}

/// `GET /device[?user_code=…]`: the login form if needed, then the code form, then (for a code
/// a login waits for) the consent page. It never answers a login: only the consent POST does.
pub async fn page_for_code(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<CodeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let typed = query
        .ok()
        .and_then(|Query(q)| q.user_code)
        .filter(|c| !c.trim().is_empty());
    let (sid, account) = match st.session_with_id(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            // Back here after the login, with the code (only its own letters, so the URL is
            // plain).
            let next = match typed
                .as_deref()
                .and_then(crate::device::normalize_user_code)
            {
                Some(code) => format!("/device?user_code={code}"),
                None => "/device".to_owned(),
            };
            return login_page(&st, &headers, StatusCode::OK, &next, None);
        }
        Err(e) => return e.into_response(),
    };
    let Some(typed) = typed else {
        return code_form(&sid, StatusCode::OK, None);
    };
    if let Some(refusal) = refused(&st, &account, peer, &sid) {
        return refusal;
    }
    let code = match st.device_logins.check(&typed, st.clock.now().as_millis()) {
        Ok(code) => code,
        Err(CodeProblem::Unknown) => return unknown_code(&st, &account, peer, &sid),
    };
    let body = format!(
        "<p id=\"consent\">A program that shows the code <b id=\"code\">{code}</b> asks to sync the \
         files of the Hyperclay account <b id=\"user\">{name}</b>: it will be able to read, \
         upload and change every file and app of this account.</p>\n\
         <p>Allow it only if you just ran <b>hyperclay-sync login</b> and it shows this very \
         code.</p>\n\
         <form method=\"post\" action=\"/device\">\n{fields}{csrf}\
         <button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">Allow Hyperclay \
         Sync</button>\n\
         <button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>\n<p>Not {name}?</p>\n{logout}",
        code = esc(&code),
        name = esc(&account.name),
        fields = hidden("user_code", &code),
        csrf = hidden("csrf", &csrf_token(&sid)),
        logout = logout_form(&sid),
    );
    page(StatusCode::OK, "Allow Hyperclay Sync?", &body)
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    user_code: Option<String>,
    csrf: Option<String>,
    decision: Option<String>,
}

/// `POST /device`: the consent page's answer. Only a post from this origin's own page, with the
/// CSRF token of this browser's session, allows or denies; anything but "allow" denies.
pub async fn answer(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AnswerForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (sid, account) = match st.session_with_id(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Not logged in",
                "<p id=\"error\" class=\"error\">This browser is no longer logged in. Open the \
                 address your terminal shows again.</p>",
            );
        }
        Err(e) => return e.into_response(),
    };
    let form = form.ok().map(|Form(f)| f);
    let token_ok = form
        .as_ref()
        .and_then(|f| f.csrf.as_deref())
        .is_some_and(|t| csrf_matches(&sid, t));
    if !from_own_page(&headers) || !token_ok {
        return page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "<p id=\"error\" class=\"error\">This answer did not come from this server's own \
             page. Open the address your terminal shows again.</p>",
        );
    }
    let Some(AnswerForm {
        user_code: Some(typed),
        decision,
        ..
    }) = form
    else {
        return code_form(&sid, StatusCode::BAD_REQUEST, Some("Enter the code."));
    };
    if let Some(refusal) = refused(&st, &account, peer, &sid) {
        return refusal;
    }
    let now = st.clock.now().as_millis();
    let allow = decision.as_deref() == Some("allow");
    let answered = if allow {
        st.device_logins.allow(&typed, account.id, now)
    } else {
        st.device_logins.deny(&typed, now)
    };
    if let Err(CodeProblem::Unknown) = answered {
        return unknown_code(&st, &account, peer, &sid);
    }
    if !allow {
        tracing::info!(user = %account.name, "device login denied");
        return page(
            StatusCode::OK,
            "Login denied",
            "<p id=\"message\">Denied: that program is not logged in. You can close this \
             page.</p>",
        );
    }
    tracing::info!(user = %account.name, "device login allowed");
    if account.plan != Plan::Paid {
        return page(
            StatusCode::OK,
            "Sync is for paid subscribers",
            &format!(
                "<p id=\"message\">Sync is for paid subscribers. The account <b>{}</b> does not \
                 have a paid subscription.</p>",
                esc(&account.name)
            ),
        );
    }
    page(
        StatusCode::OK,
        "Hyperclay Sync is logged in",
        &format!(
            "<p id=\"message\">Hyperclay Sync is logged in as <b id=\"user\">{}</b>. Go back to \
             your terminal; you can close this page.</p>",
            esc(&account.name)
        ),
    )
}
