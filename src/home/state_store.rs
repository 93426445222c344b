//! The memory of the last sync, per synced folder AND identity (server, account), kept OUTSIDE
//! the folder under the engine's home (`<home>/state/<hash of folder, server, account>.sqlite`):
//! the base record of every synced file and folder, the hash cache that makes an unchanged folder
//! start fast, and the session cursor. One identity's base must never be used for another: a
//! "synced" file of account A is not "deleted remotely" for account B. Another identity's state
//! is kept, untouched, for when it comes back. It must never be written inside the sync folder
//! and holds no token.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use hyperclay_protocol::{Checksum, Timestamp, sha256_hex};
use rusqlite::{Connection, OptionalExtension, params};

use crate::local::Stamp;
use crate::rules::plan::{BaseRecord, Key};

#[derive(Debug, thiserror::Error)]
#[error("the sync state database failed: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// Whose state: the server and the account on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The server's base URL.
    pub server: &'a str,
    /// The account's id on that server (stable across renames of the account).
    pub account_id: &'a str,
}

pub struct StateStore {
    db: Connection,
}

/// Where the state of `folder` synced as `who` lives under `home`.
pub fn state_file(home: &Path, folder: &Path, who: Identity<'_>) -> PathBuf {
    // NULs cannot occur in a path, a URL or an account id: the three parts never run together.
    let server = who.server.trim_end_matches('/');
    let key = format!("{}\0{server}\0{}", folder.to_string_lossy(), who.account_id);
    let id = sha256_hex(key.as_bytes());
    home.join("state").join(format!("{}.sqlite", &id[..16]))
}

/// Where versions before identity-bound state kept the state of `folder`.
fn unbound_state_file(home: &Path, folder: &Path) -> PathBuf {
    let id = sha256_hex(folder.to_string_lossy().as_bytes());
    home.join("state").join(format!("{}.sqlite", &id[..16]))
}

/// A state written before it was bound to an identity belongs to whoever synced the folder
/// last, which is who opens it first after the upgrade: it becomes theirs, so files deleted
/// here earlier are not downloaded again. Its WAL files move with it.
fn adopt_unbound_state(home: &Path, folder: &Path, path: &Path) {
    let old = unbound_state_file(home, folder);
    if path.exists() || !old.exists() {
        return;
    }
    for suffix in ["-wal", "-shm", ""] {
        let mut from = old.clone().into_os_string();
        from.push(suffix);
        let mut to = path.to_path_buf().into_os_string();
        to.push(suffix);
        if Path::new(&from).exists()
            && let Err(e) = std::fs::rename(&from, &to)
        {
            log::warn!("Cannot take over the earlier sync state: {e}");
        }
    }
}

impl StateStore {
    pub fn open(home: &Path, folder: &Path, who: Identity<'_>) -> Result<StateStore, StoreError> {
        let path = state_file(home, folder, who);
        if let Some(dir) = path.parent() {
            // A missing dir surfaces as the open error below, with the path.
            let _ = crate::home::data_dir::create_private_dir(dir);
        }
        adopt_unbound_state(home, folder, &path);
        // Created 0600 before SQLite opens it (unless taken over just above): SQLite gives the
        // -wal and -shm files the same mode. A failure surfaces as the open error below.
        let _ = crate::home::data_dir::create_private_file(&path);
        let db = Connection::open(&path)?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS base (key TEXT PRIMARY KEY, checksum TEXT NOT NULL,
               size INTEGER NOT NULL, local_mtime INTEGER NOT NULL, remote_modified INTEGER NOT NULL,
               local_path TEXT NOT NULL, remote_path TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS hash_cache (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
               mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
               checksum TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY);",
        )?;
        let store = StateStore { db };
        // For whoever reads the file by hand: which identity it belongs to.
        store.set_meta("server", who.server)?;
        store.set_meta("account", who.account_id)?;
        Ok(store)
    }

