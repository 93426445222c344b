//! What the engine tells the outside world: the shared state snapshot, its observer, the status
//! file `hyperclay-sync status` reads, the sync-issues list and its report (the file the tray
//! and `status` point to). The words themselves come from [`crate::status::text`]; which errors
//! the user must see is decided in [`crate::rules::fault`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyperclay_protocol::Timestamp;
use serde::{Deserialize, Serialize};

use crate::home::settings;
use crate::status::state::{
    EngineState, Progress, SyncIssue, UpdateProgress, UserError, VersionNews,
};
use crate::status::text::{self, Summary};

/// The state the engine thread writes and every handle reads.
pub(crate) struct Shared {
    pub(crate) state: Mutex<EngineState>,
    pub(crate) shutdown: Arc<AtomicBool>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What `hyperclay-sync status` reads: the engine's last state, kept current by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusFile {
    pub account: Option<String>,
    pub server: String,
    pub folder: PathBuf,
    pub enabled: bool,
    pub online: bool,
    pub last_sync: Option<Timestamp>,
    pub error: Option<String>,
    pub log_file: PathBuf,
    pub pid: u32,
    /// The state word, its reason and progress, as the tray shows them.
    #[serde(flatten)]
    pub summary: Summary,
    /// The sync issues, oldest first; the report file lists them for people.
    #[serde(default)]
    pub issues: Vec<SyncIssue>,
    /// A newer version the server names, required or offered.
    #[serde(default)]
    pub version_news: Option<VersionNews>,
    /// The update the user asked for, while it runs and after it ended.
    #[serde(default)]
    pub update: Option<UpdateProgress>,
}

pub fn status_file(home: &Path) -> PathBuf {
    home.join("status.json")
}

/// The plain-text sync issues report (private, like every file of the engine's home).
pub fn issues_report_file(home: &Path) -> PathBuf {
    home.join("sync-issues.txt")
}

pub(crate) struct Reporter {
    shared: Arc<Shared>,
    observer: Box<dyn Fn(&EngineState) + Send + 'static>,
    status_file: PathBuf,
    issues_report: PathBuf,
    /// The issues the report file holds now; `None` until it is first written this run, so a
    /// report left by an earlier run is replaced.
    reported: Mutex<Option<Vec<SyncIssue>>>,
    /// The status file as last written, and when.
    written: Mutex<Option<(StatusFile, Instant)>>,
    /// How often a change of the progress count alone is written (each write is two fsyncs, and
    /// a first sync of 3,000 files counts 3,000 times); anything else is written at once.
    progress_every: Duration,
    /// When the state was last published, and whether issue changes have come since that are
    /// not published yet.
    published: Mutex<Published>,
    /// How often changes of the sync issues alone are published. They come in bursts (a folder
    /// of 5,000 misnamed files is 5,000 issues in one scan), and each publish rewrites the
    /// status file and the whole report: one per issue made a scan quadratic. The state holds
    /// each at once; the files and observers hear of them within this time, or at the engine's
    /// next [`Reporter::flush`], before it waits.
    issues_every: Duration,
    /// The paths the sync issues list holds, so telling one more of thousands is not a search
    /// of the list. Locked only while the state is.
    listed: Mutex<HashSet<String>>,
}

#[derive(Default)]
struct Published {
    at: Option<Instant>,
    pending: bool,
}

/// See [`Reporter::progress_every`]: often enough for `status` run by hand.
const PROGRESS_WRITE_EVERY: Duration = Duration::from_millis(500);
/// See [`Reporter::issues_every`].
const ISSUES_PUBLISH_EVERY: Duration = Duration::from_millis(500);

