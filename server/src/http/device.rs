//! `/device`: where the user of a device login (RFC 8628 §3.3) confirms, in a browser anywhere,
//! the code their terminal shows. It asks for the code, then shows a consent page naming the
//! account; only the consent page's POST (this browser's session and CSRF token, from this
//! origin's own page) allows or denies the login. Like every page here: no script, nothing
//! unescaped, never framed.
//!
//! User codes are short enough to guess, so every code looked up counts: wrong ones lock the
//! account and the address out as wrong passwords do (their own counts, not the password's).
//!
//! Remote phishing (RFC 8628 §5.4, issue 23, 2): someone starts a device login and sends its
//! complete URL (`/device?user_code=…`) to a logged-in victim, e.g. from an app on this very
//! server. So a code that arrives in the URL is never trusted as the user's own:
//! - a navigation from another page (another site, or an app of this server, which is
//!   sandboxed and so has an opaque origin) never reaches a consent page: it gets the empty
//!   code form;
//! - a consent page for a code the user did not type into this server's own code form just now
//!   (the complete URL from a terminal, or the way back from the login form) does not show the
//!   code and asks the user to type the code their device shows before Allow works;
//! - every consent page shows where (the client's address), when and as what device the login
//!   was asked for.

use std::net::IpAddr;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::pages::{esc, from_own_page, hidden, login_page, logout_form, page, with_retry_after};
use crate::client_addr::ClientAddr;
use crate::device::CodeProblem;
use crate::login_limits::Refusal;
use crate::oauth::{csrf_matches, csrf_token};
use crate::store::{Account, Plan};

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
    /// Sent by this server's own code form: the code was typed there (see [`typed_token`]).
    typed: Option<String>,
}

const TITLE: &str = "Log in Hyperclay Sync on another device";

/// The token the code form sends along with a code the user typed into it: bound to the
/// session, so no other page can claim a code was typed here.
fn typed_token(sid: &str) -> String {
    csrf_token(&typed_secret(sid))
}

fn typed_secret(sid: &str) -> String {
    format!("device code typed\0{sid}")
}

/// The form asking for the code, with `error` (or a notice) above it.
fn code_form(sid: &str, status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p id=\"error\" class=\"error\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<p>Enter the code that <b>hyperclay-sync login</b> shows in your terminal.</p>\n\
         <form method=\"get\" action=\"/device\">\n\
         <label for=\"user_code\">Code</label>\n\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autocapitalize=\"characters\" \
         placeholder=\"WDJB-MJHT\" autofocus>\n{typed}\
         <button id=\"continue\" type=\"submit\">Continue</button>\n</form>\n{logout}",
        typed = hidden("typed", &typed_token(sid)),
        logout = logout_form(sid)
    );
    page(status, TITLE, &body)
}

/// A navigation to `/device` that another page started: another site, or an app of this
/// server (sandboxed, so `Sec-Fetch-Site: cross-site` and at most the origin as `Referer`).
/// This server's own pages are the code form (`/device`) and the login form (`/login`, or the
/// `/device` URL it was shown at); the user typing or pasting the URL sends no `Referer` and
/// `Sec-Fetch-Site: none`.
fn opened_from_another_page(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if matches!(header("sec-fetch-site"), Some(site) if site != "same-origin" && site != "none") {
        return true;
    }
    let host = header("host").unwrap_or("");
    fn own<'a>(url: &'a str, host: &str) -> Option<&'a str> {
        ["http://", "https://"].iter().find_map(|scheme| {
            url.strip_prefix(scheme)
                .and_then(|rest| rest.strip_prefix(host))
                .filter(|path| path.is_empty() || path.starts_with('/'))
        })
    }
    if let Some(origin) = header("origin")
        && own(origin, host) != Some("")
    {
        return true;
    }
    match header("referer").map(|r| own(r, host)) {
        None => false,
        Some(Some(path)) => {
            let path = path.split(['?', '#']).next().unwrap_or("");
            path != "/device" && path != "/login"
        }
        Some(None) => true,
    }
}

