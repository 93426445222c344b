//! The device login (RFC 8628) over plain HTTP: `/device/code`, the `/device` pages as a browser
//! uses them (login form, code, consent with its CSRF token), and every answer of the
//! `device_code` grant on `/token`: pending, slow_down, denied, expired, reuse, wrong codes, and
//! the lockout of user-code guessing.

use std::time::Duration;

use hyperclay_protocol::{
    DEVICE_CODE_GRANT, DeviceCodeResponse, ErrorCode, StatusResponse, TokenResponse,
};
use hyperclay_testkit::ServerOptions;

use crate::common::*;
use crate::oauth_flow::{cookie_of, hidden, hidden_fields, login_cookie};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

pub fn start_device_login(t: &Target) -> DeviceCodeResponse {
    t.anonymous()
        .post_with("/api/local-sync/device/code", b"", &[])
        .ok()
}

pub fn poll(t: &Target, device_code: &str) -> Reply {
    t.anonymous().post_json(
        "/api/local-sync/token",
        &serde_json::json!({"grantType": DEVICE_CODE_GRANT, "deviceCode": device_code}),
    )
}

/// The `/device` page for `user_code` typed into the server's own code form, as the browser
/// with the session `cookie` sees it (the form's `typed` token and the headers a browser sends
/// for it).
pub fn device_page(t: &Target, cookie: &str, user_code: &str) -> Reply {
    let form = t.anonymous().get_with("/device", &[("Cookie", cookie)]);
    assert_eq!(form.status, 200, "{}", form.text());
    let typed = hidden(&form.text(), "typed");
    let referer = format!("{}/device", t.url);
    t.anonymous().get_with(
        &format!(
            "/device?user_code={}&typed={}",
            urlencode(user_code),
            urlencode(&typed)
        ),
        &[
            ("Cookie", cookie),
            ("Sec-Fetch-Site", "same-origin"),
            ("Referer", &referer),
        ],
    )
}

/// The `/device` page for `user_code` reached by a link (the complete URL), with `headers`.
pub fn linked_device_page(
    t: &Target,
    cookie: &str,
    user_code: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("Cookie", cookie)];
    all.extend_from_slice(headers);
    t.anonymous()
        .get_with(&format!("/device?user_code={}", urlencode(user_code)), &all)
}

/// Answers the consent `page` (shown to `cookie`) with `decision`, as its own form would.
pub fn answer_device(t: &Target, cookie: &str, page: &str, decision: &str) -> Reply {
    answer_device_typing(t, cookie, page, decision, None)
}

/// The same, with `typed` in the page's code field (a page that asks for the code).
pub fn answer_device_typing(
    t: &Target,
    cookie: &str,
    page: &str,
    decision: &str,
    typed: Option<&str>,
) -> Reply {
    let mut fields = hidden_fields(page);
    if let Some(code) = typed {
        fields.push(("user_code".to_owned(), code.to_owned()));
    }
    fields.dedup_by(|a, b| a.0 == b.0);
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("decision", decision));
    t.anonymous()
        .post_with("/device", &form(&pairs), &[FORM, ("Cookie", cookie)])
}

/// Logs `user` in, opens the code's consent page and answers it.
fn confirm(t: &Target, user: &str, user_code: &str, decision: &str) -> Reply {
    let cookie = login_cookie(t, user, user);
    let page = device_page(t, &cookie, user_code);
    assert_eq!(page.status, 200, "{}", page.text());
    answer_device(t, &cookie, &page.text(), decision)
}

#[test]
fn device_code_answers_every_field_with_a_short_unambiguous_code() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    assert!(d.device_code.len() >= 43, "a long random secret");
    let code = d.user_code.as_bytes();
    assert_eq!(code.len(), 9, "{}", d.user_code);
    assert_eq!(code[4], b'-');
    assert!(
        code.iter()
            .filter(|b| **b != b'-')
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(b)),
        "{}",
        d.user_code
    );
    assert_eq!(d.verification_uri, format!("{}/device", t.url));
    assert_eq!(
        d.verification_uri_complete,
        format!("{}/device?user_code={}", t.url, d.user_code)
    );
    assert_eq!((d.expires_in, d.interval), (600, 5));
    assert_ne!(start_device_login(&t).device_code, d.device_code);
}

