//! The sync decision, as a pure function of three metadata snapshots: the base (what both sides
//! held at the last sync), the local folder and the remote account. It returns the actions that
//! bring both sides together. It must never do I/O, read a clock or sleep, and it never emits a
//! delete: deletions are respected, not propagated.
//!
//! Folders are planned apart, by [`plan_folders`], under the same rules.
//!
//! Files are matched by [`Key`]: an app by its name (apps are unique by name across Hyperclay, so
//! a local `x.html` anywhere is the remote app `x` wherever it lives), any other file by its path.

use std::collections::{BTreeMap, BTreeSet};

use hyperclay_protocol::{Checksum, Timestamp, app_name_of};

/// What identifies one synced file on both sides.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// An app, by its name: the same app wherever its file lives on either side.
    App(String),
    /// Any other file, by its folder-relative path.
    File(String),
}

impl Key {
    /// A key as its `Display` wrote it (how the sync state stores it); `None` for anything else.
    pub fn parse(stored: &str) -> Option<Key> {
        if let Some(name) = stored.strip_prefix("app:") {
            return Some(Key::App(name.to_owned()));
        }
        stored
            .strip_prefix("file:")
            .map(|p| Key::File(p.to_owned()))
    }
}

/// `app:<name>` or `file:<path>`: the form the sync state stores, read back by [`Key::parse`].
impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::App(name) => write!(f, "app:{name}"),
            Key::File(path) => write!(f, "file:{path}"),
        }
    }
}

pub fn key_of(path: &str) -> Key {
    match app_name_of(path) {
        Some(name) => Key::App(name.to_owned()),
        None => Key::File(path.to_owned()),
    }
}

/// What both sides held when a file was last in sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRecord {
    pub checksum: Checksum,
    pub size: u64,
    /// The local mtime at that moment, on the server's clock.
    pub local_mtime: Timestamp,
    pub remote_modified: Timestamp,
    /// Folder-relative, `/`-separated.
    pub local_path: String,
    pub remote_path: String,
}

/// One file of the local scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Folder-relative, `/`-separated, already a valid remote path.
    pub path: String,
    pub size: u64,
    /// The mtime on the server's clock (local mtime + clock offset).
    pub mtime: Timestamp,
    pub checksum: Checksum,
}

/// One file of the remote listing (tombstones and folders are left out before planning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    pub modified_at: Timestamp,
    pub checksum: Checksum,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Both sides hold the same content: remember it as the base.
    Record { key: Key, record: BaseRecord },
    /// Send the local file to `remote_path`. `replaces` is the remote checksum it overwrites (the
    /// server's save process keeps that copy as a version).
    Upload {
        key: Key,
        local: LocalFile,
        remote_path: String,
        replaces: Option<Checksum>,
    },
    /// Fetch the remote file into `local_path`. `replaces` is the checksum of the local file the
    /// plan saw there: it is backed up first, and only overwritten if it is still that content.
    Download {
        key: Key,
        remote: RemoteFile,
        local_path: String,
        replaces: Option<Checksum>,
    },
    /// Neither side has the file any more: drop its base.
    Forget { key: Key },
    /// Another local file claims the same app name; it is left alone (log it once).
    IgnoreDuplicate { key: Key, local_path: String },
}

impl Action {
    pub fn key(&self) -> &Key {
        match self {
            Action::Record { key, .. }
            | Action::Upload { key, .. }
            | Action::Download { key, .. }
            | Action::Forget { key }
            | Action::IgnoreDuplicate { key, .. } => key,
        }
    }
}

/// The whole decision. `base` is keyed by [`Key`], `local` and `remote` by path.
pub fn plan(
    base: &BTreeMap<Key, BaseRecord>,
    local: &BTreeMap<String, LocalFile>,
    remote: &BTreeMap<String, RemoteFile>,
) -> Vec<Action> {
    let mut remote_by_key: BTreeMap<Key, &RemoteFile> = BTreeMap::new();
    for file in remote.values() {
        // App names are unique per account, so a second remote file per key cannot happen on a
        // sane server; keep the first by path if it does.
        remote_by_key.entry(key_of(&file.path)).or_insert(file);
    }
    let mut local_by_key: BTreeMap<Key, Vec<&LocalFile>> = BTreeMap::new();
    for file in local.values() {
        local_by_key
            .entry(key_of(&file.path))
            .or_default()
            .push(file);
    }
    let mut keys: Vec<&Key> = base
        .keys()
        .chain(remote_by_key.keys())
        .chain(local_by_key.keys())
        .collect();
    keys.sort();
    keys.dedup();

    let mut actions = Vec::new();
    for key in keys {
        let b = base.get(key);
        let r = remote_by_key.get(key).copied();
        let candidates = local_by_key.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let l = choose_local(candidates, r, b);
        for other in candidates {
            if Some(other.path.as_str()) != l.map(|f| f.path.as_str()) {
                actions.push(Action::IgnoreDuplicate {
                    key: key.clone(),
                    local_path: other.path.clone(),
                });
            }
        }
        plan_one(key, b, l, r, &mut actions);
    }
    actions
}

