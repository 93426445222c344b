//! The browser login over plain HTTP, as a browser would do it: authorize → login form (its
//! cookie and CSRF token) → session cookie → consent page → consent POST → redirect with a
//! code → token exchange with the PKCE verifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyperclay_protocol::{ErrorCode, StatusResponse, TokenResponse};
use sha2::{Digest, Sha256};

use crate::common::*;

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

/// A fresh verifier and its S256 challenge, computed here independently of the server.
pub fn pkce() -> Pkce {
    let bytes: [u8; 48] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn authorize_path(redirect_uri: &str, state: &str, challenge: &str) -> String {
    format!(
        "/api/local-sync/authorize?redirect_uri={}&state={}&code_challenge={}&code_challenge_method=S256",
        urlencode(redirect_uri),
        urlencode(state),
        urlencode(challenge)
    )
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Undoes the pages' HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden fields of a page's forms, in order (the consent form's come before its logout
/// form's).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("<input type=\"hidden\" name=\"")?;
            let (name, rest) = rest.split_once("\" value=\"")?;
            let value = rest.strip_suffix("\">")?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

/// The first hidden field `name` of a page.
pub fn hidden(html: &str, name: &str) -> String {
    hidden_fields(html)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no hidden field {name} in {html}"))
}

/// The `name=value` part of a reply's first `Set-Cookie`.
pub fn cookie_of(r: &Reply) -> String {
    let set = r.header("set-cookie").expect("a cookie");
    set.split(';').next().unwrap_or_default().trim().to_owned()
}

/// A fresh login form: its cookie (`name=value`) and its CSRF token.
pub fn login_form(t: &Target) -> (String, String) {
    let r = t.anonymous().get("/login");
    assert_eq!(r.status, 200, "{}", r.text());
    (cookie_of(&r), hidden(&r.text(), "csrf"))
}

/// Posts the login form as the server's own page would (with its cookie and CSRF token), plus
/// `extra` headers; returns the reply.
pub fn post_login_with(
    t: &Target,
    user: &str,
    password: &str,
    next: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let (cookie, csrf) = login_form(t);
    let mut headers = vec![FORM, ("Cookie", cookie.as_str())];
    headers.extend_from_slice(extra);
    t.anonymous().post_with(
        "/login",
        &form(&[
            ("username", user),
            ("password", password),
            ("next", next),
            ("csrf", &csrf),
        ]),
        &headers,
    )
}

/// Posts the login form; returns the reply.
pub fn post_login(t: &Target, user: &str, password: &str, next: &str) -> Reply {
    post_login_with(t, user, password, next, &[])
}

/// Logs in through the form and returns the `Cookie` header value for the session.
pub fn login_cookie(t: &Target, user: &str, password: &str) -> String {
    let r = post_login(t, user, password, "/");
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").expect("a session cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    cookie_of(&r)
}

/// Answers a consent page (`page`, shown to the session `cookie`) with `decision`.
pub fn answer_consent(t: &Target, cookie: &str, page: &str, decision: &str) -> Reply {
    let mut fields = hidden_fields(page);
    // The consent form's fields come first; the logout form's csrf repeats the same token.
    fields.dedup_by(|a, b| a.0 == b.0);
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("decision", decision));
    t.anonymous().post_with(
        "/api/local-sync/authorize",
        &form(&pairs),
        &[FORM, ("Cookie", cookie)],
    )
}

/// The query parameter `name` of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Runs authorize → login → authorize for `user`; returns the final page of authorize (the
/// consent page, or the unpaid page) and the session cookie.
pub fn authorize_as(
    t: &Target,
    user: &str,
    password: &str,
    redirect: &str,
    state: &str,
    challenge: &str,
) -> (Reply, String) {
    let path = authorize_path(redirect, state, challenge);
    let first = t.anonymous().get(&path);
    assert_eq!(first.status, 200, "{}", first.text());
    let page = first.text();
    for id in ["id=\"username\"", "id=\"password\"", "id=\"login\""] {
        assert!(page.contains(id), "the login form has {id}: {page}");
    }
    assert_eq!(hidden(&page, "next"), path);
    let login = t.anonymous().post_with(
        "/login",
        &form(&[
            ("username", user),
            ("password", password),
            ("next", &path),
            ("csrf", &hidden(&page, "csrf")),
        ]),
        &[FORM, ("Cookie", &cookie_of(&first))],
    );
    assert_eq!(login.status, 303, "{}", login.text());
    let next = login
        .header("location")
        .expect("a redirect back to authorize");
    assert_eq!(next, path);
    let cookie = cookie_of(&login);
    let r = t.anonymous().get_with(&next, &[("Cookie", &cookie)]);
    (r, cookie)
}

/// The full flow for a paid account: returns (code, redirect_uri, pkce).
pub fn get_code(t: &Target) -> (String, String, Pkce) {
    let p = pkce();
    let redirect = "http://127.0.0.1:45678/callback";
    let state = format!("st-{}", t.tag);
    let (consent, cookie) = authorize_as(t, "demo", "demo", redirect, &state, &p.challenge);
    assert_eq!(consent.status, 200, "{}", consent.text());
    assert!(
        consent.header("location").is_none(),
        "no code before consent"
    );
    let r = answer_consent(t, &cookie, &consent.text(), "allow");
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").expect("redirect to the app");
    assert!(loc.starts_with(&format!("{redirect}?")), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some(state.as_str()));
    let code = param(&loc, "code").expect("a code");
    (code, redirect.to_owned(), p)
}

fn exchange(t: &Target, code: &str, verifier: &str, redirect: &str) -> Reply {
    t.anonymous().post_json(
        "/api/local-sync/token",
        &serde_json::json!({
            "grantType": "authorization_code",
            "code": code,
            "codeVerifier": verifier,
            "redirectUri": redirect,
        }),
    )
}

#[test]
fn the_full_pkce_flow_gives_a_working_token() {
    let Some(t) = Target::local() else { return };
    let (code, redirect, p) = get_code(&t);
    let tok: TokenResponse = exchange(&t, &code, &p.verifier, &redirect).ok();
    assert_eq!(tok.user.name, "demo");
    let s: StatusResponse = t.api_as(&tok.access_token).status().ok();
    assert_eq!(s.user, tok.user);
    // Single use.
    exchange(&t, &code, &p.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);
}

#[test]
fn a_wrong_verifier_or_redirect_or_code_is_invalid_grant() {
    let Some(t) = Target::local() else { return };
    let (code, redirect, p) = get_code(&t);
    let other = pkce();
    exchange(&t, &code, &other.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);
    // A failed attempt burns the code.
    exchange(&t, &code, &p.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);

    let (code, _, p) = get_code(&t);
    exchange(&t, &code, &p.verifier, "http://127.0.0.1:45679/callback")
        .expect_error(ErrorCode::InvalidGrant);
    exchange(&t, "no-such-code", &p.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);
}

#[test]
fn malformed_token_requests_are_invalid_request() {
    let t = Target::new();
    let anon = t.anonymous();
    anon.post_with(
        "/api/local-sync/token",
        b"not json",
        &[("Content-Type", "application/json")],
    )
    .expect_error(ErrorCode::InvalidRequest);
    anon.post_json("/api/local-sync/token", &serde_json::json!({"code": "x"}))
        .expect_error(ErrorCode::InvalidRequest);
    anon.post_json(
        "/api/local-sync/token",
        &serde_json::json!({
            "grantType": "password", "code": "x", "codeVerifier": "y", "redirectUri": "z"
        }),
    )
    .expect_error(ErrorCode::InvalidRequest);
}

#[test]
fn non_loopback_or_incomplete_authorize_requests_are_refused_without_redirect() {
    let t = Target::new();
    let p = pkce();
    for bad in [
        "https://127.0.0.1:8080/callback",
        "http://evil.example:8080/callback",
        "http://127.0.0.1.evil.example:8080/callback",
        "http://127.0.0.1:8080@evil.example/callback",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:8080/cb",
        "http://127.0.0.1:8080",
        "http://192.168.1.2:8080/callback",
        "javascript:alert(1)",
    ] {
        let r = t.anonymous().get(&authorize_path(bad, "s", &p.challenge));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.header("location").is_none(), "{bad}");
    }
    let good = "http://[::1]:9000/callback";
    let no_state = format!(
        "/api/local-sync/authorize?redirect_uri={}&code_challenge={}&code_challenge_method=S256",
        urlencode(good),
        p.challenge
    );
    let plain = format!(
        "/api/local-sync/authorize?redirect_uri={}&state=s&code_challenge={}&code_challenge_method=plain",
        urlencode(good),
        p.challenge
    );
    let no_challenge = format!(
        "/api/local-sync/authorize?redirect_uri={}&state=s&code_challenge_method=S256",
        urlencode(good)
    );
    for path in [no_state, plain, no_challenge] {
        let r = t.anonymous().get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.header("location").is_none());
    }
    // The loopback forms are all accepted (the login page shows).
    for ok in [
        good,
        "http://localhost:9000/callback",
        "http://127.0.0.1:9000/callback",
    ] {
        let r = t.anonymous().get(&authorize_path(ok, "s", &p.challenge));
        assert_eq!(r.status, 200, "{ok}: {}", r.text());
    }
}

