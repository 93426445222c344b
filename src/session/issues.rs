//! The sync issues: what the user is told about each file the engine did not sync, or a
//! conflict it settled (a [`SyncIssue`] with its reason and what to do, and the line the log
//! gets at its first occurrence), and the error lines that hang on them (the quota line while
//! an app is held back, "can't write" while a download is refused). It must never decide what
//! an error means (`fault` does) and never clears an issue whose file has not synced or gone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use hyperclay_protocol::Checksum;

use crate::remote::RemoteError;
use crate::rules::fault::{self, Cleared};
use crate::rules::plan::Key;
use crate::session::remote_files::Dropped;
use crate::status::report::Reporter;
use crate::status::state::{IssueKind, SyncIssue, UserError};

/// Takes off the user's error line whatever `moment` makes untrue.
pub(crate) fn clear(reporter: &Reporter, moment: Cleared) {
    reporter.update(|s| {
        if s.error.as_ref().is_some_and(|e| fault::clears(e, moment)) {
            s.error = None;
        }
    });
}

/// The issues a session knows of, and what they hold up.
#[derive(Debug, Default)]
pub(crate) struct Issues {
    /// Paths with an issue on the list, so a file that syncs clears its own; true for one that
    /// leaves the file unsynced (not a settled conflict).
    told: HashMap<String, bool>,
    /// Apps the site quota held back, with their local path: tried again when the account's
    /// site count allows.
    held_back: BTreeMap<Key, String>,
    /// When the account's site count is asked next, while anything is held back.
    next_quota_check: Option<Instant>,
    /// Local paths the folder refused to let us write: the user sees an error until each of
    /// them is written (or a new session starts).
    refused: BTreeSet<String>,
}

impl Issues {
    /// Picks up the issues already on the list (from an earlier session), with whether each
    /// leaves its file unsynced.
    pub(crate) fn new(known: impl IntoIterator<Item = (String, bool)>) -> Issues {
        Issues {
            told: known.into_iter().collect(),
            ..Issues::default()
        }
    }

    pub(crate) fn tell(&mut self, reporter: &Reporter, (issue, line): Told) {
        self.told.insert(issue.path.clone(), issue.kind.unsynced());
        reporter.issue(issue, &line);
    }

    /// `path` synced or is gone: its issue, if it had one, is over, and an app held back there
    /// is no longer waiting for a site.
    pub(crate) fn resolved(&mut self, reporter: &Reporter, path: &str) {
        self.resolved_all(reporter, &HashSet::from([path]));
    }

    /// [`Issues::resolved`] for many paths at once: one pass over the list, however many.
    fn resolved_all(&mut self, reporter: &Reporter, paths: &HashSet<&str>) {
        let told: HashSet<&str> = paths
            .iter()
            .copied()
            .filter(|p| self.told.remove(*p).is_some())
            .collect();
        if !told.is_empty() {
            reporter.resolved_all(&told);
        }
        let held = self.held_back.len();
        self.held_back.retain(|_, p| !paths.contains(p.as_str()));
        if held > 0 && self.held_back.is_empty() {
            self.next_quota_check = None;
            clear(reporter, Cleared::NothingHeldBack);
        }
    }

    /// `path` is gone from the folder (deleted, or renamed or moved away): its issue is over,
    /// and so is every issue inside it when it was a folder (moving a folder away reports the
    /// folder alone, not each file in it).
    pub(crate) fn gone(&mut self, reporter: &Reporter, path: &str) {
        let inside = format!("{path}/");
        let under: Vec<String> = self
            .told
            .keys()
            .filter(|p| p.starts_with(&inside))
            .cloned()
            .collect();
        let mut paths: HashSet<&str> = under.iter().map(String::as_str).collect();
        paths.insert(path);
        self.resolved_all(reporter, &paths);
    }

    /// `path` was read and found as last synced (our own download's echo, or a save without
    /// changes): an issue that kept it unsynced is over; a settled conflict stays on the list.
    pub(crate) fn unchanged(&mut self, reporter: &Reporter, path: &str) {
        if self.told.get(path) == Some(&true) {
            self.resolved(reporter, path);
        }
    }

    /// `key` (at local `path`) is in sync now.
    pub(crate) fn synced(&mut self, reporter: &Reporter, key: &Key, path: &str) {
        // An app held back at another path (moved meanwhile) is in sync too.
        if let Some(held_at) = self.held_back.get(key).cloned() {
            self.resolved(reporter, &held_at);
        }
        self.resolved(reporter, path);
        if self.refused.remove(path) && self.refused.is_empty() {
            clear(reporter, Cleared::FolderWritable);
        }
    }

