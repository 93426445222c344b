//! Accounts: name, password hash, plan and site quota. Passwords arrive here already hashed;
//! this module never sees one in the clear.

use rusqlite::{Connection, params};

use super::optional;
use crate::error::ServerError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Paid,
    Free,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Paid => "paid",
            Plan::Free => "free",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        match s {
            "paid" => Some(Plan::Paid),
            "free" => Some(Plan::Free),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub plan: Plan,
    pub site_limit: u64,
}

impl Account {
    /// The id as the protocol shows it (`user.id`, the JWT `sub`).
    pub fn public_id(&self) -> String {
        self.id.to_string()
    }
}

const COLUMNS: &str = "id, name, plan, site_limit";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let plan: String = r.get(2)?;
    let limit: i64 = r.get(3)?;
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        plan: Plan::parse(&plan).unwrap_or(Plan::Free),
        site_limit: u64::try_from(limit).unwrap_or(0),
    })
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Account>, ServerError> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
        [id],
        from_row,
    ))
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<Account>, ServerError> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS} FROM accounts WHERE name = ?1"),
        [name],
        from_row,
    ))
}

/// The account and its password hash, for login.
pub fn credentials(
    conn: &Connection,
    name: &str,
) -> Result<Option<(Account, String)>, ServerError> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS}, password_hash FROM accounts WHERE name = ?1"),
        [name],
        |r| Ok((from_row(r)?, r.get(4)?)),
    ))
}

/// Creates an account; `Ok(None)` when the name is taken.
pub fn create(
    conn: &Connection,
    name: &str,
    password_hash: &str,
    plan: Plan,
    site_limit: u64,
) -> Result<Option<Account>, ServerError> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO accounts(name, password_hash, plan, site_limit) VALUES (?1, ?2, ?3, ?4)",
        params![name, password_hash, plan.as_str(), to_i64(site_limit)],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    by_name(conn, name)
}

/// Changes what is given; `Ok(None)` when there is no such account.
pub fn update(
    conn: &Connection,
    name: &str,
    plan: Option<Plan>,
    site_limit: Option<u64>,
    password_hash: Option<&str>,
) -> Result<Option<Account>, ServerError> {
    if by_name(conn, name)?.is_none() {
        return Ok(None);
    }
    if let Some(plan) = plan {
        conn.execute(
            "UPDATE accounts SET plan = ?1 WHERE name = ?2",
            params![plan.as_str(), name],
        )?;
    }
    if let Some(limit) = site_limit {
        conn.execute(
            "UPDATE accounts SET site_limit = ?1 WHERE name = ?2",
            params![to_i64(limit), name],
        )?;
    }
    if let Some(hash) = password_hash {
        conn.execute(
            "UPDATE accounts SET password_hash = ?1 WHERE name = ?2",
            params![hash, name],
        )?;
    }
    by_name(conn, name)
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
