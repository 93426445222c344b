//! The server's save process and the other writes to an account's tree: folders, and the
//! platform's own delete (admin CLI only; the sync API can never delete).
//!
//! A save keeps the current bytes as a version before replacing them, treats identical content
//! as a no-op, refuses writes older than the server copy (`stale`), and applies the app-name
//! rules (one name platform-wide; the remote folder wins; the site quota). Either all of a save
//! happens or none of it: each is one transaction, or one savepoint of a transaction that
//! commits several concurrent saves at once ([`SaveQueue`]).

use std::sync::{Arc, Mutex};

use hyperclay_protocol::{Entry, EntryKind, EntryName, RemotePath, Timestamp, sha256_hex};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::ServerError;
use crate::store::entries::{self, Row};
use crate::store::{Account, Store, StoreHandle, StoredBlob, next_seq};

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// The content was already there; nothing changed.
    Unchanged(Entry),
    /// New content was written (the old, if any, kept as a version).
    Written(Entry),
}

impl Saved {
    pub fn entry(&self) -> &Entry {
        match self {
            Saved::Unchanged(e) | Saved::Written(e) => e,
        }
    }
}

/// Runs the save process for `body` at `path`: stores the body, then [`commit_save`]. For
/// callers that already hold the store; the HTTP handlers store the body first, outside the
/// lock ([`crate::store::StoreHandle::put_blob`]).
pub fn save_file(
    store: &mut Store,
    account: &Account,
    path: &RemotePath,
    body: &[u8],
    modified_at: Timestamp,
) -> Result<Saved, ServerError> {
    let blob = store.blobs().put(&sha256_hex(body), body)?;
    commit_save(store, account, path, &blob, modified_at)
}

/// The save process for a body already durably stored (`blob`) at `path`, in one transaction.
/// `modified_at` must already be clamped to the server's now. When it refuses, or the content
/// is unchanged, no row changes and the blob is left unreferenced (see [`crate::store::blobs`]).
pub fn commit_save(
    store: &mut Store,
    account: &Account,
    path: &RemotePath,
    blob: &StoredBlob,
    modified_at: Timestamp,
) -> Result<Saved, ServerError> {
    let tx = store.transaction()?;
    let saved = save_in(&tx, account, path, blob, modified_at)?;
    tx.commit()?;
    Ok(saved)
}

/// Concurrent saves, committed together (group commit): whichever save takes the store lock
/// first commits every save queued by then in one transaction, so one WAL fsync serves them
/// all. Each runs in its own savepoint, in queue order, exactly as if one after the other: a
/// save that is refused or fails is rolled back alone and answered with its own error, and the
/// others go on. Every answer is sent only after the transaction has committed; if it cannot
/// commit, every save in it is answered with that error (none of them happened).
#[derive(Clone, Default)]
pub struct SaveQueue {
    queued: Arc<Mutex<Vec<Queued>>>,
}

struct Queued {
    account: Account,
    path: RemotePath,
    blob: StoredBlob,
    modified_at: Timestamp,
    answer: oneshot::Sender<Result<Saved, ServerError>>,
}

