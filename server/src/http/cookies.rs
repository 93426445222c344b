//! The browser's cookies: the session (who is logged in) and the login form's pre-session
//! cookie (what its CSRF token is bound to). Both are HttpOnly, so no page script reads them.
//! Over https they are `Secure` with the `__Host-` prefix (host-only, path `/`, never set by a
//! sibling host); over plain http neither is possible (browsers drop `Secure` cookies sent
//! over http), so the names carry no prefix.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    Session,
    LoginForm,
}

impl Cookie {
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Cookie::Session, false) => "hyperclay_session",
            (Cookie::Session, true) => "__Host-hyperclay_session",
            (Cookie::LoginForm, false) => "hyperclay_login",
            (Cookie::LoginForm, true) => "__Host-hyperclay_login",
        }
    }

    /// Lax for the session, so following a link into the server (the sync app opening
    /// `/authorize`) keeps the login; Strict for the login form, only ever posted from itself.
    fn same_site(self) -> &'static str {
        match self {
            Cookie::Session => "Lax",
            Cookie::LoginForm => "Strict",
        }
    }

    /// The `Set-Cookie` value giving this cookie `value` for `max_age_secs`.
    pub fn set(self, value: &str, max_age_secs: i64, secure: bool) -> String {
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite={}; Max-Age={max_age_secs}{}",
            self.name(secure),
            self.same_site(),
            if secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes this cookie.
    pub fn clear(self, secure: bool) -> String {
        self.set("", 0, secure)
    }

    /// This cookie's value in a request, if it has a non-empty one.
    pub fn read(self, headers: &HeaderMap, secure: bool) -> Option<String> {
        let name = self.name(secure);
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.to_owned())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn secure_cookies_carry_the_host_prefix_and_plain_ones_do_not() {
        let s = Cookie::Session.set("abc", 60, true);
        assert_eq!(
            s,
            "__Host-hyperclay_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let p = Cookie::LoginForm.set("abc", 60, false);
        assert_eq!(
            p,
            "hyperclay_login=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert!(Cookie::Session.clear(false).contains("Max-Age=0"));
    }

    #[test]
    fn reads_only_its_own_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("hyperclay_login=l; hyperclay_session=s; x=y"),
        );
        assert_eq!(Cookie::Session.read(&h, false).as_deref(), Some("s"));
        assert_eq!(Cookie::LoginForm.read(&h, false).as_deref(), Some("l"));
        assert_eq!(Cookie::Session.read(&h, true), None);
    }
}