    pub fn base(&self) -> Result<BTreeMap<Key, BaseRecord>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT key, checksum, size, local_mtime, remote_modified, local_path, remote_path FROM base",
        )?;
        let rows = stmt.query_map([], |r| {
            let stored = r.get::<_, String>(0)?;
            let Some(key) = Key::parse(&stored) else {
                log::warn!("Ignoring the sync state of {stored:?}: not a key this version knows");
                return Ok(None);
            };
            let text = r.get_ref(1)?.as_str()?;
            // Only ever written from a computed checksum; a row that is not one (edited by
            // hand, damaged) is left out: that file is then treated as never synced, so any
            // overwrite is backed up first.
            let Ok(checksum) = Checksum::parse(text) else {
                log::warn!("Ignoring the sync state of {key}: its checksum {text:?} is malformed");
                return Ok(None);
            };
            Ok(Some((
                key,
                BaseRecord {
                    checksum,
                    size: r.get::<_, i64>(2)?.max(0) as u64,
                    local_mtime: Timestamp::from_millis(r.get(3)?),
                    remote_modified: Timestamp::from_millis(r.get(4)?),
                    local_path: r.get(5)?,
                    remote_path: r.get(6)?,
                },
            )))
        })?;
        // Collected, not inserted one by one: a BTreeMap built from a whole iterator packs its
        // nodes full (a third less memory for the idle engine's biggest snapshot).
        Ok(rows
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?)
    }

    pub fn put_base(&self, key: &Key, r: &BaseRecord) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT OR REPLACE INTO base VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                key.to_string(),
                r.checksum.to_hex(),
                i64::try_from(r.size).unwrap_or(i64::MAX),
                r.local_mtime.as_millis(),
                r.remote_modified.as_millis(),
                r.local_path,
                r.remote_path
            ],
        )?;
        Ok(())
    }

    /// Starts one transaction for many updates (each update is otherwise its own commit).
    pub fn begin(&self) -> Result<(), StoreError> {
        self.db.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commits what [`StateStore::begin`] started; on failure the updates are rolled back.
    pub fn commit(&self) -> Result<(), StoreError> {
        if let Err(e) = self.db.execute_batch("COMMIT") {
            let _ = self.db.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    pub fn forget_base(&self, key: &Key) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM base WHERE key = ?1", [key.to_string()])?;
        Ok(())
    }

    /// The folders both sides had at the last sync.
    pub fn folders(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut stmt = self.db.prepare("SELECT path FROM folders")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn put_folder(&self, path: &str) -> Result<(), StoreError> {
        self.db
            .execute("INSERT OR IGNORE INTO folders VALUES (?1)", [path])?;
        Ok(())
    }

    /// [`StateStore::put_folder`] for many paths in one transaction.
    pub fn put_folders(&mut self, paths: &[String]) -> Result<(), StoreError> {
        if !self.db.is_autocommit() {
            // Inside a caller's `begin`: its commit covers these too.
            for p in paths {
                self.put_folder(p)?;
            }
            return Ok(());
        }
        let tx = self.db.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO folders VALUES (?1)")?;
            for p in paths {
                stmt.execute([p])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn forget_folder(&self, path: &str) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM folders WHERE path = ?1", [path])?;
        Ok(())
    }

    /// The hash cache. A row whose checksum is malformed is left out: that file is read and
    /// hashed again, and the next [`StateStore::update_hashes`] rewrites its row.
    pub fn hashes(&self) -> Result<HashMap<String, (Stamp, Checksum)>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT path, size, mtime_ns, ctime_ns, inode, checksum FROM hash_cache")?;
        let rows = stmt.query_map([], |r| {
            let Ok(checksum) = Checksum::parse(r.get_ref(5)?.as_str()?) else {
                return Ok(None);
            };
            Ok(Some((
                r.get::<_, String>(0)?,
                (
                    Stamp {
                        size: r.get::<_, i64>(1)?.max(0) as u64,
                        mtime_ns: r.get(2)?,
                        ctime_ns: r.get(3)?,
                        inode: r.get::<_, i64>(4)? as u64,
                    },
                    checksum,
                ),
            )))
        })?;
        Ok(rows
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?)
    }

    /// Replaces the whole hash cache in one transaction (after a full scan).
    /// Makes the hash cache hold exactly `now`, given that it holds `before` (as read by
    /// [`StateStore::hashes`]): only the rows that differ are written, so a start with nothing
    /// changed writes nothing.
    pub fn update_hashes(
        &mut self,
        before: &HashMap<String, (Stamp, Checksum)>,
        now: &HashMap<String, (Stamp, Checksum)>,
    ) -> Result<(), StoreError> {
        let gone = before.keys().filter(|p| !now.contains_key(*p));
        let changed = now.iter().filter(|(p, v)| before.get(*p) != Some(v));
        let tx = self.db.transaction()?;
        {
            let mut delete = tx.prepare("DELETE FROM hash_cache WHERE path = ?1")?;
            for path in gone {
                delete.execute([path])?;
            }
            let mut upsert =
                tx.prepare("INSERT OR REPLACE INTO hash_cache VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            for (path, (stamp, checksum)) in changed {
                upsert.execute(hash_row(path, *stamp, *checksum))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Hands SQLite's page cache back to the allocator (it is refilled on demand).
    pub fn release_memory(&self) {
        let _ = self.db.release_memory();
    }

    pub fn put_hash(&self, path: &str, stamp: Stamp, checksum: Checksum) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT OR REPLACE INTO hash_cache VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            hash_row(path, stamp, checksum),
        )?;
        Ok(())
    }

    pub fn meta(&self, k: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, k: &str, v: &str) -> Result<(), StoreError> {
        self.db
            .execute("INSERT OR REPLACE INTO meta VALUES (?1, ?2)", [k, v])?;
        Ok(())
    }
}

/// One `hash_cache` row. The inode is stored as its bits (SQLite integers are signed).
fn hash_row(path: &str, stamp: Stamp, checksum: Checksum) -> impl rusqlite::Params + '_ {
    (
        path,
        i64::try_from(stamp.size).unwrap_or(i64::MAX),
        stamp.mtime_ns,
        stamp.ctime_ns,
        stamp.inode as i64,
        checksum.to_hex(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> Key {
        Key::App(name.to_owned())
    }

    const ALICE: Identity<'static> = Identity {
        server: "http://localhost:8080",
        account_id: "1",
    };

    #[test]
    fn base_and_hashes_survive_a_reopen() {
        let home = tempfile::tempdir().unwrap();
        let folder = Path::new("/some/folder");
        let c = Checksum::of(b"abc");
        let rec = BaseRecord {
            checksum: c,
            size: 3,
            local_mtime: Timestamp::from_millis(5),
            remote_modified: Timestamp::from_millis(6),
            local_path: "x.html".into(),
            remote_path: "a/x.html".into(),
        };
        {
            let mut s = StateStore::open(home.path(), folder, ALICE).unwrap();
            s.put_base(&app("x"), &rec).unwrap();
            let mut h = HashMap::new();
            h.insert(
                "x.html".to_string(),
                (
                    Stamp {
                        size: 3,
                        mtime_ns: 9,
                        ctime_ns: 10,
                        inode: u64::MAX - 1,
                    },
                    c,
                ),
            );
            s.update_hashes(&HashMap::new(), &h).unwrap();
            let mut h2 = h.clone();
            h2.insert("y.png".to_string(), h["x.html"]);
            s.update_hashes(&h, &h2).unwrap();
            assert_eq!(s.hashes().unwrap(), h2);
            s.update_hashes(&h2, &h).unwrap();
            assert_eq!(s.hashes().unwrap(), h);
            s.set_meta("cursor", "42").unwrap();
            s.put_folder("a/b").unwrap();
            s.put_folder("c").unwrap();
        }
        let s = StateStore::open(home.path(), folder, ALICE).unwrap();
        assert_eq!(s.base().unwrap().get(&app("x")), Some(&rec));
        assert_eq!(s.hashes().unwrap()["x.html"].1, c);
        assert_eq!(s.meta("cursor").unwrap().as_deref(), Some("42"));
        assert_eq!(
            s.folders().unwrap(),
            BTreeSet::from(["a/b".into(), "c".into()])
        );
        s.forget_folder("c").unwrap();
        assert_eq!(s.folders().unwrap(), BTreeSet::from(["a/b".into()]));
        s.forget_base(&app("x")).unwrap();
        assert!(s.base().unwrap().is_empty());
        assert!(!state_file(home.path(), folder, ALICE).starts_with(folder));
    }

    /// The database keeps the hex TEXT it always had, so a state written before `Checksum`
    /// (or by a later version) reads the same; a row that is no checksum is left out.
    #[test]
    fn checksums_are_stored_as_the_protocol_hex() {
        let home = tempfile::tempdir().unwrap();
        let folder = Path::new("/some/folder");
        let hex = sha256_hex(b"hello");
        {
            let s = StateStore::open(home.path(), folder, ALICE).unwrap();
            s.db.execute(
                "INSERT INTO base VALUES ('app:x', ?1, 5, 1, 2, 'x.html', 'x.html')",
                [&hex],
            )
            .unwrap();
            s.db.execute(
                "INSERT INTO base VALUES ('app:bad', 'C', 1, 1, 2, 'bad.html', 'bad.html')",
                [],
            )
            .unwrap();
            s.db.execute(
                "INSERT INTO hash_cache VALUES ('x.html', 5, 7, 8, 9, ?1)",
                [&hex],
            )
            .unwrap();
            s.db.execute(
                "INSERT INTO hash_cache VALUES ('bad.html', 1, 7, 8, 9, ?1)",
                [hex.to_ascii_uppercase()],
            )
            .unwrap();
        }
        let s = StateStore::open(home.path(), folder, ALICE).unwrap();
        let base = s.base().unwrap();
        assert_eq!(base.keys().collect::<Vec<_>>(), [&app("x")]);
        assert_eq!(base[&app("x")].checksum, Checksum::of(b"hello"));
        let hashes = s.hashes().unwrap();
        assert_eq!(hashes.keys().collect::<Vec<_>>(), ["x.html"]);
        assert_eq!(hashes["x.html"].1, Checksum::of(b"hello"));
        s.put_base(&app("y"), &base[&app("x")]).unwrap();
        s.put_hash("y.html", hashes["x.html"].0, Checksum::of(b"hello"))
            .unwrap();
        let text = |sql: &str| -> String { s.db.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(text("SELECT checksum FROM base WHERE key = 'app:y'"), hex);
        assert_eq!(
            text("SELECT checksum FROM hash_cache WHERE path = 'y.html'"),
            hex
        );
    }

    #[test]
    fn another_server_or_account_never_sees_this_base_and_this_one_is_kept() {
        let home = tempfile::tempdir().unwrap();
        let folder = Path::new("/some/folder");
        let rec = BaseRecord {
            checksum: Checksum::of(b"abc"),
            size: 3,
            local_mtime: Timestamp::from_millis(5),
            remote_modified: Timestamp::from_millis(6),
            local_path: "x.html".into(),
            remote_path: "x.html".into(),
        };
        StateStore::open(home.path(), folder, ALICE)
            .unwrap()
            .put_base(&app("x"), &rec)
            .unwrap();
        let bob = Identity {
            account_id: "2",
            ..ALICE
        };
        let other_server = Identity {
            server: "https://hyperclay.com",
            ..ALICE
        };
        for who in [bob, other_server] {
            let s = StateStore::open(home.path(), folder, who).unwrap();
            assert!(s.base().unwrap().is_empty(), "{who:?}");
            assert_eq!(s.meta("account").unwrap().as_deref(), Some(who.account_id));
        }
        // A trailing slash is the same server.
        let same = Identity {
            server: "http://localhost:8080/",
            ..ALICE
        };
        let s = StateStore::open(home.path(), folder, same).unwrap();
        assert_eq!(s.base().unwrap().get(&app("x")), Some(&rec));
    }

    #[test]
    fn a_state_from_before_identities_is_taken_over_by_the_first_identity_only() {
        let home = tempfile::tempdir().unwrap();
        let folder = Path::new("/some/folder");
        let old = unbound_state_file(home.path(), folder);
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        {
            let db = Connection::open(&old).unwrap();
            db.execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE base (key TEXT PRIMARY KEY, checksum TEXT NOT NULL,
                   size INTEGER NOT NULL, local_mtime INTEGER NOT NULL,
                   remote_modified INTEGER NOT NULL, local_path TEXT NOT NULL,
                   remote_path TEXT NOT NULL);",
            )
            .unwrap();
            db.execute(
                "INSERT INTO base VALUES ('app:x', ?1, 3, 1, 2, 'x.html', 'x.html')",
                [sha256_hex(b"abc")],
            )
            .unwrap();
        }
        let s = StateStore::open(home.path(), folder, ALICE).unwrap();
        assert!(s.base().unwrap().contains_key(&app("x")));
        assert!(!old.exists());
        let bob = Identity {
            account_id: "2",
            ..ALICE
        };
        let s = StateStore::open(home.path(), folder, bob).unwrap();
        assert!(s.base().unwrap().is_empty());
    }
}