#[test]
fn a_device_login_allowed_on_the_page_gives_one_working_token() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    poll(&t, &d.device_code).expect_error(ErrorCode::AuthorizationPending);

    // The complete URL, opened in a browser with no session: the login form, then back here.
    let first = t.anonymous().get(&format!(
        "/device?user_code={}",
        urlencode(&d.user_code.to_lowercase())
    ));
    assert_eq!(first.status, 200, "{}", first.text());
    let next = hidden(&first.text(), "next");
    assert_eq!(
        next,
        format!("/device?user_code={}", d.user_code.replace('-', ""))
    );
    let login = t.anonymous().post_with(
        "/login",
        &form(&[
            ("username", "demo"),
            ("password", "demo"),
            ("next", &next),
            ("csrf", &hidden(&first.text(), "csrf")),
        ]),
        &[FORM, ("Cookie", &cookie_of(&first))],
    );
    assert_eq!(login.status, 303, "{}", login.text());
    assert_eq!(login.header("location").as_deref(), Some(next.as_str()));
    let cookie = cookie_of(&login);
    let page = t.anonymous().get_with(&next, &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("<b id=\"user\">demo</b>"), "{html}");
    // Issue 23, 2: the code came in a link, so the page does not show it, and asks for it.
    assert!(!html.contains(&d.user_code), "{html}");
    assert!(!html.contains(&d.user_code.replace('-', "")), "{html}");
    assert!(
        html.contains("<input id=\"user_code\" name=\"user_code\""),
        "{html}"
    );
    // Where, when and as what the login was asked for.
    assert!(html.contains("<b id=\"address\">127.0.0.1</b>"), "{html}");
    assert!(html.contains("<b id=\"asked\">"), "{html}");
    assert!(
        html.contains("<b id=\"device\">unknown device (hyperclay-sync/0.1.0)</b>"),
        "{html}"
    );
    for header in ["x-frame-options", "content-security-policy"] {
        assert!(page.header(header).is_some(), "{header}");
    }
    assert!(
        page.header("content-security-policy")
            .unwrap_or_default()
            .contains("frame-ancestors 'none'")
    );
    // Looking is not answering (and this poll may come sooner than the interval allows).
    let looked = poll(&t, &d.device_code);
    assert_eq!(looked.status, 400, "{}", looked.text());
    let error = looked.json::<hyperclay_protocol::ErrorBody>().error;
    assert!(
        ["authorization_pending", "slow_down"].contains(&error.as_str()),
        "{error}"
    );

    // One click on Allow without typing the code allows nothing.
    let r = answer_device(&t, &cookie, &html, "allow");
    assert_eq!(r.status, 400, "{}", r.text());
    let still = poll(&t, &d.device_code);
    assert_eq!(still.status, 400, "{}", still.text());
    // Typed as the device shows it (any case, without the dash): allowed.
    let typed = d.user_code.to_lowercase().replace('-', "");
    let r = answer_device_typing(&t, &cookie, &html, "allow", Some(&typed));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("logged in as <b id=\"user\">demo</b>"),
        "{}",
        r.text()
    );

    let tok: TokenResponse = poll(&t, &d.device_code).ok();
    assert_eq!(tok.user.name, "demo");
    let s: StatusResponse = t.api_as(&tok.access_token).status().ok();
    assert_eq!(s.user, tok.user);
    // Its own token family: refresh and logout work as for the browser login.
    let next: TokenResponse = t
        .api_as(&tok.access_token)
        .post_with("/api/local-sync/refresh", b"", &[])
        .ok();
    assert_eq!(next.user, tok.user);
    // Single use.
    poll(&t, &d.device_code).expect_error(ErrorCode::InvalidGrant);
    // Its code can no longer be answered.
    let again = device_page(&t, &cookie, &d.user_code);
    assert_eq!(again.status, 400, "{}", again.text());
    // Neither code reached the log (the page's query string is never logged).
    let log = t.server().log();
    assert!(log.contains("/device"), "requests are logged: {log}");
    assert!(!log.contains(&d.device_code), "{log}");
    assert!(!log.contains(&d.user_code.replace('-', "")), "{log}");
    assert!(!log.contains(&d.user_code), "{log}");
}

