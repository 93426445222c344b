//! One session = one connection to the server: status (clock offset, paid check), the full
//! paged listing, the local scan, the plan and its execution; then pushes from the watcher, the
//! remote changes from the feed, and the retries the schedule says are due. When the connection
//! fails for good the session ends (offline) and a new one reconciles both sides later: nothing
//! is queued. It must never write outside the folder, never delete anything remotely, and never
//! overwrite a local file without a backup.

mod book;
mod burst;
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
use crate::home::state_store::Identity;
use crate::local::folder_guard;
use crate::local::ignore::{IGNORE_FILE, Rules};
use crate::local::watch::{FsSignal, Inbox};
use crate::local::{self, Notice, ReadOutcome, Snapshot, Verdict, write};
use crate::remote::listing::{PageError, read_pages};
use crate::remote::{Remote, RemoteError};
use crate::rules::fault::{self, Cleared, SessionEnd, listing_end, session_end};
use crate::rules::plan::{Action, LocalFile, key_of};
use crate::rules::schedule::{self, Attempt};
use crate::session::book::{Book, Prepared, Seen};
use crate::session::burst::{BIG_BURST, Burst};
use crate::session::feed::Feed;
use crate::session::folders::Folders;
use crate::session::remote_files::{Changes, RemoteFiles, take_entry};
use crate::session::transfer::Ctx;
use crate::status::report::Reporter;
use crate::status::state::{Progress, VersionNews};
use crate::update::policy::{Standing, judge};
use crate::update::this_version;
use hyperclay_protocol::ClientVersions;

/// How long a session with nothing else due goes without looking at the folder itself. Linux's
/// watcher (inotify) says when the watched folder is moved away or its drive unmounted, and
/// that event is a step with its look; Windows' (ReadDirectoryChangesW) and macOS's say nothing
/// then, so there the folder is looked at (one stat of its marker) this often, or the status
/// would say "Up to date" about a folder that is gone until the next poll.
const FOLDER_LOOK_EVERY: Option<Duration> = if cfg!(target_os = "linux") {
    None
} else {
    Some(Duration::from_secs(2))
};

pub(crate) struct Session {
    remote: Remote,
    folder: PathBuf,
    /// The ignore rules read at the start; a change to the ignore file starts a new session.
    rules: Rules,
    offset_ms: i64,
    feed: Feed,
    book: Book,
    /// The burst in progress, counted across steps for "Syncing N of M".
    burst: Burst,
    shutdown: Arc<AtomicBool>,
    /// The folder watcher and the inbox its signals wait in.
    watcher: Option<(notify::RecommendedWatcher, Inbox)>,
    /// When its status call was made: the version policy it read is re-read once a day.
    pub(crate) started_at: Instant,
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
        let news = version_news(status.client.as_ref())?;
        if status.plan != "paid" {
            return Err(SessionEnd::SubscriptionRequired);
        }
        // Online, and not up to date yet: nothing has been compared.
        reporter.update(|s| {
            s.version_news = news;
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
        let folder = dunce::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
        let strays = write::remove_stray_temps(&folder);
        if strays > 0 {
            log::info!("Removed {strays} temp file(s) left by an interrupted write");
        }
        let who = Identity {
            server: &config.server_url,
            account_id: &status.user.id,
        };
        let known_issues = reporter.state().issues.into_iter();
        let book = Book::open(
            (&config.home, &folder, who),
            (files, folders),
            known_issues.map(|i| (i.path, i.kind.unsynced())),
            config.poll_interval,
        )
        .map_err(|e| SessionEnd::Failed(e.to_string()))?;
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
            feed: Feed::new(cursor, config.poll_interval, now),
            book,
            burst: Burst::default(),
            shutdown: reporter.shutdown_flag(),
            watcher,
            started_at: now,
        };
        for (path, why) in dropped {
            let told = issues::remote_dropped(&path, &why);
            session.book.tell(reporter, told);
        }
        session.reconcile_all(reporter)?;
        session.book.settle_held_back(reporter);
        // Up to date only if nothing waits: files the scan found too freshly written to trust
        // wait for a look, and the status says so ("Syncing 0 of N"), in the same update.
        let (progress, _) = session.pending_progress();
        reporter.update(|s| {
            s.last_sync = Some(Timestamp::now());
            s.progress = progress;
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
        self.book.poll_due(self.feed.due(now), now)
    }

    /// How many files wait for another try of their transfer: work still in hand.
    pub(crate) fn retries_pending(&self) -> usize {
        self.book.retries_pending()
    }

    /// The next deadline; `None` when only an event (a watcher signal, a long-poll reply) can
    /// bring work.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let now = Instant::now();
        let due = self.book.next_wake(self.feed.next_wake(now), now);
        let look = FOLDER_LOOK_EVERY.map(|every| now + every);
        match (due, look) {
            (Some(due), Some(look)) => Some(due.min(look)),
            (due, look) => due.or(look),
        }
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
            FsSignal::Rescan => return self.book.watcher_saw(Seen::Overflow, now),
            FsSignal::Done(p) => (p, false),
            FsSignal::Changed(p) => (p, true),
        };
        if path.is_dir() {
            let empty = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
            return self.book.watcher_saw(Seen::Folder { empty }, now);
        }
        let Some(rel) = local::relative(&self.folder, &path) else {
            return;
        };
        // Ignored names (our own temp files, backups, editor swap files) take no part: no look,
        // and nothing in a burst's count. The ignore file itself is looked at: it changes what
        // takes part.
        if rel != IGNORE_FILE && matches!(self.rules.verdict(&rel), Verdict::Ignored) {
            return;
        }
        let seen = match quiet_first {
            true => Seen::Changed(rel),
            false => Seen::Saved(rel),
        };
        self.book.watcher_saw(seen, now);
    }

