//! Durable state: one SQLite database (accounts, entries, versions, each account's change
//! sequence, codes, sessions, token families, published client releases) plus
//! content-addressed file bodies under the data dir. Every change to an account's sequence rings the [`ChangeBell`].
//!
//! All of it is synchronous; async handlers reach it through [`StoreHandle`], which runs each
//! call on the blocking pool under one lock, so every save's checks and row writes are
//! serialised and atomic. A save's body is written to the blob store before that, outside the
//! lock and in parallel with other requests ([`StoreHandle::put_blob`]; see [`blobs`] for why a
//! body written for a save that is then refused is harmless). This module must never hold a
//! lock across an `.await`.

pub mod accounts;
pub mod blobs;
pub mod entries;
pub mod grants;
pub mod private;
pub mod releases;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::hooks::Action;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::bell::ChangeBell;
use crate::error::ServerError;

pub use accounts::{Account, Plan};
pub use blobs::{Blobs, StoredBlob};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS change_seq(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT OR IGNORE INTO change_seq(id, value) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS account_seq(account_id INTEGER PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    plan TEXT NOT NULL,
    site_limit INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries(
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    app_name TEXT,
    size INTEGER,
    checksum TEXT,
    modified_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    PRIMARY KEY (account_id, path)
);
CREATE UNIQUE INDEX IF NOT EXISTS live_app_names ON entries(app_name)
    WHERE app_name IS NOT NULL AND deleted = 0;
CREATE INDEX IF NOT EXISTS entries_by_seq ON entries(account_id, seq);
CREATE TABLE IF NOT EXISTS versions(
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    saved_at INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_by_path ON versions(account_id, path, id);
CREATE TABLE IF NOT EXISTS codes(
    code_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    challenge TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions(
    id_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS token_families(
    id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    issued_gen INTEGER NOT NULL,
    used_gen INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS token_families_by_account ON token_families(account_id);
CREATE TABLE IF NOT EXISTS releases(
    platform TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    signature TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (platform, version)
);
"#;

/// The server's durable state in one data dir.
pub struct Store {
    conn: Connection,
    blobs: Blobs,
    instance: String,
    data_dir: PathBuf,
    bell: Arc<ChangeBell>,
}

impl Store {
    /// Opens (creating when needed) the store in `data_dir`. Safe to call from several processes
    /// at once: the admin CLI and a running server share one data dir.
    pub fn open(data_dir: &Path) -> Result<Store, ServerError> {
        private::create_dir(data_dir)?;
        let db = data_dir.join("hyperclay.sqlite3");
        private::touch_file(&db)?;
        let mut conn = Connection::open(&db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        per_account_sequences(&mut conn)?;
        let fresh = format!("{:016x}", rand::random::<u64>());
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('instance', ?1)",
            [&fresh],
        )?;
        let instance: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
                r.get(0)
            })?;
        let blobs = Blobs::open(&data_dir.join("blobs"))?;
        let bell = Arc::new(ChangeBell::default());
        let ringer = Arc::clone(&bell);
        // A waiter looks again when its account changes, and also when its plan or its token
        // may have (a waiting request is re-authorised on every ring). The rowid of
        // `account_seq` and `accounts` is the account id; a token family's account is not in its
        // rowid, and its changes are rare (a login, a daily refresh, a logout or password
        // change that revokes it), so a change to one wakes everyone. Rung before the commit,
        // but a waiter can only read under the store lock, which the writer holds until after.
        conn.update_hook(Some(
            move |action: Action, _: &str, table: &str, rowid: i64| match (table, action) {
                ("account_seq" | "accounts", _) => ringer.ring(rowid),
                ("token_families", Action::SQLITE_UPDATE) => ringer.ring_all(),
                _ => {}
            },
        ))?;
        Ok(Store {
            conn,
            blobs,
            instance,
            data_dir: data_dir.to_owned(),
            bell,
        })
    }

    /// Rung whenever an account's change sequence moves in this process.
    pub fn bell(&self) -> &Arc<ChangeBell> {
        &self.bell
    }

    /// SQLite's count of commits by *other* connections (the admin CLI) seen so far: when it
    /// moves, waiters must look again.
    pub fn data_version(&self) -> Result<i64, ServerError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Random per data dir; part of every cursor.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A write transaction taken up front, so two processes never deadlock upgrading a read.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, ServerError> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// The latest change number handed out to `account_id`.
    pub fn head(&self, account_id: i64) -> Result<u64, ServerError> {
        head(&self.conn, account_id)
    }
}

/// Each account numbers its own changes, so a cursor tells an account nothing about how often
/// others write. A data dir from before this numbered all changes together (`change_seq`):
/// every existing account continues from that shared head, so cursors handed out then stay
/// valid. Done once, in one transaction.
fn per_account_sequences(conn: &mut Connection) -> Result<(), ServerError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let done = tx.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('sequences', 'per-account')",
        [],
    )? == 0;
    if !done {
        tx.execute(
            "INSERT OR IGNORE INTO account_seq(account_id, value)
             SELECT id, (SELECT value FROM change_seq WHERE id = 1) FROM accounts",
            [],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn head(conn: &Connection, account_id: i64) -> Result<u64, ServerError> {
    let v: Option<i64> = optional(conn.query_row(
        "SELECT value FROM account_seq WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    ))?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

/// Hands out `account_id`'s next change number; only inside the transaction (or a savepoint of
/// it) that records the change.
pub fn next_seq(tx: &Connection, account_id: i64) -> Result<i64, ServerError> {
    Ok(tx.query_row(
        "INSERT INTO account_seq(account_id, value) VALUES (?1, 1)
         ON CONFLICT(account_id) DO UPDATE SET value = value + 1 RETURNING value",
        params![account_id],
        |r| r.get(0),
    )?)
}

pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> Result<Option<T>, ServerError> {
    Ok(r.optional()?)
}

/// A cloneable handle through which async code uses the [`Store`].
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<Mutex<Store>>,
    /// The store's blob folder, reached without the lock: bodies are immutable and
    /// content-addressed, and [`Blobs`] is safe to use from several threads at once.
    blobs: Blobs,
    /// The store's bell, reached without the lock (waiters subscribe before they read).
    bell: Arc<ChangeBell>,
}

impl StoreHandle {
    pub fn new(store: Store) -> StoreHandle {
        StoreHandle {
            blobs: store.blobs.clone(),
            bell: Arc::clone(&store.bell),
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Hashes `body` and stores it durably on the blocking pool, *without* the store lock, so
    /// that concurrent saves write their bodies in parallel. With `expected`, a body whose
    /// SHA-256 is not that is refused before anything is written.
    pub async fn put_blob(
        &self,
        body: bytes::Bytes,
        expected: Option<String>,
    ) -> Result<StoredBlob, ServerError> {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || {
            let checksum = hyperclay_protocol::sha256_hex(&body);
            if expected.is_some_and(|e| e != checksum) {
                return Err(ServerError::InvalidRequest(
                    "X-Checksum does not match the body".into(),
                ));
            }
            Ok(blobs.put(&checksum, &body)?)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("blob task failed: {e}")))?
    }

    /// Reads a stored body on the blocking pool, without the store lock.
    pub async fn get_blob(&self, checksum: String) -> Result<Vec<u8>, ServerError> {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || Ok(blobs.get(&checksum)?))
            .await
            .map_err(|e| ServerError::Internal(format!("blob task failed: {e}")))?
    }

    pub fn bell(&self) -> &Arc<ChangeBell> {
        &self.bell
    }

    /// The blob store, reached without the lock (see [`StoreHandle::put_blob`]).
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Runs `f` with exclusive use of the store on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, ServerError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut store = inner
                .lock()
                .map_err(|_| ServerError::Internal("store lock poisoned".into()))?;
            f(&mut store)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("store task failed: {e}")))?
    }
}