impl Reporter {
    /// Reports for the engine of data folder `home`, into `shared` and to `observer`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        observer: Box<dyn Fn(&EngineState) + Send + 'static>,
        home: &Path,
    ) -> Reporter {
        let listed = lock(&shared.state)
            .issues
            .iter()
            .map(|i| i.path.clone())
            .collect();
        Reporter {
            shared,
            observer,
            status_file: status_file(home),
            issues_report: issues_report_file(home),
            reported: Mutex::new(None),
            written: Mutex::new(None),
            progress_every: PROGRESS_WRITE_EVERY,
            published: Mutex::new(Published::default()),
            issues_every: ISSUES_PUBLISH_EVERY,
            listed: Mutex::new(listed),
        }
    }

    /// A reporter over `state` alone, with no observer: for tests of what reports.
    #[cfg(test)]
    pub(crate) fn detached(state: EngineState, home: &Path) -> Reporter {
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            shutdown: Arc::new(AtomicBool::new(false)),
        });
        Reporter::new(shared, Box::new(|_| {}), home)
    }

    /// Changes the state; observers and the status file hear of it only if it really changed.
    pub(crate) fn update(&self, change: impl FnOnce(&mut EngineState)) {
        let (before, after) = {
            let mut s = lock(&self.shared.state);
            let before = s.clone();
            change(&mut s);
            if s.issues != before.issues {
                *lock(&self.listed) = s.issues.iter().map(|i| i.path.clone()).collect();
            }
            // Once the server answers, the cause of the last failure to reach it is no longer true.
            if s.online {
                s.offline_cause = None;
            }
            (before, s.clone())
        };
        if before != after {
            self.publish(&after);
        }
    }

    pub(crate) fn publish(&self, s: &EngineState) {
        let file = StatusFile {
            account: s.account.clone(),
            server: s.server.clone(),
            folder: s.folder.clone(),
            enabled: s.enabled,
            online: s.online,
            last_sync: s.last_sync,
            error: s.error.as_ref().map(UserError::message),
            log_file: s.log_file.clone(),
            pid: std::process::id(),
            summary: Summary::of(s),
            issues: s.issues.clone(),
            version_news: s.version_news.clone(),
            update: s.update.clone(),
        };
        // The report first: whoever sees the count in the status can open the list it counts.
        self.write_issues_report(s);
        self.write_status_file(file);
        (self.observer)(s);
        *lock(&self.published) = Published {
            at: Some(Instant::now()),
            pending: false,
        };
    }

    /// Publishes the issue changes held back by [`Reporter::issues_every`], if any: the engine
    /// calls it before it waits, so nothing it knows stays unsaid while it sleeps.
    pub(crate) fn flush(&self) {
        let pending = lock(&self.published).pending;
        if pending {
            self.publish(&self.state());
        }
    }

    /// The sync issues changed: published now unless they were moments ago (see
    /// [`Reporter::issues_every`]).
    fn issues_changed(&self) {
        let due = {
            let mut published = lock(&self.published);
            let due = published
                .at
                .is_none_or(|at| at.elapsed() >= self.issues_every);
            published.pending = !due;
            due
        };
        if due {
            self.publish(&self.state());
        }
    }

    fn write_status_file(&self, file: StatusFile) {
        let mut written = lock(&self.written);
        if let Some((before, at)) = written.as_ref()
            && only_the_count_moved(before, &file)
            && at.elapsed() < self.progress_every
        {
            return;
        }
        let bytes = match serde_json::to_vec_pretty(&file) {
            Ok(bytes) => bytes,
            Err(e) => return log::warn!("cannot write the status file: {e}"),
        };
        match settings::write_atomically(&self.status_file, &bytes) {
            Ok(()) => *written = Some((file, Instant::now())),
            Err(e) => log::warn!("cannot write the status file: {e}"),
        }
    }

    /// Rewrites the report when the issues changed since it was last written.
    fn write_issues_report(&self, s: &EngineState) {
        let mut reported = lock(&self.reported);
        if reported.as_ref() == Some(&s.issues) {
            return;
        }
        let text = text::issues_report(&s.folder.display().to_string(), &s.issues);
        match settings::write_atomically(&self.issues_report, text.as_bytes()) {
            Ok(()) => *reported = Some(s.issues.clone()),
            Err(e) => log::warn!(
                "cannot write the sync issues report {}: {e}",
                self.issues_report.display()
            ),
        }
    }

    /// Adds `issue` to the sync issues (replacing an older one for the same path). Logged at its
    /// first occurrence only, with `log_line` (the cause and the hint, for the log reader).
    pub(crate) fn issue(&self, issue: SyncIssue, log_line: &str) {
        let first = {
            let mut s = lock(&self.shared.state);
            if lock(&self.listed).insert(issue.path.clone()) {
                s.issues.push(issue);
                true
            } else {
                match s.issues.iter_mut().find(|i| i.path == issue.path) {
                    Some(known) if *known == issue => false,
                    Some(known) => {
                        *known = issue;
                        true
                    }
                    None => {
                        s.issues.push(issue);
                        true
                    }
                }
            }
        };
        if first {
            log::warn!("{log_line}");
            self.issues_changed();
        }
    }

    /// Every path of `paths` synced (or was removed): their issues, if any, are over. One pass
    /// over the list, however many paths.
    pub(crate) fn resolved_all(&self, paths: &HashSet<&str>) {
        let changed = {
            let mut s = lock(&self.shared.state);
            let mut listed = lock(&self.listed);
            let mut changed = false;
            for p in paths {
                changed |= listed.remove(*p);
            }
            if changed {
                s.issues.retain(|i| !paths.contains(i.path.as_str()));
            }
            changed
        };
        if changed {
            self.issues_changed();
        }
    }

    /// The progress of the work in hand; `None` once up to date.
    pub(crate) fn progress(&self, progress: Option<Progress>) {
        self.update(|s| s.progress = progress);
    }

    pub(crate) fn state(&self) -> EngineState {
        lock(&self.shared.state).clone()
    }

    pub(crate) fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shared.shutdown.clone()
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shared.shutdown.load(Ordering::SeqCst)
    }
}

