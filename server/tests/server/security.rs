//! Security of the reference server, case by case: forged and tampered tokens, the browser
//! login against CSRF and open redirects, code theft, cookie flags, account isolation on every
//! route, oversize bodies (refused without buffering them) and HTTP request smuggling basics.
//! Every case runs against a fresh local server; none of them needs another test's state.

use crate::common;
use crate::oauth_flow;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use hyperclay_protocol::{ErrorCode, MAX_FILE_BYTES, PutResponse, StatusResponse, TokenResponse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth_flow::{
    answer_consent, authorize_as, authorize_path, get_code, hidden, login_cookie, login_form,
    param, pkce, post_login, post_login_with,
};

const T1: &str = "2026-01-01T10:00:00.000Z";
const T2: &str = "2026-01-02T10:00:00.000Z";

fn local() -> Target {
    Target::local().expect("the security suite runs against the local reference server only")
}

/// The three dot-separated parts of a JWT.
fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let h = it.next().unwrap_or_default().to_owned();
    let p = it.next().unwrap_or_default().to_owned();
    let s = it.next().unwrap_or_default().to_owned();
    (h, p, s)
}

fn claims_of(token: &str) -> serde_json::Value {
    let (_, p, _) = parts(token);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64 claims")).expect("json")
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

/// The server's own signing key, read from its data dir: lets a test sign tokens exactly as
/// the server does, so "accepted when signed right" proves the forging code itself is sound.
fn server_key(t: &Target) -> Vec<u8> {
    let text = std::fs::read_to_string(t.server().data_dir().join("jwt.key")).expect("jwt.key");
    URL_SAFE_NO_PAD.decode(text.trim()).expect("key is base64")
}

fn sign(alg: Algorithm, claims: &serde_json::Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("sign")
}

fn unauthorized(t: &Target, token: &str, why: &str) {
    let r = t.api_as(token).status();
    assert_eq!(r.status, 401, "{why}: {}", r.text());
    r.expect_error(ErrorCode::Unauthorized);
}

// ---------------------------------------------------------------- tokens

#[test]
fn a_token_signed_with_the_servers_key_is_accepted_the_control_case() {
    let t = local();
    let claims = claims_of(&t.token);
    let token = sign(Algorithm::HS256, &claims, &server_key(&t));
    let s: StatusResponse = t.api_as(&token).status().ok();
    assert_eq!(s.user.name, "demo");
}

#[test]
fn alg_none_is_refused() {
    let t = local();
    let claims = claims_of(&t.token);
    let (_, _, sig) = parts(&t.token);
    for alg in ["none", "None", "NONE"] {
        let header = b64(&serde_json::json!({"alg": alg, "typ": "JWT"}));
        let body = b64(&claims);
        unauthorized(&t, &format!("{header}.{body}."), "alg none, no signature");
        unauthorized(
            &t,
            &format!("{header}.{body}.{sig}"),
            "alg none, original signature",
        );
    }
}

#[test]
fn other_algorithms_even_with_the_right_key_are_refused() {
    let t = local();
    let claims = claims_of(&t.token);
    let key = server_key(&t);
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        unauthorized(
            &t,
            &sign(alg, &claims, &key),
            "HS384/HS512 instead of HS256",
        );
    }
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let t = local();
    let claims = claims_of(&t.token);
    unauthorized(
        &t,
        &sign(Algorithm::HS256, &claims, &[7u8; 32]),
        "another key",
    );
    unauthorized(&t, &sign(Algorithm::HS256, &claims, b""), "an empty key");
}

#[test]
fn changed_claims_with_the_original_signature_are_refused() {
    let t = local();
    let bee = t.new_account("bee", true, 10);
    let (h, _, sig) = parts(&t.token);
    let mut swapped = claims_of(&t.token);
    // Bee's login too: a token family belongs to one account.
    for claim in ["sub", "fam", "gen"] {
        swapped[claim] = claims_of(&bee)[claim].clone();
    }
    assert_ne!(swapped["sub"], claims_of(&t.token)["sub"]);
    unauthorized(&t, &format!("{h}.{}.{sig}", b64(&swapped)), "sub swapped");
    let mut longer = claims_of(&t.token);
    longer["exp"] = serde_json::json!(longer["exp"].as_i64().unwrap_or(0) + 365 * 86_400);
    unauthorized(&t, &format!("{h}.{}.{sig}", b64(&longer)), "exp extended");
    // Both signed properly work, so only the signature check refused them above.
    let key = server_key(&t);
    let s: StatusResponse = t
        .api_as(&sign(Algorithm::HS256, &swapped, &key))
        .status()
        .ok();
    assert_eq!(s.user.name, "bee");
    let _: StatusResponse = t
        .api_as(&sign(Algorithm::HS256, &longer, &key))
        .status()
        .ok();
}

#[test]
fn expired_and_revoked_tokens_are_refused() {
    let t = local();
    let old = t.server().token_aged("demo", 10 * 86_400 + 5);
    unauthorized(&t, &old, "expired");
    // Re-signing an expired token's claims does not revive it: expiry is a claim check.
    let signed = sign(Algorithm::HS256, &claims_of(&old), &server_key(&t));
    unauthorized(&t, &signed, "expired, re-signed");

    let fresh = t.server().token("demo");
    let _: StatusResponse = t.api_as(&fresh).status().ok();
    let out = t
        .api_as(&fresh)
        .post_with("/api/local-sync/logout", b"", &[]);
    assert_eq!(out.status, 204, "{}", out.text());
    unauthorized(&t, &fresh, "revoked");
    let r = t
        .api_as(&fresh)
        .post_with("/api/local-sync/refresh", b"", &[]);
    assert_eq!(r.status, 401, "a revoked token cannot be refreshed");
    // Revocation is per login (token family): the suite's own token still works.
    let _: StatusResponse = t.api().status().ok();
}

// ---------------------------------------------------------------- the browser login