    /// The quota refused to create the app `key` (at `path`): it is held back, the user sees
    /// the quota line, and the site count is asked at `check_at`.
    pub(crate) fn held_back(
        &mut self,
        reporter: &Reporter,
        key: Key,
        path: &str,
        check_at: Instant,
    ) {
        self.held_back.insert(key, path.to_owned());
        self.next_quota_check.get_or_insert(check_at);
        // The line first: whoever sees the issue sees why.
        reporter.update(|s| s.error = Some(UserError::SiteLimit));
        self.tell(reporter, held_back(path));
    }

    /// The folder refused to let a download write `path`.
    pub(crate) fn write_refused(&mut self, reporter: &Reporter, path: String, why: String) {
        reporter.update(|s| s.error = Some(UserError::FolderNotWritable(why.clone())));
        self.tell(reporter, not_written(&path, &why));
        self.refused.insert(path);
    }

    /// After a full reconcile only the apps it held back again are held back: older notices go,
    /// and with none left the quota line goes too.
    pub(crate) fn settle_held_back(&mut self, reporter: &Reporter) {
        let held: HashSet<&String> = self.held_back.values().collect();
        reporter.update(|s| {
            s.issues
                .retain(|i| i.kind != IssueKind::HeldBack || held.contains(&i.path));
        });
        if self.held_back.is_empty() {
            clear(reporter, Cleared::NothingHeldBack);
        }
    }

    pub(crate) fn held_back_keys(&self) -> BTreeSet<Key> {
        self.held_back.keys().cloned().collect()
    }

    /// When the site count is to be asked; `None` while nothing is held back.
    pub(crate) fn next_quota_check(&self) -> Option<Instant> {
        self.next_quota_check
    }

    /// The site count was asked; the next time is `next` if anything is still held back.
    pub(crate) fn quota_checked(&mut self, next: Instant) {
        self.next_quota_check = (!self.held_back.is_empty()).then_some(next);
    }
}

/// An issue and the log line that goes with it.
pub(crate) type Told = (SyncIssue, String);

fn skipped(path: &str, reason: String, hint: &str) -> Told {
    skipped_as(path, path, reason, hint)
}

/// A skipped file whose log line names it as `shown` (quoted where a name may hide its
/// difference from another, or came from the server).
fn skipped_as(path: &str, shown: &str, reason: String, hint: &str) -> Told {
    let line = format!("skip {shown}: {reason}; {hint}");
    let issue = SyncIssue {
        path: path.to_owned(),
        kind: IssueKind::Skipped {
            reason,
            hint: hint.to_owned(),
        },
    };
    (issue, line)
}

/// Its name, depth or place breaks the protocol's rules (`why` says which).
pub(crate) fn name_breaks_rules(path: &str, why: &str) -> Told {
    skipped(
        path,
        why.to_owned(),
        "rename it (folders: lowercase letters, digits, `_`, `-`; apps: lowercase slug names; \
         at most 5 folders deep) and it syncs",
    )
}

pub(crate) fn too_large(path: &str, size: u64) -> Told {
    skipped(
        path,
        format!("{size} bytes is over the 20 MiB limit"),
        "make it smaller than 20 MiB and it syncs",
    )
}

/// A local name a case-insensitive or normalising filesystem could not tell from `held`.
pub(crate) fn local_collision(path: &str, held: &str) -> Told {
    skipped_as(
        path,
        &format!("{path:?}"),
        format!(
            "{held:?} is synced already, a name that differs only in case or Unicode form \
             (Windows and macOS cannot hold both)"
        ),
        "rename one of them",
    )
}

/// Another local file already syncs as the app `key`.
pub(crate) fn duplicate_app(path: &str, key: &Key) -> Told {
    let name = match key {
        Key::App(name) => name.as_str(),
        Key::File(path) => path.as_str(),
    };
    skipped(
        path,
        format!("another file is already synced as the app {name}"),
        "app names are unique across folders: rename or remove one of them",
    )
}

/// A listing entry the session left out.
pub(crate) fn remote_dropped(path: &str, why: &Dropped) -> Told {
    let skipped = |path, reason, hint| skipped_as(path, &format!("{path:?}"), reason, hint);
    match why {
        Dropped::BrokenPath => skipped(
            path,
            "the server sent a path that breaks the rules".into(),
            "rename it on the server",
        ),
        Dropped::BadChecksum => skipped(
            path,
            "the server sent a malformed checksum".into(),
            "save it again on the server",
        ),
        Dropped::Collides(held) => skipped(
            path,
            format!(
                "the server also has {held:?}, a name that differs only in case or Unicode \
                 form; only {held:?} is synced"
            ),
            "rename one of them on the server",
        ),
    }
}

