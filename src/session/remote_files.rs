//! The session's picture of the remote side: which listing entries are let in (the protocol's
//! path rules, the ignore rules, a sound checksum, one holder per name a filesystem cannot tell
//! apart), and the remote files by path with each app's one path indexed by its key. It must
//! never do I/O or log: what it drops is returned for the session to report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hyperclay_protocol::{Checksum, Entry, EntryKind, RemotePath, collision_key};

use crate::local::Verdict;
use crate::local::ignore::Rules;
use crate::rules::plan::{Key, LocalFile, RemoteFile, key_of};

/// Why a listing entry was left out of the picture (and is not synced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// The server sent a path the protocol forbids: a server must never make us write outside
    /// the folder.
    BrokenPath,
    /// A checksum that is not 64 lowercase hex digits says nothing about the content.
    BadChecksum,
    /// The server already listed this other name, which a case-insensitive or normalising
    /// filesystem takes for the same file.
    Collides(String),
}

/// What a poll's pages changed: the keys and folders to plan again, the paths deleted on the
/// server, and the entries dropped (with why).
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) keys: BTreeSet<Key>,
    pub(crate) folders: BTreeSet<String>,
    pub(crate) gone: Vec<String>,
    pub(crate) dropped: Vec<(String, Dropped)>,
}

impl Changes {
    /// Notes what `entry` changes, and folds it into `files` and `folders` ([`take_entry`]).
    pub(crate) fn take(
        &mut self,
        rules: &Rules,
        files: &mut RemoteFiles,
        folders: &mut BTreeSet<String>,
        entry: Entry,
    ) {
        if entry.kind == EntryKind::Folder {
            self.folders.insert(entry.path.clone());
        } else {
            self.keys.insert(key_of(&entry.path));
        }
        if entry.deleted {
            self.gone.push(entry.path.clone());
        }
        self.dropped
            .extend(take_entry(rules, files, folders, entry));
    }
}

/// A path that broke the protocol's rules, as it may be logged and reported: it came from the
/// server and can hold anything, control characters included (issue 23, 4).
fn shown(path: &str) -> String {
    crate::remote::server_text::ServerText::from_wire(path).to_string()
}

/// Folds one listing entry into the remote files and folders; returns the path and the reason
/// when the entry is dropped for breaking a rule (ignored names are left out silently).
pub(crate) fn take_entry(
    rules: &Rules,
    files: &mut RemoteFiles,
    folders: &mut BTreeSet<String>,
    entry: Entry,
) -> Option<(String, Dropped)> {
    if entry.kind == EntryKind::Folder {
        if entry.deleted {
            folders.remove(&entry.path);
            return None;
        }
        return match rules.folder_verdict(&entry.path) {
            Verdict::Synced(_) => {
                folders.insert(entry.path);
                None
            }
            // A remote `sites-versions` or `node_modules` must never mix with local backups or
            // tools; it stays on the server.
            Verdict::Ignored => None,
            Verdict::Forbidden(_) => Some((shown(&entry.path), Dropped::BrokenPath)),
        };
    }
    if entry.deleted {
        files.remove(&entry.path);
        return None;
    }
    // The protocol's rules first, so a path that breaks them is always reported.
    if RemotePath::file(&entry.path).is_err() {
        return Some((shown(&entry.path), Dropped::BrokenPath));
    }
    // Ignored here means ignored there too: a remote `node_modules/…` or an editor's temp never
    // lands in the folder (a planted package would be loaded by Node).
    if !matches!(rules.verdict(&entry.path), Verdict::Synced(_)) {
        return None;
    }
    let (Some(size), Some(checksum)) = (entry.size, entry.checksum) else {
        return None;
    };
    // Like a missing one: the entry is left out (its file is neither fetched nor counted as
    // changed).
    let Ok(checksum) = Checksum::parse(&checksum) else {
        return Some((entry.path, Dropped::BadChecksum));
    };
    // Only one of two such names can live in a folder on Windows or macOS: the one listed
    // first is kept, and stays kept while it exists, so polls never flip between them.
    if let Some(held) = files.collides(&entry.path) {
        let held = held.to_owned();
        return Some((entry.path, Dropped::Collides(held)));
    }
    // One remote file per app name: a move on the server replaces the old path.
    files.insert(RemoteFile {
        path: entry.path,
        size,
        modified_at: entry.modified_at,
        checksum,
    });
    None
}

