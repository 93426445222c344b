//! Proofs of login: browser sessions, authorization codes, and token families. Sessions and
//! codes are stored only as SHA-256 hashes, so the database never holds a usable secret.
//!
//! A token family is one login's line of access tokens. Refresh hands out the next generation;
//! a generation stops working once a later one has been used, and refreshing a generation whose
//! successor was used (a copy of an old token being replayed) ends the family. Logout ends the
//! family, and a password change ends every family and browser session of the account.

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

/// Starts the family of a fresh login (its generation 1 is the token about to be issued);
/// returns the family id.
pub fn new_family(
    conn: &Connection,
    account_id: i64,
    expires_at_secs: i64,
) -> Result<String, ServerError> {
    let id = hex::encode(rand::random::<[u8; 16]>());
    conn.execute(
        "INSERT INTO token_families(id, account_id, issued_gen, used_gen, revoked, expires_at)
         VALUES (?1, ?2, 1, 0, 0, ?3)",
        params![id, account_id, expires_at_secs],
    )?;
    Ok(id)
}

struct Family {
    account_id: i64,
    issued_gen: i64,
    used_gen: i64,
    revoked: bool,
}

fn family(conn: &Connection, id: &str) -> Result<Option<Family>, ServerError> {
    optional(conn.query_row(
        "SELECT account_id, issued_gen, used_gen, revoked FROM token_families WHERE id = ?1",
        [id],
        |r| {
            Ok(Family {
                account_id: r.get(0)?,
                issued_gen: r.get(1)?,
                used_gen: r.get(2)?,
                revoked: r.get::<_, i64>(3)? != 0,
            })
        },
    ))
}

/// Admits generation `generation` of family `fam` for `account_id`, or says why not. The first use
/// of a newer generation retires every older one.
pub fn admit(
    conn: &Connection,
    fam: &str,
    generation: i64,
    account_id: i64,
) -> Result<(), ServerError> {
    let f = family(conn, fam)?
        .filter(|f| f.account_id == account_id && generation >= 1 && generation <= f.issued_gen)
        .ok_or(ServerError::Unauthorized("the token's login is unknown"))?;
    if f.revoked {
        return Err(ServerError::Unauthorized("the token was revoked"));
    }
    if generation < f.used_gen {
        return Err(ServerError::Unauthorized(
            "the token was replaced by a refreshed one",
        ));
    }
    if generation > f.used_gen {
        conn.execute(
            "UPDATE token_families SET used_gen = ?2 WHERE id = ?1",
            params![fam, generation],
        )?;
    }
    Ok(())
}

/// The generation a refresh of `generation` gets. The newest generation refreshes normally.
/// An older one may refresh only while no later one has been used: its holder lost the
/// answer of its last refresh; every generation before the new one then ends at once. An
/// older one whose successor was used means two holders of one token: the whole family is
/// revoked and the refresh refused.
pub fn rotate(
    conn: &Connection,
    fam: &str,
    generation: i64,
    account_id: i64,
    expires_at_secs: i64,
) -> Result<i64, ServerError> {
    let f = family(conn, fam)?
        .filter(|f| f.account_id == account_id && generation >= 1 && generation <= f.issued_gen)
        .ok_or(ServerError::Unauthorized("the token's login is unknown"))?;
    if f.revoked {
        return Err(ServerError::Unauthorized("the token was revoked"));
    }
    let next = f.issued_gen + 1;
    let used = if generation == f.issued_gen {
        f.used_gen
    } else if generation >= f.used_gen {
        next
    } else {
        revoke_family(conn, fam)?;
        return Err(ServerError::Unauthorized(
            "the token was already refreshed and its successor used; its login is revoked",
        ));
    };
    conn.execute(
        "UPDATE token_families SET issued_gen = ?2, used_gen = ?3, expires_at = MAX(expires_at, ?4)
         WHERE id = ?1",
        params![fam, next, used, expires_at_secs],
    )?;
    Ok(next)
}

/// Logout: ends a live family of `account_id`; a family already ended (or unknown) is 401,
/// as its tokens are.
pub fn end_family(conn: &Connection, fam: &str, account_id: i64) -> Result<(), ServerError> {
    let ended = conn.execute(
        "UPDATE token_families SET revoked = 1 WHERE id = ?1 AND account_id = ?2 AND revoked = 0",
        params![fam, account_id],
    )?;
    if ended == 0 {
        return Err(ServerError::Unauthorized("the token was revoked"));
    }
    Ok(())
}

fn revoke_family(conn: &Connection, fam: &str) -> Result<(), ServerError> {
    conn.execute("UPDATE token_families SET revoked = 1 WHERE id = ?1", [fam])?;
    Ok(())
}

/// Ends every token family and browser session of an account (its password changed).
pub fn revoke_account(conn: &Connection, account_id: i64) -> Result<(), ServerError> {
    conn.execute(
        "UPDATE token_families SET revoked = 1 WHERE account_id = ?1",
        [account_id],
    )?;
    conn.execute("DELETE FROM sessions WHERE account_id = ?1", [account_id])?;
    Ok(())
}

/// Ends one browser session (its logout button).
pub fn end_session(conn: &Connection, session_id: &str) -> Result<(), ServerError> {
    conn.execute(
        "DELETE FROM sessions WHERE id_hash = ?1",
        [sha256_hex(session_id.as_bytes())],
    )?;
    Ok(())
}

/// Forgets codes, sessions and token families that can no longer matter: expired for over a day
/// (the margin keeps a server restarted with a different clock skew on the safe side).
pub fn purge_expired(conn: &Connection, now_ms: i64) -> Result<(), ServerError> {
    let cutoff_ms = now_ms - 24 * 3600 * 1000;
    conn.execute("DELETE FROM codes WHERE expires_at < ?1", [cutoff_ms])?;
    conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [cutoff_ms])?;
    conn.execute(
        "DELETE FROM token_families WHERE expires_at < ?1",
        [cutoff_ms.div_euclid(1000)],
    )?;
    Ok(())
}
