//! The session's bookkeeping: what it knows of both sides (the picture), what it owes (the
//! schedule, the echoes to expect, the stalled transfers) and what it told the user (the sync
//! issues). It turns a plan into the transfers to run and folds each transfer's outcome back in.
//! It must never run a transfer or call the server itself.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use hyperclay_protocol::{Checksum, Entry, Timestamp};

use crate::home::state_store::{Identity, StateStore, StoreError};
use crate::local::Stamp;
use crate::local::ignore::Rules;
use crate::remote::RemoteError;
use crate::rules::fault::{self, FileFault, SessionEnd, session_end};
use crate::rules::plan::{Action, BaseRecord, FolderAction, Key, LocalFile, key_of};
use crate::rules::schedule::{self, Attempt, Echoes, Schedule, Stalls};
use crate::session::issues::{self, Issues, Told};
use crate::session::picture::Picture;
use crate::session::remote_files::{Changes, RemoteFiles};
use crate::session::transfer::{Outcome, Transfer};
use crate::status::report::Reporter;

/// The session's memory, behind named operations: the session says what happened (a watcher
/// signal, a scan, a poll's entries, a transfer's outcome) and asks what to do next; it never
/// reaches into the picture, the schedule or the issues itself.
pub(crate) struct Book {
    picture: Picture,
    schedule: Schedule,
    echoes: Echoes,
    stalls: Stalls,
    issues: Issues,
    /// How often the account's site count is asked while an app is held back.
    poll_interval: Duration,
}

/// What the watcher saw, as the book takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Its queue overflowed: everything must be looked at again.
    Overflow,
    /// A folder appeared (with or without entries already in it).
    Folder { empty: bool },
    /// A file was written and closed: read it now.
    Saved(String),
    /// A file changed with no close event: read it once it is quiet.
    Changed(String),
}

/// The work that came due, in the order to do it.
#[derive(Debug, Default)]
pub(crate) struct Due {
    /// A full rescan (the watcher overflowed, or a folder appeared).
    pub(crate) rescan: bool,
    /// Paths to read and push, each with whether it already waited for a write after emptying.
    pub(crate) looks: Vec<(String, bool)>,
    /// The plan for the files whose retry came due.
    pub(crate) retries: Vec<Action>,
}

/// The transfers a plan calls for, and which of them settle a conflict.
pub(crate) struct Prepared {
    pub(crate) transfers: Vec<Transfer>,
    pub(crate) conflicts: HashSet<Key>,
}

impl Book {
    /// A session's book: its `picture` of both sides, the issues the engine already shows
    /// (path, whether the file is unsynced), and how often the quota is checked.
    pub(crate) fn new(
        picture: Picture,
        known_issues: impl IntoIterator<Item = (String, bool)>,
        poll_interval: Duration,
    ) -> Book {
        Book {
            picture,
            schedule: Schedule::default(),
            echoes: Echoes::default(),
            stalls: Stalls::default(),
            issues: Issues::new(known_issues),
            poll_interval,
        }
    }