/// The remote snapshot by path, with each app's one path indexed by its key: a listing of `n`
/// entries, or an upload that moved an app, must not look at every file to find an app's old
/// path (that was O(apps × files) string allocations at start-up).
#[derive(Default)]
pub(crate) struct RemoteFiles {
    by_path: BTreeMap<String, RemoteFile>,
    /// an app's key → its path in `by_path`; kept in step by `insert` and `remove` alone.
    app_paths: HashMap<Key, String>,
    /// [`collision_key`] → the one path in `by_path` that has it, kept in step likewise, for
    /// the paths that differ from their key only: a path that is its own key (most names:
    /// lower case, NFC) holds it by being in `by_path`, which spares two strings per file.
    by_collision: HashMap<String, String>,
}

impl RemoteFiles {
    /// Adds or replaces `file`; an app's previous path, if another, is dropped.
    pub(crate) fn insert(&mut self, file: RemoteFile) {
        let key = key_of(&file.path);
        if matches!(key, Key::App(_))
            && let Some(old) = self.app_paths.insert(key, file.path.clone())
            && old != file.path
        {
            self.by_path.remove(&old);
            self.forget_collision_key(&old);
        }
        // The first holder keeps the key (an upload of the other name must not take it over).
        let key = collision_key(&file.path);
        if !self.is_held(&key) && key != file.path {
            self.by_collision.insert(key, file.path.clone());
        }
        self.by_path.insert(file.path.clone(), file);
    }

    /// Does a path hold collision key `key`?
    fn is_held(&self, key: &str) -> bool {
        self.by_collision.contains_key(key) || self.by_path.contains_key(key)
    }

    /// The path already held that a filesystem could not tell from `path`, if it is another.
    pub(crate) fn collides(&self, path: &str) -> Option<&str> {
        let key = collision_key(path);
        let held = match self.by_collision.get(&key) {
            Some(held) => held.as_str(),
            None => self.by_path.get_key_value(key.as_str())?.0.as_str(),
        };
        (held != path).then_some(held)
    }

    fn forget_collision_key(&mut self, path: &str) {
        let key = collision_key(path);
        if self.by_collision.get(&key).is_some_and(|p| p == path) {
            self.by_collision.remove(&key);
        }
    }

    pub(crate) fn remove(&mut self, path: &str) {
        if self.by_path.remove(path).is_none() {
            return;
        }
        self.forget_collision_key(path);
        let key = key_of(path);
        if self.app_paths.get(&key).is_some_and(|p| p == path) {
            self.app_paths.remove(&key);
        }
    }

    /// Packs the maps tight in fresh allocations (see `Picture::compact`): same entries.
    pub(crate) fn compact(&mut self) {
        use crate::session::picture::{fresh, fresh_index};
        self.by_path = fresh(&self.by_path);
        self.app_paths = fresh_index(&self.app_paths);
        self.by_collision = fresh_index(&self.by_collision);
    }

    pub(crate) fn get_by_key(&self, key: &Key) -> Option<&RemoteFile> {
        match key {
            Key::File(path) => self.by_path.get(path),
            Key::App(_) => self.by_path.get(self.app_paths.get(key)?),
        }
    }

    /// Every remote file, by path (what the planner takes).
    pub(crate) fn by_path(&self) -> &BTreeMap<String, RemoteFile> {
        &self.by_path
    }
}