/// The consent page for `state` shown to the session `cookie`; asserts it issues nothing.
fn consent_page(t: &Target, cookie: &str, redirect: &str, state: &str, challenge: &str) -> String {
    let r = t.anonymous().get_with(
        &authorize_path(redirect, state, challenge),
        &[("Cookie", cookie)],
    );
    assert_eq!(r.status, 200, "{state}: {}", r.text());
    assert!(r.header("location").is_none(), "a GET never issues a code");
    r.text()
}

#[test]
fn state_comes_back_unchanged_however_odd() {
    let t = local();
    let p = pkce();
    let redirect = "http://127.0.0.1:45678/callback";
    let cookie = login_cookie(&t, "demo", "demo");
    for state in ["a b&c=d/e?f#g", "é✓", "%41%2F", "x\"><script>"] {
        let page = consent_page(&t, &cookie, redirect, state, &p.challenge);
        assert!(!page.contains("<script>"), "escaped: {page}");
        let r = answer_consent(&t, &cookie, &page, "allow");
        assert_eq!(r.status, 303, "{state}: {}", r.text());
        let loc = r.header("location").expect("a redirect");
        assert!(loc.starts_with(&format!("{redirect}?")), "{loc}");
        assert_eq!(param(&loc, "state").as_deref(), Some(state), "{loc}");
        // Exactly one state and one code: a state cannot smuggle a second parameter in.
        assert_eq!(loc.matches("state=").count(), 1, "{loc}");
        assert_eq!(loc.matches("code=").count(), 1, "{loc}");
    }
}

/// Issue 16, attack 1's second half and attack 5: `/authorize` issued a code at once to
/// whatever loopback port asked. Now a GET only shows a consent page naming the account and
/// the port, and only its own POST, with this session's CSRF token, issues a code.
#[test]
fn authorize_asks_for_consent_naming_the_account_and_the_port() {
    let t = local();
    let p = pkce();
    let redirect = "http://127.0.0.1:45678/callback";
    let (r, cookie) = authorize_as(&t, "demo", "demo", redirect, "s1", &p.challenge);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("location").is_none());
    let page = r.text();
    assert!(page.contains("<b id=\"user\">demo</b>"), "{page}");
    assert!(page.contains("<b id=\"port\">45678</b>"), "{page}");
    assert!(page.contains("id=\"allow\"") && page.contains("id=\"deny\""));
    assert!(!page.contains("code="), "{page}");
    assert!(!page.contains("<script"), "pages are script-free");

    // "Deny" sends the app an error, never a code.
    let denied = answer_consent(&t, &cookie, &page, "deny");
    assert_eq!(denied.status, 303, "{}", denied.text());
    let loc = denied.header("location").expect("back to the app");
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("access_denied"),
        "{loc}"
    );
    assert_eq!(param(&loc, "state").as_deref(), Some("s1"));
    assert!(param(&loc, "code").is_none(), "{loc}");
}