impl SaveQueue {
    /// Runs the save process for `blob` (already durably stored) at `path`, as
    /// [`commit_save`] does, committed with whatever other saves are waiting.
    pub async fn save(
        &self,
        store: &StoreHandle,
        account: Account,
        path: RemotePath,
        blob: StoredBlob,
        modified_at: Timestamp,
    ) -> Result<Saved, ServerError> {
        let (answer, answered) = oneshot::channel();
        lock(&self.queued).push(Queued {
            account,
            path,
            blob,
            modified_at,
            answer,
        });
        // Every push is followed by a drain under the store lock (at the latest, this one), so
        // this save is committed by this call or by one that took the lock before it.
        let queued = Arc::clone(&self.queued);
        store
            .run(move |s| {
                let group = std::mem::take(&mut *lock(&queued));
                commit_group(s, group);
                Ok(())
            })
            .await?;
        answered
            .await
            .map_err(|_| ServerError::Internal("the save was dropped".into()))?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Commits `group` in one transaction, one savepoint per save, and answers each.
fn commit_group(store: &mut Store, group: Vec<Queued>) {
    if group.is_empty() {
        return;
    }
    let mut outcomes = Vec::with_capacity(group.len());
    let committed = (|| -> Result<(), ServerError> {
        let mut tx = store.transaction()?;
        for q in &group {
            // A failed statement may have made SQLite roll the whole transaction back (a full
            // disk, an I/O error): then nothing more may run, or it would run outside it.
            if tx.is_autocommit() {
                return Err(ServerError::Internal(
                    "the transaction was rolled back".into(),
                ));
            }
            let sp = tx.savepoint()?;
            let outcome = save_in(&sp, &q.account, &q.path, &q.blob, q.modified_at);
            if outcome.is_ok() {
                sp.commit()?;
            } else {
                // Rolls this save back, alone; if even that fails, the whole group does.
                sp.finish()?;
            }
            outcomes.push(outcome);
        }
        if tx.is_autocommit() {
            return Err(ServerError::Internal(
                "the transaction was rolled back".into(),
            ));
        }
        tx.commit()?;
        Ok(())
    })();
    match committed {
        Ok(()) => {
            for (q, outcome) in group.into_iter().zip(outcomes) {
                let _ = q.answer.send(outcome);
            }
        }
        Err(e) => {
            let message = format!("the save could not be committed: {e}");
            for q in group {
                let _ = q.answer.send(Err(ServerError::Internal(message.clone())));
            }
        }
    }
}

/// All of a save's checks and writes, inside the caller's transaction or savepoint `tx`; not
/// committed. On an error the caller must roll `tx` back.
fn save_in(
    tx: &Connection,
    account: &Account,
    path: &RemotePath,
    blob: &StoredBlob,
    modified_at: Timestamp,
) -> Result<Saved, ServerError> {
    let (checksum, size) = (blob.checksum(), blob.size());
    let (target, app_name) = match path.app_name() {
        Some(name) => match entries::live_app(tx, name)? {
            Some(row) if row.account_id != account.id => return Err(ServerError::NameTaken),
            Some(row) => (row.path, Some(name.to_owned())),
            None => {
                if entries::count_live_apps(tx, account.id)? >= account.site_limit {
                    return Err(ServerError::SiteLimit(account.site_limit));
                }
                (path.as_str().to_owned(), Some(name.to_owned()))
            }
        },
        None => (path.as_str().to_owned(), None),
    };
    let kind = match EntryName::of(file_name(&target)) {
        EntryName::App => EntryKind::App,
        EntryName::Upload => EntryKind::Upload,
    };

    let current = entries::get_live(tx, account.id, &target)?;
    if let Some(cur) = &current {
        if cur.kind == EntryKind::Folder {
            return Err(ServerError::PathConflict(target));
        }
        if cur.checksum.as_deref() == Some(checksum) {
            return Ok(Saved::Unchanged(cur.to_entry()));
        }
        if modified_at < cur.modified_at {
            return Err(ServerError::Stale(Box::new(cur.to_entry())));
        }
    }
    ensure_parents(tx, account.id, &target, modified_at)?;

    // The body is already durably on disk: `blob` says so.
    if let Some(cur) = &current {
        keep_as_version(tx, cur)?;
    }
    let seq = next_seq(tx, account.id)?;
    let file = entries::FileRow {
        path: &target,
        kind,
        app_name: app_name.as_deref(),
        size,
        checksum,
        modified_at,
    };
    entries::put_file(tx, account.id, &file, seq)?;
    // Exactly the row just written (no need to read it back).
    Ok(Saved::Written(Entry {
        path: target,
        kind,
        size: Some(size),
        modified_at,
        checksum: Some(checksum.to_owned()),
        deleted: false,
    }))
}

/// Creates folder `path` and its parents; a no-op for those that exist.
pub fn ensure_folder(
    store: &mut Store,
    account: &Account,
    path: &RemotePath,
    now: Timestamp,
) -> Result<Entry, ServerError> {
    let tx = store.transaction()?;
    let target = path.as_str();
    ensure_parents(&tx, account.id, target, now)?;
    let row = match entries::get_live(&tx, account.id, target)? {
        Some(row) if row.kind == EntryKind::Folder => row,
        Some(_) => return Err(ServerError::PathConflict(target.to_owned())),
        None => {
            let seq = next_seq(&tx, account.id)?;
            entries::put_folder(&tx, account.id, target, now, seq)?;
            entries::get_live(&tx, account.id, target)?
                .ok_or_else(|| ServerError::Internal("folder row vanished".into()))?
        }
    };
    tx.commit()?;
    Ok(row.to_entry())
}

/// The platform's own delete: the file (or folder with everything in it) becomes a tombstone
/// in the changes feed; a file's last content is kept as a version. Returns the paths removed.
pub fn remove(
    store: &mut Store,
    account: &Account,
    path: &str,
    now: Timestamp,
) -> Result<Vec<String>, ServerError> {
    let tx = store.transaction()?;
    let row = entries::get_live(&tx, account.id, path)?
        .ok_or_else(|| ServerError::NotFound(format!("{path} does not exist")))?;
    let mut doomed = Vec::new();
    if row.kind == EntryKind::Folder {
        doomed.extend(entries::live_under(&tx, account.id, path)?);
    }
    doomed.push(row);
    let mut removed = Vec::new();
    for row in doomed {
        if row.kind != EntryKind::Folder {
            keep_as_version(&tx, &row)?;
        }
        let seq = next_seq(&tx, account.id)?;
        entries::tombstone(&tx, account.id, &row.path, now, seq)?;
        removed.push(row.path);
    }
    tx.commit()?;
    Ok(removed)
}

fn keep_as_version(tx: &Connection, row: &Row) -> Result<(), ServerError> {
    let (Some(checksum), Some(size)) = (&row.checksum, row.size) else {
        return Err(ServerError::Internal(format!(
            "file row {} has no checksum",
            row.path
        )));
    };
    entries::add_version(
        tx,
        row.account_id,
        &row.path,
        row.modified_at,
        checksum,
        size,
    )
}

/// Makes every folder above `path` exist; refuses when one of them is a file.
fn ensure_parents(
    tx: &Connection,
    account_id: i64,
    path: &str,
    now: Timestamp,
) -> Result<(), ServerError> {
    let mut prefix = String::new();
    let segments: Vec<&str> = path.split('/').collect();
    for seg in &segments[..segments.len().saturating_sub(1)] {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(seg);
        match entries::get_live(tx, account_id, &prefix)? {
            Some(row) if row.kind == EntryKind::Folder => {}
            Some(_) => return Err(ServerError::PathConflict(prefix)),
            None => {
                let seq = next_seq(tx, account_id)?;
                entries::put_folder(tx, account_id, &prefix, now, seq)?;
            }
        }
    }
    Ok(())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Plan, accounts};

    /// `commit_save` answers with the entry it wrote without reading the row back: the two must
    /// always agree, whichever path the save takes.
    #[test]
    fn the_entry_a_save_returns_is_the_row_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let account = accounts::create(store.conn(), "a", "x", Plan::Paid, 10)
            .unwrap()
            .unwrap();
        let saves = [
            ("notes/a.txt", &b"one"[..], 1_000),
            ("notes/a.txt", b"two", 2_000),
            ("blog/site.html", b"<p>1</p>", 3_000),
            // The app is updated where it lives, not at the path asked for.
            ("site.html", b"<p>2</p>", 4_000),
            ("x/y/z.bin", b"", 5_000),
        ];
        for (path, body, at) in saves {
            let path = RemotePath::file(path).unwrap();
            let saved = save_file(
                &mut store,
                &account,
                &path,
                body,
                Timestamp::from_millis(at),
            )
            .unwrap();
            let Saved::Written(entry) = saved else {
                panic!("{path} was not written")
            };
            let row = entries::get_live(store.conn(), account.id, &entry.path)
                .unwrap()
                .unwrap();
            assert_eq!(entry, row.to_entry(), "{path}");
        }
        let again = save_file(
            &mut store,
            &account,
            &RemotePath::file("site.html").unwrap(),
            b"<p>2</p>",
            Timestamp::from_millis(6_000),
        )
        .unwrap();
        assert!(matches!(again, Saved::Unchanged(e) if e.path == "blog/site.html"));
    }