/// Issue 23, 2 (RFC 8628 §5.4): Mallory starts a device login and sends its complete URL from
/// another page — another site, or an app on this server, which is sandboxed (an opaque
/// origin: `Sec-Fetch-Site: cross-site`, at most the origin as `Referer`). The logged-in
/// victim never lands on a consent page: the code form, without the code; and such links are
/// not counted as guesses.
#[test]
fn a_code_in_a_link_from_another_page_never_reaches_a_consent_page() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    let cookie = login_cookie(&t, "demo", "demo");
    let own_root = format!("{}/", t.url);
    let own_app = format!("{}/mallory-app", t.url);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Sec-Fetch-Site", "cross-site"), ("Referer", &own_root)],
        vec![("Referer", &own_root)],
        vec![("Referer", &own_app)],
        vec![("Referer", "https://evil.example/phish")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "same-origin"), ("Referer", &own_app)],
    ];
    for _ in 0..3 {
        for headers in &cases {
            let r = linked_device_page(&t, &cookie, &d.user_code, headers);
            assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
            let html = r.text();
            assert!(!html.contains("id=\"allow\""), "{headers:?}: {html}");
            assert!(!html.contains(&d.user_code), "{headers:?}: {html}");
            assert!(html.contains("opened from another page"), "{html}");
        }
    }
    poll(&t, &d.device_code).expect_error(ErrorCode::AuthorizationPending);
    // 24 such links, and the user's own code still works: none was counted as a guess.
    let page = device_page(&t, &cookie, &d.user_code);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text()
            .contains(&format!("<b id=\"code\">{}</b>", d.user_code))
    );
    // The link opened from a terminal (no Referer, `Sec-Fetch-Site: none`) shows the consent
    // page, asking for the code.
    let typed_url = linked_device_page(&t, &cookie, &d.user_code, &[("Sec-Fetch-Site", "none")]);
    assert_eq!(typed_url.status, 200, "{}", typed_url.text());
    assert!(
        typed_url
            .text()
            .contains("Type the code that your device shows")
    );
    // A made-up `typed` token is not the form's.
    let forged = t.anonymous().get_with(
        &format!("/device?user_code={}&typed=forged", urlencode(&d.user_code)),
        &[("Cookie", &cookie)],
    );
    assert!(!forged.text().contains(&d.user_code), "{}", forged.text());
}

/// The consent page names the device as it named itself, made safe to show.
#[test]
fn the_consent_page_names_the_device_as_it_named_itself() {
    let Some(t) = Target::local() else { return };
    let d: DeviceCodeResponse = t
        .anonymous()
        .post_with(
            "/api/local-sync/device/code",
            br#"{"deviceName": "Ann's laptop\u001b[2J\u202e"}"#,
            &[
                ("Content-Type", "application/json"),
                ("User-Agent", "hyperclay-sync/9.9.0"),
            ],
        )
        .ok();
    let cookie = login_cookie(&t, "demo", "demo");
    let html = device_page(&t, &cookie, &d.user_code).text();
    assert!(
        html.contains("<b id=\"device\">Ann&#39;s laptop[2J (hyperclay-sync/9.9.0)</b>")
            || html.contains("<b id=\"device\">Ann&#x27;s laptop[2J (hyperclay-sync/9.9.0)</b>"),
        "{html}"
    );
    t.anonymous()
        .post_with("/api/local-sync/device/code", b"not json", &[])
        .expect_error(ErrorCode::InvalidRequest);
}

#[test]
fn one_address_cannot_start_more_than_twenty_waiting_device_logins() {
    let Some(t) = Target::local() else { return };
    for _ in 0..20 {
        start_device_login(&t);
    }
    let r = t
        .anonymous()
        .post_with("/api/local-sync/device/code", b"", &[]);
    r.expect_error(ErrorCode::TooManyRequests);
    assert_eq!(r.header("retry-after").as_deref(), Some("60"));
}

#[test]
fn polling_faster_than_the_interval_is_slow_down() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    poll(&t, &d.device_code).expect_error(ErrorCode::AuthorizationPending);
    poll(&t, &d.device_code).expect_error(ErrorCode::SlowDown);
}

#[test]
fn a_polling_device_on_time_stays_pending() {
    let Some(t) = Target::local_opts(ServerOptions {
        demo: true,
        device_interval_secs: Some(1),
        ..ServerOptions::default()
    }) else {
        return;
    };
    let d = start_device_login(&t);
    assert_eq!(d.interval, 1);
    for _ in 0..3 {
        poll(&t, &d.device_code).expect_error(ErrorCode::AuthorizationPending);
        std::thread::sleep(Duration::from_millis(1_100));
    }
}