#[test]
fn a_consent_post_is_refused_without_this_sessions_token_or_from_another_origin() {
    let t = local();
    let p = pkce();
    let redirect = "http://127.0.0.1:45678/callback";
    let cookie = login_cookie(&t, "demo", "demo");
    let page = consent_page(&t, &cookie, redirect, "s", &p.challenge);
    let token = hidden(&page, "csrf");
    let other_session = login_cookie(&t, "demo", "demo");
    let other_page = consent_page(&t, &other_session, redirect, "s", &p.challenge);
    assert_ne!(hidden(&other_page, "csrf"), token, "tokens are per session");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let body = |csrf: &str| {
        format!(
            "redirect_uri={}&state=s&code_challenge={}&code_challenge_method=S256&decision=allow&csrf={}",
            urlencode(redirect),
            p.challenge,
            urlencode(csrf)
        )
    };
    let no_code = |r: &Reply, why: &str| {
        assert!(
            r.status == 403 || r.status == 401,
            "{why}: {} {}",
            r.status,
            r.text()
        );
        assert!(r.header("location").is_none(), "{why}");
    };
    // No token, a wrong one, another session's.
    let anon = t.anonymous();
    for (csrf, why) in [
        ("", "no token"),
        ("x", "a made-up token"),
        (
            hidden(&other_page, "csrf").as_str(),
            "another session's token",
        ),
    ] {
        let r = anon.post_with(
            "/api/local-sync/authorize",
            body(csrf).as_bytes(),
            &[form[0], ("Cookie", &cookie)],
        );
        no_code(&r, why);
    }
    // The right token, but posted by another page: another site, or a sandboxed app.
    for (name, value) in [
        ("Origin", "http://evil.example"),
        ("Origin", "null"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
    ] {
        let r = anon.post_with(
            "/api/local-sync/authorize",
            body(&token).as_bytes(),
            &[form[0], ("Cookie", &cookie), (name, value)],
        );
        no_code(&r, &format!("{name}: {value}"));
    }
    // The right token without the session (the cookie is what it is bound to).
    let r = anon.post_with("/api/local-sync/authorize", body(&token).as_bytes(), &form);
    no_code(&r, "no session");
    // The control case: the same post from the page itself issues a code.
    let own = t.url.clone();
    let r = anon.post_with(
        "/api/local-sync/authorize",
        body(&token).as_bytes(),
        &[
            form[0],
            ("Cookie", &cookie),
            ("Origin", &own),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(param(&r.header("location").unwrap_or_default(), "code").is_some());
}

#[test]
fn the_login_and_consent_pages_refuse_framing() {
    let t = local();
    let p = pkce();
    let cookie = login_cookie(&t, "demo", "demo");
    let path = authorize_path("http://127.0.0.1:45678/callback", "s", &p.challenge);
    let pages = [
        t.anonymous().get("/login"),
        t.anonymous().get(&path),
        t.anonymous().get_with(&path, &[("Cookie", &cookie)]),
        t.anonymous().get_with("/", &[("Cookie", &cookie)]),
    ];
    for r in pages {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!r.text().contains("<script"), "pages are script-free");
    }
}

#[test]
fn a_redirect_to_the_servers_own_port_is_refused() {
    let t = local();
    let p = pkce();
    let cookie = login_cookie(&t, "demo", "demo");
    let port = t.server().port();
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let own = format!("http://{host}:{port}/callback");
        let r = t.anonymous().get_with(
            &authorize_path(&own, "s", &p.challenge),
            &[("Cookie", &cookie)],
        );
        assert_eq!(r.status, 400, "{own}: {}", r.text());
        assert!(r.header("location").is_none());
    }
    // Only the path /callback: a code sent to another path of a loopback server could land
    // in any local program's log.
    for path in ["/", "/cb", "/callback/", "/login", ""] {
        let uri = format!("http://127.0.0.1:45678{path}");
        let r = t.anonymous().get_with(
            &authorize_path(&uri, "s", &p.challenge),
            &[("Cookie", &cookie)],
        );
        assert_eq!(r.status, 400, "{uri}: {}", r.text());
    }
}

#[test]
fn authorize_without_state_is_refused() {
    let t = local();
    let p = pkce();
    let cookie = login_cookie(&t, "demo", "demo");
    let path = format!(
        "/api/local-sync/authorize?redirect_uri={}&code_challenge={}&code_challenge_method=S256",
        urlencode("http://127.0.0.1:45678/callback"),
        p.challenge
    );
    let r = t.anonymous().get_with(&path, &[("Cookie", &cookie)]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.header("location").is_none());
}

/// Login CSRF: a page on another site (or an app on this one) posts the login form with the
/// attacker's credentials. The victim's browser would then hold the attacker's session, and the
/// victim's next "Sync" would link their folder to the attacker's account. The form's CSRF
/// token, bound to a cookie only the login page sets, and the Origin / Sec-Fetch-Site check
/// each refuse it.
#[test]
fn a_cross_site_login_post_is_refused() {
    let t = local();
    for (name, value) in [
        ("Origin", "http://evil.example"),
        ("Origin", "null"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
    ] {
        let r = post_login_with(&t, "demo", "demo", "/", &[(name, value)]);
        assert_eq!(r.status, 403, "{name}: {value}: {}", r.text());
        let set = r.header("set-cookie").unwrap_or_default();
        assert!(!set.contains("hyperclay_session"), "{name}: {value}: {set}");
    }
    // The same post from the server's own page still logs in.
    let own = t.url.clone();
    for (name, value) in [("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")] {
        let r = post_login_with(&t, "demo", "demo", "/", &[(name, value)]);
        assert_eq!(r.status, 303, "{name}: {value}: {}", r.text());
        assert!(r.header("set-cookie").is_some());
    }
    let r = post_login(&t, "demo", "demo", "/");
    assert_eq!(r.status, 303, "{}", r.text());
}

/// Without the login page's own cookie and token, a login post is refused even with no
/// Origin at all (a browser that omits it, or a page that strips it).
#[test]
fn the_login_form_needs_its_csrf_token() {
    let t = local();
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let (cookie, csrf) = login_form(&t);
    let (other_cookie, _) = login_form(&t);
    for (body, cookie, why) in [
        (
            "username=demo&password=demo&next=%2F".to_owned(),
            cookie.as_str(),
            "no token",
        ),
        (
            format!("username=demo&password=demo&csrf={}", urlencode(&csrf)),
            "",
            "no cookie",
        ),
        (
            format!("username=demo&password=demo&csrf={}", urlencode(&csrf)),
            other_cookie.as_str(),
            "another form's cookie",
        ),
        (
            "username=demo&password=demo&csrf=forged".to_owned(),
            cookie.as_str(),
            "a made-up token",
        ),
    ] {
        let r = t
            .anonymous()
            .post_with("/login", body.as_bytes(), &[form, ("Cookie", cookie)]);
        assert_eq!(r.status, 403, "{why}: {}", r.text());
        let set = r.header("set-cookie").unwrap_or_default();
        assert!(!set.contains("hyperclay_session"), "{why}: {set}");
    }
    let r = t.anonymous().post_with(
        "/login",
        format!("username=demo&password=demo&csrf={}", urlencode(&csrf)).as_bytes(),
        &[form, ("Cookie", &cookie)],
    );
    assert_eq!(r.status, 303, "the control case: {}", r.text());
}

#[test]
fn the_session_cookie_is_httponly_and_samesite() {
    let t = local();
    let r = post_login(&t, "demo", "demo", "/");
    let set = r.header("set-cookie").expect("a session cookie");
    let attrs: Vec<String> = set
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attrs.iter().any(|a| a == "httponly"), "{set}");
    assert!(
        attrs
            .iter()
            .any(|a| a == "samesite=lax" || a == "samesite=strict"),
        "{set}"
    );
    assert!(attrs.iter().any(|a| a == "path=/"), "{set}");
    // A failed login sets no cookie at all.
    let bad = post_login(&t, "demo", "wrong", "/");
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_none());
    // The login form's own cookie is HttpOnly and SameSite too.
    let form = t.anonymous().get("/login");
    let set = form.header("set-cookie").expect("the login form's cookie");
    assert!(set.starts_with("hyperclay_login="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
}

#[test]
fn redirect_uris_to_other_hosts_are_refused_without_redirect() {
    let t = local();
    let p = pkce();
    let cookie = login_cookie(&t, "demo", "demo");
    for bad in [
        "http://127.0.0.1@evil.com",
        "http://127.0.0.1:80@evil.com/callback",
        "http://127.0.0.1:8080@evil.com:8080/callback",
        "http://127.0.0.1.evil.com",
        "http://127.0.0.1.evil.com:8080/callback",
        "https://127.0.0.1:8080/callback",
        "https://127.0.0.1",
        "http://127.0.0.1:8080/callback#@evil.com",
        "http://127.0.0.1:8080#evil.com",
        "http://127.0.0.1:8080/callback?next=http://evil.com",
        "http://127.0.0.1:8080\\@evil.com",
        "http://127.0.0.1:8080//evil.com",
        "http://localhost.evil.com:8080/",
        "http://[::1].evil.com:8080/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:0x50/",
        "HTTP://evil.com:80/",
        "//evil.com/callback",
        "http://evil.com:8080/http://127.0.0.1:8080/",
        " http://127.0.0.1:8080/callback",
        "http://127.0.0.1:8080/callback\r\nLocation: http://evil.com",
    ] {
        let r = t.anonymous().get_with(
            &authorize_path(bad, "s", &p.challenge),
            &[("Cookie", &cookie)],
        );
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text());
        assert!(r.header("location").is_none(), "{bad:?}");
        assert!(!r.text().contains("code="), "{bad:?}");
    }
}

#[test]
fn the_login_form_never_redirects_off_site() {
    let t = local();
    for next in [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "http://127.0.0.1@evil.com",
        "/api/local-sync/authorize?x=1\r\nLocation: http://evil.com",
    ] {
        let r = post_login(&t, "demo", "demo", next);
        assert_eq!(r.status, 303, "{next:?}: {}", r.text());
        let loc = r.header("location").expect("a redirect");
        assert!(
            loc.starts_with('/') && !loc.starts_with("//"),
            "{next:?} → {loc}"
        );
        assert!(!loc.contains("evil"), "{next:?} → {loc}");
    }
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
fn a_code_is_single_use_even_after_a_success() {
    let t = local();
    let (code, redirect, p) = get_code(&t);
    let tok: TokenResponse = exchange(&t, &code, &p.verifier, &redirect).ok();
    let _: StatusResponse = t.api_as(&tok.access_token).status().ok();
    for _ in 0..3 {
        exchange(&t, &code, &p.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);
    }
}

#[test]
fn a_stolen_code_is_useless_without_the_verifier() {
    let t = local();
    let (code, redirect, p) = get_code(&t);
    // The thief has the code (from the redirect) and can see the challenge, not the verifier.
    for guess in [p.challenge.as_str(), "", "x"] {
        let r = exchange(&t, &code, guess, &redirect);
        assert_eq!(r.status, 400, "{guess:?}: {}", r.text());
        assert!(!r.text().contains("accessToken"));
    }
    // The thief's attempts burned the code: the owner gets no token from it either, so a
    // leaked code can never be raced or brute-forced.
    exchange(&t, &code, &p.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);
    // Without the field at all it is a malformed request, never a token.
    let r = t.anonymous().post_json(
        "/api/local-sync/token",
        &serde_json::json!({"grantType": "authorization_code", "code": code, "redirectUri": redirect}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn a_code_is_bound_to_its_redirect_uri() {
    let t = local();
    let (code, redirect, p) = get_code(&t);
    let other = redirect.replace("45678", "45679");
    exchange(&t, &code, &p.verifier, &other).expect_error(ErrorCode::InvalidGrant);
    exchange(&t, &code, &p.verifier, &format!("{redirect}/")).expect_error(ErrorCode::InvalidGrant);
    exchange(&t, &code, &p.verifier, &redirect).expect_error(ErrorCode::InvalidGrant);
}

// ---------------------------------------------------------------- account isolation

#[test]
fn no_route_crosses_accounts() {
    let t = local();
    let a = t.api();
    let b = t.api_as(&t.new_account("bee", true, 10));
    let d = t.dir();
    let upload = format!("{d}/secret.txt");
    let app = format!("{d}/{}", t.app("private"));
    let stem = app
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".html")
        .to_owned();
    let _: PutResponse = a.put_file(&upload, b"a v1", T1).ok();
    let _: PutResponse = a.put_file(&upload, b"a v2", T2).ok();
    let _: PutResponse = a.put_file(&app, b"<p>a</p>", T1).ok();
    let _: PutResponse = a.put_file(&app, b"<p>a2</p>", T2).ok();
    let a_versions: hyperclay_protocol::VersionsResponse = a.versions(&upload).ok();
    assert!(!a_versions.versions.is_empty());

    // changes
    let (listing, _) = drain_changes(&b, None, None);
    assert!(listing.is_empty(), "B sees {listing:?}");
    // files
    b.get_file(&upload).expect_error(ErrorCode::NotFound);
    b.get_file(&app).expect_error(ErrorCode::NotFound);
    // versions, list and each id of A's
    b.versions(&upload).expect_error(ErrorCode::NotFound);
    b.versions(&app).expect_error(ErrorCode::NotFound);
    for v in &a_versions.versions {
        let r = b.get(&format!(
            "/api/local-sync/versions/{}/{}",
            enc(&upload),
            v.id
        ));
        assert_eq!(r.status, 404, "version {}: {}", v.id, r.text());
        assert!(!r.body.starts_with(b"a v"));
    }
    // folders: B's folder of the same name is B's own; A's listing does not change.
    let (a_before, _) = drain_changes(&a, None, None);
    let r = b.put_folder(&d);
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    let (a_after, _) = drain_changes(&a, None, None);
    assert_eq!(a_before.len(), a_after.len());
    // files: B's upload at the same path is B's own.
    let _: PutResponse = b.put_file(&upload, b"b's", T2).ok();
    assert_eq!(a.get_file(&upload).body, b"a v2");
    // An app name is platform-wide: B cannot take A's.
    b.put_file(&format!("{}.html", stem), b"<p>b</p>", T2)
        .expect_error(ErrorCode::NameTaken);
    // /save by bearer and by B's browser session.
    b.post_with(&format!("/save/{stem}"), b"<p>b</p>", &[])
        .expect_error(ErrorCode::NotFound);
    let b_cookie = login_cookie(&t, "bee", "pw");
    let r = t.anonymous().post_with(
        &format!("/save/{stem}"),
        b"<p>b</p>",
        &[("Cookie", &b_cookie)],
    );
    assert_eq!(r.status, 404, "{}", r.text());
    // No credentials at all.
    let r = t
        .anonymous()
        .post_with(&format!("/save/{stem}"), b"<p>anon</p>", &[]);
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(a.get_file(&app).body, b"<p>a2</p>");
    // GET /{app} is the public site by design (PROTOCOL.md: it serves the app's current HTML).
    let public = t.anonymous().get(&format!("/{stem}"));
    assert_eq!(public.status, 200);
    assert_eq!(public.body, b"<p>a2</p>");
    // ... but only apps: an upload's name is not a site.
    let r = t.anonymous().get("/secret.txt");
    assert_eq!(r.status, 404, "{}", r.text());
}

// ---------------------------------------------------------------- raw HTTP

fn connect(t: &Target) -> TcpStream {
    let addr = t.url.trim_start_matches("http://").to_owned();
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    s
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn server_pid(t: &Target) -> u32 {
    // The server is the only child listening on its port; find it through /proc.
    let port = t.server().port();
    let hex_port = format!(":{port:04X}");
    let inode = std::fs::read_to_string("/proc/net/tcp")
        .expect("/proc/net/tcp")
        .lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1].ends_with(&hex_port) && f[3] == "0A").then(|| f[9].to_owned())
        })
        .expect("the server's listening socket");
    let needle = format!("socket:[{inode}]");
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == needle) {
                return pid;
            }
        }
    }
    panic!("no process holds the server's socket");
}

