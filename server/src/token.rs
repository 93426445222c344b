//! Access tokens: HS256 JWTs with `sub`, `iat`, `exp` = `iat` + 10 days, a random `jti`, and
//! the token's family (`fam`, one per login) and generation in it (`gen`, +1 per refresh),
//! signed with a key generated once per data dir. Whether a family still admits a generation
//! is the store's check ([`crate::store::grants`]). Expiry is checked against the server's
//! [`Clock`] (which tests may skew), not the system clock. Tokens are never logged.

use std::fs;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::ServerError;

/// How long a token lives.
pub const TOKEN_LIFETIME_SECS: i64 = 10 * 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The login this token descends from; logout and a password change end the whole family.
    pub fam: String,
    /// 1 for the token a login gave, +1 for each refresh.
    #[serde(rename = "gen")]
    pub generation: i64,
}

/// The signing key of one data dir.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    /// Loads the key from `data_dir/jwt.key`, generating it on first use. Two processes racing
    /// to create it end up with the same key: the loser reads the winner's.
    pub fn load_or_create(data_dir: &Path) -> Result<TokenKeys, ServerError> {
        let path = data_dir.join("jwt.key");
        if !path.exists() {
            crate::store::private::create_dir(data_dir)?;
            let key: [u8; 32] = rand::random();
            let tmp = data_dir.join(format!("jwt.key.{:016x}", rand::random::<u64>()));
            {
                let mut f = crate::store::private::create_new_file(&tmp)?;
                f.write_all(URL_SAFE_NO_PAD.encode(key).as_bytes())?;
                f.sync_all()?;
            }
            // hard_link never replaces an existing key.
            let linked = fs::hard_link(&tmp, &path);
            fs::remove_file(&tmp)?;
            if let Err(e) = linked
                && e.kind() != std::io::ErrorKind::AlreadyExists
            {
                return Err(e.into());
            }
        }
        let text = fs::read_to_string(&path)?;
        let key = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| ServerError::Internal("jwt.key is corrupt".into()))?;
        if key.len() < 32 {
            return Err(ServerError::Internal("jwt.key is too short".into()));
        }
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
        })
    }

    /// A new token for account `sub`, generation `generation` of family `fam`, issued `age_secs`
    /// before the clock's now.
    pub fn issue(
        &self,
        sub: &str,
        (fam, generation): (&str, i64),
        clock: &Clock,
        age_secs: i64,
    ) -> Result<(String, Claims), ServerError> {
        let iat = clock.now_secs() - age_secs;
        let jti: [u8; 16] = rand::random();
        let claims = Claims {
            sub: sub.to_owned(),
            iat,
            exp: iat + TOKEN_LIFETIME_SECS,
            jti: hex::encode(jti),
            fam: fam.to_owned(),
            generation,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ServerError::Internal(format!("token signing failed: {e}")))?;
        Ok((token, claims))
    }

    /// The claims of a well-formed, correctly signed, unexpired token. Revocation is the
    /// caller's check (it needs the database).
    pub fn verify(&self, token: &str, clock: &Clock) -> Result<Claims, ServerError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is judged by our own (possibly skewed) clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| ServerError::Unauthorized("the token is malformed or forged"))?;
        if data.claims.exp <= clock.now_secs() {
            return Err(ServerError::Unauthorized("the token has expired"));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_and_verifies_and_refuses_expired_and_forged() {
        let dir = tempfile::tempdir().unwrap();
        let keys = TokenKeys::load_or_create(dir.path()).unwrap();
        let clock = Clock::default();
        let (tok, claims) = keys.issue("7", ("f", 1), &clock, 0).unwrap();
        assert_eq!(claims.exp - claims.iat, TOKEN_LIFETIME_SECS);
        assert_eq!(keys.verify(&tok, &clock).unwrap(), claims);

        let (old, _) = keys
            .issue("7", ("f", 1), &clock, TOKEN_LIFETIME_SECS + 1)
            .unwrap();
        assert!(keys.verify(&old, &clock).is_err());
        let (aged, _) = keys.issue("7", ("f", 1), &clock, 25 * 3600).unwrap();
        assert!(keys.verify(&aged, &clock).is_ok());

        let other = tempfile::tempdir().unwrap();
        let forged = TokenKeys::load_or_create(other.path()).unwrap();
        let (f, _) = forged.issue("7", ("f", 1), &clock, 0).unwrap();
        assert!(keys.verify(&f, &clock).is_err());
        assert!(keys.verify("not.a.token", &clock).is_err());
    }

    #[test]
    fn the_key_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKeys::load_or_create(dir.path()).unwrap();
        let b = TokenKeys::load_or_create(dir.path()).unwrap();
        let clock = Clock::default();
        let (tok, _) = a.issue("1", ("f", 1), &clock, 0).unwrap();
        assert!(b.verify(&tok, &clock).is_ok());
    }
}
