//! The browser side: the login page, `/authorize` (PKCE, loopback redirect, and a consent page
//! whose POST alone issues a code), the browser's logout, and the platform's own app serving
//! and save endpoint. Pages are plain HTML forms with no script, so any browser (and WebDriver)
//! can use them; every value written into a page is HTML-escaped; every form that acts is
//! bound to the browser by a CSRF token; no page may be framed.
//!
//! Apps are served in a sandbox (an opaque origin): an app's script must never act with the
//! visitor's session cookie on `/login`, `/authorize`, `/logout` or `/save`.

use axum::body::Body;

use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HOST, LOCATION, REFERRER_POLICY, RETRY_AFTER,
    SET_COOKIE, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::AppState;
use super::api::file_reply;
use super::body::read_file_body;
use super::cookies::Cookie;
use crate::client_addr::ClientAddr;
use crate::error::ServerError;
use crate::login_limits::Refusal;
use crate::oauth::{
    CODE_LIFETIME_MS, csrf_matches, csrf_token, is_pkce_string, loopback_callback_port,
    random_secret,
};
use crate::save;
use crate::store::{Account, Plan, accounts, entries, grants};

/// How long a browser login lasts.
const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;
/// How long a login form may be filled in.
const LOGIN_FORM_LIFETIME_SECS: i64 = 3600;

const QUERY_VALUE: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Every server page: never framed (clickjacking the consent button), never cached, no script,
/// no referrer to other origins (the callback URL carries the code). Not `no-referrer`: with it
/// Chromium sends `Origin: null` on the page's own form posts, which then look foreign.
pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Hyperclay</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}\
         label,input,button{{display:block;margin:.4rem 0}}input{{width:100%;padding:.4rem}}\
         .error{{color:#b00020}}</style></head>\n<body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = esc(title)
    );
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

pub(super) fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
        esc(name),
        esc(value)
    )
}

/// The login form, bound to the browser's pre-session cookie (made here when it has none).
pub(super) fn login_page(
    st: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> Response {
    let existing = Cookie::LoginForm.read(headers, st.secure_cookies);
    let secret = existing.clone().unwrap_or_else(random_secret);
    let error = error
        .map(|e| format!("<p id=\"error\" class=\"error\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"/login\">\n{next}{csrf}\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" autofocus>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\n\
         <button id=\"login\" type=\"submit\">Log in</button>\n</form>",
        next = hidden("next", next),
        csrf = hidden("csrf", &csrf_token(&secret)),
    );
    let mut resp = page(status, "Log in to Hyperclay", &body);
    if existing.is_none() {
        let cookie = Cookie::LoginForm.set(&secret, LOGIN_FORM_LIFETIME_SECS, st.secure_cookies);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(SET_COOKIE, v);
        }
    }
    resp
}

/// The "log out of this browser" button, for pages shown to a logged-in browser.
pub(super) fn logout_form(session_id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/logout\">\n{}\
         <button id=\"logout\" type=\"submit\">Log out of this browser</button>\n</form>",
        hidden("csrf", &csrf_token(session_id))
    )
}