/// Sends a chunked PUT of `total` bytes on a writer thread and returns the status line the
/// server answered with (the writer may be cut off once the server has said no).
fn chunked_put(t: &Target, path: &str, total: usize) -> String {
    let mut s = connect(t);
    let head = format!(
        "PUT /api/local-sync/files/{path} HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {}\r\n\
         X-Modified-At: {T1}\r\nTransfer-Encoding: chunked\r\n\r\n",
        t.token
    );
    s.write_all(head.as_bytes()).expect("head");
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            if write!(w, "{n:x}\r\n").is_err()
                || w.write_all(&chunk[..n]).is_err()
                || w.write_all(b"\r\n").is_err()
            {
                return;
            }
            sent += n;
        }
        let _ = w.write_all(b"0\r\n\r\n");
    });
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    String::from_utf8_lossy(&reply)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn oversize_bodies_are_refused_without_buffering_them() {
    let t = local();
    let pid = server_pid(&t);
    // Warm up with a legitimate upload so allocator arenas exist before the baseline.
    let _: PutResponse = t.api().put_file("warm.txt", &[b'w'; 1024], T1).ok();
    let before = vm_rss_kib(pid);
    let mut after = Vec::new();
    for (i, mib) in [25, 25, 100, 100, 100].into_iter().enumerate() {
        let status = chunked_put(&t, &format!("big{i}.bin"), mib * MIB);
        assert!(status.contains(" 413 "), "{mib} MiB chunked: {status:?}");
        after.push(vm_rss_kib(pid));
    }
    eprintln!("VmRSS kiB: before {before}, after each oversize body {after:?}");
    // Bounded by the 20 MiB limit, never by the body: a server buffering whole bodies would
    // grow by at least 100 MiB here (and 325 MiB over the five). The allocator keeps up to a
    // couple of limit-sized buffers around, when it likes, so the bound is three limits' worth
    // over all five bodies.
    let max = after.iter().copied().max().unwrap_or(before);
    let limit_kib = (MAX_FILE_BYTES / 1024) as f64;
    assert!(
        (max.saturating_sub(before) as f64) / limit_kib < 3.0,
        "RSS grew past three 20 MiB limits: {before} → {max} kiB"
    );
    for i in 0..5 {
        t.api()
            .get_file(&format!("big{i}.bin"))
            .expect_error(ErrorCode::NotFound);
    }
    // The server is still serving.
    let _: StatusResponse = t.api().status().ok();
}

