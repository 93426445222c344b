//! The pure rules of the browser login: which `redirect_uri` is acceptable (loopback only,
//! RFC 8252), what a PKCE S256 challenge and verifier look like, whether they match, and
//! whether a code may be exchanged.
//! No I/O here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::store::grants::CodeGrant;

/// How long an authorization code may be exchanged, in milliseconds.
pub const CODE_LIFETIME_MS: i64 = 120_000;

/// True for `http://127.0.0.1:PORT[/path]`, `http://[::1]:PORT[/path]` and
/// `http://localhost:PORT[/path]`; nothing else (no https, no other host, no userinfo, no
/// query or fragment, an explicit port).
pub fn is_loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let Some(after_host) = ["127.0.0.1:", "[::1]:", "localhost:"]
        .iter()
        .find_map(|h| rest.strip_prefix(h))
    else {
        return false;
    };
    let (port, path) = match after_host.find('/') {
        Some(i) => after_host.split_at(i),
        None => (after_host, ""),
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%".contains(&b));
    port_ok && path_ok && !path.contains("//") && !path.contains("..")
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

/// A fresh random secret (authorization code, session id): 32 bytes, base64url.
pub fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_loopback_redirects() {
        for ok in [
            "http://127.0.0.1:8080/callback",
            "http://127.0.0.1:1",
            "http://[::1]:65535/cb",
            "http://localhost:4000/callback",
        ] {
            assert!(is_loopback_redirect(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8080/callback",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:0/callback",
            "http://127.0.0.1:65536/callback",
            "http://127.0.0.1.evil.com:80/callback",
            "http://127.0.0.1:80@evil.com/callback",
            "http://evil.com:80/callback",
            "http://localhost.evil.com:80/",
            "http://127.0.0.2:80/callback",
            "http://127.0.0.1:80/callback?x=1",
            "http://127.0.0.1:80/callback#frag",
            "http://127.0.0.1:80/../x",
            "http://127.0.0.1:80\\evil.com",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad}");
        }
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