/// Where a login may send the browser next: only back to `/authorize`, `/device` or home, never
/// off-site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n.starts_with("/api/local-sync/authorize?")
                || n == "/device"
                || n.starts_with("/device?"))
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub async fn home(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match st.session_with_id(&headers).await {
        Ok(Some((sid, account))) => page(
            StatusCode::OK,
            "Hyperclay reference server",
            &format!(
                "<p>Logged in as <b id=\"user\">{}</b>.</p>\n{}",
                esc(&account.name),
                logout_form(&sid)
            ),
        ),
        Ok(None) => page(
            StatusCode::OK,
            "Hyperclay reference server",
            "<p><a href=\"/login\">Log in</a></p>",
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    login_page(
        &st,
        &headers,
        StatusCode::OK,
        &safe_next(q.next.as_deref()),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
    csrf: Option<String>,
}

/// True only for a request a page of this very origin made (or a non-browser client, which
/// sends neither header and can be no CSRF victim). Everything else is refused by the
/// cookie-bearing endpoints: another site, a sibling host (`same-site`), and an app page,
/// which is sandboxed and so posts as the opaque origin `null`.
pub(crate) fn from_own_page(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !matches!(
        header("sec-fetch-site"),
        None | Some("same-origin" | "none")
    ) {
        return false;
    }
    match (header("origin"), header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
        (Some(_), None) => false,
    }
}

pub(super) fn with_retry_after(mut resp: Response, secs: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
    resp
}

/// Login CSRF (another page posting its own credentials, so the user's next "Sync" links their
/// folder to that account) is refused twice over: by the form's token, bound to a cookie only
/// this origin's login page sets, and by the request's Origin / Sec-Fetch-Site. A wrong name
/// or password shows the form again (401), never a redirect; too many are 429, and a check
/// beyond the concurrent bound is 503, both with Retry-After and before any password hashing.
pub async fn login(
    State(st): State<AppState>,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !from_own_page(&headers) {
        return login_page(
            &st,
            &headers,
            StatusCode::FORBIDDEN,
            "/",
            Some("This login came from another page. Open the login page and try again."),
        );
    }
    let Ok(Form(form)) = form else {
        return login_page(
            &st,
            &headers,
            StatusCode::BAD_REQUEST,
            "/",
            Some("Enter a username and a password."),
        );
    };
    let next = safe_next(form.next.as_deref());
    let bound = Cookie::LoginForm
        .read(&headers, st.secure_cookies)
        .zip(form.csrf.as_deref())
        .is_some_and(|(secret, token)| csrf_matches(&secret, token));
    if !bound {
        return login_page(
            &st,
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            Some("This login form has expired. Please log in again."),
        );
    }
    let now = st.clock.now().as_millis();
    let permit = match st.login_limits.admit(&form.username, peer, now) {
        Ok(p) => p,
        Err(Refusal::LockedOut { retry_after_secs }) => {
            let page = login_page(
                &st,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some("Too many wrong passwords. Wait a while, then try again."),
            );
            return with_retry_after(page, retry_after_secs);
        }
        Err(Refusal::Busy) => {
            let page = login_page(
                &st,
                &headers,
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                Some("The server is busy. Try again in a moment."),
            );
            return with_retry_after(page, 1);
        }
    };
    let name = form.username.clone();
    let checked = check_login(&st, form.username, form.password).await;
    drop(permit);
    match checked {
        Ok(Some(account)) => match start_session(&st, &account).await {
            Ok(cookie) => {
                st.login_limits.succeeded(&name);
                let mut resp = StatusCode::SEE_OTHER.into_response();
                if let (Ok(loc), Ok(cookie)) =
                    (HeaderValue::from_str(&next), HeaderValue::from_str(&cookie))
                {
                    resp.headers_mut().insert(LOCATION, loc);
                    resp.headers_mut().insert(SET_COOKIE, cookie);
                }
                tracing::info!(user = %account.name, "browser login");
                resp
            }
            Err(e) => e.into_response(),
        },
        Ok(None) => {
            st.login_limits
                .failed(&name, peer, st.clock.now().as_millis());
            login_page(
                &st,
                &headers,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("Wrong username or password."),
            )
        }
        Err(e) => e.into_response(),
    }
}

async fn check_login(
    st: &AppState,
    username: String,
    password: String,
) -> Result<Option<Account>, ServerError> {
    let found = st
        .store
        .run(move |s| accounts::credentials(s.conn(), &username))
        .await?;
    // An unknown name costs a full hash check too, so timing does not tell which names exist.
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, crate::password::decoy_hash()?.to_owned()),
    };
    let ok = tokio::task::spawn_blocking(move || crate::password::verify(&password, &hash))
        .await
        .map_err(|e| ServerError::Internal(format!("password check failed: {e}")))?;
    Ok(account.filter(|_| ok))
}

async fn start_session(st: &AppState, account: &Account) -> Result<String, ServerError> {
    let id = random_secret();
    let expires = st.clock.now().as_millis() + SESSION_LIFETIME_MS;
    let (sid, account_id) = (id.clone(), account.id);
    st.store
        .run(move |s| grants::add_session(s.conn(), &sid, account_id, expires))
        .await?;
    Ok(Cookie::Session.set(&id, SESSION_LIFETIME_MS / 1000, st.secure_cookies))
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// Ends this browser's session (the button on the server's pages). Tokens the sync app holds
/// are not touched: they end with the app's own logout or a password change.
pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let session = match st.session_with_id(&headers).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some((sid, _)) = session else {
        return page(
            StatusCode::OK,
            "Logged out",
            "<p id=\"message\">This browser is not logged in.</p>",
        );
    };
    let token = form.ok().and_then(|Form(f)| f.csrf);
    if !from_own_page(&headers) || !token.is_some_and(|t| csrf_matches(&sid, &t)) {
        return page(
            StatusCode::FORBIDDEN,
            "Not logged out",
            "<p id=\"error\" class=\"error\">This logout did not come from this server's own \
             page. Open the home page and use its button.</p>",
        );
    }
    if let Err(e) = st
        .store
        .run(move |s| grants::end_session(s.conn(), &sid))
        .await
    {
        return e.into_response();
    }
    let mut resp = page(
        StatusCode::OK,
        "Logged out",
        "<p id=\"message\">This browser is logged out.</p>\n<p><a href=\"/login\">Log in</a></p>",
    );
    if let Ok(v) = HeaderValue::from_str(&Cookie::Session.clear(st.secure_cookies)) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}

/// The OAuth request of `/authorize`, on the query (the page) or in the form (the consent).
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// An `/authorize` request that passed every check.
struct SyncRequest {
    redirect_uri: String,
    port: u16,
    state: String,
    challenge: String,
}

impl SyncRequest {
    fn fields(&self) -> String {
        [
            hidden("redirect_uri", &self.redirect_uri),
            hidden("state", &self.state),
            hidden("code_challenge", &self.challenge),
            hidden("code_challenge_method", "S256"),
        ]
        .concat()
    }

    /// The callback URL carrying `param` and the state.
    fn answer(&self, param: &str) -> String {
        let state = utf8_percent_encode(&self.state, QUERY_VALUE);
        format!("{}?{param}&state={state}", self.redirect_uri)
    }
}

fn bad_authorize(why: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        &format!("<p id=\"error\" class=\"error\">{}</p>", esc(why)),
    )
}