#[test]
fn a_denied_device_login_is_access_denied() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    let r = confirm(&t, "demo", &d.user_code, "deny");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Denied"), "{}", r.text());
    poll(&t, &d.device_code).expect_error(ErrorCode::AccessDenied);
}

#[test]
fn an_expired_device_login_is_expired_token_and_cannot_be_allowed() {
    let Some(t) = Target::local_opts(ServerOptions {
        demo: true,
        device_lifetime_secs: Some(1),
        ..ServerOptions::default()
    }) else {
        return;
    };
    let d = start_device_login(&t);
    assert_eq!(d.expires_in, 1);
    let cookie = login_cookie(&t, "demo", "demo");
    std::thread::sleep(Duration::from_millis(1_500));
    let page = device_page(&t, &cookie, &d.user_code);
    assert_eq!(page.status, 400, "{}", page.text());
    assert!(page.text().contains("No login waits for this code"));
    poll(&t, &d.device_code).expect_error(ErrorCode::ExpiredToken);
}

#[test]
fn unknown_device_codes_are_invalid_grant_and_bad_bodies_invalid_request() {
    let Some(t) = Target::local() else { return };
    poll(&t, "no-such-device-code").expect_error(ErrorCode::InvalidGrant);
    t.anonymous()
        .post_json(
            "/api/local-sync/token",
            &serde_json::json!({"grantType": DEVICE_CODE_GRANT}),
        )
        .expect_error(ErrorCode::InvalidRequest);
    t.anonymous()
        .post_json(
            "/api/local-sync/token",
            &serde_json::json!({"grantType": "device_code", "deviceCode": "x"}),
        )
        .expect_error(ErrorCode::InvalidRequest);
}

#[test]
fn an_unpaid_account_that_allows_gets_subscription_required() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    let r = confirm(&t, "free", &d.user_code, "allow");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Sync is for paid subscribers"));
    poll(&t, &d.device_code).expect_error(ErrorCode::SubscriptionRequired);
}

#[test]
fn a_device_answer_needs_this_sessions_csrf_token_and_this_origin() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    let cookie = login_cookie(&t, "demo", "demo");
    let html = device_page(&t, &cookie, &d.user_code).text();
    let csrf = hidden(&html, "csrf");
    let post = |body: &[(&str, &str)], extra: &[(&str, &str)]| {
        let mut headers = vec![FORM, ("Cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        t.anonymous().post_with("/device", &form(body), &headers)
    };
    let code = d.user_code.as_str();
    for (body, extra) in [
        (vec![("user_code", code), ("decision", "allow")], vec![]),
        (
            vec![
                ("user_code", code),
                ("csrf", "forged"),
                ("decision", "allow"),
            ],
            vec![],
        ),
        (
            vec![("user_code", code), ("csrf", &csrf), ("decision", "allow")],
            vec![("Origin", "https://evil.example")],
        ),
        (
            vec![("user_code", code), ("csrf", &csrf), ("decision", "allow")],
            vec![("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
        ),
    ] {
        let r = post(&body, &extra);
        assert_eq!(r.status, 403, "{}", r.text());
    }
    // Without a session at all.
    let r = t.anonymous().post_with(
        "/device",
        &form(&[("user_code", code), ("csrf", &csrf), ("decision", "allow")]),
        &[FORM],
    );
    assert_eq!(r.status, 401, "{}", r.text());
    poll(&t, &d.device_code).expect_error(ErrorCode::AuthorizationPending);
}

#[test]
fn guessing_user_codes_locks_the_account_out() {
    let Some(t) = Target::local() else { return };
    let d = start_device_login(&t);
    let cookie = login_cookie(&t, "demo", "demo");
    for guess in [
        "BCDF-GHJK",
        "BCDF-GHJL",
        "BCDF-GHJM",
        "BCDF-GHJN",
        "BCDF-GHJP",
    ] {
        let r = device_page(&t, &cookie, guess);
        assert_eq!(r.status, 400, "{guess}: {}", r.text());
    }
    // Even the right code now waits.
    let r = device_page(&t, &cookie, &d.user_code);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert!(r.text().contains("Too many wrong codes"));
    // Guessing codes does not lock the password login.
    let other = login_cookie(&t, "demo", "demo");
    assert!(!other.is_empty());
}