    /// Does whatever is due: a rescan, pushes, retries, a quota check, a poll.
    pub(crate) fn step(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        let stepped = self.step_due(reporter);
        self.settle_progress(reporter);
        stepped
    }

    fn step_due(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        // Every step, before anything is read, written or sent: a folder that went away (or a
        // drive unmounted) must not look like files the user deleted.
        self.check_folder()?;
        let now = Instant::now();
        let due = self.book.take_due(now);
        if due.rescan {
            self.reconcile_all(reporter)?;
        }
        self.push_all(due.looks, reporter)?;
        self.execute(due.retries, None, false, reporter)?;
        if self.book.quota_check_due(now) {
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
        self.book.release_memory();
        crate::os::memory::give_back();
        done
    }

    fn reconcile(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        self.book.rescanning();
        let cache = self.book.hash_cache();
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
            self.book.tell(reporter, told);
        }
        let folder_actions = self.book.folders_scanned(scan.folders);
        self.folders().execute(folder_actions, reporter)?;
        let hashes = scan
            .files
            .iter()
            .map(|(p, s)| (p.clone(), (s.stamp, s.checksum)))
            .collect();
        self.book.save_hash_cache(&cache, &hashes);
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
        self.book.files_scanned(local, reporter);
        let (now, server_now) = (Instant::now(), Timestamp::now().offset_by(self.offset_ms));
        let actions = self.book.plan_all_files(server_now, now);
        self.execute(actions, None, true, reporter)
    }

    /// The paths whose watcher signal came due, looked at and then carried out together: a
    /// single save as before (its bytes already read, no status change for one file); a burst
    /// (a folder dropped in, a build writing many files) through the parallel executor a first
    /// sync uses, counted as "N of M" from its first file to its last.
    fn push_all(
        &mut self,
        looks: Vec<(String, bool)>,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        // Counted before looking: a look uses up the echo it was awaited as.
        let looked = looks.iter().filter(|(p, _)| self.book.is_work(p)).count() as u64;
        let mut plans = Vec::new();
        // Each look records the file's hash: one commit for the lot, not a commit (and a disk
        // flush) per file of a burst.
        let batch = looks.len() > 1 && self.book.begin_batch();
        let mut ended = Ok(());
        for (rel, waited_empty) in looks {
            match self.look_at(&rel, waited_empty, reporter) {
                Ok(Pushed::Plan(actions, snap)) => plans.push((actions, snap)),
                Ok(Pushed::Nothing) => {}
                Err(end) => {
                    ended = Err(end);
                    break;
                }
            }
        }
        self.book.end_batch(batch);
        ended?;
        let count = match self.burst.in_progress() || plans.len() > 1 {
            true => Count::Burst { looked },
            false => Count::Own,
        };
        if plans.len() <= 1 {
            let (actions, snap) = plans.pop().unwrap_or_default();
            return self.execute_counted(actions, snap, false, count, reporter);
        }
        // Past one file the bytes are read again by the transfer (as a first sync does): a
        // burst of large files must not be held in memory all at once.
        let actions: Vec<Action> = plans.into_iter().flat_map(|(a, _)| a).collect();
        self.execute_counted(actions, None, true, count, reporter)
    }