/// The port of the `Host` the browser used, when it names one.
fn host_port(headers: &HeaderMap) -> Option<u16> {
    let host = headers.get(HOST)?.to_str().ok()?;
    host.rsplit_once(':')?.1.parse().ok()
}

/// Checks a request before anything else; why not, for a 400 page (never a redirect).
fn check_request(
    st: &AppState,
    headers: &HeaderMap,
    q: AuthorizeQuery,
) -> Result<SyncRequest, &'static str> {
    let redirect_uri = q.redirect_uri.unwrap_or_default();
    let Some(port) = loopback_callback_port(&redirect_uri) else {
        return Err(
            "redirect_uri must be http://127.0.0.1:PORT/callback, http://[::1]:PORT/callback or \
             http://localhost:PORT/callback.",
        );
    };
    if Some(port) == st.own_port || Some(port) == host_port(headers) {
        return Err("redirect_uri points at this server itself, not at the sync app.");
    }
    let Some(state) = q.state.filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Err("state is missing.");
    };
    let Some(challenge) = q.code_challenge.filter(|c| is_pkce_string(c)) else {
        return Err("code_challenge is missing or malformed.");
    };
    if q.code_challenge_method.as_deref() != Some("S256") {
        return Err("code_challenge_method must be S256.");
    }
    Ok(SyncRequest {
        redirect_uri,
        port,
        state,
        challenge,
    })
}