/// Local names that a case-insensitive or Unicode-normalising filesystem could not tell from
/// another synced name (`A.png` beside `a.png`, made on Linux): each such name is left local,
/// since uploading it would put both on the server, where a Windows or macOS copy can hold only
/// one. Who keeps the name: the server's holder, else the name synced before, else the first by
/// path. Returns the kept names by key, and (skipped, kept) pairs.
#[allow(clippy::type_complexity)]
pub(crate) fn local_collisions(
    local: &BTreeMap<String, LocalFile>,
    base_paths: &BTreeSet<&str>,
    remote: &RemoteFiles,
) -> (HashMap<String, String>, Vec<(String, String)>) {
    let mut ordered: Vec<&str> = local.keys().map(String::as_str).collect();
    ordered.sort_by_key(|p| (!base_paths.contains(p), *p));
    let mut kept: HashMap<String, String> = HashMap::with_capacity(ordered.len());
    let mut skipped = Vec::new();
    for path in ordered {
        if let Some(held) = remote.collides(path) {
            skipped.push((path.to_owned(), held.to_owned()));
            continue;
        }
        match kept.entry(collision_key(path)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                skipped.push((path.to_owned(), e.get().clone()));
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(path.to_owned());
            }
        }
    }
    (kept, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::Timestamp;

    fn file(path: &str) -> RemoteFile {
        RemoteFile {
            path: path.into(),
            size: 1,
            modified_at: Timestamp::from_millis(1),
            checksum: Checksum::of(b"c"),
        }
    }

    fn paths(files: &RemoteFiles) -> Vec<&str> {
        files.by_path.keys().map(String::as_str).collect()
    }

    #[test]
    fn an_app_moved_on_the_server_keeps_only_its_new_path() {
        let mut files = RemoteFiles::default();
        files.insert(file("a/x.html"));
        files.insert(file("a/notes.txt"));
        files.insert(file("b/x.html"));
        assert_eq!(paths(&files), ["a/notes.txt", "b/x.html"]);
        assert_eq!(
            files
                .get_by_key(&Key::App("x".into()))
                .map(|f| f.path.as_str()),
            Some("b/x.html")
        );
        assert_eq!(
            files
                .get_by_key(&Key::File("a/notes.txt".into()))
                .map(|f| f.path.as_str()),
            Some("a/notes.txt")
        );
    }

    #[test]
    fn the_first_of_two_names_a_filesystem_cannot_tell_apart_keeps_its_place() {
        let mut files = RemoteFiles::default();
        files.insert(file("img/A.png"));
        assert_eq!(files.collides("img/a.png"), Some("img/A.png"));
        assert_eq!(files.collides("img/A.png"), None, "itself is no collision");
        assert_eq!(files.collides("b/a.png"), None);
        // Even an upload that adds the other name does not take the key over.
        files.insert(file("img/a.png"));
        assert_eq!(files.collides("img/a.png"), Some("img/A.png"));
        files.remove("img/a.png");
        assert_eq!(files.collides("img/a.png"), Some("img/A.png"));
        // Once the holder is gone, the other name may come in.
        files.remove("img/A.png");
        assert_eq!(files.collides("img/a.png"), None);
    }

    #[test]
    fn a_name_that_is_its_own_collision_key_holds_it_without_an_index_entry() {
        let mut files = RemoteFiles::default();
        files.insert(file("img/a.png"));
        assert!(
            files.by_collision.is_empty(),
            "no second copy of a plain name"
        );
        assert_eq!(files.collides("img/A.png"), Some("img/a.png"));
        assert_eq!(files.collides("img/a.png"), None);
        // The other name, added later, does not take the key over.
        files.insert(file("img/A.png"));
        assert!(files.by_collision.is_empty());
        assert_eq!(files.collides("img/A.png"), Some("img/a.png"));
        files.compact();
        assert_eq!(files.collides("img/A.png"), Some("img/a.png"));
        assert_eq!(paths(&files), ["img/A.png", "img/a.png"]);
    }

    #[test]
    fn removing_an_app_path_forgets_its_index_entry_but_not_a_newer_one() {
        let mut files = RemoteFiles::default();
        files.insert(file("x.html"));
        files.remove("x.html");
        assert!(files.get_by_key(&Key::App("x".into())).is_none());
        files.insert(file("b/x.html"));
        // A stale delete of a path the app no longer has must not unindex its real path.
        files.remove("x.html");
        assert_eq!(
            files
                .get_by_key(&Key::App("x".into()))
                .map(|f| f.path.as_str()),
            Some("b/x.html")
        );
        assert_eq!(paths(&files), ["b/x.html"]);
    }

    fn entry(path: &str, checksum: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::Upload,
            size: Some(1),
            modified_at: Timestamp::from_millis(1),
            checksum: Some(checksum.into()),
            deleted: false,
        }
    }

    #[test]
    fn forbidden_paths_malformed_checksums_and_second_names_are_dropped() {
        let rules = Rules::builtin();
        let (mut files, mut folders) = (RemoteFiles::default(), BTreeSet::new());
        let good = Checksum::of(b"c").to_hex();
        let mut take = |e| take_entry(&rules, &mut files, &mut folders, e);
        assert_eq!(
            take(entry("../x.html", &good)),
            Some(("../x.html".into(), Dropped::BrokenPath))
        );
        assert_eq!(
            take(entry("a.png", "nothex")),
            Some(("a.png".into(), Dropped::BadChecksum))
        );
        assert_eq!(take(entry("A.png", &good)), None);
        assert_eq!(
            take(entry("a.png", &good)),
            Some(("a.png".into(), Dropped::Collides("A.png".into())))
        );
        // Ignored names are left out without a word.
        assert_eq!(take(entry("node_modules/x.js", &good)), None);
        assert_eq!(paths(&files), ["A.png"]);
    }
}
