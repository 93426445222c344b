//! What the admin CLI does to a data dir: accounts, tokens, and the platform's own delete.
//! These run beside a live server (SQLite arbitrates), and are the only way to delete.

use std::path::Path;

use crate::clock::Clock;
use crate::error::ServerError;
use crate::password;
use crate::save;
use crate::store::{Account, Plan, Store, accounts, grants};
use crate::token::{TOKEN_LIFETIME_SECS, TokenKeys};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("there is no account named {0:?}")]
    NoSuchAccount(String),
    #[error("an account named {0:?} already exists")]
    AccountExists(String),
    #[error("{0:?} is not a valid account name (1-64 of a-z, 0-9, _ and -)")]
    BadName(String),
    #[error("{0:?} is neither a valid file path nor a valid folder path")]
    BadPath(String),
    #[error(transparent)]
    Server(#[from] ServerError),
}

fn check_name(name: &str) -> Result<(), AdminError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AdminError::BadName(name.to_owned()))
    }
}

pub fn add_user(
    store: &Store,
    name: &str,
    password: &str,
    plan: Plan,
    site_limit: u64,
) -> Result<Account, AdminError> {
    check_name(name)?;
    let hash = password::hash(password)?;
    accounts::create(store.conn(), name, &hash, plan, site_limit)?
        .ok_or_else(|| AdminError::AccountExists(name.to_owned()))
}

/// Changes what is given. A new password also ends every token family and browser session of
/// the account: whoever held the old password may hold tokens made with it.
pub fn set_user(
    store: &mut Store,
    name: &str,
    plan: Option<Plan>,
    site_limit: Option<u64>,
    new_password: Option<&str>,
) -> Result<Account, AdminError> {
    let hash = new_password.map(password::hash).transpose()?;
    let tx = store.transaction()?;
    let account = accounts::update(&tx, name, plan, site_limit, hash.as_deref())?
        .ok_or_else(|| AdminError::NoSuchAccount(name.to_owned()))?;
    if hash.is_some() {
        grants::revoke_account(&tx, account.id)?;
    }
    tx.commit().map_err(ServerError::from)?;
    Ok(account)
}

/// Creates `name` unless it exists. An existing account is left exactly as it is, so a
/// restart with `--demo` keeps whatever the admin CLI changed (and costs no hashing).
pub fn ensure_user(
    store: &Store,
    name: &str,
    password: &str,
    plan: Plan,
    site_limit: u64,
) -> Result<(), AdminError> {
    if accounts::by_name(store.conn(), name)?.is_some() {
        return Ok(());
    }
    match add_user(store, name, password, plan, site_limit) {
        // Another process created it in between.
        Ok(_) | Err(AdminError::AccountExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The demo accounts of `serve --demo`: `demo`/`demo` (paid, 50 sites), `free`/`free` (unpaid).
pub fn ensure_demo_accounts(store: &Store) -> Result<(), AdminError> {
    ensure_user(store, "demo", "demo", Plan::Paid, 50)?;
    ensure_user(store, "free", "free", Plan::Free, 50)?;
    Ok(())
}

/// A valid access token for `name`, issued `age_secs` ago.
pub fn token(
    store: &Store,
    data_dir: &Path,
    clock: &Clock,
    name: &str,
    age_secs: i64,
) -> Result<String, AdminError> {
    let account = accounts::by_name(store.conn(), name)?
        .ok_or_else(|| AdminError::NoSuchAccount(name.to_owned()))?;
    let keys = TokenKeys::load_or_create(data_dir)?;
    let exp = clock.now_secs() - age_secs + TOKEN_LIFETIME_SECS;
    let fam = grants::new_family(store.conn(), account.id, exp)?;
    Ok(keys
        .issue(&account.public_id(), (&fam, 1), clock, age_secs)?
        .0)
}

/// Deletes `path` (a file, or a folder with all it holds) as the platform's own UI would.
pub fn remove(
    store: &mut Store,
    clock: &Clock,
    name: &str,
    path: &str,
) -> Result<Vec<String>, AdminError> {
    let account = accounts::by_name(store.conn(), name)?
        .ok_or_else(|| AdminError::NoSuchAccount(name.to_owned()))?;
    let valid = hyperclay_protocol::RemotePath::file(path).is_ok()
        || hyperclay_protocol::RemotePath::folder(path).is_ok();
    if !valid {
        return Err(AdminError::BadPath(path.to_owned()));
    }
    Ok(save::remove(store, &account, path, clock.now())?)
}