    /// A watcher signal came due for `rel`: what to do about it (nothing, a plan, and the bytes
    /// already read for its upload).
    fn look_at(
        &mut self,
        rel: &str,
        waited_empty: bool,
        reporter: &Reporter,
    ) -> Result<Pushed, SessionEnd> {
        if rel == IGNORE_FILE {
            // What is synced changed: a new session lists both sides again under the new rules.
            return Err(SessionEnd::Restart("the ignore rules changed".into()));
        }
        match self.rules.verdict(rel) {
            Verdict::Synced(_) => {}
            Verdict::Ignored => return Ok(Pushed::Nothing),
            Verdict::Forbidden(why) => {
                // Renamed away or deleted: its issue is over.
                match std::fs::symlink_metadata(self.folder.join(rel)) {
                    Ok(_) => self
                        .book
                        .tell(reporter, issues::name_breaks_rules(rel, &why)),
                    Err(_) => self.book.gone(reporter, rel),
                }
                return Ok(Pushed::Nothing);
            }
        }
        let stamp_now = std::fs::symlink_metadata(self.folder.join(rel))
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| local::stamp_of(&m));
        if self.book.is_echo(rel, stamp_now) {
            return Ok(Pushed::Nothing);
        }
        let snap = match local::read_stable(&self.folder, &self.folder.join(rel)) {
            ReadOutcome::Ready(s) => s,
            ReadOutcome::Gone => {
                // The whole folder going away is not the user deleting this file.
                self.check_folder()?;
                return Ok(Pushed::Plan(self.book.local_gone(reporter, rel), None));
            }
            ReadOutcome::TooLarge(size) => {
                self.book.tell(reporter, issues::too_large(rel, size));
                return Ok(Pushed::Nothing);
            }
            ReadOutcome::Moving | ReadOutcome::NotAFile => return Ok(Pushed::Nothing),
        };
        let synced_size = self.book.synced_record(&key_of(rel)).map(|b| b.size);
        if schedule::waits_for_next_write(snap.bytes.is_empty(), waited_empty, synced_size) {
            self.book.wait_for_next_write(rel, Instant::now());
            return Ok(Pushed::Nothing);
        }
        self.book.remember_hash(rel, snap.stamp, snap.checksum);
        if let Some(held) = self.book.held_by_another(rel) {
            self.book
                .tell(reporter, issues::local_collision(rel, &held));
            return Ok(Pushed::Nothing);
        }
        let file = LocalFile {
            path: rel.to_owned(),
            size: snap.stamp.size,
            mtime: self.ctx().server_time(snap.stamp),
            checksum: snap.checksum,
        };
        let actions = self.book.local_read(reporter, file);
        Ok(Pushed::Plan(actions, Some((rel.to_owned(), snap))))
    }

    fn poll(&mut self, reporter: &Reporter) -> Result<(), SessionEnd> {
        let first = match self.feed.take(Instant::now()) {
            Ok(first) => first,
            Err(e) => return self.poll_failed(e, reporter),
        };
        let mut changes = Changes::default();
        let (rules, book, remote) = (&self.rules, &mut self.book, &self.remote);
        let read = read_pages(
            Some(self.feed.cursor()),
            first,
            |at| remote.changes(at, None),
            |entry| book.take_remote_entry(&mut changes, rules, entry),
        );
        for (path, why) in changes.dropped {
            let told = issues::remote_dropped(&path, &why);
            self.book.tell(reporter, told);
        }
        // Deleted on the server with nothing of it here: an issue about fetching it is over (a
        // local file's own issue stands).
        for path in changes.gone {
            let here = RemotePath::file(&path)
                .ok()
                .and_then(|rp| local::join_inside(&self.folder, &rp))
                .is_some_and(|p| std::fs::symlink_metadata(p).is_ok());
            if !here {
                self.book.resolved(reporter, &path);
            }
        }
        let cursor = match read {
            Ok(cursor) => cursor,
            Err(PageError::Remote(e)) => return self.poll_failed(e, reporter),
            Err(e) => return Err(listing_end(e)),
        };
        self.book.poll_done();
        self.feed.moved_to(cursor);
        if !changes.folders.is_empty() {
            let actions = self.folders().look(&changes.folders);
            self.folders().execute(actions, reporter)?;
        }
        if !changes.keys.is_empty() {
            let actions = self.book.plan(&changes.keys);
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
        match self.book.poll_failed(now) {
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
        self.book.quota_asked(Instant::now());
        let status = match self.remote.status() {
            Ok((status, _)) => status,
            Err(e) if fault::call_retryable(&e) => return Ok(()),
            Err(e) => return Err(session_end(e)),
        };
        if status.sites.used < status.sites.limit {
            log::info!("The account has a site free: trying the held-back apps again");
            let actions = self.book.held_back_plan();
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
        self.execute_counted(actions, snap, parallel, Count::Own, reporter)
    }

    /// [`Session::execute`], counting its transfers by `count`.
    fn execute_counted(
        &mut self,
        actions: Vec<Action>,
        snap: Option<(String, Snapshot)>,
        parallel: bool,
        count: Count,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        let Prepared {
            transfers,
            conflicts,
        } = self.book.prepare(actions, reporter);
        let n = transfers.len() as u64;
        let (before, total, shown) = match count {
            Count::Own => (0, n, n > 1),
            Count::Burst { looked } => {
                // The paths looked at that need no transfer (our own downloads coming back,
                // unchanged saves) are settled already.
                let waiting = self.book.looks_pending(true) as u64;
                let (done, total) = self.burst.transferring(looked, n, waiting);
                (done, total, true)
            }
        };
        if transfers.is_empty() {
            return Ok(());
        }
        // A status write (a flush) per file would cost more than a small file's transfer: the
        // count moves about every 5%.
        let step = (total / 20).max(1);
        let ctx = self.ctx();
        if shown {
            reporter.progress(Some(Progress {
                done: before,
                total,
            }));
        }
        let outcomes = executor::run(&ctx, transfers, snap, parallel, &mut |finished| {
            let done = before + finished as u64;
            if shown && (done.is_multiple_of(step) || done == total) {
                reporter.progress(Some(Progress { done, total }));
            }
        });
        // The count stays until the step (or the session's start) settles it: going to "Up to
        // date" here and back to "Syncing" a moment later would be a lie in between.
        if let Count::Burst { .. } = count {
            self.burst.transferred(outcomes.len() as u64);
        }
        self.book.apply_all(outcomes, &conflicts, reporter)
    }

    /// After a step (or a session's start): while files wait to be read and pushed (a burst in
    /// progress, a write too fresh to trust, a file waiting for its next write), the status says
    /// "Syncing N of M", never "Up to date"; once none waits, the burst's count is over.
    /// Unchanged states are not published again, so this costs an idle step nothing.
    fn settle_progress(&mut self, reporter: &Reporter) {
        let (progress, ended) = self.pending_progress();
        reporter.progress(progress);
        if ended >= BIG_BURST {
            // As after a full reconcile: the burst's reads, plans and transfers are done with.
            self.book.release_memory();
            crate::os::memory::give_back();
        }
    }

    /// The count of the work still waiting, if any, and the size of a burst that just ended.
    fn pending_progress(&mut self) -> (Option<Progress>, u64) {
        let in_burst = self.burst.in_progress();
        self.burst.settle(self.book.looks_pending(in_burst) as u64)
    }
}

/// How [`Session::execute_counted`] counts its transfers for the status.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// "N of M" of this set alone, shown while more than one runs.
    Own,
    /// Part of the burst in progress, for `looked` paths the watcher reported: its count goes
    /// on across steps.
    Burst { looked: u64 },
}

/// What a look at one path calls for.
enum Pushed {
    Nothing,
    /// The plan, and the bytes already read for its upload.
    Plan(Vec<Action>, Option<(String, Snapshot)>),
}

/// What a status reply's version policy means for this session: it ends at once below the
/// minimum (nothing else is sent); above it, a newer release is news to offer, never to press.
fn version_news(policy: Option<&ClientVersions>) -> Result<Option<VersionNews>, SessionEnd> {
    let Some(policy) = policy else {
        return Ok(None);
    };
    let download = crate::remote::web_url(&policy.download);
    match judge(&this_version(), policy) {
        Standing::Outdated { minimum } => Err(SessionEnd::Outdated {
            minimum: Some(minimum),
            download,
        }),
        Standing::Behind { latest } => Ok(Some(VersionNews {
            version: latest.to_string(),
            required: false,
            download,
        })),
        Standing::Current => Ok(None),
    }
}