/// `12 s`, `3 min`: how long ago a login was asked for.
fn ago(ms: i64) -> String {
    let secs = (ms / 1000).max(0);
    if secs < 120 {
        format!("{secs} s ago")
    } else {
        format!("{} min ago", secs / 60)
    }
}

/// Why a looked-up code is refused, as a page; `None` when the lookup may go on.
fn refused(st: &AppState, account: &Account, peer: IpAddr, sid: &str) -> Option<Response> {
    let now = st.clock.now().as_millis();
    match st.user_code_limits.admit(&account.name, peer, now) {
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
fn unknown_code(st: &AppState, account: &Account, peer: IpAddr, sid: &str) -> Response {
    st.user_code_limits
        .failed(&account.name, peer, st.clock.now().as_millis());
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
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    query: Result<Query<CodeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (typed, query_typed) = match query {
        Ok(Query(q)) => (q.user_code, q.typed),
        Err(_) => (None, None),
    };
    let typed = typed.filter(|c| !c.trim().is_empty());
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
    if opened_from_another_page(&headers) {
        // Not looked up (so not counted as a guess): the code is someone else's word.
        return code_form(
            &sid,
            StatusCode::OK,
            Some(
                "This page was opened from another page. If a program on your machine asks you \
                 to log in, type the code it shows.",
            ),
        );
    }
    if let Some(refusal) = refused(&st, &account, peer, &sid) {
        return refusal;
    }
    let now = st.clock.now().as_millis();
    let login = match st.device_logins.check(&typed, now) {
        Ok(login) => login,
        Err(CodeProblem::Unknown) => return unknown_code(&st, &account, peer, &sid),
    };
    let typed_here = query_typed
        .as_deref()
        .is_some_and(|t| csrf_matches(&typed_secret(&sid), t));
    consent_page(&account, &sid, &login, typed_here, now)
}

/// The consent page for `login`. When the user typed its code here just now (`typed_here`) the
/// page names it and Allow needs nothing more; otherwise the code is not on the page and the
/// user must type the one their device shows.
fn consent_page(
    account: &Account,
    sid: &str,
    login: &crate::device::Waiting,
    typed_here: bool,
    now_ms: i64,
) -> Response {
    let asked_at = hyperclay_protocol::Timestamp::from_millis(login.asked_at_ms).to_rfc3339();
    let who = format!(
        "<ul id=\"requester\">\n<li>Device: <b id=\"device\">{device}</b></li>\n\
         <li>From the address <b id=\"address\">{address}</b></li>\n\
         <li>Asked at <b id=\"asked\">{asked_at}</b> ({ago})</li>\n</ul>\n",
        device = esc(&login.device),
        address = esc(&login.address.to_string()),
        asked_at = esc(&asked_at),
        ago = ago(now_ms - login.asked_at_ms),
    );
    let (what, code_field) = if typed_here {
        (
            format!(
                "A program that shows the code <b id=\"code\">{}</b>",
                esc(&login.user_code)
            ),
            hidden("user_code", &login.user_code),
        )
    } else {
        (
            "A program".to_owned(),
            "<label for=\"user_code\">Type the code that your device shows</label>\n\
             <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" \
             autocapitalize=\"characters\" placeholder=\"WDJB-MJHT\" required autofocus>\n"
                .to_owned(),
        )
    };
    let body = format!(
        "<p id=\"consent\">{what} asks to sync the files of the Hyperclay account <b \
         id=\"user\">{name}</b>: it will be able to read, upload and change every file and app \
         of this account.</p>\n{who}\
         <p>Allow it only if you just ran <b>hyperclay-sync login</b> on that device, at that \
         time, and it shows this very code. If someone sent you this link, deny it.</p>\n\
         <form method=\"post\" action=\"/device\">\n{code_field}{csrf}\
         <button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">Allow Hyperclay \
         Sync</button>\n\
         <button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>\n<p>Not {name}?</p>\n{logout}",
        name = esc(&account.name),
        csrf = hidden("csrf", &csrf_token(sid)),
        logout = logout_form(sid),
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
    ClientAddr(peer): ClientAddr,
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