#[test]
fn a_declared_oversize_length_is_refused_before_the_body() {
    let t = local();
    let mut s = connect(&t);
    let head = format!(
        "PUT /api/local-sync/files/declared.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {}\r\n\
         X-Modified-At: {T1}\r\nContent-Length: {}\r\n\r\n",
        t.token,
        1u64 << 40
    );
    s.write_all(head.as_bytes()).expect("head");
    // No body byte is sent: a 413 can only come from the declared length.
    let mut reply = String::new();
    let mut buf = [0u8; 1024];
    while !reply.contains("\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply:?}");
}

/// Sends `raw` on one connection, half-closes, and returns every byte the server answered.
fn raw_exchange(t: &Target, raw: &str) -> String {
    let mut s = connect(t);
    s.write_all(raw.as_bytes()).expect("write");
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn responses(reply: &str) -> usize {
    reply.matches("HTTP/1.1 ").count()
}

#[test]
fn both_content_length_and_transfer_encoding_never_smuggle_a_request() {
    let t = local();
    // By Content-Length the body is the whole tail; by chunked framing it ends at "0", and the
    // tail would be a second request reaching the API unauthenticated by the front end.
    let smuggled = format!(
        "GET /api/local-sync/status HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {}\r\n\r\n",
        t.token
    );
    let body = format!("0\r\n\r\n{smuggled}");
    let raw = format!(
        "POST /api/local-sync/token HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{body}",
        body.len()
    );
    let reply = raw_exchange(&t, &raw);
    assert!(responses(&reply) >= 1, "{reply:?}");
    // Either refused outright, or the tail is never answered as a request of its own.
    assert!(
        !reply.contains("\"serverTime\""),
        "the tail was served: {reply}"
    );
    assert_eq!(
        responses(&reply),
        1,
        "two responses on one connection: {reply}"
    );
}

#[test]
fn two_different_content_lengths_are_refused() {
    let t = local();
    let raw = format!(
        "PUT /api/local-sync/files/cl.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {}\r\n\
         X-Modified-At: {T1}\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
        t.token
    );
    let reply = raw_exchange(&t, &raw);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
    assert_eq!(responses(&reply), 1, "{reply}");
    t.api().get_file("cl.txt").expect_error(ErrorCode::NotFound);
    // A comma list of two lengths is the same attack.
    let raw = format!(
        "PUT /api/local-sync/files/cl2.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {}\r\n\
         X-Modified-At: {T1}\r\nContent-Length: 3, 30\r\n\r\nabc",
        t.token
    );
    let reply = raw_exchange(&t, &raw);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
    t.api()
        .get_file("cl2.txt")
        .expect_error(ErrorCode::NotFound);
}

#[test]
fn an_unknown_transfer_encoding_is_refused() {
    let t = local();
    let raw = format!(
        "PUT /api/local-sync/files/te.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: hyperclay-sync/0.1.0\r\nAuthorization: Bearer {}\r\n\
         X-Modified-At: {T1}\r\nTransfer-Encoding: gzip, identity\r\n\r\nabc",
        t.token
    );
    let reply = raw_exchange(&t, &raw);
    assert!(
        reply.starts_with("HTTP/1.1 400") || reply.starts_with("HTTP/1.1 501"),
        "{reply:?}"
    );
    t.api().get_file("te.txt").expect_error(ErrorCode::NotFound);
}

#[test]
fn the_server_log_never_holds_a_secret() {
    let t = local();
    let password = "s3cret-Pa55word-xyz";
    t.server().add_user("carol", password, true, 10);
    let cookie = login_cookie(&t, "carol", password);
    let (code, redirect, p) = get_code(&t);
    let tok: TokenResponse = exchange(&t, &code, &p.verifier, &redirect).ok();
    // Secrets in places a careless log would print: query strings, headers, bodies.
    let _ = t.api_as(&tok.access_token).get(&format!(
        "/api/local-sync/status?access_token={}&code={code}",
        tok.access_token
    ));
    let _ = t
        .api_as(&tok.access_token)
        .put_file("log-probe.txt", tok.access_token.as_bytes(), T1);
    let bad = post_login(&t, "carol", &format!("{password}-wrong"), "/");
    assert_eq!(bad.status, 401);
    let _ = t
        .api_as(&tok.access_token)
        .post_with("/api/local-sync/logout", b"", &[]);
    let session = cookie.split_once('=').map(|(_, v)| v).unwrap_or_default();
    let log = t.server().log();
    assert!(
        !log.is_empty(),
        "the server logged nothing, so this proved nothing"
    );
    for (what, secret) in [
        ("access token", tok.access_token.as_str()),
        ("authorization code", code.as_str()),
        ("code verifier", p.verifier.as_str()),
        ("password", password),
        ("session id", session),
        ("suite token", t.token.as_str()),
    ] {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret), "the server log holds the {what}");
    }
}

