//! The browser side: the login page, `/authorize` (PKCE, loopback redirect), and the platform's
//! own app serving and save endpoint. Pages are plain HTML forms with no script, so any browser
//! (and WebDriver) can use them. Every value written into a page is HTML-escaped.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::AppState;
use super::api::file_reply;
use super::body::read_file_body;
use super::caller::SESSION_COOKIE;
use crate::error::ServerError;
use crate::oauth::{CODE_LIFETIME_MS, is_loopback_redirect, is_pkce_string, random_secret};
use crate::save;
use crate::store::{Account, Plan, accounts, entries, grants};

/// How long a browser login lasts.
const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

const QUERY_VALUE: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn esc(s: &str) -> String {
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

fn page(status: StatusCode, title: &str, body: &str) -> Response {
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
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p id=\"error\" class=\"error\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\n\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" autofocus>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\n\
         <button id=\"login\" type=\"submit\">Log in</button>\n</form>",
        next = esc(next)
    );
    page(status, "Log in to Hyperclay", &body)
}

/// Where a login may send the browser next: only back to `/authorize` or home, never off-site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/api/local-sync/authorize?")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub async fn home(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match st.session(&headers).await {
        Ok(Some(account)) => page(
            StatusCode::OK,
            "Hyperclay reference server",
            &format!(
                "<p>Logged in as <b id=\"user\">{}</b>.</p>",
                esc(&account.name)
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

pub async fn login_form(Query(q): Query<NextQuery>) -> Response {
    login_page(StatusCode::OK, &safe_next(q.next.as_deref()), None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Login CSRF: another site posting this form with its own credentials would log the browser
/// into that account, and the user's next "Sync" would link their folder to it. Browsers name
/// the posting page in `Origin` / `Sec-Fetch-Site`; clients without either are no victim.
fn cross_site_post(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    match (header("origin"), header("host")) {
        (None, _) => false,
        (Some(origin), Some(host)) => {
            origin != format!("http://{host}") && origin != format!("https://{host}")
        }
        (Some(_), None) => true,
    }
}

/// A wrong name or password shows the form again (401), never a redirect.
pub async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if cross_site_post(&headers) {
        return login_page(
            StatusCode::FORBIDDEN,
            "/",
            Some("This login came from another site. Open the login page and try again."),
        );
    }
    let Ok(Form(form)) = form else {
        return login_page(
            StatusCode::BAD_REQUEST,
            "/",
            Some("Enter a username and a password."),
        );
    };
    let next = safe_next(form.next.as_deref());
    match check_login(&st, form.username, form.password).await {
        Ok(Some(account)) => match start_session(&st, &account).await {
            Ok(cookie) => {
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
        Ok(None) => login_page(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("Wrong username or password."),
        ),
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
    Ok(format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        SESSION_LIFETIME_MS / 1000
    ))
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn bad_authorize(why: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        &format!("<p id=\"error\" class=\"error\">{}</p>", esc(why)),
    )
}

/// Checks the request before anything else: a bad `redirect_uri` is a 400 page and never a
/// redirect. Then the login page if needed; then a code (paid) or the "paid subscribers" page.
pub async fn authorize(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return bad_authorize("The query string is malformed.");
    };
    let Some(redirect_uri) = q.redirect_uri.filter(|r| is_loopback_redirect(r)) else {
        return bad_authorize(
            "redirect_uri must be http://127.0.0.1:PORT, http://[::1]:PORT or http://localhost:PORT.",
        );
    };
    let Some(state) = q.state.filter(|s| !s.is_empty() && s.len() <= 512) else {
        return bad_authorize("state is missing.");
    };
    let Some(challenge) = q.code_challenge.filter(|c| is_pkce_string(c)) else {
        return bad_authorize("code_challenge is missing or malformed.");
    };
    if q.code_challenge_method.as_deref() != Some("S256") {
        return bad_authorize("code_challenge_method must be S256.");
    }
    let account = match st.session(&headers).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            let next = uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            return login_page(StatusCode::OK, &next, None);
        }
        Err(e) => return e.into_response(),
    };
    let state_q = utf8_percent_encode(&state, QUERY_VALUE).to_string();
    if account.plan != Plan::Paid {
        let target = format!("{redirect_uri}?error=subscription_required&state={state_q}");
        let body = format!(
            "<meta http-equiv=\"refresh\" content=\"5;url={t}\">\n\
             <p id=\"message\">Sync is for paid subscribers. The account <b>{name}</b> does not \
             have a paid subscription.</p>\n\
             <p><a id=\"continue\" href=\"{t}\">Back to the app</a></p>",
            t = esc(&target),
            name = esc(&account.name)
        );
        return page(StatusCode::OK, "Sync is for paid subscribers", &body);
    }
    let code = random_secret();
    let expires = st.clock.now().as_millis() + CODE_LIFETIME_MS;
    let (c, r, account_id) = (code.clone(), redirect_uri.clone(), account.id);
    if let Err(e) = st
        .store
        .run(move |s| grants::add_code(s.conn(), &c, account_id, &challenge, &r, expires))
        .await
    {
        return e.into_response();
    }
    let target = format!("{redirect_uri}?code={code}&state={state_q}");
    let mut resp = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(&target) {
        Ok(v) => {
            resp.headers_mut().insert(LOCATION, v);
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => bad_authorize("redirect_uri could not be used."),
    }
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

/// `GET /{app-name}`: the app's current HTML, as the platform serves a site.
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
    file_reply(&st, row).await
}

/// `POST /save/{app-name}`: the platform's own save of an app its owner edited in the browser,
/// through the same save process, stamped with the server's now.
pub async fn save(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<hyperclay_protocol::PutResponse>, ServerError> {
    let account = match st.session(&headers).await? {
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
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
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