/// Tried and given up (after the last retry, or refused for good).
pub(crate) fn failed(path: &str, error: &RemoteError) -> Told {
    let line = format!("error {path}: {error}");
    let issue = SyncIssue {
        path: path.to_owned(),
        kind: IssueKind::Failed {
            error: error.to_string(),
        },
    };
    (issue, line)
}

/// A download the folder refused to write.
pub(crate) fn not_written(path: &str, why: &str) -> Told {
    let line = format!("cannot save {path}: {why}");
    let issue = SyncIssue {
        path: path.to_owned(),
        kind: IssueKind::Failed {
            error: why.to_owned(),
        },
    };
    (issue, line)
}

pub(crate) fn held_back(path: &str) -> Told {
    let line = format!(
        "hold back {path}: the account has no sites left; tried again when the site count allows"
    );
    let issue = SyncIssue {
        path: path.to_owned(),
        kind: IssueKind::HeldBack,
    };
    (issue, line)
}

/// Both sides changed; the newer copy won and the other (with checksum `loser`, when known) is
/// kept at `backup`.
pub(crate) fn conflict(path: &str, backup: String, loser: Option<Checksum>) -> Told {
    let restore = loser.map(|c| crate::history::restore_command(path, &c));
    let line = match &restore {
        Some(cmd) => format!(
            "conflict {path}: both sides changed; the newer copy won, the other is at {backup} \
             (bring it back: {cmd})"
        ),
        None => format!(
            "conflict {path}: both sides changed; the newer copy won, the other is at {backup}"
        ),
    };
    let issue = SyncIssue {
        path: path.to_owned(),
        kind: IssueKind::Conflict { backup, restore },
    };
    (issue, line)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::status::state::EngineState;

    fn reporter(home: &std::path::Path) -> Reporter {
        let state = EngineState {
            online: true,
            ..EngineState::starting(String::new(), home.to_path_buf(), home.join("log"), true)
        };
        Reporter::detached(state, home)
    }

    fn app(name: &str) -> Key {
        Key::App(name.to_owned())
    }

    #[test]
    fn the_quota_line_stays_while_any_app_is_held_back_and_goes_with_the_last() {
        let home = tempfile::tempdir().unwrap();
        let r = reporter(home.path());
        let mut issues = Issues::default();
        let later = Instant::now() + Duration::from_secs(10);
        issues.held_back(&r, app("a"), "a.html", later);
        issues.held_back(&r, app("b"), "b.html", later);
        assert_eq!(r.state().error, Some(UserError::SiteLimit));
        assert_eq!(issues.next_quota_check(), Some(later));
        // Another file syncing changes nothing.
        issues.synced(&r, &Key::File("notes.txt".into()), "notes.txt");
        assert_eq!(r.state().error, Some(UserError::SiteLimit));
        issues.synced(&r, &app("a"), "a.html");
        assert_eq!(r.state().error, Some(UserError::SiteLimit));
        // The last one goes away (deleted): nothing is held back any more.
        issues.resolved(&r, "b.html");
        assert_eq!(r.state().error, None);
        assert!(r.state().issues.is_empty());
        assert_eq!(issues.next_quota_check(), None);
    }

    #[test]
    fn a_folder_gone_takes_the_issues_inside_it_and_no_others() {
        let home = tempfile::tempdir().unwrap();
        let r = reporter(home.path());
        let mut issues = Issues::default();
        for path in [
            "Bad Folder/a.txt",
            "Bad Folder/deep/b.txt",
            "Bad Folder2/c.txt",
        ] {
            issues.tell(&r, name_breaks_rules(path, "a space in a folder name"));
        }
        issues.gone(&r, "Bad Folder");
        let paths: Vec<String> = r.state().issues.into_iter().map(|i| i.path).collect();
        assert_eq!(paths, ["Bad Folder2/c.txt"]);
    }

    #[test]
    fn a_settled_conflict_stays_listed_when_its_file_is_read_back_unchanged() {
        let home = tempfile::tempdir().unwrap();
        let r = reporter(home.path());
        let mut issues = Issues::default();
        issues.tell(
            &r,
            conflict("x.html", "sites-versions/x/1.html".into(), None),
        );
        issues.tell(&r, too_large("big.bin", 30 << 20));
        issues.unchanged(&r, "x.html");
        issues.unchanged(&r, "big.bin");
        let paths: Vec<String> = r.state().issues.into_iter().map(|i| i.path).collect();
        assert_eq!(paths, ["x.html"]);
        issues.synced(&r, &app("x"), "x.html");
        assert!(r.state().issues.is_empty());
    }
}