fn unpaid_page(req: &SyncRequest, account: &Account) -> Response {
    let target = req.answer("error=subscription_required");
    let body = format!(
        "<meta http-equiv=\"refresh\" content=\"5;url={t}\">\n\
         <p id=\"message\">Sync is for paid subscribers. The account <b>{name}</b> does not \
         have a paid subscription.</p>\n\
         <p><a id=\"continue\" href=\"{t}\">Back to the app</a></p>",
        t = esc(&target),
        name = esc(&account.name)
    );
    page(StatusCode::OK, "Sync is for paid subscribers", &body)
}

/// `GET /authorize`: checks the request, then the login page if needed, then the consent page
/// (paid) or the "paid subscribers" page. It never issues a code: only the consent POST does.
pub async fn authorize(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return bad_authorize("The query string is malformed.");
    };
    let req = match check_request(&st, &headers, q) {
        Ok(r) => r,
        Err(why) => return bad_authorize(why),
    };
    let (sid, account) = match st.session_with_id(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let next = uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            return login_page(&st, &headers, StatusCode::OK, &next, None);
        }
        Err(e) => return e.into_response(),
    };
    if account.plan != Plan::Paid {
        return unpaid_page(&req, &account);
    }
    let body = format!(
        "<p id=\"consent\">A program on this computer, listening on port <b id=\"port\">{port}\
         </b>, asks to sync the files of the Hyperclay account <b id=\"user\">{name}</b>: it \
         will be able to read, upload and change every file and app of this account.</p>\n\
         <p>Allow it only if you just chose <b>Sync</b> in the <b>Hyperclay Sync</b> app.</p>\n\
         <form method=\"post\" action=\"/api/local-sync/authorize\">\n{fields}{csrf}\
         <button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">Allow Hyperclay \
         Sync</button>\n\
         <button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>\n<p>Not {name}?</p>\n{logout}",
        port = req.port,
        name = esc(&account.name),
        fields = req.fields(),
        csrf = hidden("csrf", &csrf_token(&sid)),
        logout = logout_form(&sid),
    );
    page(StatusCode::OK, "Allow Hyperclay Sync?", &body)
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(flatten)]
    request: AuthorizeQuery,
    csrf: Option<String>,
    decision: Option<String>,
}

fn see_other(target: &str) -> Response {
    match HeaderValue::from_str(target) {
        Ok(v) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(LOCATION, v);
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => bad_authorize("redirect_uri could not be used."),
    }
}

/// `POST /authorize`: the consent page's answer. Only a post from this origin's own page, with
/// the CSRF token of this browser's session, gets a code; "Deny" sends the app `access_denied`.
pub async fn consent(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_authorize("The form is malformed.");
    };
    let req = match check_request(&st, &headers, form.request) {
        Ok(r) => r,
        Err(why) => return bad_authorize(why),
    };
    let (sid, account) = match st.session_with_id(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Not logged in",
                "<p id=\"error\" class=\"error\">This browser is no longer logged in. Choose \
                 Sync in the app again.</p>",
            );
        }
        Err(e) => return e.into_response(),
    };
    let token_ok = form.csrf.is_some_and(|t| csrf_matches(&sid, &t));
    if !from_own_page(&headers) || !token_ok {
        return page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "<p id=\"error\" class=\"error\">This answer did not come from this server's own \
             page. Choose Sync in the app again.</p>",
        );
    }
    if form.decision.as_deref() != Some("allow") {
        return see_other(&req.answer("error=access_denied"));
    }
    if account.plan != Plan::Paid {
        return unpaid_page(&req, &account);
    }
    let code = random_secret();
    let expires = st.clock.now().as_millis() + CODE_LIFETIME_MS;
    let (c, r, ch, account_id) = (
        code.clone(),
        req.redirect_uri.clone(),
        req.challenge.clone(),
        account.id,
    );
    if let Err(e) = st
        .store
        .run(move |s| grants::add_code(s.conn(), &c, account_id, &ch, &r, expires))
        .await
    {
        return e.into_response();
    }
    tracing::info!(user = %account.name, port = req.port, "sync allowed");
    see_other(&req.answer(&format!("code={code}")))
}