/// Of several local files with one app name, the one at the remote's path, else the one synced
/// before, else the first by path.
fn choose_local<'a>(
    candidates: &[&'a LocalFile],
    remote: Option<&RemoteFile>,
    base: Option<&BaseRecord>,
) -> Option<&'a LocalFile> {
    let at = |path: &str| candidates.iter().copied().find(|f| f.path == path);
    remote
        .and_then(|r| at(&r.path))
        .or_else(|| base.and_then(|b| at(&b.local_path)))
        .or_else(|| candidates.first().copied())
}

fn plan_one(
    key: &Key,
    base: Option<&BaseRecord>,
    local: Option<&LocalFile>,
    remote: Option<&RemoteFile>,
    out: &mut Vec<Action>,
) {
    let key = key.clone();
    match (local, remote) {
        (Some(l), Some(r)) if l.checksum == r.checksum => {
            let stale = base.is_none_or(|b| {
                b.checksum != l.checksum || b.local_path != l.path || b.remote_path != r.path
            });
            if stale {
                out.push(Action::Record {
                    key,
                    record: BaseRecord {
                        checksum: l.checksum,
                        size: l.size,
                        local_mtime: l.mtime,
                        remote_modified: r.modified_at,
                        local_path: l.path.clone(),
                        remote_path: r.path.clone(),
                    },
                });
            }
        }
        (Some(l), Some(r)) => {
            let local_changed = base.is_none_or(|b| b.checksum != l.checksum);
            let remote_changed = base.is_none_or(|b| b.checksum != r.checksum);
            // Changed on one side only: it flows to the other. Changed on both (or never synced):
            // last write wins, remote on a tie, and the loser is kept as a backup either way.
            let upload = match (local_changed, remote_changed) {
                (true, false) => true,
                (false, true) => false,
                _ => l.mtime > r.modified_at,
            };
            if upload {
                out.push(upload_action(key, l, r.path.clone(), Some(r.checksum)));
            } else {
                out.push(download_action(key, r, l.path.clone(), Some(l.checksum)));
            }
        }
        (Some(l), None) => {
            // Unchanged here since the remote copy went away: the remote deletion is respected.
            let deleted_remotely = base.is_some_and(|b| b.checksum == l.checksum);
            if !deleted_remotely {
                out.push(upload_action(key, l, l.path.clone(), None));
            }
        }
        (None, Some(r)) => {
            let deleted_locally = base.is_some_and(|b| b.checksum == r.checksum);
            if !deleted_locally {
                let target = base.map_or_else(|| r.path.clone(), |b| b.local_path.clone());
                out.push(download_action(key, r, target, None));
            }
        }
        (None, None) => {
            if base.is_some() {
                out.push(Action::Forget { key });
            }
        }
    }
}

/// What to do about one folder. Folders carry no content, so only their existence is synced.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FolderAction {
    /// Both sides have it: remember it as synced.
    Record(String),
    /// Only here and never synced: create it on the server.
    Push(String),
    /// Only on the server and never synced: create it here.
    Create(String),
    /// Neither side has it any more: drop its base.
    Forget(String),
}

/// The folder decision, by the same rules as files: a folder new on one side is created on the
/// other; one that was synced and then deleted on one side stays deleted there (a folder has no
/// content that could change, so only something new arriving inside brings it back: a new file
/// or subfolder is created with its parents). Nothing is ever deleted. `base` holds the folders
/// both sides had at the last sync; paths are `/`-separated and already valid.
pub fn plan_folders(
    base: &BTreeSet<String>,
    local: &BTreeSet<String>,
    remote: &BTreeSet<String>,
) -> Vec<FolderAction> {
    let all: BTreeSet<&String> = base.iter().chain(local).chain(remote).collect();
    let mut actions = Vec::new();
    for path in all {
        let (b, l, r) = (
            base.contains(path),
            local.contains(path),
            remote.contains(path),
        );
        let action = match (l, r) {
            (true, true) if !b => FolderAction::Record(path.clone()),
            (true, false) if !b => FolderAction::Push(path.clone()),
            (false, true) if !b => FolderAction::Create(path.clone()),
            (false, false) if b => FolderAction::Forget(path.clone()),
            _ => continue,
        };
        actions.push(action);
    }
    actions
}

fn upload_action(
    key: Key,
    l: &LocalFile,
    remote_path: String,
    replaces: Option<Checksum>,
) -> Action {
    Action::Upload {
        key,
        local: l.clone(),
        remote_path,
        replaces,
    }
}

fn download_action(
    key: Key,
    r: &RemoteFile,
    local_path: String,
    replaces: Option<Checksum>,
) -> Action {
    Action::Download {
        key,
        remote: r.clone(),
        local_path,
        replaces,
    }
}

#[cfg(test)]
mod tests;