// ---------------------------------------------------------------- token families (issue 16, 8)

fn refresh(t: &Target, token: &str) -> Reply {
    t.api_as(token)
        .post_with("/api/local-sync/refresh", b"", &[])
}

fn works(t: &Target, token: &str) -> bool {
    t.api_as(token).status().status == 200
}

/// Refresh rotates: the old token keeps working until its successor is first used (requests
/// already in flight do not fail), then never again.
#[test]
fn refresh_rotates_and_the_old_token_ends_once_the_new_one_is_used() {
    let t = local();
    let old = t.server().token("demo");
    let new: TokenResponse = refresh(&t, &old).ok();
    assert_ne!(new.access_token, old);
    assert_eq!(claims_of(&new.access_token)["fam"], claims_of(&old)["fam"]);
    assert!(works(&t, &old), "in flight: the old one still works");
    assert!(works(&t, &new.access_token));
    unauthorized(&t, &old, "replaced by its refreshed successor");
    let r = refresh(&t, &old);
    assert_eq!(r.status, 401, "{}", r.text());
}

/// A stolen token cannot be refreshed forever beside its owner: refreshing a token whose
/// successor was already used means two holders, and ends the whole family for both.
#[test]
fn refreshing_a_replaced_token_revokes_its_whole_family() {
    let t = local();
    let stolen = t.server().token("demo");
    let owners: TokenResponse = refresh(&t, &stolen).ok();
    assert!(works(&t, &owners.access_token));
    let r = refresh(&t, &stolen);
    assert_eq!(r.status, 401, "{}", r.text());
    unauthorized(&t, &owners.access_token, "the family was revoked");
    unauthorized(&t, &stolen, "the family was revoked");
    // Another login's family is untouched.
    assert!(works(&t, &t.token));
}

/// A client that lost the answer of its refresh may refresh again with the token it still
/// has (its successor was never used); the lost successor and the old token then end at once.
#[test]
fn a_refresh_whose_answer_was_lost_can_be_repeated() {
    let t = local();
    let old = t.server().token("demo");
    let lost: TokenResponse = refresh(&t, &old).ok();
    let again: TokenResponse = refresh(&t, &old).ok();
    assert!(works(&t, &again.access_token));
    unauthorized(&t, &lost.access_token, "the lost successor");
    unauthorized(&t, &old, "the old token");
}

#[test]
fn logout_revokes_every_token_of_the_login() {
    let t = local();
    let first = t.server().token("demo");
    let second: TokenResponse = refresh(&t, &first).ok();
    let third: TokenResponse = refresh(&t, &second.access_token).ok();
    // Logging out with the oldest token ends its successors too.
    let out = t
        .api_as(&first)
        .post_with("/api/local-sync/logout", b"", &[]);
    assert_eq!(out.status, 204, "{}", out.text());
    for tok in [&first, &second.access_token, &third.access_token] {
        unauthorized(&t, tok, "logged out");
        assert_eq!(refresh(&t, tok).status, 401);
    }
    assert!(works(&t, &t.token), "another login is untouched");
}

/// A password change logs the account out everywhere: every token family and every browser
/// session; other accounts keep theirs.
#[test]
fn a_password_change_revokes_every_token_and_browser_session() {
    let t = local();
    t.server().add_user("carol", "old-pw", true, 10);
    let a = t.server().token("carol");
    let b = t.server().token("carol");
    let refreshed: TokenResponse = refresh(&t, &b).ok();
    let cookie = login_cookie(&t, "carol", "old-pw");
    let home = t.anonymous().get_with("/", &[("Cookie", &cookie)]);
    assert!(
        home.text().contains("id=\"user\">carol<"),
        "{}",
        home.text()
    );

    t.server()
        .cli(&["user", "set", "carol", "--password", "new-pw"]);

    for tok in [&a, &b, &refreshed.access_token] {
        unauthorized(&t, tok, "the password changed");
    }
    let home = t.anonymous().get_with("/", &[("Cookie", &cookie)]);
    assert!(!home.text().contains("id=\"user\""), "{}", home.text());
    assert!(works(&t, &t.token), "demo is untouched");
    assert_eq!(post_login(&t, "carol", "old-pw", "/").status, 401);
    assert_eq!(post_login(&t, "carol", "new-pw", "/").status, 303);
    // A change of plan alone revokes nothing.
    let c = t.server().token("carol");
    t.server()
        .cli(&["user", "set", "carol", "--site-limit", "11"]);
    assert!(works(&t, &c));
}

