//! One session = one connection to the server: status (clock offset, paid check), the full
//! paged listing, the local scan, the plan and its execution; then pushes from the watcher, the
//! remote changes from the feed, and the retries the schedule says are due. When the connection
//! fails for good the session ends (offline) and a new one reconciles both sides later: nothing
//! is queued. It must never write outside the folder, never delete anything remotely, and never
//! overwrite a local file without a backup.

mod book;
mod changes_wait;
mod executor;
mod feed;
mod folders;
mod issues;
mod picture;
mod remote_files;
mod transfer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hyperclay_protocol::{RemotePath, Timestamp};

use crate::engine::event::{Event, WaitReply};
use crate::home::config::EngineConfig;
use crate::home::state_store::{Identity, StateStore};
use crate::local::folder_guard;
use crate::local::ignore::{IGNORE_FILE, Rules};
use crate::local::watch::{FsSignal, Inbox};
use crate::local::{self, Notice, ReadOutcome, Snapshot, Verdict, write};
use crate::remote::listing::{PageError, read_pages};
use crate::remote::{Remote, RemoteError};
use crate::rules::fault::{self, Cleared, SessionEnd, listing_end, session_end};
use crate::rules::plan::{Action, Key, LocalFile, key_of};
use crate::rules::schedule::{self, Attempt, Echoes, Schedule, Stalls};
use crate::session::book::{Book, Prepared};
use crate::session::feed::Feed;
use crate::session::folders::Folders;
use crate::session::picture::Picture;
use crate::session::remote_files::{Changes, RemoteFiles, take_entry};
use crate::session::transfer::Ctx;
use crate::status::report::Reporter;
use crate::status::state::Progress;
use issues::Issues;

