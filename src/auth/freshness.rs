//! When a token should be refreshed: once it is more than 24 hours old (PROTOCOL.md §5), so a
//! daily user never logs in again. Reads the JWT payload without verifying it — the server is the
//! only judge of validity; this only decides when to ask it for a new one. Pure; never logs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyperclay_protocol::Timestamp;

/// A token older than this is refreshed on its next use.
pub const REFRESH_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// True once the token's `iat` is more than 24 h before `now`. A token whose payload cannot be
/// read is left alone: refreshing it could not succeed either, and the server's 401 on the next
/// call is what logs the user out.
pub fn needs_refresh(access_token: &str, now: Timestamp) -> bool {
    match issued_at(access_token) {
        Some(iat) => now.as_millis().saturating_sub(iat.as_millis()) > REFRESH_AFTER_MS,
        None => false,
    }
}

/// The `iat` claim (seconds since the epoch) of a compact JWT.
fn issued_at(jwt: &str) -> Option<Timestamp> {
    let mut parts = jwt.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    // Some encoders keep the padding; RFC 7515 says they should not, so accept both.
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let iat = claims.get("iat")?;
    let seconds = iat
        .as_i64()
        .or_else(|| iat.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))?;
    Some(Timestamp::from_millis(seconds.checked_mul(1000)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt_with_payload(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    const IAT: i64 = 1_764_151_200;

    fn token() -> String {
        jwt_with_payload(&format!(
            r#"{{"sub":"u1","iat":{IAT},"exp":{},"jti":"j"}}"#,
            IAT + 864_000
        ))
    }

    fn at(ms_after_iat: i64) -> Timestamp {
        Timestamp::from_millis(IAT * 1000 + ms_after_iat)
    }

    #[test]
    fn fresh_until_exactly_24_hours() {
        assert!(!needs_refresh(&token(), at(0)));
        assert!(!needs_refresh(&token(), at(REFRESH_AFTER_MS - 1)));
        assert!(!needs_refresh(&token(), at(REFRESH_AFTER_MS)));
    }

    #[test]
    fn stale_one_millisecond_after_24_hours() {
        assert!(needs_refresh(&token(), at(REFRESH_AFTER_MS + 1)));
        assert!(needs_refresh(&token(), at(9 * REFRESH_AFTER_MS)));
    }

    #[test]
    fn a_token_from_the_future_is_fresh() {
        assert!(!needs_refresh(&token(), at(-REFRESH_AFTER_MS * 3)));
    }

    #[test]
    fn padded_payloads_are_read_too() {
        let t = token();
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1].push_str("==");
        assert!(needs_refresh(&parts.join("."), at(REFRESH_AFTER_MS + 1)));
    }

    #[test]
    fn unreadable_tokens_are_left_to_the_server() {
        let late = at(100 * REFRESH_AFTER_MS);
        for bad in [
            "",
            "not-a-jwt",
            "a.b",
            "a.b.c.d",
            "x.!!!.y",
            &jwt_with_payload("not json"),
            &jwt_with_payload(r#"{"sub":"u1"}"#),
            &jwt_with_payload(r#"{"iat":"yesterday"}"#),
            &jwt_with_payload(r#"{"iat":9223372036854775807}"#),
        ] {
            assert!(!needs_refresh(bad, late), "{bad:?}");
        }
    }
}
