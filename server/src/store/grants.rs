//! Short-lived proofs of login: browser sessions, authorization codes, and revoked token ids.
//! Sessions and codes are stored only as SHA-256 hashes, so the database never holds a usable
//! secret.

use hyperclay_protocol::sha256_hex;
use rusqlite::{Connection, params};

use super::optional;
use crate::error::ServerError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub account_id: i64,
    pub challenge: String,
    pub redirect_uri: String,
    pub expires_at_ms: i64,
    pub used: bool,
}

pub fn add_session(
    conn: &Connection,
    session_id: &str,
    account_id: i64,
    expires_at_ms: i64,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO sessions(id_hash, account_id, expires_at) VALUES (?1, ?2, ?3)",
        params![sha256_hex(session_id.as_bytes()), account_id, expires_at_ms],
    )?;
    Ok(())
}

/// The account of a session that has not expired at `now_ms`.
pub fn session_account(
    conn: &Connection,
    session_id: &str,
    now_ms: i64,
) -> Result<Option<i64>, ServerError> {
    optional(conn.query_row(
        "SELECT account_id FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
        params![sha256_hex(session_id.as_bytes()), now_ms],
        |r| r.get(0),
    ))
}

pub fn add_code(
    conn: &Connection,
    code: &str,
    account_id: i64,
    challenge: &str,
    redirect_uri: &str,
    expires_at_ms: i64,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO codes(code_hash, account_id, challenge, redirect_uri, expires_at, used)
         VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        params![
            sha256_hex(code.as_bytes()),
            account_id,
            challenge,
            redirect_uri,
            expires_at_ms
        ],
    )?;
    Ok(())
}

/// Marks a code used and returns what it was bound to (as it was before this use).
pub fn take_code(conn: &Connection, code: &str) -> Result<Option<CodeGrant>, ServerError> {
    let hash = sha256_hex(code.as_bytes());
    let grant = optional(conn.query_row(
        "SELECT account_id, challenge, redirect_uri, expires_at, used FROM codes WHERE code_hash = ?1",
        [&hash],
        |r| {
            Ok(CodeGrant {
                account_id: r.get(0)?,
                challenge: r.get(1)?,
                redirect_uri: r.get(2)?,
                expires_at_ms: r.get(3)?,
                used: r.get::<_, i64>(4)? != 0,
            })
        },
    ))?;
    if grant.is_some() {
        conn.execute("UPDATE codes SET used = 1 WHERE code_hash = ?1", [&hash])?;
    }
    Ok(grant)
}

pub fn revoke(conn: &Connection, jti: &str, expires_at_secs: i64) -> Result<(), ServerError> {
    conn.execute(
        "INSERT OR IGNORE INTO revoked(jti, expires_at) VALUES (?1, ?2)",
        params![jti, expires_at_secs],
    )?;
    Ok(())
}

pub fn is_revoked(conn: &Connection, jti: &str) -> Result<bool, ServerError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM revoked WHERE jti = ?1", [jti], |r| {
        r.get(0)
    })?;
    Ok(n > 0)
}

/// Forgets codes, sessions and revocations that can no longer matter: expired for over a day
/// (the margin keeps a server restarted with a different clock skew on the safe side).
pub fn purge_expired(conn: &Connection, now_ms: i64) -> Result<(), ServerError> {
    let cutoff_ms = now_ms - 24 * 3600 * 1000;
    conn.execute("DELETE FROM codes WHERE expires_at < ?1", [cutoff_ms])?;
    conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [cutoff_ms])?;
    conn.execute(
        "DELETE FROM revoked WHERE expires_at < ?1",
        [cutoff_ms.div_euclid(1000)],
    )?;
    Ok(())
}