#[test]
fn an_unpaid_account_is_told_and_sent_back_with_subscription_required() {
    let Some(t) = Target::local() else { return };
    let p = pkce();
    let redirect = "http://127.0.0.1:45678/callback";
    let (r, _) = authorize_as(&t, "free", "free", redirect, "st&=1", &p.challenge);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("location").is_none());
    let page = r.text();
    assert!(page.contains("Sync is for paid subscribers"), "{page}");
    let back = format!("{redirect}?error=subscription_required&amp;state=st%26%3D1");
    assert!(page.contains(&format!("href=\"{back}\"")), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(!page.contains("code="), "no code for an unpaid account");
}

#[test]
fn a_wrong_password_shows_the_form_again() {
    let Some(t) = Target::local() else { return };
    let p = pkce();
    let path = authorize_path("http://127.0.0.1:45678/callback", "s", &p.challenge);
    for (user, pw) in [("demo", "wrong"), ("nobody", "demo"), ("demo", "")] {
        let r = post_login(&t, user, pw, &path);
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(r.header("location").is_none());
        assert!(r.header("set-cookie").is_none());
        let page = r.text();
        assert!(page.contains("Wrong username or password."), "{page}");
        assert!(page.contains("id=\"password\""));
    }
    // A login never sends the browser off-site.
    let r = post_login(&t, "demo", "demo", "https://evil.example/");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").as_deref(), Some("/"));
}