#[test]
fn the_browser_session_can_be_ended_with_its_own_token_only() {
    let t = local();
    let cookie = login_cookie(&t, "demo", "demo");
    let home = t.anonymous().get_with("/", &[("Cookie", &cookie)]);
    let page = home.text();
    assert!(page.contains("action=\"/logout\""), "{page}");
    let token = hidden(&page, "csrf");
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    // Another page cannot log the browser out: no token, a wrong one, or a foreign origin.
    for (body, extra) in [
        ("".to_owned(), None),
        ("csrf=forged".to_owned(), None),
        (
            format!("csrf={}", urlencode(&token)),
            Some(("Origin", "null")),
        ),
    ] {
        let mut headers = vec![form, ("Cookie", cookie.as_str())];
        headers.extend(extra);
        let r = t
            .anonymous()
            .post_with("/logout", body.as_bytes(), &headers);
        assert_eq!(r.status, 403, "{body}: {}", r.text());
    }
    let still = t.anonymous().get_with("/", &[("Cookie", &cookie)]);
    assert!(still.text().contains("id=\"user\">demo<"));

    let r = t.anonymous().post_with(
        "/logout",
        format!("csrf={}", urlencode(&token)).as_bytes(),
        &[form, ("Cookie", &cookie)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.header("set-cookie").unwrap_or_default();
    assert!(set.contains("Max-Age=0"), "the cookie is cleared: {set}");
    // The session itself is gone on the server, whatever the browser keeps.
    let after = t.anonymous().get_with("/", &[("Cookie", &cookie)]);
    assert!(!after.text().contains("id=\"user\""), "{}", after.text());
    let p = pkce();
    let path = authorize_path("http://127.0.0.1:45678/callback", "s", &p.challenge);
    let r = t.anonymous().get_with(&path, &[("Cookie", &cookie)]);
    assert!(r.text().contains("id=\"password\""), "the login form again");
}

// ---------------------------------------------------------------- the data dir (issue 16, 9)

#[cfg(unix)]
#[test]
fn the_data_dir_is_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let t = local();
    // Make every kind of file: a blob, the database and its WAL, the key, a session.
    let _: PutResponse = t.api().put_file("private/a.txt", b"secret", T1).ok();
    let _ = login_cookie(&t, "demo", "demo");
    let _ = get_code(&t);
    let mut seen = (0, 0);
    let mut stack = vec![t.server().data_dir().to_owned()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        seen.0 += 1;
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("stat");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", entry.path().display());
                seen.1 += 1;
            }
        }
    }
    let names: Vec<String> = std::fs::read_dir(t.server().data_dir())
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for must in [
        "hyperclay.sqlite3",
        "hyperclay.sqlite3-wal",
        "jwt.key",
        "blobs",
    ] {
        assert!(names.iter().any(|n| n == must), "{must} in {names:?}");
    }
    assert!(seen.0 >= 3 && seen.1 >= 4, "checked {seen:?}");
}

// ---------------------------------------------------------------- password guessing (3, 4)

/// Issue 16, attack 4: 20 wrong guesses in 1.3 s. Now an account name locks after a few
/// failures (429 with Retry-After, checked before any hashing, so even the right password is
/// refused while locked), and other accounts from the same address still log in.
#[test]
fn repeated_wrong_passwords_lock_the_account_out() {
    let t = local();
    for i in 0..5 {
        let r = post_login(&t, "demo", &format!("guess-{i}"), "/");
        assert_eq!(r.status, 401, "guess {i}: {}", r.text());
    }
    let r = post_login(&t, "demo", "demo", "/");
    assert_eq!(r.status, 429, "{}", r.text());
    let secs: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(secs >= 1, "{secs}");
    assert!(r.header("set-cookie").is_none());
    assert!(
        r.text().contains("Too many wrong passwords"),
        "{}",
        r.text()
    );
    // The lock is the name's, not the address's.
    assert_eq!(post_login(&t, "free", "free", "/").status, 303);
}

/// Issue 16, attack 3: every check is an Argon2 hash of ~19 MiB and nothing bounded how many
/// ran at once. Now checks beyond a small bound are refused at once with 503 + Retry-After (no
/// hashing, no memory), and none of the burst logs anyone in.
#[test]
fn a_burst_of_logins_beyond_the_bound_is_refused_with_503() {
    let t = local();
    let forms: Vec<(String, String)> = (0..32).map(|_| login_form(&t)).collect();
    let url = t.url.clone();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(forms.len()));
    let threads: Vec<_> = forms
        .into_iter()
        .enumerate()
        .map(|(i, (cookie, csrf))| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let api = Api::new(&url, None);
                let body = format!(
                    "username=nobody{i}&password=wrong&csrf={}",
                    urlencode(&csrf)
                );
                barrier.wait();
                api.post_with(
                    "/login",
                    body.as_bytes(),
                    &[
                        ("Content-Type", "application/x-www-form-urlencoded"),
                        ("Cookie", &cookie),
                    ],
                )
            })
        })
        .collect();
    let replies: Vec<Reply> = threads
        .into_iter()
        .map(|h| h.join().expect("a login thread"))
        .collect();
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    for r in &replies {
        assert!(
            [401, 429, 503].contains(&r.status),
            "{}: {}",
            r.status,
            r.text()
        );
        let set = r.header("set-cookie").unwrap_or_default();
        assert!(!set.contains("hyperclay_session"), "{set}");
    }
    assert!(
        !busy.is_empty(),
        "32 at once, 4 slots: some must be refused"
    );
    for r in busy {
        assert!(r.header("retry-after").is_some());
        assert!(r.text().contains("The server is busy"), "{}", r.text());
    }
}