/// True when `now` says what `before` did but for how far the work in hand has got.
fn only_the_count_moved(before: &StatusFile, now: &StatusFile) -> bool {
    before.summary.progress.is_some()
        && now.summary.progress.is_some()
        && StatusFile {
            summary: now.summary.clone(),
            ..before.clone()
        } == *now
}

#[cfg(test)]
mod tests {
    use crate::status::state::IssueKind;
    use crate::status::text::StateWord;

    use super::*;

    fn reporter(home: &Path) -> Reporter {
        let state = EngineState {
            account: Some("alice".to_owned()),
            enabled: true,
            online: true,
            ..EngineState::starting(
                "https://hyperclay.com".to_owned(),
                PathBuf::from("/home/u/Hyperclay"),
                PathBuf::from("/l/sync.log"),
                true,
            )
        };
        Reporter::detached(state, home)
    }

    fn status(home: &Path) -> StatusFile {
        serde_json::from_slice(&std::fs::read(status_file(home)).unwrap()).unwrap()
    }

    #[test]
    fn issues_reach_the_status_file_and_a_private_report_until_resolved() {
        let home = tempfile::tempdir().unwrap();
        let reporter = reporter(home.path());
        let issue = SyncIssue {
            path: "Hello World.html".to_owned(),
            kind: IssueKind::Skipped {
                reason: "not a valid app name".to_owned(),
                hint: "rename it".to_owned(),
            },
        };
        reporter.issue(issue.clone(), "skip Hello World.html: not a valid app name");
        reporter.progress(Some(Progress { done: 1, total: 3 }));

        let file = status(home.path());
        assert_eq!(file.issues, [issue]);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(status_file(home.path())).unwrap()).unwrap();
        assert_eq!(
            json["issues"][0],
            serde_json::json!({
                "path": "Hello World.html",
                "kind": "skipped",
                "reason": "not a valid app name",
                "hint": "rename it",
            })
        );
        assert_eq!(json["state"], "syncing");
        assert_eq!(json["progress"], serde_json::json!({"done": 1, "total": 3}));
        assert_eq!(file.summary.state, StateWord::Syncing);
        assert_eq!(file.summary.line(), "Syncing 1 of 3");
        let report_path = issues_report_file(home.path());
        let report = std::fs::read_to_string(&report_path).unwrap();
        assert!(report.contains("1 file not synced."), "{report}");
        assert!(
            report.contains(
                "  Hello World.html\n    Why: not a valid app name\n    What to do: rename it"
            ),
            "{report}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&report_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        reporter.resolved_all(&HashSet::from(["Hello World.html"]));
        reporter.progress(None);
        let file = status(home.path());
        assert!(file.issues.is_empty());
        assert_eq!(file.summary.state, StateWord::UpToDate);
        let report = std::fs::read_to_string(&report_path).unwrap();
        assert!(report.contains("No sync issues"), "{report}");
    }

