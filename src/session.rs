//! One session = one connection to the server: status (clock offset, paid check), the full
//! paged listing, the local scan, the plan and its execution; then pushes from the watcher and
//! waits for remote changes with the cursor (long-polling on its own thread, see
//! `changes_wait`; a plain poll against servers without it). When the connection fails the session ends (offline) and a new one
//! reconciles both sides later: nothing is queued. It must never write outside the folder, never
//! delete anything remotely, and never overwrite a local file without a backup.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyperclay_protocol::{Checksum, Entry, EntryKind, RemotePath, Timestamp, collision_key};

use crate::changes_wait::{ChangesWait, WaitReply};
use crate::config::EngineConfig;
use crate::event::Event;
use crate::folder_guard::{self, GuardError};
use crate::listing::{ListingError, ListingGuard};
use crate::local::ignore::{IGNORE_FILE, Rules};
use crate::local::{self, Notice, ReadOutcome, Snapshot, Verdict, write};
use crate::plan::{self, Action, BaseRecord, FolderAction, Key, LocalFile, RemoteFile, key_of};
use crate::remote::{Remote, RemoteError, with_retries};
use crate::report::{Reporter, user_error};
use crate::state::UserError;
use crate::state_store::{Identity, Stamp, StateStore};
use crate::transfer::{Ctx, Outcome, Stalled};
use crate::watch::FsSignal;

/// Transfers at once during the first sync of a session.
const PARALLEL_TRANSFERS: usize = 4;
/// How many staged new files are made durable together (see `publish`).
const PUBLISH_BATCH: usize = 128;
/// A file that just became empty is usually mid-save (truncate, then write): wait this long for
/// its next write before believing it.
const EMPTY_GRACE: Duration = Duration::from_millis(1500);
/// A file the scan finds modified this recently may still be being written.
const FRESH_WRITE: Duration = Duration::from_secs(1);
/// Without a close-after-write event (non-Linux), a path is read after this much quiet; also the
/// wait before the second look into a new folder.
const QUIET: Duration = Duration::from_millis(200);

/// Why a session stopped.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    Offline(String),
    Unauthorized,
    SubscriptionRequired,
    Restart(String),
    /// The sync folder is missing or replaced: paused until it is back (no call is made).
    FolderUnavailable(GuardError),
    Failed(String),
}

fn end_of(e: RemoteError) -> SessionEnd {
    match e {
        RemoteError::Unreachable(m) | RemoteError::Network(m) => SessionEnd::Offline(m),
        RemoteError::Server { status, message } => {
            SessionEnd::Offline(format!("server error {status}: {message}"))
        }
        RemoteError::Unauthorized => SessionEnd::Unauthorized,
        RemoteError::SubscriptionRequired => SessionEnd::SubscriptionRequired,
        RemoteError::CursorExpired => SessionEnd::Restart("the cursor expired".into()),
        other => SessionEnd::Failed(other.to_string()),
    }
}

/// Numbers sessions, so a long-poll reply that outlived its session is recognised and dropped.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

/// A listing the server would not end: the session stops rather than grow without bound.
fn listing_end(e: ListingError) -> SessionEnd {
    SessionEnd::Failed(e.to_string())
}

struct Pending {
    due: Instant,
    waited_empty: bool,
}