// ---------------------------------------------------------------- apps' origin (issue 16, 1, 2)

/// An app page is served in a sandbox without `allow-same-origin`: its scripts run as an
/// opaque origin, so a browser sends their requests to this server with `Origin: null`,
/// `Sec-Fetch-Site: cross-site` and no SameSite cookie.
fn app_sandbox(t: &Target, stem: &str) -> String {
    let r = t.anonymous().get(&format!("/{stem}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.starts_with("sandbox "), "{csp}");
    assert!(csp.contains("allow-scripts"), "apps still run: {csp}");
    assert!(!csp.contains("allow-same-origin"), "{csp}");
    csp
}

/// The headers a sandboxed app page's `fetch(…, {credentials: 'include'})` carries. The
/// session cookie is SameSite=Lax, which a browser withholds from such a request; it is sent
/// here anyway, as the worst case, to show the server refuses on its own.
fn as_app_script(cookie: &str) -> [(&str, &str); 3] {
    [
        ("Origin", "null"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Cookie", cookie),
    ]
}

/// Issue 16, attack 1: an attacker's app page POSTs /login with the attacker's credentials to
/// bind the visitor's browser (and then their sync client) to the attacker's account.
#[test]
fn an_app_pages_script_cannot_log_the_visitor_in() {
    let t = local();
    let mallory = t.new_account("mallory", true, 10);
    let app = t.app("bait");
    let _: PutResponse = t
        .api_as(&mallory)
        .put_file(
            &app,
            b"<script>fetch('/login',{method:'POST'})</script>",
            T1,
        )
        .ok();
    app_sandbox(&t, app.trim_end_matches(".html"));
    // Even with the login form's own cookie and a token for it (which the script cannot read).
    let (form_cookie, csrf) = login_form(&t);
    let [origin, site, cookie] = as_app_script(&form_cookie);
    let r = t.anonymous().post_with(
        "/login",
        format!("username=mallory&password=pw&csrf={}", urlencode(&csrf)).as_bytes(),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            origin,
            site,
            cookie,
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let set = r.header("set-cookie").unwrap_or_default();
    assert!(!set.contains("hyperclay_session"), "{set}");
}

/// Issue 16, attack 2: an app page's script POSTs /save/{another app} with the visitor's
/// cookie, defacing the visitor's own apps (and probing which names they own). The cookie
/// counts only on requests from the server's own pages; the platform's own save still works.
#[test]
fn an_app_pages_script_cannot_save_over_the_visitors_apps() {
    let t = local();
    let victims_app = t.app("mine");
    let stem = victims_app.trim_end_matches(".html").to_owned();
    let _: PutResponse = t.api().put_file(&victims_app, b"<p>mine</p>", T1).ok();
    let mallory = t.new_account("mallory", true, 10);
    let bait = t.app("bait");
    let _: PutResponse = t
        .api_as(&mallory)
        .put_file(&bait, b"<script>/* POST /save/... */</script>", T1)
        .ok();
    app_sandbox(&t, bait.trim_end_matches(".html"));
    let cookie = login_cookie(&t, "demo", "demo");
    let [origin, site, c] = as_app_script(&cookie);
    for headers in [vec![origin, site, c], vec![origin, c], vec![site, c]] {
        let r = t
            .anonymous()
            .post_with(&format!("/save/{stem}"), b"<p>defaced</p>", &headers);
        assert_eq!(r.status, 401, "{headers:?}: {}", r.text());
    }
    // An unknown name answers the same: the script learns nothing about what the visitor owns.
    let r = t
        .anonymous()
        .post_with(&format!("/save/no-such-{stem}"), b"x", &[origin, site, c]);
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(t.api().get_file(&victims_app).body, b"<p>mine</p>");

    // The platform's own save: from the server's own page with the cookie, or with a token.
    let own = t.url.clone();
    let r = t.anonymous().post_with(
        &format!("/save/{stem}"),
        b"<p>v2</p>",
        &[
            ("Cookie", &cookie),
            ("Origin", &own),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let _: PutResponse = t
        .api()
        .post_with(&format!("/save/{stem}"), b"<p>v3</p>", &[])
        .ok();
    assert_eq!(t.api().get_file(&victims_app).body, b"<p>v3</p>");
}

// ---------------------------------------------------------------- the cookie over https (5)

/// Behind https (`serve --secure-cookies`) the session cookie is `__Host-` prefixed and
/// `Secure`; on plain http (every other test) it cannot be, and has no prefix.
#[test]
fn behind_https_the_session_cookie_is_host_prefixed_and_secure() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hyperclay-server"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--secure-cookies",
        ])
        .arg("--exit-on-stdin-eof")
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("HYPERCLAY_SERVER_DATA")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the listening line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on URL")
        .to_owned();
    let api = Api::new(&url, None);
    let form = api.get("/login");
    let form_cookie = form.header("set-cookie").unwrap_or_default();
    assert!(
        form_cookie.starts_with("__Host-hyperclay_login="),
        "{form_cookie}"
    );
    assert!(form_cookie.contains("; Secure"), "{form_cookie}");
    let csrf = hidden(&form.text(), "csrf");
    let r = api.post_with(
        "/login",
        format!("username=demo&password=demo&csrf={}", urlencode(&csrf)).as_bytes(),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", form_cookie.split(';').next().unwrap_or_default()),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").unwrap_or_default();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    assert!(attrs[0].starts_with("__Host-hyperclay_session="), "{set}");
    for a in ["Secure", "HttpOnly", "Path=/", "SameSite=Lax"] {
        assert!(attrs.contains(&a), "{a} in {set}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("Domain")), "{set}");
    let home = api.get_with("/", &[("Cookie", attrs[0])]);
    assert!(home.text().contains("id=\"user\">demo<"), "{}", home.text());
    // The unprefixed name means nothing to this server.
    let plain = attrs[0].replacen("__Host-", "", 1);
    let home = api.get_with("/", &[("Cookie", &plain)]);
    assert!(!home.text().contains("id=\"user\""), "{}", home.text());
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}