fn app_stem(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".htmlclay") {
        &name[..name.len() - ".htmlclay".len()]
    } else if lower.ends_with(".html") {
        &name[..name.len() - ".html".len()]
    } else {
        name
    }
}

/// An app page's script runs as an opaque origin: its requests to this server carry
/// `Origin: null` and no SameSite cookie, so it can neither log the visitor in elsewhere nor
/// save over the visitor's other apps. What an app may still do: run scripts, submit forms,
/// open popups and dialogs, download.
const APP_SANDBOX: &str =
    "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads";

/// `GET /{app-name}`: the app's current HTML, as the platform serves a site, sandboxed.
pub async fn serve_app(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ServerError> {
    let name = app_stem(&name).to_owned();
    let row = st
        .store
        .run(move |s| {
            entries::live_app(s.conn(), &name)?
                .ok_or_else(|| ServerError::NotFound(format!("no app named {name}")))
        })
        .await?;
    let mut resp = file_reply(&st, row).await?;
    resp.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(APP_SANDBOX),
    );
    Ok(resp)
}

/// `POST /save/{app-name}`: the platform's own save of an app its owner edited, through the
/// same save process, stamped with the server's now. The session cookie counts only on a
/// request from this origin's own pages; a sandboxed app page (`Origin: null`) or another site
/// needs a bearer token, which it does not have.
pub async fn save(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<hyperclay_protocol::PutResponse>, ServerError> {
    let session = if from_own_page(&headers) {
        st.session(&headers).await?
    } else {
        None
    };
    let account = match session {
        Some(a) => a,
        None => st.bearer(&headers).await?.0,
    };
    let name = app_stem(&name).to_owned();
    let bytes = read_file_body(&headers, body).await?;
    let id = account.id;
    let owned = move |s: &crate::store::Store, name: &str| {
        let row = entries::live_app(s.conn(), name)?
            .filter(|r| r.account_id == id)
            .ok_or_else(|| ServerError::NotFound(format!("you have no app named {name}")))?;
        Ok::<_, ServerError>(hyperclay_protocol::RemotePath::file(&row.path)?)
    };
    // Only an owner's app gets a body stored (outside the lock, like a sync PUT); the save
    // itself checks again, in its own transaction.
    let n = name.clone();
    st.store.run(move |s| owned(s, &n).map(drop)).await?;
    let blob = st.store.put_blob(bytes, None).await?;
    let now = st.clock.now();
    let saved = st
        .store
        .run(move |s| {
            let path = owned(s, &name)?;
            save::commit_save(s, &account, &path, &blob, now)
        })
        .await?;
    Ok(Json(hyperclay_protocol::PutResponse {
        server_time: st.clock.now(),
        entry: saved.entry().clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_only_redirects_back_to_authorize_or_home() {
        assert_eq!(
            safe_next(Some("/api/local-sync/authorize?state=x")),
            "/api/local-sync/authorize?state=x"
        );
        for bad in [
            "https://evil.com",
            "//evil.com",
            "/\\evil.com",
            "/other",
            "/api/local-sync/authorize?x=ü",
            "/api/local-sync/authorize?x= y",
            "/device?x=\\evil",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("/device")), "/device");
        assert_eq!(
            safe_next(Some("/device?user_code=WDJB-MJHT")),
            "/device?user_code=WDJB-MJHT"
        );
        assert_eq!(safe_next(Some("/devices")), "/");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn app_names_may_carry_their_extension() {
        assert_eq!(app_stem("hello"), "hello");
        assert_eq!(app_stem("hello.html"), "hello");
        assert_eq!(app_stem("hello.HTMLCLAY"), "hello");
    }
}
