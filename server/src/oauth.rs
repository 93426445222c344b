//! The pure rules of the browser login: which `redirect_uri` is acceptable (loopback
//! `/callback` only, RFC 8252), what a PKCE S256 challenge and verifier look like, whether they
//! match, whether a code may be exchanged, and the forms' CSRF tokens.
//! No I/O here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::store::grants::CodeGrant;

/// How long an authorization code may be exchanged, in milliseconds.
pub const CODE_LIFETIME_MS: i64 = 120_000;

/// The port of an acceptable `redirect_uri`: exactly `http://127.0.0.1:PORT/callback`,
/// `http://[::1]:PORT/callback` or `http://localhost:PORT/callback` (RFC 8252 loopback, with
/// the one path the sync app listens on). Nothing else: no https, no other host or path, no
/// userinfo, query or fragment. Whether the port is the server's own is the caller's check.
pub fn loopback_callback_port(uri: &str) -> Option<u16> {
    let rest = uri.strip_prefix("http://")?;
    let after_host = ["127.0.0.1:", "[::1]:", "localhost:"]
        .iter()
        .find_map(|h| rest.strip_prefix(h))?;
    let port = after_host.strip_suffix("/callback")?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|p| *p != 0)
}

/// A PKCE code verifier or S256 challenge: 43–128 characters of `[A-Za-z0-9-._~]`.
pub fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 challenge of `verifier`: BASE64URL(SHA256(verifier)) without padding.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// True when `verifier` is well-formed and hashes to `challenge`.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_pkce_string(verifier) && s256_challenge(verifier) == challenge
}

/// Whether a code may be exchanged now, by this `redirect_uri` and `verifier`; the reason when
/// not. Checked after the code was marked used, so `grant.used` means an earlier attempt.
pub fn check_exchange(
    grant: &CodeGrant,
    now_ms: i64,
    redirect_uri: &str,
    verifier: &str,
) -> Result<(), &'static str> {
    if grant.used {
        return Err("the code was already used");
    }
    if grant.expires_at_ms <= now_ms {
        return Err("the code has expired");
    }
    if grant.redirect_uri != redirect_uri {
        return Err("redirectUri differs from the one the code was issued for");
    }
    if !verifier_matches(verifier, &grant.challenge) {
        return Err("the code verifier does not match the challenge");
    }
    Ok(())
}

/// The CSRF token of a form shown to the holder of the cookie `secret` (a session id, or the
/// login form's pre-session cookie). Another site can neither read the cookie nor compute this
/// from anything it sees; and the token does not reveal the cookie.
pub fn csrf_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hyperclay form csrf\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// True when the form's `token` is the CSRF token of `secret`, compared in constant time.
pub fn csrf_matches(secret: &str, token: &str) -> bool {
    let want = csrf_token(secret);
    want.len() == token.len()
        && want
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A fresh random secret (authorization code, session id): 32 bytes, base64url.
pub fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_loopback_callbacks() {
        for (ok, port) in [
            ("http://127.0.0.1:8080/callback", 8080),
            ("http://[::1]:65535/callback", 65535),
            ("http://localhost:4000/callback", 4000),
            ("http://127.0.0.1:1/callback", 1),
        ] {
            assert_eq!(loopback_callback_port(ok), Some(port), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8080/callback",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:0/callback",
            "http://127.0.0.1:65536/callback",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:8080/callback/",
            "http://127.0.0.1:8080/login",
            "http://127.0.0.1:8080/save/x",
            "http://127.0.0.1.evil.com:80/callback",
            "http://127.0.0.1:80@evil.com/callback",
            "http://evil.com:80/callback",
            "http://localhost.evil.com:80/callback",
            "http://127.0.0.2:80/callback",
            "http://127.0.0.1:80/callback?x=1",
            "http://127.0.0.1:80/callback#frag",
            "http://127.0.0.1:+80/callback",
            "http://127.0.0.1:80\\evil.com/callback",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(loopback_callback_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_secret() {
        let t = csrf_token("session-a");
        assert!(csrf_matches("session-a", &t));
        assert!(!csrf_matches("session-b", &t));
        assert!(!csrf_matches("session-a", ""));
        assert!(!csrf_matches("session-a", &t[1..]));
        assert!(!t.contains("session-a"));
    }

    #[test]
    fn s256_matches_rfc7636_example() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verifier_matches(
            "x",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
        assert!(!verifier_matches(
            other,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn codes_are_single_use_short_lived_and_bound() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let grant = CodeGrant {
            account_id: 1,
            challenge: s256_challenge(verifier),
            redirect_uri: "http://127.0.0.1:9/cb".into(),
            expires_at_ms: 1_000 + CODE_LIFETIME_MS,
            used: false,
        };
        let cb = "http://127.0.0.1:9/cb";
        assert_eq!(check_exchange(&grant, 1_000, cb, verifier), Ok(()));
        assert_eq!(
            check_exchange(&grant, 1_000 + CODE_LIFETIME_MS - 1, cb, verifier),
            Ok(())
        );
        assert!(check_exchange(&grant, 1_000 + CODE_LIFETIME_MS, cb, verifier).is_err());
        assert!(check_exchange(&grant, 1_000, "http://127.0.0.1:10/cb", verifier).is_err());
        assert!(check_exchange(&grant, 1_000, cb, &verifier.replace('d', "e")).is_err());
        let used = CodeGrant {
            used: true,
            ..grant
        };
        assert!(check_exchange(&used, 1_000, cb, verifier).is_err());
    }

    #[test]
    fn pkce_strings_have_bounded_length_and_alphabet() {
        assert!(is_pkce_string(&"a".repeat(43)));
        assert!(!is_pkce_string(&"a".repeat(42)));
        assert!(is_pkce_string(&"a".repeat(128)));
        assert!(!is_pkce_string(&"a".repeat(129)));
        assert!(!is_pkce_string(&format!("{}+", "a".repeat(43))));
    }
}