pub(crate) struct Session {
    id: u64,
    remote: Remote,
    folder: PathBuf,
    /// The ignore rules read at the start; a change to the ignore file starts a new session.
    rules: Rules,
    store: StateStore,
    base: BTreeMap<Key, BaseRecord>,
    local: BTreeMap<String, LocalFile>,
    /// [`collision_key`] → the local path that holds it: a second local name that a Windows or
    /// macOS filesystem could not tell apart from it is never uploaded.
    local_keys: HashMap<String, String>,
    remote_files: RemoteFiles,
    /// The folders both sides had at the last sync, and each side's folders now.
    base_folders: BTreeSet<String>,
    local_folders: BTreeSet<String>,
    remote_folders: BTreeSet<String>,
    cursor: String,
    offset_ms: i64,
    poll_interval: Duration,
    /// When the next plain poll is due; unused while long-polling.
    next_poll: Instant,
    /// The long-poll thread, while the server long-polls.
    waiter: Option<ChangesWait>,
    /// A long-poll reply not yet applied.
    arrived: Option<WaitReply>,
    pending: HashMap<String, Pending>,
    /// Files our downloads wrote, with the stamp they were left with, until the watcher's echo.
    downloaded: HashMap<String, Stamp>,
    /// Transfers abandoned as stalled, with what they were moving: not planned again in this
    /// session until that changes (a rescan or another event would only stall again).
    stalled: HashMap<Key, Stalled>,
    /// Local paths the folder refused to let us write: the user sees an error until each of
    /// them is written (or a new session starts).
    refused: BTreeSet<String>,
    rescan: bool,
    /// A second look at the folder a moment after a folder appeared: files written into it
    /// before the watcher had added it produce no events at all.
    rescan_at: Option<Instant>,
    shutdown: Arc<AtomicBool>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Session {
    pub(crate) fn start(
        mut remote: Remote,
        config: &EngineConfig,
        folder: &Path,
        reporter: &Reporter,
        tx: Sender<Event>,
    ) -> Result<Session, SessionEnd> {
        remote.set_stall_window(config.stall_window);
        // Local checks first: a missing folder or a broken ignore file makes no call at all.
        folder_guard::check(&config.home, folder).map_err(SessionEnd::FolderUnavailable)?;
        let rules = Rules::load(folder).map_err(|e| SessionEnd::Failed(e.to_string()))?;
        let (status, offset_ms) = remote.status().map_err(end_of)?;
        if status.plan != "paid" {
            return Err(SessionEnd::SubscriptionRequired);
        }
        reporter.update(|s| {
            s.account = Some(status.user.name.clone());
            s.online = true;
            if matches!(
                s.error,
                Some(
                    UserError::SubscriptionRequired
                        | UserError::FolderNotWritable(_)
                        | UserError::FolderUnavailable(_)
                        | UserError::Other(_)
                )
            ) {
                s.error = None;
            }
        });
        log::info!(
            "Session started as {} (clock offset {offset_ms} ms)",
            status.user.name
        );
        let mut remote_files = RemoteFiles::default();
        let mut remote_folders = BTreeSet::new();
        let mut cursor: Option<String> = None;
        let mut guard = ListingGuard::new(None);
        loop {
            let (page, bytes) = remote.changes(cursor.as_deref(), None).map_err(end_of)?;
            guard.admit(&page, bytes).map_err(listing_end)?;
            for entry in page.entries {
                apply_entry(
                    &rules,
                    &mut remote_files,
                    &mut remote_folders,
                    entry,
                    reporter,
                );
            }
            cursor = Some(page.cursor);
            if !page.has_more {
                break;
            }
        }
        let folder = folder
            .canonicalize()
            .unwrap_or_else(|_| folder.to_path_buf());
        let strays = write::remove_stray_temps(&folder);
        if strays > 0 {
            log::info!("Removed {strays} temp file(s) left by an interrupted write");
        }
        let who = Identity {
            server: &config.server_url,
            account_id: &status.user.id,
        };
        let store = StateStore::open(&config.home, &folder, who)
            .map_err(|e| SessionEnd::Failed(e.to_string()))?;
        let base = store
            .base()
            .map_err(|e| SessionEnd::Failed(e.to_string()))?;
        let base_folders = store
            .folders()
            .map_err(|e| SessionEnd::Failed(e.to_string()))?;
        let events = tx.clone();
        // Watch before scanning: a save during the scan must not be missed.
        let watcher = match crate::watch::start(&folder, tx, Event::Fs) {
            Ok(w) => Some(w),
            Err(e) => {
                log::error!(
                    "Cannot watch {}: {e}; local changes sync at the next session",
                    folder.display()
                );
                None
            }
        };
        let mut session = Session {
            id: SESSIONS.fetch_add(1, Ordering::Relaxed),
            remote,
            folder,
            rules,
            store,
            base,
            local: BTreeMap::new(),
            local_keys: HashMap::new(),
            remote_files,
            base_folders,
            local_folders: BTreeSet::new(),
            remote_folders,
            cursor: cursor.unwrap_or_default(),
            offset_ms,
            poll_interval: config.poll_interval,
            next_poll: Instant::now() + config.poll_interval,
            waiter: None,
            arrived: None,
            pending: HashMap::new(),
            downloaded: HashMap::new(),
            stalled: HashMap::new(),
            refused: BTreeSet::new(),
            rescan: false,
            rescan_at: None,
            shutdown: reporter.shutdown_flag(),
            _watcher: watcher,
        };
        reporter.update(|s| {
            if matches!(s.error, Some(UserError::SiteLimit | UserError::NameTaken)) {
                s.error = None;
            }
        });
        session.reconcile_all(reporter)?;
        reporter.update(|s| s.last_sync = Some(Timestamp::now()));
        session.start_waiting(events);
        Ok(session)
    }

    /// Long-polls from now on, if its thread starts; the first reply says whether the server
    /// really does (else the session falls back to the plain poll).
    fn start_waiting(&mut self, events: Sender<Event>) {
        match ChangesWait::start(self.id, events) {
            Ok(waiter) => {
                self.waiter = Some(waiter);
                self.ask_for_changes();
            }
            Err(e) => log::warn!(
                "Cannot start waiting for remote changes ({e}); polling every {} s",
                self.poll_interval.as_secs()
            ),
        }
    }

    /// Sends the long-poll thread off with the current cursor and token.
    fn ask_for_changes(&mut self) {
        if let Some(waiter) = &self.waiter
            && !waiter.ask(self.remote.clone(), self.cursor.clone())
        {
            log::warn!("The wait for remote changes stopped; polling instead");
            self.waiter = None;
        }
    }

    /// A long-poll reply: applied at the next step (if it is this session's).
    pub(crate) fn changes_arrived(&mut self, session: u64, reply: WaitReply) {
        if session == self.id {
            self.arrived = Some(reply);
        }
    }

    pub(crate) fn set_token(&mut self, token: &str) {
        self.remote.set_token(token);
    }

    pub(crate) fn poll_due(&self) -> bool {
        self.arrived.is_some() || (self.waiter.is_none() && Instant::now() >= self.next_poll)
    }

    /// The next deadline; `None` when only an event (a watcher signal, a long-poll reply) can
    /// bring work.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let mut wake = match (&self.arrived, &self.waiter) {
            (Some(_), _) => Some(Instant::now()),
            (None, Some(_)) => None,
            (None, None) => Some(self.next_poll),
        };
        let soonest = |w: Option<Instant>, at: Instant| Some(w.map_or(at, |w| w.min(at)));
        for p in self.pending.values() {
            wake = soonest(wake, p.due);
        }
        if self.rescan {
            wake = Some(Instant::now());
        }
        if let Some(at) = self.rescan_at {
            wake = soonest(wake, at);
        }
        wake
    }

    /// A watcher signal: remember what to look at and when.
    pub(crate) fn note(&mut self, signal: FsSignal) {
        let (path, delay) = match signal {
            FsSignal::Rescan => {
                self.rescan = true;
                return;
            }
            FsSignal::Done(p) => (p, Duration::ZERO),
            FsSignal::Changed(p) => (p, QUIET),
        };
        if path.is_dir() {
            // A folder moved or created in: the rescan at once pushes it (and any folders in it)
            // and finds its files; a second one after a quiet moment catches files written
            // before the watcher had added it. A folder still empty has no files to wait for:
            // only the second look sees it, so one made and filled at once with ignored files
            // (`mkdir x && touch x/a.pyc`) never goes up as an empty folder.
            let empty = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
            self.rescan |= !empty;
            self.rescan_at = Some(Instant::now() + QUIET);
            return;
        }
        let Some(rel) = local::relative(&self.folder, &path) else {
            return;
        };
        // A new event restarts the wait for an empty file: only an emptiness that outlasts the
        // grace period with no further writes is believed.
        let due = Instant::now() + delay;
        self.pending.insert(
            rel,
            Pending {
                due,
                waited_empty: false,
            },
        );
    }

    /// Does whatever is due: a rescan, pushes, a poll.
    pub(crate) fn step(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        // Every step, before anything is read, written or sent: a folder that went away (or a
        // drive unmounted) must not look like files the user deleted.
        self.check_folder()?;
        if self.rescan_at.is_some_and(|at| at <= Instant::now()) {
            self.rescan_at = None;
            self.rescan = true;
        }
        if self.rescan {
            self.rescan = false;
            self.reconcile_all(reporter)?;
        }
        let now = Instant::now();
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for rel in due {
            if let Some(p) = self.pending.remove(&rel) {
                self.push(&rel, p.waited_empty, reporter)?;
            }
        }
        if self.poll_due() {
            self.poll(reporter)?;
        }
        Ok(())
    }

    fn check_folder(&self) -> Result<(), SessionEnd> {
        if folder_guard::marked(&self.folder) {
            return Ok(());
        }
        let why = if self.folder.is_dir() {
            GuardError::Unmarked(self.folder.clone())
        } else {
            GuardError::Missing(self.folder.clone())
        };
        Err(SessionEnd::FolderUnavailable(why))
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            remote: &self.remote,
            folder: &self.folder,
            offset_ms: self.offset_ms,
            shutdown: &self.shutdown,
            stage_new: false,
        }
    }

    /// A full local scan planned against the remote listing held by the session.
    fn reconcile_all(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        let done = self.reconcile(reporter);
        // The listing, the scan, the hash cache and the transfers are done with (all dropped
        // by now); the idle engine keeps only the snapshots, so the rest goes back to the system.
        self.store.release_memory();
        crate::memory::give_back();
        done
    }

    fn reconcile(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        // A full scan reads every file anew; echoes still awaited (a watcher that overflowed
        // sends none) would only hold memory.
        self.downloaded = HashMap::new();
        let cache = self.store.hashes().unwrap_or_default();
        self.check_folder()?;
        let scan = local::scan(&self.folder, &self.rules, &cache).map_err(|e| {
            SessionEnd::Failed(format!(
                "The sync folder {} cannot be read: {e}",
                self.folder.display()
            ))
        })?;
        for notice in &scan.notices {
            log_notice(notice, reporter);
        }
        self.local_folders = scan.folders;
        let folder_actions = plan::plan_folders(
            &self.base_folders,
            &self.local_folders,
            &self.remote_folders,
        );
        self.execute_folders(folder_actions, reporter)?;
        let hashes: HashMap<String, (Stamp, Checksum)> = scan
            .files
            .iter()
            .map(|(p, s)| (p.clone(), (s.stamp, s.checksum)))
            .collect();
        if let Err(e) = self.store.update_hashes(&cache, &hashes) {
            log::warn!("Cannot save the hash cache: {e}");
        }
        let ctx = self.ctx();
        self.local = scan
            .files
            .into_iter()
            .map(|(path, s)| {
                let file = LocalFile {
                    path: path.clone(),
                    size: s.stamp.size,
                    mtime: ctx.server_time(s.stamp),
                    checksum: s.checksum,
                };
                (path, file)
            })
            .collect();
        let base_paths: BTreeSet<&str> =
            self.base.values().map(|b| b.local_path.as_str()).collect();
        let (keys, colliding) = local_collisions(&self.local, &base_paths, &self.remote_files);
        self.local_keys = keys;
        for (path, held) in colliding {
            self.local.remove(&path);
            log_collision(&path, &held, reporter);
        }
        let mut actions = plan::plan(&self.base, &self.local, &self.remote_files.by_path);
        // A file written in the last moment may still be mid-save (a scan sees no close event):
        // its upload waits for a quiet moment, and the watcher's close event, if one comes.
        let recent = Timestamp::now().offset_by(self.offset_ms - FRESH_WRITE.as_millis() as i64);
        actions.retain(|a| match a {
            Action::Upload { local, .. } if local.mtime > recent => {
                self.pending.insert(
                    local.path.clone(),
                    Pending {
                        due: Instant::now() + QUIET,
                        waited_empty: false,
                    },
                );
                false
            }
            _ => true,
        });
        self.execute(actions, None, true, reporter)
    }

    /// A watcher signal came due for `rel`.
    fn push(
        &mut self,
        rel: &str,
        waited_empty: bool,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        if rel == IGNORE_FILE {
            // What is synced changed: a new session lists both sides again under the new rules.
            return Err(SessionEnd::Restart("the ignore rules changed".into()));
        }
        match self.rules.verdict(rel) {
            Verdict::Synced(_) => {}
            Verdict::Ignored => return Ok(()),
            Verdict::Forbidden(why) => {
                log_notice(
                    &Notice::Forbidden {
                        path: rel.to_owned(),
                        why,
                    },
                    reporter,
                );
                return Ok(());
            }
        }
        if self.own_download_echo(rel) {
            return Ok(());
        }
        let snap = match local::read_stable(&self.folder, &self.folder.join(rel)) {
            ReadOutcome::Ready(s) => s,
            ReadOutcome::Gone => {
                // The whole folder going away is not the user deleting this file.
                self.check_folder()?;
                // Deletions never propagate (the base keeps the file "deleted here"), but a remote
                // edit the session already knows about must now come down.
                if self
                    .local_keys
                    .get(&collision_key(rel))
                    .is_some_and(|p| p == rel)
                {
                    self.local_keys.remove(&collision_key(rel));
                }
                if self.local.remove(rel).is_some() {
                    let actions = self.plan_keys(&BTreeSet::from([key_of(rel)]));
                    return self.execute(actions, None, false, reporter);
                }
                return Ok(());
            }
            ReadOutcome::TooLarge(size) => {
                log_notice(
                    &Notice::TooLarge {
                        path: rel.to_owned(),
                        size,
                    },
                    reporter,
                );
                return Ok(());
            }
            ReadOutcome::Moving | ReadOutcome::NotAFile => return Ok(()),
        };
        let key = key_of(rel);
        let base = self.base.get(&key);
        if snap.bytes.is_empty() && !waited_empty && base.is_some_and(|b| b.size > 0) {
            self.pending.insert(
                rel.to_owned(),
                Pending {
                    due: Instant::now() + EMPTY_GRACE,
                    waited_empty: true,
                },
            );
            return Ok(());
        }
        if let Err(e) = self.store.put_hash(rel, snap.stamp, snap.checksum) {
            log::warn!("Cannot save the hash cache: {e}");
        }
        let held = self
            .remote_files
            .collides(rel)
            .map(str::to_owned)
            .or_else(|| {
                self.local_keys
                    .get(&collision_key(rel))
                    .filter(|p| *p != rel)
                    .cloned()
            });
        if let Some(held) = held {
            log_collision(rel, &held, reporter);
            return Ok(());
        }
        self.local_keys.insert(collision_key(rel), rel.to_owned());
        let file = LocalFile {
            path: rel.to_owned(),
            size: snap.stamp.size,
            mtime: self.ctx().server_time(snap.stamp),
            checksum: snap.checksum,
        };
        self.local.insert(rel.to_owned(), file);
        if base.is_some_and(|b| b.checksum == snap.checksum && b.local_path == rel) {
            // Our own download coming back, or a save without changes.
            return Ok(());
        }
        let actions = self.plan_keys(&BTreeSet::from([key]));
        self.execute(actions, Some((rel.to_owned(), snap)), false, reporter)
    }

    /// Is `rel` still exactly the file our download just wrote? The watcher echoes each of our
    /// own writes (a first sync makes thousands); a stat settles it instead of a read and a hash.
    /// Only downloads qualify: their mtime is the remote time we set, which no later save by the
    /// user can have, whereas a user's two saves of one size can share a coarse kernel mtime.
    fn own_download_echo(&mut self, rel: &str) -> bool {
        let Some(written) = self.downloaded.remove(rel) else {
            return false;
        };
        if self.downloaded.is_empty() {
            self.downloaded.shrink_to_fit();
        }
        std::fs::symlink_metadata(self.folder.join(rel))
            .is_ok_and(|m| m.is_file() && local::stamp_of(&m) == written)
    }

    fn poll(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        self.next_poll = Instant::now() + self.poll_interval;
        let mut next = self.take_arrived()?;
        let mut keys = BTreeSet::new();
        let mut folders = BTreeSet::new();
        let mut guard = ListingGuard::new(Some(&self.cursor));
        loop {
            let (page, bytes) = match next.take() {
                Some(arrived) => arrived,
                None => self
                    .remote
                    .changes(Some(&self.cursor), None)
                    .map_err(end_of)?,
            };
            guard.admit(&page, bytes).map_err(listing_end)?;
            for entry in page.entries {
                if entry.kind == EntryKind::Folder {
                    folders.insert(entry.path.clone());
                } else {
                    keys.insert(key_of(&entry.path));
                }
                apply_entry(
                    &self.rules,
                    &mut self.remote_files,
                    &mut self.remote_folders,
                    entry,
                    reporter,
                );
            }
            self.cursor = page.cursor;
            if !page.has_more {
                break;
            }
        }
        if !folders.is_empty() {
            let actions = self.plan_folder_paths(&folders);
            self.execute_folders(actions, reporter)?;
        }
        if !keys.is_empty() {
            let actions = self.plan_keys(&keys);
            self.execute(actions, None, false, reporter)?;
        }
        reporter.update(|s| {
            s.online = true;
            s.last_sync = Some(Timestamp::now());
        });
        self.ask_for_changes();
        Ok(())
    }

    /// The long-poll reply to apply first, if one came. A reply that does not echo the wait
    /// comes from a server that does not long-poll: from then on the session polls itself.
    fn take_arrived(
        &mut self,
    ) -> Result<Option<(hyperclay_protocol::ChangesResponse, u64)>, SessionEnd> {
        let Some(reply) = self.arrived.take() else {
            return Ok(None);
        };
        let (page, bytes) = reply.map_err(end_of)?;
        if page.wait.is_none() && self.waiter.take().is_some() {
            log::info!(
                "The server does not hold polls open: polling every {} s",
                self.poll_interval.as_secs()
            );
        }
        Ok(Some((page, bytes)))
    }

    fn plan_keys(&self, keys: &BTreeSet<Key>) -> Vec<Action> {
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
            .filter_map(|k| self.remote_files.get_by_key(k))
            .map(|f| (f.path.clone(), f.clone()))
            .collect();
        plan::plan(&base, &local, &remote)
    }

    /// The folder plan for `paths` alone, with their local side looked at afresh (the watcher
    /// does not report folders that go away).
    fn plan_folder_paths(&mut self, paths: &BTreeSet<String>) -> Vec<FolderAction> {
        // Ignored or forbidden names (a remote `node_modules`) take no part, as in a scan.
        let paths: BTreeSet<String> = paths
            .iter()
            .filter(|p| matches!(self.rules.folder_verdict(p), Verdict::Synced(_)))
            .cloned()
            .collect();
        let paths = &paths;
        for p in paths {
            let here = RemotePath::folder(p)
                .ok()
                .and_then(|rp| local::join_inside(&self.folder, &rp))
                .and_then(|dir| std::fs::symlink_metadata(dir).ok())
                .is_some_and(|m| m.is_dir());
            if here {
                self.local_folders.insert(p.clone());
            } else {
                self.local_folders.remove(p);
            }
        }
        let only = |set: &BTreeSet<String>| set.intersection(paths).cloned().collect();
        plan::plan_folders(
            &only(&self.base_folders),
            &only(&self.local_folders),
            &only(&self.remote_folders),
        )
    }

    /// Creates folders on either side. Nothing here ever deletes one.
    fn execute_folders(
        &mut self,
        actions: Vec<FolderAction>,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        for action in actions {
            if self.shutdown.load(Ordering::SeqCst) {
                break;
            }
            match action {
                FolderAction::Record(p) => self.put_base_folder(&p),
                FolderAction::Forget(p) => {
                    self.base_folders.remove(&p);
                    if let Err(e) = self.store.forget_folder(&p) {
                        log::warn!("Cannot update the sync state: {e}");
                    }
                }
                FolderAction::Create(p) => {
                    let Ok(rp) = RemotePath::folder(&p) else {
                        continue;
                    };
                    match write::create_folder(&self.folder, &rp) {
                        Ok(()) => {
                            log::info!("download folder {p}");
                            self.local_folders.insert(p.clone());
                            self.put_base_folder(&p);
                        }
                        Err(e) => {
                            if reporter.once().first(&format!("folder-here:{p}")) {
                                log::error!("error {p}: {e}");
                            }
                        }
                    }
                }
                FolderAction::Push(p) => {
                    let Ok(rp) = RemotePath::folder(&p) else {
                        continue;
                    };
                    let ctx = self.ctx();
                    let result =
                        with_retries(|| self.remote.put_folder(&rp), &mut |d| ctx.sleep(d));
                    match result {
                        Ok(_) => {
                            log::info!("upload folder {p}");
                            self.remote_folders.insert(p.clone());
                            self.put_base_folder(&p);
                        }
                        Err(e) => {
                            if reporter.once().first(&format!("folder-there:{p}")) {
                                log::error!("error {p}: {e}");
                            }
                            if let Some(ue) = user_error(&e) {
                                reporter.update(|s| s.error = Some(ue.clone()));
                            }
                            if matches!(
                                e,
                                RemoteError::Unreachable(_)
                                    | RemoteError::Unauthorized
                                    | RemoteError::SubscriptionRequired
                            ) {
                                return Err(end_of(e));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn put_base_folder(&mut self, path: &str) {
        if let Err(e) = self.store.put_folder(path) {
            log::warn!("Cannot update the sync state: {e}");
        }
        self.base_folders.insert(path.to_owned());
    }

    /// Carries out `actions`; transfers run `PARALLEL_TRANSFERS` at a time when `parallel`.
    fn execute(
        &mut self,
        actions: Vec<Action>,
        mut snap: Option<(String, Snapshot)>,
        parallel: bool,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        let mut transfers = Vec::new();
        for action in actions {
            match action {
                Action::Record { key, record } => self.put_base(&key, record),
                Action::Forget { key } => {
                    self.base.remove(&key);
                    if let Err(e) = self.store.forget_base(&key) {
                        log::warn!("Cannot update the sync state: {e}");
                    }
                }
                Action::IgnoreDuplicate { key, local_path } => {
                    if reporter.once().first(&format!("dup:{local_path}")) {
                        log::warn!(
                            "skip {local_path}: another file is already synced as the app {}",
                            key.trim_start_matches("app:")
                        );
                    }
                }
                transfer if self.stalled_before(&transfer) => {
                    log::debug!("skip {transfer:?}: the same transfer stalled earlier");
                }
                transfer => transfers.push(self.after_base(transfer)),
            }
        }
        if transfers.is_empty() {
            return Ok(());
        }
        let mut outcomes = Vec::new();
        if parallel && transfers.len() > 1 {
            let queue = Mutex::new(transfers.into_iter());
            let (otx, orx) = mpsc::channel();
            let mut ctx = self.ctx();
            // Many transfers at once (a first sync, a reconnect): new files are staged and made
            // durable in batches, one flush per batch instead of two per file.
            ctx.stage_new = true;
            let ctx = &ctx;
            std::thread::scope(|scope| {
                for _ in 0..PARALLEL_TRANSFERS {
                    let (queue, otx) = (&queue, otx.clone());
                    scope.spawn(move || {
                        loop {
                            if ctx.shutdown.load(Ordering::SeqCst) {
                                break;
                            }
                            let next = queue.lock().ok().and_then(|mut q| q.next());
                            let Some(action) = next else { break };
                            let outcome = ctx.run(&action, None);
                            let offline =
                                matches!(&outcome, Outcome::Failed(_, RemoteError::Unreachable(_)));
                            let _ = otx.send(outcome);
                            if offline {
                                break;
                            }
                        }
                    });
                }
                drop(otx);
                // Publishes while the transfers go on: the flush of one batch overlaps the
                // downloads of the next.
                let mut batch = Vec::new();
                for outcome in orx {
                    if outcome.is_staged() {
                        batch.push(outcome);
                        if batch.len() >= PUBLISH_BATCH {
                            outcomes.extend(publish(ctx.folder, std::mem::take(&mut batch)));
                        }
                    } else {
                        outcomes.push(outcome);
                    }
                }
                outcomes.extend(publish(ctx.folder, batch));
            });
        } else {
            let ctx = self.ctx();
            for action in &transfers {
                if ctx.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let s = match (&mut snap, action) {
                    (Some((path, _)), Action::Upload { local, .. }) if *path == local.path => {
                        snap.take().map(|(_, s)| s)
                    }
                    _ => None,
                };
                let outcome = ctx.run(action, s);
                let offline = matches!(&outcome, Outcome::Failed(_, RemoteError::Unreachable(_)));
                outcomes.push(outcome);
                if offline {
                    break;
                }
            }
        }
        // One transaction for the whole set: a commit per file was a tenth of a first sync.
        let batch = self.store.begin();
        if let Err(e) = &batch {
            log::warn!("Cannot batch the sync state updates: {e}");
        }
        let mut end = None;
        for outcome in outcomes {
            if let Err(e) = self.apply(outcome, reporter) {
                end.get_or_insert(e);
            }
        }
        if batch.is_ok()
            && let Err(e) = self.store.commit()
        {
            log::warn!("Cannot update the sync state: {e}");
        }
        end.map_or(Ok(()), Err)
    }

    /// A local change to a file whose remote copy is still the synced one was made after that
    /// sync, whatever its mtime says (`cp -p`, `rsync -t` and `touch -r` put an old one back):
    /// it goes up as newer than the synced remote copy, so the server does not refuse it as
    /// stale and take it for the losing side.
    fn after_base(&self, action: Action) -> Action {
        match action {
            Action::Upload {
                key,
                mut local,
                remote_path,
                replaces,
            } => {
                if let Some(b) = self.base.get(&key)
                    && replaces == Some(b.checksum)
                    && local.mtime <= b.remote_modified
                {
                    local.mtime = b.remote_modified.offset_by(1);
                }
                Action::Upload {
                    key,
                    local,
                    remote_path,
                    replaces,
                }
            }
            other => other,
        }
    }

    /// Would `action` move exactly what already stalled in this session?
    fn stalled_before(&self, action: &Action) -> bool {
        match action {
            Action::Download { key, remote, .. } => {
                matches!(self.stalled.get(key), Some(Stalled::Download(r)) if r == remote)
            }
            Action::Upload { key, local, .. } => {
                matches!(self.stalled.get(key), Some(Stalled::Upload(c)) if *c == local.checksum)
            }
            _ => false,
        }
    }

    fn put_base(&mut self, key: &str, record: BaseRecord) {
        if let Err(e) = self.store.put_base(key, &record) {
            log::warn!("Cannot update the sync state: {e}");
        }
        self.base.insert(key.to_owned(), record);
    }

    fn apply(&mut self, outcome: Outcome, reporter: &Reporter) -> Result<(), SessionEnd> {
        if let Outcome::Downloaded {
            local,
            staged: Some(_),
            ..
        } = &outcome
        {
            // Never reached: staged files are published before outcomes are applied. Were one
            // to slip through, its temp is dropped here, so it must not be recorded as synced.
            log::error!(
                "{} was staged but never published; looking again",
                local.path
            );
            return self.apply(Outcome::Replan(local.path.clone()), reporter);
        }
        match outcome {
            Outcome::Uploaded {
                key,
                local,
                stamp,
                entry,
            } => {
                log::info!("upload {} -> {}", local.path, entry.path);
                self.stalled.remove(&key);
                let _ = self.store.put_hash(&local.path, stamp, local.checksum);
                self.put_base(
                    &key,
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
                let old = self.remote_files.get_by_key(&key).map(|f| f.path.clone());
                if let Some(old) = old.filter(|p| *p != entry.path) {
                    self.remote_files.remove(&old);
                }
                self.remote_files.insert(RemoteFile {
                    path: entry.path,
                    size: local.size,
                    modified_at: entry.modified_at,
                    checksum: local.checksum,
                });
                self.local.insert(local.path.clone(), local);
                reporter.update(|s| {
                    if s.error == Some(UserError::SiteLimit) {
                        s.error = None;
                    }
                });
            }
            Outcome::Downloaded {
                key,
                remote,
                local,
                stamp,
                backup,
                staged: _,
            } => {
                if let Some(b) = backup {
                    log::info!("backup {} -> {b}", local.path);
                }
                log::info!("download {} -> {}", remote.path, local.path);
                if let Some(stamp) = stamp {
                    let _ = self.store.put_hash(&local.path, stamp, local.checksum);
                    self.downloaded.insert(local.path.clone(), stamp);
                }
                self.put_base(
                    &key,
                    BaseRecord {
                        checksum: local.checksum,
                        size: local.size,
                        local_mtime: local.mtime,
                        remote_modified: remote.modified_at,
                        local_path: local.path.clone(),
                        remote_path: remote.path.clone(),
                    },
                );
                self.stalled.remove(&key);
                self.remote_files.insert(remote);
                if self.refused.remove(&local.path) && self.refused.is_empty() {
                    reporter.update(|s| {
                        if matches!(s.error, Some(UserError::FolderNotWritable(_))) {
                            s.error = None;
                        }
                    });
                }
                self.local.insert(local.path.clone(), local);
            }
            Outcome::Stalled { key, path, what } => {
                let direction = match what {
                    Stalled::Download(_) => "download",
                    Stalled::Upload(_) => "upload",
                };
                log::warn!(
                    "{direction} of {path} stalled; will try again when it changes or at the next session"
                );
                self.stalled.insert(key, what);
            }
            Outcome::Replan(path) => {
                log::info!("skip {path}: changed while syncing; looking again");
                self.pending.insert(
                    path,
                    Pending {
                        due: Instant::now(),
                        waited_empty: false,
                    },
                );
            }
            Outcome::WriteRefused(path, why) => {
                log::error!("cannot save {path}: {why}");
                self.refused.insert(path);
                reporter.update(|s| s.error = Some(UserError::FolderNotWritable(why)));
            }
            Outcome::Skipped(path, why) => {
                if !path.is_empty() {
                    log::info!("skip {path}: {why}");
                }
            }
            Outcome::Failed(path, RemoteError::Stalled(why)) => {
                // The server's copy that a stale upload went to fetch; the local file stays.
                log::warn!(
                    "download of {path} stalled ({why}); will try again when it changes or at the next session"
                );
            }
            Outcome::Failed(path, e) => {
                log::error!("error {path}: {e}");
                if let Some(ue) = user_error(&e) {
                    reporter.update(|s| s.error = Some(ue.clone()));
                }
                return match e {
                    RemoteError::Unreachable(_)
                    | RemoteError::Unauthorized
                    | RemoteError::SubscriptionRequired => Err(end_of(e)),
                    _ => Ok(()),
                };
            }
        }
        Ok(())
    }
}

/// Makes a batch of staged downloads durable and visible ([`write::publish`]); an outcome whose
/// file could not be put in place becomes what really happened to it.
fn publish(folder: &Path, mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let (at, staged): (Vec<usize>, Vec<write::Staged>) = outcomes
        .iter_mut()
        .enumerate()
        .filter_map(|(i, o)| o.take_staged().map(|s| (i, s)))
        .unzip();
    for (i, result) in at.into_iter().zip(write::publish(folder, staged)) {
        let Err(e) = result else {
            // The rename into place moved the file's ctime, which is part of its stamp: the
            // stamp to remember (for the echo and the hash cache) is the one it has now.
            if let Outcome::Downloaded { local, stamp, .. } = &mut outcomes[i] {
                *stamp = std::fs::symlink_metadata(folder.join(&local.path))
                    .ok()
                    .map(|m| local::stamp_of(&m));
            }
            continue;
        };
        let path = outcomes[i].download_path().to_owned();
        outcomes[i] = match e {
            write::WriteError::Changed(_) => Outcome::Replan(path),
            e @ write::WriteError::Io { .. } => Outcome::WriteRefused(path, e.to_string()),
            e => Outcome::Skipped(path, e.to_string()),
        };
    }
    outcomes
}

/// Folds one listing entry into the remote snapshot. Paths the protocol forbids are left out
/// (a server must never make us write outside the folder).
fn apply_entry(
    rules: &Rules,
    files: &mut RemoteFiles,
    folders: &mut BTreeSet<String>,
    entry: Entry,
    reporter: &Reporter,
) {
    if entry.kind == EntryKind::Folder {
        if entry.deleted {
            folders.remove(&entry.path);
            return;
        }
        match rules.folder_verdict(&entry.path) {
            Verdict::Synced(_) => {
                folders.insert(entry.path);
            }
            // A remote `sites-versions` or `node_modules` must never mix with local backups or
            // tools; it stays on the server.
            Verdict::Ignored => {}
            Verdict::Forbidden(_) => {
                if reporter.once().first(&format!("bad:{}", entry.path)) {
                    log::warn!(
                        "skip {:?}: the server sent a path that breaks the rules",
                        entry.path
                    );
                }
            }
        }
        return;
    }
    if entry.deleted {
        files.remove(&entry.path);
        return;
    }
    // The protocol's rules first, so a path that breaks them is always reported.
    if RemotePath::file(&entry.path).is_err() {
        if reporter.once().first(&format!("bad:{}", entry.path)) {
            log::warn!(
                "skip {:?}: the server sent a path that breaks the rules",
                entry.path
            );
        }
        return;
    }
    // Ignored here means ignored there too: a remote `node_modules/…` or an editor's temp never
    // lands in the folder (a planted package would be loaded by Node).
    if !matches!(rules.verdict(&entry.path), Verdict::Synced(_)) {
        return;
    }
    let (Some(size), Some(checksum)) = (entry.size, entry.checksum) else {
        return;
    };
    // Like a missing one: a checksum that is not 64 lowercase hex digits says nothing about the
    // content, so the entry is left out (its file is neither fetched nor counted as changed).
    let Ok(checksum) = Checksum::parse(&checksum) else {
        if reporter.once().first(&format!("badsum:{}", entry.path)) {
            log::warn!(
                "skip {:?}: the server sent a malformed checksum",
                entry.path
            );
        }
        return;
    };
    if skip_collision(files, &entry.path, reporter) {
        return;
    }
    // One remote file per app name: a move on the server replaces the old path.
    files.insert(RemoteFile {
        path: entry.path,
        size,
        modified_at: entry.modified_at,
        checksum,
    });
}

/// The remote snapshot by path, with each app's one path indexed by its key: a listing of `n`
/// entries, or an upload that moved an app, must not look at every file to find an app's old
/// path (that was O(apps × files) string allocations at start-up).
#[derive(Default)]
struct RemoteFiles {
    by_path: BTreeMap<String, RemoteFile>,
    /// `app:<name>` → its path in `by_path`; kept in step by `insert` and `remove` alone.
    app_paths: HashMap<Key, String>,
    /// [`collision_key`] → the one path in `by_path` that has it; kept in step likewise.
    by_collision: HashMap<String, String>,
}

/// True (and logged once) when the server sent `path` beside another it already listed that a
/// case-insensitive or normalising filesystem takes for the same file (`A.png` and `a.png`, NFC
/// and NFD): only one of them can live in a folder there, so the one listed first is kept and
/// this one is skipped. The one kept stays kept while it exists, so polls never flip between them.
/// Local names that a case-insensitive or Unicode-normalising filesystem could not tell from
/// another synced name (`A.png` beside `a.png`, made on Linux): each such name is left local,
/// since uploading it would put both on the server, where a Windows or macOS copy can hold only
/// one. Who keeps the name: the server's holder, else the name synced before, else the first by
/// path. Returns the kept names by key, and (skipped, kept) pairs.
#[allow(clippy::type_complexity)]
fn local_collisions(
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

fn log_collision(path: &str, held: &str, reporter: &Reporter) {
    if reporter.once().first(&format!("local-collision:{path}")) {
        log::warn!(
            "skip {path:?}: {held:?} is synced already, a name that differs only in case or \
             Unicode form (Windows and macOS cannot hold both); rename one of them"
        );
    }
}

fn skip_collision(files: &RemoteFiles, path: &str, reporter: &Reporter) -> bool {
    let Some(held) = files.collides(path) else {
        return false;
    };
    if reporter.once().first(&format!("collision:{path}")) {
        log::warn!(
            "skip {path:?}: the server also has {held:?}, a name that differs only in case or \
             Unicode form; only {held:?} is synced"
        );
    }
    true
}

impl RemoteFiles {
    /// Adds or replaces `file`; an app's previous path, if another, is dropped.
    fn insert(&mut self, file: RemoteFile) {
        let key = key_of(&file.path);
        if key.starts_with("app:")
            && let Some(old) = self.app_paths.insert(key, file.path.clone())
            && old != file.path
        {
            self.by_path.remove(&old);
            self.forget_collision_key(&old);
        }
        // The first holder keeps the key (an upload of the other name must not take it over).
        self.by_collision
            .entry(collision_key(&file.path))
            .or_insert_with(|| file.path.clone());
        self.by_path.insert(file.path.clone(), file);
    }

    /// The path already held that a filesystem could not tell from `path`, if it is another.
    fn collides(&self, path: &str) -> Option<&str> {
        self.by_collision
            .get(&collision_key(path))
            .map(String::as_str)
            .filter(|held| *held != path)
    }

    fn forget_collision_key(&mut self, path: &str) {
        let key = collision_key(path);
        if self.by_collision.get(&key).is_some_and(|p| p == path) {
            self.by_collision.remove(&key);
        }
    }

    fn remove(&mut self, path: &str) {
        if self.by_path.remove(path).is_none() {
            return;
        }
        self.forget_collision_key(path);
        let key = key_of(path);
        if self.app_paths.get(&key).is_some_and(|p| p == path) {
            self.app_paths.remove(&key);
        }
    }

    fn get_by_key(&self, key: &str) -> Option<&RemoteFile> {
        match key.strip_prefix("file:") {
            Some(path) => self.by_path.get(path),
            None => self.by_path.get(self.app_paths.get(key)?),
        }
    }
}

fn log_notice(notice: &Notice, reporter: &Reporter) {
    match notice {
        Notice::Forbidden { path, why } => {
            if reporter.once().first(&format!("forbidden:{path}")) {
                log::warn!("skip {path}: {why}");
            }
        }
        Notice::TooLarge { path, size } => {
            if reporter.once().first(&format!("large:{path}")) {
                log::warn!("skip {path}: {size} bytes is over the 20 MiB limit");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            files.get_by_key("app:x").map(|f| f.path.as_str()),
            Some("b/x.html")
        );
        assert_eq!(
            files
                .get_by_key("file:a/notes.txt")
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
    fn removing_an_app_path_forgets_its_index_entry_but_not_a_newer_one() {
        let mut files = RemoteFiles::default();
        files.insert(file("x.html"));
        files.remove("x.html");
        assert!(files.get_by_key("app:x").is_none());
        files.insert(file("b/x.html"));
        // A stale delete of a path the app no longer has must not unindex its real path.
        files.remove("x.html");
        assert_eq!(
            files.get_by_key("app:x").map(|f| f.path.as_str()),
            Some("b/x.html")
        );
        assert_eq!(paths(&files), ["b/x.html"]);
    }
}