pub(crate) struct Session {
    remote: Remote,
    folder: PathBuf,
    /// The ignore rules read at the start; a change to the ignore file starts a new session.
    rules: Rules,
    offset_ms: i64,
    poll_interval: Duration,
    feed: Feed,
    book: Book,
    shutdown: Arc<AtomicBool>,
    /// The folder watcher and the inbox its signals wait in.
    watcher: Option<(notify::RecommendedWatcher, Inbox)>,
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
        let (status, offset_ms) = remote.status().map_err(session_end)?;
        if status.plan != "paid" {
            return Err(SessionEnd::SubscriptionRequired);
        }
        // Online, and not up to date yet: nothing has been compared.
        reporter.update(|s| {
            s.account = Some(status.user.name.clone());
            s.online = true;
            s.progress = Some(Progress::LOOKING);
        });
        issues::clear(reporter, Cleared::SessionStarted);
        log::info!(
            "Session started as {} (clock offset {offset_ms} ms)",
            status.user.name
        );
        let (mut files, mut folders, mut dropped) =
            (RemoteFiles::default(), BTreeSet::new(), vec![]);
        let cursor = read_pages(
            None,
            None,
            |at| remote.changes(at, None),
            |entry| dropped.extend(take_entry(&rules, &mut files, &mut folders, entry)),
        )
        .map_err(listing_end)?;
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
        let failed = |e: crate::home::state_store::StoreError| SessionEnd::Failed(e.to_string());
        let store = StateStore::open(&config.home, &folder, who).map_err(failed)?;
        let base = store.base().map_err(failed)?;
        let base_folders = store.folders().map_err(failed)?;
        let events = tx.clone();
        // Watch before scanning: a save during the scan must not be missed.
        let watcher = match crate::local::watch::start(&folder, tx, || Event::FsReady) {
            Ok(w) => Some(w),
            Err(e) => {
                log::error!(
                    "Cannot watch {}: {e}; local changes sync at the next session",
                    folder.display()
                );
                None
            }
        };
        let now = Instant::now();
        let mut session = Session {
            remote,
            folder,
            rules,
            offset_ms,
            poll_interval: config.poll_interval,
            feed: Feed::new(cursor, config.poll_interval, now),
            book: Book {
                picture: Picture::new(store, base, base_folders, files, folders),
                schedule: Schedule::default(),
                echoes: Echoes::default(),
                stalls: Stalls::default(),
                issues: Issues::new(
                    reporter
                        .state()
                        .issues
                        .into_iter()
                        .map(|i| (i.path, i.kind.unsynced())),
                ),
                poll_interval: config.poll_interval,
            },
            shutdown: reporter.shutdown_flag(),
            watcher,
        };
        for (path, why) in dropped {
            let told = issues::remote_dropped(&path, &why);
            session.book.issues.tell(reporter, told);
        }
        session.reconcile_all(reporter)?;
        session.book.issues.settle_held_back(reporter);
        reporter.update(|s| {
            s.last_sync = Some(Timestamp::now());
            s.progress = None;
        });
        session.feed.start_waiting(&session.remote, events);
        Ok(session)
    }

    /// A long-poll reply: applied at the next step (if it is this session's).
    pub(crate) fn changes_arrived(&mut self, session: u64, reply: WaitReply) {
        self.feed.arrived(session, reply);
    }

    pub(crate) fn set_token(&mut self, token: &str) {
        self.remote.set_token(token);
    }

    pub(crate) fn poll_due(&self) -> bool {
        let now = Instant::now();
        self.book.schedule.poll_retry_due(now)
            || (self.feed.due(now) && !self.book.schedule.poll_waiting(now))
    }

    /// How many files wait for another try of their transfer: work still in hand.
    pub(crate) fn retries_pending(&self) -> usize {
        self.book.schedule.retries_pending()
    }

    /// The next deadline; `None` when only an event (a watcher signal, a long-poll reply) can
    /// bring work.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let now = Instant::now();
        let feed = match self.book.schedule.poll_waiting(now) {
            true => None,
            false => self.feed.next_wake(now),
        };
        [
            feed,
            self.book.schedule.next_wake(now),
            self.book.issues.next_quota_check(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The watcher has signals waiting: each is noted.
    pub(crate) fn take_signals(&mut self) {
        let signals = match &self.watcher {
            Some((_, inbox)) => inbox.take(),
            None => Vec::new(),
        };
        for signal in signals {
            self.note(signal);
        }
    }

    /// A watcher signal: remember what to look at and when.
    fn note(&mut self, signal: FsSignal) {
        let now = Instant::now();
        let (path, quiet_first) = match signal {
            FsSignal::Rescan => {
                self.book.schedule.rescan();
                return;
            }
            FsSignal::Done(p) => (p, false),
            FsSignal::Changed(p) => (p, true),
        };
        if path.is_dir() {
            let empty = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
            self.book.schedule.folder_appeared(!empty, now);
            return;
        }
        let Some(rel) = local::relative(&self.folder, &path) else {
            return;
        };
        match quiet_first {
            true => self.book.schedule.changed(rel, now),
            false => self.book.schedule.saved(rel, now),
        }
    }

    /// Does whatever is due: a rescan, pushes, retries, a quota check, a poll.
    pub(crate) fn step(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        // Every step, before anything is read, written or sent: a folder that went away (or a
        // drive unmounted) must not look like files the user deleted.
        self.check_folder()?;
        let now = Instant::now();
        if self.book.schedule.take_rescan(now) {
            self.reconcile_all(reporter)?;
        }
        for (rel, waited_empty) in self.book.schedule.take_looks(now) {
            self.push(&rel, waited_empty, reporter)?;
        }
        let retries: BTreeSet<Key> = self.book.schedule.take_retries(now).into_iter().collect();
        if !retries.is_empty() {
            let actions = self.book.picture.plan_keys(&retries);
            self.execute(actions, None, false, reporter)?;
        }
        if self
            .book
            .issues
            .next_quota_check()
            .is_some_and(|at| at <= now)
        {
            self.check_quota(reporter)?;
        }
        if self.poll_due() {
            self.poll(reporter)?;
        }
        Ok(())
    }

    fn check_folder(&self) -> Result<(), SessionEnd> {
        folder_guard::still_marked(&self.folder).map_err(SessionEnd::FolderUnavailable)
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
        self.book.picture.store.release_memory();
        crate::os::memory::give_back();
        done
    }

    fn reconcile(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        self.book.echoes.forget_all();
        let cache = self.book.picture.store.hashes().unwrap_or_default();
        self.check_folder()?;
        let scan = local::scan(&self.folder, &self.rules, &cache).map_err(|e| {
            SessionEnd::Failed(format!(
                "The sync folder {} cannot be read: {e}",
                self.folder.display()
            ))
        })?;
        for notice in &scan.notices {
            let told = match notice {
                Notice::Forbidden { path, why } => issues::name_breaks_rules(path, why),
                Notice::TooLarge { path, size } => issues::too_large(path, *size),
            };
            self.book.issues.tell(reporter, told);
        }
        self.book.picture.local_folders = scan.folders;
        let folder_actions = self.book.picture.plan_all_folders();
        self.folders().execute(folder_actions, reporter)?;
        let hashes = scan
            .files
            .iter()
            .map(|(p, s)| (p.clone(), (s.stamp, s.checksum)))
            .collect();
        if let Err(e) = self.book.picture.store.update_hashes(&cache, &hashes) {
            log::warn!("Cannot save the hash cache: {e}");
        }
        let ctx = self.ctx();
        let local = scan
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
        for (path, held) in self.book.picture.scanned(local) {
            self.book
                .issues
                .tell(reporter, issues::local_collision(&path, &held));
        }
        let mut actions = self.book.picture.plan_all();
        let (now, server_now) = (Instant::now(), Timestamp::now().offset_by(self.offset_ms));
        actions.retain(|a| match a {
            Action::Upload { local, .. }
                if schedule::written_too_recently(local.mtime, server_now) =>
            {
                self.book.schedule.written_recently(local.path.clone(), now);
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
                // Renamed away or deleted: its issue is over.
                match std::fs::symlink_metadata(self.folder.join(rel)) {
                    Ok(_) => self
                        .book
                        .issues
                        .tell(reporter, issues::name_breaks_rules(rel, &why)),
                    Err(_) => self.book.issues.gone(reporter, rel),
                }
                return Ok(());
            }
        }
        let stamp_now = std::fs::symlink_metadata(self.folder.join(rel))
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| local::stamp_of(&m));
        if self.book.echoes.is_echo(rel, stamp_now) {
            return Ok(());
        }
        let snap = match local::read_stable(&self.folder, &self.folder.join(rel)) {
            ReadOutcome::Ready(s) => s,
            ReadOutcome::Gone => {
                // The whole folder going away is not the user deleting this file.
                self.check_folder()?;
                self.book.issues.gone(reporter, rel);
                // Deletions never propagate (the base keeps the file "deleted here"), but a remote
                // edit the session already knows about must now come down.
                if self.book.picture.local_gone(rel) {
                    let actions = self.book.picture.plan_keys(&BTreeSet::from([key_of(rel)]));
                    return self.execute(actions, None, false, reporter);
                }
                return Ok(());
            }
            ReadOutcome::TooLarge(size) => {
                self.book
                    .issues
                    .tell(reporter, issues::too_large(rel, size));
                return Ok(());
            }
            ReadOutcome::Moving | ReadOutcome::NotAFile => return Ok(()),
        };
        let key = key_of(rel);
        let synced = self.book.picture.base.get(&key).cloned();
        let synced_size = synced.as_ref().map(|b| b.size);
        if schedule::waits_for_next_write(snap.bytes.is_empty(), waited_empty, synced_size) {
            self.book.schedule.emptied(rel.to_owned(), Instant::now());
            return Ok(());
        }
        if let Err(e) = self
            .book
            .picture
            .store
            .put_hash(rel, snap.stamp, snap.checksum)
        {
            log::warn!("Cannot save the hash cache: {e}");
        }
        if let Some(held) = self.book.picture.held_by_another(rel) {
            self.book
                .issues
                .tell(reporter, issues::local_collision(rel, &held));
            return Ok(());
        }
        self.book.picture.local_seen(LocalFile {
            path: rel.to_owned(),
            size: snap.stamp.size,
            mtime: self.ctx().server_time(snap.stamp),
            checksum: snap.checksum,
        });
        if synced.is_some_and(|b| b.checksum == snap.checksum && b.local_path == rel) {
            // Our own download coming back, or a save without changes.
            self.book.issues.unchanged(reporter, rel);
            return Ok(());
        }
        let actions = self.book.picture.plan_keys(&BTreeSet::from([key]));
        self.execute(actions, Some((rel.to_owned(), snap)), false, reporter)
    }

    fn poll(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        let first = match self.feed.take(Instant::now()) {
            Ok(first) => first,
            Err(e) => return self.poll_failed(e, reporter),
        };
        let mut changes = Changes::default();
        let (rules, picture, remote) = (&self.rules, &mut self.book.picture, &self.remote);
        let read = read_pages(
            Some(self.feed.cursor()),
            first,
            |at| remote.changes(at, None),
            |entry| {
                let (files, folders) = (&mut picture.remote, &mut picture.remote_folders);
                changes.take(rules, files, folders, entry);
            },
        );
        for (path, why) in changes.dropped {
            let told = issues::remote_dropped(&path, &why);
            self.book.issues.tell(reporter, told);
        }
        // Deleted on the server with nothing of it here: an issue about fetching it is over (a
        // local file's own issue stands).
        for path in changes.gone {
            let here = RemotePath::file(&path)
                .ok()
                .and_then(|rp| local::join_inside(&self.folder, &rp))
                .is_some_and(|p| std::fs::symlink_metadata(p).is_ok());
            if !here {
                self.book.issues.resolved(reporter, &path);
            }
        }
        let cursor = match read {
            Ok(cursor) => cursor,
            Err(PageError::Remote(e)) => return self.poll_failed(e, reporter),
            Err(e) => return Err(listing_end(e)),
        };
        self.book.schedule.poll_done();
        self.feed.moved_to(cursor);
        if !changes.folders.is_empty() {
            let actions = self.folders().look(&changes.folders);
            self.folders().execute(actions, reporter)?;
        }
        if !changes.keys.is_empty() {
            let actions = self.book.picture.plan_keys(&changes.keys);
            self.execute(actions, None, false, reporter)?;
        }
        reporter.update(|s| {
            s.online = true;
            s.last_sync = Some(Timestamp::now());
        });
        self.feed.ask(&self.remote);
        Ok(())
    }

    /// A poll failed: trouble that may pass is tried again on the retry schedule (other files
    /// go on meanwhile); the session ends once the last retry failed too, or at once for
    /// anything else.
    /// A poll failed: retried on the schedule while the trouble may pass, the session given up
    /// after the last retry. Meanwhile the user sees the truth at once: offline, with the cause,
    /// and that it is being tried again (a retry that gets through puts them back online).
    fn poll_failed(&mut self, e: RemoteError, reporter: &Reporter) -> Result<(), SessionEnd> {
        if !fault::call_retryable(&e) {
            return Err(session_end(e));
        }
        let now = Instant::now();
        match self.book.schedule.poll_failed(now) {
            Attempt::RetryAt(at) => {
                let wait = at.saturating_duration_since(now).as_secs_f32().round();
                log::info!("A poll failed ({e}); trying again in {wait} s");
                if let Some(why) = fault::unreachable_because(&e) {
                    let cause = fault::offline_cause(self.remote.server_url(), &why);
                    reporter.update(|s| {
                        s.online = false;
                        s.offline_cause = Some(format!("{cause}; trying again"));
                    });
                }
                Ok(())
            }
            Attempt::GiveUp => Err(session_end(e)),
        }
    }

    /// While an app is held back by the site quota: once the account has a site free, the
    /// held-back apps are tried again.
    fn check_quota(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        self.book
            .issues
            .quota_checked(Instant::now() + self.poll_interval);
        let status = match self.remote.status() {
            Ok((status, _)) => status,
            Err(e) if fault::call_retryable(&e) => return Ok(()),
            Err(e) => return Err(session_end(e)),
        };
        if status.sites.used < status.sites.limit {
            let keys = self.book.issues.held_back_keys();
            log::info!("The account has a site free: trying the held-back apps again");
            let actions = self.book.picture.plan_keys(&keys);
            self.execute(actions, None, false, reporter)?;
        }
        Ok(())
    }

    /// The folder side of this session.
    fn folders(&mut self) -> Folders<'_> {
        Folders {
            book: &mut self.book,
            remote: &self.remote,
            folder: &self.folder,
            rules: &self.rules,
            shutdown: &self.shutdown,
        }
    }

    /// Carries out `actions`; transfers run several at a time when `parallel`. While more than
    /// one runs, "syncing N of M" is shown.
    fn execute(
        &mut self,
        actions: Vec<Action>,
        snap: Option<(String, Snapshot)>,
        parallel: bool,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        let Prepared {
            transfers,
            conflicts,
        } = self.book.prepare(actions, reporter);
        if transfers.is_empty() {
            return Ok(());
        }
        let total = transfers.len() as u64;
        let shown = total > 1;
        // A status write (a flush) per file would cost more than a small file's transfer: the
        // count moves about every 5%.
        let step = (total / 20).max(1);
        let ctx = self.ctx();
        let outcomes = executor::run(&ctx, transfers, snap, parallel, &mut |done| {
            let done = done as u64;
            if shown && (done.is_multiple_of(step) || done == total) {
                reporter.progress(Some(Progress { done, total }));
            }
        });
        if shown {
            reporter.progress(None);
        }
        // One transaction for the whole set: a commit per file was a tenth of a first sync.
        let batch = self.book.picture.store.begin();
        if let Err(e) = &batch {
            log::warn!("Cannot batch the sync state updates: {e}");
        }
        let mut end = None;
        for outcome in outcomes {
            if let Err(e) = self.book.apply(outcome, &conflicts, reporter) {
                end.get_or_insert(e);
            }
        }
        if batch.is_ok()
            && let Err(e) = self.book.picture.store.commit()
        {
            log::warn!("Cannot update the sync state: {e}");
        }
        end.map_or(Ok(()), Err)
    }
}