    /// The book of a session that starts: the last sync's base from the state store of
    /// (home, folder, identity), the remote side as the full listing found it (files, folders).
    pub(crate) fn open(
        (home, folder, who): (&Path, &Path, Identity<'_>),
        (remote, remote_folders): (RemoteFiles, BTreeSet<String>),
        known_issues: impl IntoIterator<Item = (String, bool)>,
        poll_interval: Duration,
    ) -> Result<Book, StoreError> {
        let store = StateStore::open(home, folder, who)?;
        let base = store.base()?;
        let base_folders = store.folders()?;
        let picture = Picture::new(store, base, base_folders, remote, remote_folders);
        Ok(Book::new(picture, known_issues, poll_interval))
    }

    // What the watcher saw, and what time brings due.

    pub(crate) fn watcher_saw(&mut self, seen: Seen, now: Instant) {
        match seen {
            Seen::Overflow => self.schedule.rescan(),
            Seen::Folder { empty } => self.schedule.folder_appeared(!empty, now),
            Seen::Saved(rel) => self.schedule.saved(rel, now),
            Seen::Changed(rel) => self.schedule.changed(rel, now),
        }
    }

    /// Takes the work due at `now`: each piece is handed out once.
    pub(crate) fn take_due(&mut self, now: Instant) -> Due {
        let rescan = self.schedule.take_rescan(now);
        let looks = self.schedule.take_looks(now);
        let keys: BTreeSet<Key> = self.schedule.take_retries(now).into_iter().collect();
        let retries = match keys.is_empty() {
            true => Vec::new(),
            false => self.picture.plan_keys(&keys),
        };
        Due {
            rescan,
            looks,
            retries,
        }
    }

    /// Whether the account's site count is to be asked (an app is held back by the quota).
    pub(crate) fn quota_check_due(&self, now: Instant) -> bool {
        self.issues.next_quota_check().is_some_and(|at| at <= now)
    }

    /// Whether to poll now, given whether the feed's own interval says so: a poll retry that
    /// came due always does; the feed's poll waits while a retry is pending.
    pub(crate) fn poll_due(&self, feed_due: bool, now: Instant) -> bool {
        self.schedule.poll_retry_due(now) || (feed_due && !self.schedule.poll_waiting(now))
    }

    /// The book's next deadline, given the feed's (ignored while a poll retry is pending).
    pub(crate) fn next_wake(&self, feed: Option<Instant>, now: Instant) -> Option<Instant> {
        let feed = feed.filter(|_| !self.schedule.poll_waiting(now));
        [
            feed,
            self.schedule.next_wake(now),
            self.issues.next_quota_check(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How many paths wait to be read and pushed (not due yet, or due and not taken). While
    /// `in_burst` a pending rescan counts as one too, since it may find any number (a tree
    /// being copied in: it finds what the watcher missed); otherwise it is a precaution (our
    /// own folders coming back, a second look at an empty one), and one due runs in the same
    /// step that noted it. Our own downloads coming back are no work of the user's: they are
    /// left out, as in [`Book::is_work`].
    pub(crate) fn looks_pending(&self, in_burst: bool) -> usize {
        let echoes = &self.echoes;
        let rescan = in_burst && self.schedule.rescan_pending();
        self.schedule.looks_pending_but(|p| echoes.awaits(p)) + usize::from(rescan)
    }

    /// Whether a look at `rel` counts as work in a burst's "N of M" (not an awaited echo).
    pub(crate) fn is_work(&self, rel: &str) -> bool {
        !self.echoes.awaits(rel)
    }

    /// How many files wait for another try of their transfer.
    pub(crate) fn retries_pending(&self) -> usize {
        self.schedule.retries_pending()
    }

    pub(crate) fn poll_done(&mut self) {
        self.schedule.poll_done();
    }

    pub(crate) fn poll_failed(&mut self, now: Instant) -> Attempt {
        self.schedule.poll_failed(now)
    }

    // A full reconcile: the scan of the folder against the listing.

    /// The hash cache the scan reads files against (empty if the store cannot be read).
    pub(crate) fn hash_cache(&self) -> HashMap<String, (Stamp, Checksum)> {
        self.picture.store.hashes().unwrap_or_default()
    }

    /// A scan's hashes replace the cache that it was read against.
    pub(crate) fn save_hash_cache(
        &mut self,
        before: &HashMap<String, (Stamp, Checksum)>,
        now: &HashMap<String, (Stamp, Checksum)>,
    ) {
        if let Err(e) = self.picture.store.update_hashes(before, now) {
            log::warn!("Cannot save the hash cache: {e}");
        }
    }

    /// A full scan starts: every echo expected so far is moot, the scan sees the files as they
    /// are.
    pub(crate) fn rescanning(&mut self) {
        self.echoes.forget_all();
    }

    /// The folders the scan found; returns the folder plan over both sides.
    pub(crate) fn folders_scanned(&mut self, folders: BTreeSet<String>) -> Vec<FolderAction> {
        self.picture.local_folders = folders;
        self.picture.plan_all_folders()
    }

    /// The files the scan found; names another synced name already holds become issues.
    pub(crate) fn files_scanned(
        &mut self,
        files: BTreeMap<String, LocalFile>,
        reporter: &Reporter,
    ) {
        for (path, held) in self.picture.scanned(files) {
            self.issues
                .tell(reporter, issues::local_collision(&path, &held));
        }
    }

    /// The plan over every file; uploads of files written too recently (by `server_now`) wait
    /// for a later look instead, as a write may still be going on.
    pub(crate) fn plan_all_files(&mut self, server_now: Timestamp, now: Instant) -> Vec<Action> {
        let mut actions = self.picture.plan_all();
        actions.retain(|a| match a {
            Action::Upload { local, .. }
                if schedule::written_too_recently(local.mtime, server_now) =>
            {
                self.schedule.written_recently(local.path.clone(), now);
                false
            }
            _ => true,
        });
        actions
    }

    // One local file, looked at after a watcher signal.

    /// Whether `rel` with `stamp` is our own download coming back.
    pub(crate) fn is_echo(&mut self, rel: &str, stamp: Option<Stamp>) -> bool {
        self.echoes.is_echo(rel, stamp)
    }

    /// `rel` is gone from the folder: its issue is over, and the plan for it (a remote edit
    /// the session already knows of must now come down; a deletion never goes up).
    pub(crate) fn local_gone(&mut self, reporter: &Reporter, rel: &str) -> Vec<Action> {
        self.issues.gone(reporter, rel);
        match self.picture.local_gone(rel) {
            true => self.picture.plan_keys(&BTreeSet::from([key_of(rel)])),
            false => Vec::new(),
        }
    }

    /// What the last sync recorded for `key`.
    pub(crate) fn synced_record(&self, key: &Key) -> Option<&BaseRecord> {
        self.picture.base.get(key)
    }

    /// `rel` was emptied: it is looked at again after the grace for its next write.
    pub(crate) fn wait_for_next_write(&mut self, rel: &str, now: Instant) {
        self.schedule.emptied(rel.to_owned(), now);
    }

    /// Starts one transaction for the hash cache updates of many looks (one commit, not one
    /// per file); [`Book::end_batch`] commits it. Not around [`Book::apply_all`], which has its
    /// own. False when the store would not start one (each update then commits alone).
    pub(crate) fn begin_batch(&mut self) -> bool {
        match self.picture.store.begin() {
            Ok(()) => true,
            Err(e) => {
                log::warn!("Cannot batch the sync state updates: {e}");
                false
            }
        }
    }

    pub(crate) fn end_batch(&mut self, began: bool) {
        if began && let Err(e) = self.picture.store.commit() {
            log::warn!("Cannot update the sync state: {e}");
        }
    }

    pub(crate) fn remember_hash(&self, rel: &str, stamp: Stamp, checksum: Checksum) {
        if let Err(e) = self.picture.store.put_hash(rel, stamp, checksum) {
            log::warn!("Cannot save the hash cache: {e}");
        }
    }

    /// The synced name that already holds `rel`'s place on a case-insensitive or normalising
    /// filesystem, if another does.
    pub(crate) fn held_by_another(&self, rel: &str) -> Option<String> {
        self.picture.held_by_another(rel)
    }

    /// `file` as read now, for the plan. Returns the plan for it, or nothing when it holds what
    /// the last sync recorded (our own download coming back, or a save without changes).
    pub(crate) fn local_read(&mut self, reporter: &Reporter, file: LocalFile) -> Vec<Action> {
        let key = key_of(&file.path);
        let unchanged = self
            .synced_record(&key)
            .is_some_and(|b| b.checksum == file.checksum && b.local_path == file.path);
        let path = file.path.clone();
        self.picture.local_seen(file);
        if unchanged {
            self.issues.unchanged(reporter, &path);
            return Vec::new();
        }
        self.picture.plan_keys(&BTreeSet::from([key]))
    }

    // Remote changes.

    /// One listing entry from a poll, taken into the picture of the remote side.
    pub(crate) fn take_remote_entry(&mut self, changes: &mut Changes, rules: &Rules, entry: Entry) {
        let (files, folders) = (&mut self.picture.remote, &mut self.picture.remote_folders);
        changes.take(rules, files, folders, entry);
    }

    /// The plan for `keys` (changed remotely, or due again).
    pub(crate) fn plan(&self, keys: &BTreeSet<Key>) -> Vec<Action> {
        self.picture.plan_keys(keys)
    }

    // The sync issues.

    pub(crate) fn tell(&mut self, reporter: &Reporter, told: Told) {
        self.issues.tell(reporter, told);
    }

    pub(crate) fn resolved(&mut self, reporter: &Reporter, path: &str) {
        self.issues.resolved(reporter, path);
    }

    pub(crate) fn gone(&mut self, reporter: &Reporter, path: &str) {
        self.issues.gone(reporter, path);
    }

    /// At a session's start: an app held back before is held back still, until it syncs.
    pub(crate) fn settle_held_back(&mut self, reporter: &Reporter) {
        self.issues.settle_held_back(reporter);
    }

    /// The quota is being asked now: the next ask is a poll interval away, whatever the answer.
    pub(crate) fn quota_asked(&mut self, now: Instant) {
        self.issues.quota_checked(now + self.poll_interval);
    }

    /// The plan for the apps held back by the quota (the account has a site free now).
    pub(crate) fn held_back_plan(&self) -> Vec<Action> {
        self.picture.plan_keys(&self.issues.held_back_keys())
    }

    // Folders.

    /// Whether folder `p` is here now, as looked at afresh.
    pub(crate) fn folder_here(&mut self, p: &str, here: bool) {
        match here {
            true => self.picture.local_folders.insert(p.to_owned()),
            false => self.picture.local_folders.remove(p),
        };
    }

    pub(crate) fn plan_folders(&self, paths: &BTreeSet<String>) -> Vec<FolderAction> {
        self.picture.plan_folder_paths(paths)
    }

    pub(crate) fn folder_recorded(&mut self, p: &str) {
        self.picture.put_base_folder(p);
    }

    pub(crate) fn folder_forgotten(&mut self, p: &str) {
        self.picture.forget_base_folder(p);
    }

    /// Folders made here (durable already): recorded in the base in one transaction.
    pub(crate) fn folders_made(&mut self, made: &[String], reporter: &Reporter) {
        for p in made {
            self.picture.local_folders.insert(p.clone());
            self.issues.resolved(reporter, p);
        }
        self.picture.put_base_folders(made);
    }

    /// Folder `p` was created on the server.
    pub(crate) fn folder_pushed(&mut self, p: &str, reporter: &Reporter) {
        self.picture.remote_folders.insert(p.to_owned());
        self.picture.put_base_folder(p);
        self.issues.resolved(reporter, p);
    }

    /// Every folder of a pass went up: no folder retry is pending.
    pub(crate) fn folder_pushes_done(&mut self) {
        self.schedule.folders_pushed();
    }

    pub(crate) fn folder_push_failed(&mut self, now: Instant) -> Attempt {
        self.schedule.folder_push_failed(now)
    }

    // Transfers.

    /// Every outcome of a set of transfers folded in, the state store updated in one
    /// transaction (a commit per file was a tenth of a first sync). The first session-ending
    /// outcome is returned after all are applied.
    pub(crate) fn apply_all(
        &mut self,
        outcomes: Vec<Outcome>,
        conflicts: &HashSet<Key>,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        let batch = self.picture.store.begin();
        if let Err(e) = &batch {
            log::warn!("Cannot batch the sync state updates: {e}");
        }
        let mut end = None;
        for outcome in outcomes {
            if let Err(e) = self.apply(outcome, conflicts, reporter) {
                end.get_or_insert(e);
            }
        }
        if batch.is_ok()
            && let Err(e) = self.picture.store.commit()
        {
            log::warn!("Cannot update the sync state: {e}");
        }
        end.map_or(Ok(()), Err)
    }

    /// After a burst: the per-file maps are packed tight and the state store's caches go back
    /// to the system.
    pub(crate) fn release_memory(&mut self) {
        self.picture.compact();
        self.picture.store.release_memory();
    }

    /// `key` (at local `path`) is in sync now.
    fn synced(&mut self, reporter: &Reporter, key: &Key, path: &str) {
        self.stalls.moved(key);
        self.schedule.transfer_done(key);
        self.issues.synced(reporter, key, path);
    }

    /// Does the bookkeeping `actions` call for and returns the transfers they need.
    pub(crate) fn prepare(&mut self, actions: Vec<Action>, reporter: &Reporter) -> Prepared {
        let mut transfers = Vec::new();
        let mut conflicts = HashSet::new();
        for action in actions {
            match action {
                Action::Record { key, record } => {
                    let path = record.local_path.clone();
                    self.picture.put_base(&key, record);
                    self.synced(reporter, &key, &path);
                }
                Action::Forget { key } => self.picture.forget_base(&key),
                Action::IgnoreDuplicate { key, local_path } => {
                    self.issues
                        .tell(reporter, issues::duplicate_app(&local_path, &key));
                }
                transfer if self.stalls.blocks(&transfer) => {
                    log::debug!("skip {transfer:?}: the same transfer stalled earlier");
                }
                Action::Upload {
                    key,
                    mut local,
                    remote_path,
                    replaces,
                } => {
                    if self.picture.is_conflict(&key, replaces) {
                        conflicts.insert(key.clone());
                    }
                    self.picture.after_base(&key, &mut local, replaces);
                    transfers.push(Transfer::Upload {
                        key,
                        local,
                        remote_path,
                    });
                }
                Action::Download {
                    key,
                    remote,
                    local_path,
                    replaces,
                } => {
                    if self.picture.is_conflict(&key, replaces) {
                        conflicts.insert(key.clone());
                    }
                    transfers.push(Transfer::Download {
                        key,
                        remote,
                        local_path,
                        replaces,
                    });
                }
            }
        }
        Prepared {
            transfers,
            conflicts,
        }
    }

    /// The bookkeeping of one transfer's outcome: the picture, the schedule, the issues.
    fn apply(
        &mut self,
        outcome: Outcome,
        conflicts: &HashSet<Key>,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        match outcome {
            Outcome::Downloaded {
                local,
                staged: Some(_),
                ..
            } => {
                // Never reached: staged files are published before outcomes are applied. Were
                // one to slip through, its temp is dropped here, so it must not be recorded as
                // synced.
                log::error!(
                    "{} was staged but never published; looking again",
                    local.path
                );
                self.schedule.look_again(local.path, Instant::now());
            }
            Outcome::Uploaded {
                key,
                local,
                stamp,
                entry,
            } => {
                log::info!("upload {} -> {}", local.path, entry.path);
                let (path, remote_path) = (local.path.clone(), entry.path.clone());
                // The losing side: the server's copy the upload replaced.
                let loser = self.picture.remote.get_by_key(&key).map(|f| f.checksum);
                self.picture.uploaded(&key, local, stamp, entry);
                self.synced(reporter, &key, &path);
                if conflicts.contains(&key) {
                    let backup = format!("the server's version history of {remote_path}");
                    self.issues
                        .tell(reporter, issues::conflict(&path, backup, loser));
                }
            }
            Outcome::Downloaded {
                key,
                remote,
                local,
                stamp,
                backup,
                staged: None,
            } => {
                if let Some(b) = &backup {
                    log::info!("backup {} -> {b}", local.path);
                }
                log::info!("download {} -> {}", remote.path, local.path);
                let path = local.path.clone();
                // The losing side: the local content the download replaced (backed up).
                let loser = self.picture.local.get(&path).map(|f| f.checksum);
                if let Some(stamp) = stamp {
                    self.echoes.expect(path.clone(), stamp);
                }
                self.picture.downloaded(&key, remote, local, stamp);
                self.synced(reporter, &key, &path);
                if let Some(b) = backup.filter(|_| conflicts.contains(&key)) {
                    self.issues
                        .tell(reporter, issues::conflict(&path, b, loser));
                }
            }
            Outcome::Stalled { key, path, what } => {
                let direction = match what {
                    schedule::Stalled::Download(_) => "download",
                    schedule::Stalled::Upload(_) => "upload",
                };
                log::warn!(
                    "{direction} of {path} stalled; will try again when it changes or at the next session"
                );
                self.stalls.stalled(key, what);
            }
            Outcome::Replan(path) => {
                log::info!("skip {path}: changed while syncing; looking again");
                self.schedule.look_again(path, Instant::now());
            }
            Outcome::WriteRefused(path, why) => self.issues.write_refused(reporter, path, why),
            Outcome::Skipped { path, why } => log::info!("skip {path}: {why}"),
            Outcome::Failed {
                path,
                error: RemoteError::Stalled(why),
                ..
            } => {
                // The server's copy that a stale upload went to fetch; the local file stays.
                log::warn!(
                    "download of {path} stalled ({why}); will try again when it changes or at the next session"
                );
            }
            Outcome::Failed { key, path, error } => return self.failed(key, path, error, reporter),
        }
        Ok(())
    }

    /// One file's transfer failed: what it means is `fault`'s to say.
    fn failed(
        &mut self,
        key: Key,
        path: String,
        error: RemoteError,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        match fault::file_fault(&error) {
            FileFault::Retry => match self.schedule.transfer_failed(key, Instant::now()) {
                Attempt::RetryAt(_) => log::info!("{path}: {error}; trying again shortly"),
                Attempt::GiveUp => self.issues.tell(reporter, issues::failed(&path, &error)),
            },
            FileFault::EndSession => {
                log::error!("error {path}: {error}");
                return Err(session_end(error));
            }
            FileFault::HeldBack => {
                let check_at = Instant::now() + self.poll_interval;
                self.issues.held_back(reporter, key, &path, check_at);
            }
            FileFault::Tell(user_error) => {
                self.issues.tell(reporter, issues::failed(&path, &error));
                reporter.update(|s| s.error = Some(user_error));
            }
            FileFault::Gone => log::info!("skip {path}: no longer on the server"),
            FileFault::Issue => self.issues.tell(reporter, issues::failed(&path, &error)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