    /// One group, committed once: each save gets exactly what it would have got alone, one
    /// after the other in queue order, and a refused one leaves nothing behind.
    #[test]
    fn a_group_commit_answers_each_save_as_if_it_ran_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let me = accounts::create(store.conn(), "me", "x", Plan::Paid, 2)
            .unwrap()
            .unwrap();
        let other = accounts::create(store.conn(), "other", "x", Plan::Paid, 10)
            .unwrap()
            .unwrap();
        save_file(
            &mut store,
            &other,
            &RemotePath::file("theirs.html").unwrap(),
            b"t",
            Timestamp::from_millis(1),
        )
        .unwrap();
        let head = crate::store::head(store.conn(), me.id).unwrap();
        let blobs = store.blobs().clone();
        let saves: [(&str, &[u8], i64); 8] = [
            ("a/one.html", b"1", 10),
            ("a/f.txt", b"v2", 20),
            // Older than the save just before it in the same group: stale.
            ("a/f.txt", b"v1", 15),
            ("theirs.html", b"mine", 10),
            ("two.html", b"2", 10),
            // Past the site limit of 2, counting the two made in this group.
            ("three.html", b"3", 10),
            // Unchanged content: a no-op.
            ("a/f.txt", b"v2", 30),
            ("a/f.txt", b"v3", 30),
        ];
        let mut answers = Vec::new();
        let group = saves
            .iter()
            .map(|(path, body, at)| {
                let (answer, answered) = oneshot::channel();
                answers.push(answered);
                Queued {
                    account: me.clone(),
                    path: RemotePath::file(path).unwrap(),
                    blob: blobs.put(&sha256_hex(body), body).unwrap(),
                    modified_at: Timestamp::from_millis(*at),
                    answer,
                }
            })
            .collect();
        commit_group(&mut store, group);
        let got: Vec<String> = answers
            .into_iter()
            .map(|mut a| match a.try_recv().unwrap() {
                Ok(Saved::Written(e)) => format!("written {}", e.path),
                Ok(Saved::Unchanged(e)) => format!("unchanged {}", e.path),
                Err(e) => format!("{:?}", e.code()),
            })
            .collect();
        assert_eq!(
            got,
            [
                "written a/one.html",
                "written a/f.txt",
                "Stale",
                "NameTaken",
                "written two.html",
                "SiteLimit",
                "unchanged a/f.txt",
                "written a/f.txt",
            ]
        );
        // Folder `a` and four written saves: five changes, numbered one after the other.
        assert_eq!(crate::store::head(store.conn(), me.id).unwrap(), head + 5);
        let f = entries::get_live(store.conn(), me.id, "a/f.txt")
            .unwrap()
            .unwrap();
        assert_eq!(f.checksum, Some(sha256_hex(b"v3")));
        let versions = entries::versions(store.conn(), me.id, "a/f.txt").unwrap();
        assert_eq!(versions.len(), 1, "{versions:?}");
        assert_eq!(versions[0].checksum, sha256_hex(b"v2"));
        assert!(
            entries::get(store.conn(), me.id, "three.html")
                .unwrap()
                .is_none()
        );
        assert!(
            entries::get(store.conn(), me.id, "theirs.html")
                .unwrap()
                .is_none()
        );
        assert_eq!(entries::count_live_apps(store.conn(), me.id).unwrap(), 2);
        // A group of none is nothing.
        commit_group(&mut store, Vec::new());
        assert_eq!(crate::store::head(store.conn(), me.id).unwrap(), head + 5);
    }
}