    #[test]
    fn a_moving_count_alone_is_not_written_each_time_but_everything_else_is() {
        let home = tempfile::tempdir().unwrap();
        let mut reporter = reporter(home.path());
        // Never again within this test's life, so the rule is checked without timing.
        reporter.progress_every = Duration::MAX;
        reporter.progress(Some(Progress { done: 1, total: 3 }));
        assert_eq!(status(home.path()).summary.line(), "Syncing 1 of 3");
        reporter.progress(Some(Progress { done: 2, total: 3 }));
        assert_eq!(status(home.path()).summary.line(), "Syncing 1 of 3");
        assert_eq!(
            crate::status::text::Summary::of(&reporter.state()).line(),
            "Syncing 2 of 3",
            "the observers and the state are current"
        );
        reporter.update(|s| s.online = false);
        assert_eq!(
            status(home.path()).summary.line(),
            "Offline: cannot reach https://hyperclay.com"
        );
        reporter.update(|s| s.online = true);
        assert_eq!(status(home.path()).summary.line(), "Syncing 2 of 3");
        reporter.progress(None);
        assert_eq!(status(home.path()).summary.line(), "Up to date");
    }

    #[test]
    fn a_burst_of_issues_is_published_once_and_flushed_whole() {
        let home = tempfile::tempdir().unwrap();
        let mut reporter = reporter(home.path());
        // Never again within this test's life, so the rule is checked without timing.
        reporter.issues_every = Duration::MAX;
        let skipped = |i: usize| SyncIssue {
            path: format!("Bad Folder/f{i}.txt"),
            kind: IssueKind::Skipped {
                reason: "a folder name with a space".to_owned(),
                hint: "rename the folder".to_owned(),
            },
        };
        for i in 0..1000 {
            reporter.issue(skipped(i), "skipped");
        }
        assert_eq!(reporter.state().issues.len(), 1000, "the state holds each");
        assert_eq!(status(home.path()).issues, [skipped(0)], "only the first");
        let report = std::fs::read_to_string(issues_report_file(home.path())).unwrap();
        assert!(report.contains("1 file not synced."), "{report}");

        reporter.flush();
        assert_eq!(status(home.path()).issues.len(), 1000);
        let report = std::fs::read_to_string(issues_report_file(home.path())).unwrap();
        assert!(report.contains("1,000 files not synced."), "{report}");

        // Any other change publishes at once, with the issues held back.
        reporter.resolved_all(&HashSet::from(["Bad Folder/f0.txt"]));
        assert_eq!(status(home.path()).issues.len(), 1000);
        reporter.update(|s| s.online = false);
        assert_eq!(status(home.path()).issues.len(), 999);
        let modified = || {
            std::fs::metadata(status_file(home.path()))
                .unwrap()
                .modified()
                .unwrap()
        };
        let written = modified();
        reporter.flush();
        assert_eq!(modified(), written, "nothing held back, nothing written");
    }

    #[test]
    fn a_report_left_by_an_earlier_run_is_replaced_at_the_first_publish() {
        let home = tempfile::tempdir().unwrap();
        let report_path = issues_report_file(home.path());
        std::fs::write(&report_path, "3 files not synced.").unwrap();
        let reporter = reporter(home.path());
        reporter.publish(&reporter.state());
        let report = std::fs::read_to_string(&report_path).unwrap();
        assert!(report.contains("No sync issues"), "{report}");
    }
}
