//! The session's picture of both sides and of the last sync: the base (kept in the state store
//! as it changes), the local files and folders, the remote files and folders. It plans over that
//! picture and records what a transfer achieved. It must never read the folder or call the
//! server: the session brings it what it saw.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use hyperclay_protocol::{Checksum, Entry, collision_key};

use crate::home::state_store::StateStore;
use crate::local::Stamp;
use crate::rules::plan::{
    self, Action, BaseRecord, FolderAction, Key, LocalFile, RemoteFile, key_of,
};
use crate::session::remote_files::{RemoteFiles, local_collisions};

/// A copy of `map` in new allocations, its B-tree nodes full (it is built from sorted entries).
pub(crate) fn fresh<K: Ord + Clone, V: Clone>(map: &BTreeMap<K, V>) -> BTreeMap<K, V> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A copy of `map` in new allocations, its table no bigger than its entries need (a clone
/// would keep the old one's size).
pub(crate) fn fresh_index<K: Eq + Hash + Clone, V: Clone>(map: &HashMap<K, V>) -> HashMap<K, V> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub(crate) struct Picture {
    pub(crate) store: StateStore,
    pub(crate) base: BTreeMap<Key, BaseRecord>,
    pub(crate) local: BTreeMap<String, LocalFile>,
    /// [`collision_key`] → the local path that holds it: a second local name that a Windows or
    /// macOS filesystem could not tell apart from it is never uploaded. Only paths that differ
    /// from their key are here; one that is its own key (most names) holds it by being in
    /// `local`, which spares two strings per file.
    local_keys: HashMap<String, String>,
    pub(crate) remote: RemoteFiles,
    /// The folders both sides had at the last sync, and each side's folders now.
    pub(crate) base_folders: BTreeSet<String>,
    pub(crate) local_folders: BTreeSet<String>,
    pub(crate) remote_folders: BTreeSet<String>,
}

impl Picture {
    pub(crate) fn new(
        store: StateStore,
        base: BTreeMap<Key, BaseRecord>,
        base_folders: BTreeSet<String>,
        remote: RemoteFiles,
        remote_folders: BTreeSet<String>,
    ) -> Picture {
        Picture {
            store,
            base,
            local: BTreeMap::new(),
            local_keys: HashMap::new(),
            remote,
            base_folders,
            local_folders: BTreeSet::new(),
            remote_folders,
        }
    }

    /// A full scan's files replace the local side. Names a case-insensitive or normalising
    /// filesystem could not tell from another synced name are left out; returned as (skipped,
    /// the name that keeps its place) pairs.
    pub(crate) fn scanned(&mut self, local: BTreeMap<String, LocalFile>) -> Vec<(String, String)> {
        self.local = local;
        let base_paths: BTreeSet<&str> =
            self.base.values().map(|b| b.local_path.as_str()).collect();
        let (keys, colliding) = local_collisions(&self.local, &base_paths, &self.remote);
        self.local_keys = keys.into_iter().filter(|(key, path)| key != path).collect();
        for (path, _) in &colliding {
            self.local.remove(path);
        }
        colliding
    }

    /// Packs the per-file maps tight once a burst of changes is over. A map that grew one
    /// insert at a time (a first sync's records, a listing read page by page) keeps its
    /// B-tree nodes about half full, and its paths were allocated wherever the transfer threads
    /// and the listing's buffers left room: freed around them, those pages stay resident with
    /// a few live bytes each. Rebuilt as fresh copies on this thread, every node is full and the
    /// paths sit together; the old copies go, and with them the pages they kept. Same entries.
    pub(crate) fn compact(&mut self) {
        self.base = fresh(&self.base);
        self.local = fresh(&self.local);
        self.local_keys = fresh_index(&self.local_keys);
        self.base_folders = self.base_folders.iter().cloned().collect();
        self.local_folders = self.local_folders.iter().cloned().collect();
        self.remote_folders = self.remote_folders.iter().cloned().collect();
        self.remote.compact();
    }

    /// The synced name a filesystem could not tell from `path`, if another holds it.
    pub(crate) fn held_by_another(&self, path: &str) -> Option<String> {
        self.remote.collides(path).map(str::to_owned).or_else(|| {
            let key = collision_key(path);
            let held = match self.local_keys.get(&key) {
                Some(held) => held.as_str(),
                None => self.local.get_key_value(key.as_str())?.0.as_str(),
            };
            (held != path).then(|| held.to_owned())
        })
    }

    /// A local file read after a watcher event takes its place in the picture (and its
    /// collision key, from whoever held it).
    pub(crate) fn local_seen(&mut self, file: LocalFile) {
        let key = collision_key(&file.path);
        if key == file.path {
            self.local_keys.remove(&key);
        } else {
            self.local_keys.insert(key, file.path.clone());
        }
        self.local.insert(file.path.clone(), file);
    }

    /// A local file went away; true if the picture had it.
    pub(crate) fn local_gone(&mut self, path: &str) -> bool {
        if self
            .local_keys
            .get(&collision_key(path))
            .is_some_and(|p| p == path)
        {
            self.local_keys.remove(&collision_key(path));
        }
        self.local.remove(path).is_some()
    }

    /// The whole plan over the picture.
    pub(crate) fn plan_all(&self) -> Vec<Action> {
        plan::plan(&self.base, &self.local, self.remote.by_path())
    }

    /// The plan for `keys` alone.
    pub(crate) fn plan_keys(&self, keys: &BTreeSet<Key>) -> Vec<Action> {
        let base = self
            .base
            .iter()
            .filter(|(k, _)| keys.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let local = self
            .local
            .iter()
            .filter(|(p, _)| keys.contains(&key_of(p)))
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        let remote = keys
            .iter()
            .filter_map(|k| self.remote.get_by_key(k))
            .map(|f| (f.path.clone(), f.clone()))
            .collect();
        plan::plan(&base, &local, &remote)
    }

    /// The folder plan for `paths` alone (their local side already looked at afresh).
    pub(crate) fn plan_folder_paths(&self, paths: &BTreeSet<String>) -> Vec<FolderAction> {
        let only = |set: &BTreeSet<String>| set.intersection(paths).cloned().collect();
        plan::plan_folders(
            &only(&self.base_folders),
            &only(&self.local_folders),
            &only(&self.remote_folders),
        )
    }

    pub(crate) fn plan_all_folders(&self) -> Vec<FolderAction> {
        plan::plan_folders(
            &self.base_folders,
            &self.local_folders,
            &self.remote_folders,
        )
    }

    /// A local change to a file whose remote copy is still the synced one was made after that
    /// sync, whatever its mtime says (`cp -p`, `rsync -t` and `touch -r` put an old one back):
    /// it goes up as newer than the synced remote copy, so the server does not refuse it as
    /// stale and take it for the losing side.
    pub(crate) fn after_base(&self, key: &Key, local: &mut LocalFile, replaces: Option<Checksum>) {
        if let Some(b) = self.base.get(key)
            && replaces == Some(b.checksum)
            && local.mtime <= b.remote_modified
        {
            local.mtime = b.remote_modified.offset_by(1);
        }
    }

    /// Is a transfer that replaces `replaces` on the other side settled by last write wins,
    /// both sides having changed since the last sync?
    pub(crate) fn is_conflict(&self, key: &Key, replaces: Option<Checksum>) -> bool {
        replaces.is_some_and(|c| self.base.get(key).is_none_or(|b| b.checksum != c))
    }

    pub(crate) fn put_base(&mut self, key: &Key, record: BaseRecord) {
        if let Err(e) = self.store.put_base(key, &record) {
            log::warn!("Cannot update the sync state: {e}");
        }
        self.base.insert(key.clone(), record);
    }

    pub(crate) fn forget_base(&mut self, key: &Key) {
        self.base.remove(key);
        if let Err(e) = self.store.forget_base(key) {
            log::warn!("Cannot update the sync state: {e}");
        }
    }

    pub(crate) fn put_base_folder(&mut self, path: &str) {
        if let Err(e) = self.store.put_folder(path) {
            log::warn!("Cannot update the sync state: {e}");
        }
        self.base_folders.insert(path.to_owned());
    }

    /// Records many folders in the base in one transaction (one commit, not one per folder).
    pub(crate) fn put_base_folders(&mut self, paths: &[String]) {
        let recorded = self.store.put_folders(paths);
        if let Err(e) = recorded {
            log::warn!("Cannot update the sync state: {e}");
        }
        self.base_folders.extend(paths.iter().cloned());
    }

    pub(crate) fn forget_base_folder(&mut self, path: &str) {
        self.base_folders.remove(path);
        if let Err(e) = self.store.forget_folder(path) {
            log::warn!("Cannot update the sync state: {e}");
        }
    }

    pub(crate) fn put_hash(&self, path: &str, stamp: Stamp, local: &LocalFile) {
        if let Err(e) = self.store.put_hash(path, stamp, local.checksum) {
            log::warn!("Cannot save the hash cache: {e}");
        }
    }

    /// An upload went through: the server's entry is the remote side now, and the base.
    pub(crate) fn uploaded(&mut self, key: &Key, local: LocalFile, stamp: Stamp, entry: Entry) {
        self.put_hash(&local.path, stamp, &local);
        self.put_base(
            key,
            BaseRecord {
                checksum: local.checksum,
                size: local.size,
                local_mtime: local.mtime,
                remote_modified: entry.modified_at,
                local_path: local.path.clone(),
                remote_path: entry.path.clone(),
            },
        );
        // A moved app: the old remote path is no longer where it lives.
        let old = self.remote.get_by_key(key).map(|f| f.path.clone());
        if let Some(old) = old.filter(|p| *p != entry.path) {
            self.remote.remove(&old);
        }
        self.remote.insert(RemoteFile {
            path: entry.path,
            size: local.size,
            modified_at: entry.modified_at,
            checksum: local.checksum,
        });
        self.local.insert(local.path.clone(), local);
    }

    /// A download is in place: both sides hold the server's copy now.
    pub(crate) fn downloaded(
        &mut self,
        key: &Key,
        remote: RemoteFile,
        local: LocalFile,
        stamp: Option<Stamp>,
    ) {
        if let Some(stamp) = stamp {
            self.put_hash(&local.path, stamp, &local);
        }
        self.put_base(
            key,
            BaseRecord {
                checksum: local.checksum,
                size: local.size,
                local_mtime: local.mtime,
                remote_modified: remote.modified_at,
                local_path: local.path.clone(),
                remote_path: remote.path.clone(),
            },
        );
        self.remote.insert(remote);
        self.local.insert(local.path.clone(), local);
    }
}
