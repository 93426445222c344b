//! The words of the status, for every reader: the tray's tooltip and issues line, `hyperclay-sync
//! status` and its `--json`, and the sync issues report. One pure module, so the tray and the
//! command line can never say different things about the same state. It must never do I/O or
//! read a clock.

use serde::{Deserialize, Serialize};

use crate::status::state::{EngineState, IssueKind, Progress, SyncIssue, UserError};

/// The one word that says where sync stands, for people and scripts (`status --json`'s `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StateWord {
    /// Transfers are in hand ("Syncing 1,200 of 3,000").
    Syncing,
    /// Connected, nothing left to do.
    UpToDate,
    /// Switched off by the user, or stopped by something only the user can fix (the reason).
    Paused,
    /// Switched on, but the server cannot be reached (the cause).
    Offline,
    /// No login, or the server refused it (the reason).
    LoggedOut,
    /// No engine runs for this data folder (only the command line can see this).
    NotRunning,
    /// The server no longer accepts this version: nothing syncs until the app is updated.
    Outdated,
}

impl StateWord {
    /// The word as `status --json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StateWord::Syncing => "syncing",
            StateWord::UpToDate => "upToDate",
            StateWord::Paused => "paused",
            StateWord::Offline => "offline",
            StateWord::LoggedOut => "loggedOut",
            StateWord::NotRunning => "notRunning",
            StateWord::Outdated => "outdated",
        }
    }
}

/// Why sync is paused when the user switched it off.
pub const SWITCHED_OFF: &str = "sync is switched off";
const NOT_LOGGED_IN: &str = "not logged in";
const WAITING_FOR_LOGIN: &str = "waiting for the login in the browser";
const NO_ENGINE: &str = "the sync engine is not running";

/// Where sync stands: the state word, why (for paused, offline and logged out), and how far the
/// work in hand has got (while syncing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub state: StateWord,
    pub reason: Option<String>,
    pub progress: Option<Progress>,
}

impl Summary {
    fn new(state: StateWord, reason: Option<String>) -> Summary {
        Summary {
            state,
            reason,
            progress: None,
        }
    }

    /// The summary of a running engine's state.
    pub fn of(s: &EngineState) -> Summary {
        // Before the login, too: an outdated app cannot even log in.
        if let Some(e @ UserError::Outdated { .. }) = &s.error {
            return Summary::new(StateWord::Outdated, Some(e.message()));
        }
        if !s.logged_in() && !s.token_given {
            let reason = match (&s.error, &s.login) {
                (Some(UserError::LoginRefused), _) => UserError::LoginRefused.message(),
                (_, Some(_)) => WAITING_FOR_LOGIN.to_owned(),
                _ => NOT_LOGGED_IN.to_owned(),
            };
            return Summary::new(StateWord::LoggedOut, Some(reason));
        }
        if !s.enabled {
            return Summary::new(StateWord::Paused, Some(SWITCHED_OFF.to_owned()));
        }
        // These stop all of sync until the user acts; the others stop one app or one file.
        if let Some(
            e @ (UserError::SubscriptionRequired
            | UserError::FolderUnavailable(_)
            | UserError::LoginRefused),
        ) = &s.error
        {
            return Summary::new(StateWord::Paused, Some(e.message()));
        }
        if !s.online {
            // An error the user must act on says more than the network's reason; before the
            // first try there is no reason yet.
            let cause = match (&s.error, &s.offline_cause) {
                (Some(e), _) => e.message(),
                (None, Some(cause)) => cause.clone(),
                (None, None) => format!("cannot reach {}", s.server),
            };
            return Summary::new(StateWord::Offline, Some(cause));
        }
        match (s.progress, s.retrying) {
            (Some(p), _) => Summary {
                state: StateWord::Syncing,
                reason: None,
                progress: Some(p),
            },
            (None, 0) => Summary::new(StateWord::UpToDate, None),
            (None, n) => Summary::new(
                StateWord::Syncing,
                Some(format!("{} to try again", count(n, "file", "files"))),
            ),
        }
    }

    /// What the command line says with no engine's word to go by (or with the running engine's
    /// last `saved` summary): the login and the switch come first, as they would for an engine.
    pub fn on_disk(
        logged_in: bool,
        enabled: bool,
        running: bool,
        saved: Option<Summary>,
    ) -> Summary {
        // An outdated engine may hold no login (the server refused even that): it says so first.
        if running && let Some(s) = saved.as_ref().filter(|s| s.state == StateWord::Outdated) {
            return s.clone();
        }
        if !logged_in {
            return saved
                .filter(|s| s.state == StateWord::LoggedOut)
                .unwrap_or_else(|| Summary::new(StateWord::LoggedOut, Some(NOT_LOGGED_IN.into())));
        }
        if !enabled {
            return Summary::new(StateWord::Paused, Some(SWITCHED_OFF.to_owned()));
        }
        match saved {
            Some(s) if running => s,
            _ => Summary::new(StateWord::NotRunning, Some(NO_ENGINE.to_owned())),
        }
    }

    /// The one line: "Syncing 1,200 of 3,000", "Up to date", "Off", "Offline: cannot reach …".
    pub fn line(&self) -> String {
        let reason = self.reason.as_deref().unwrap_or_default();
        match self.state {
            StateWord::Syncing => match self.progress {
                Some(p) if p == Progress::LOOKING => "Syncing: looking for changes".to_owned(),
                Some(p) => format!("Syncing {} of {}", thousands(p.done), thousands(p.total)),
                None if reason.is_empty() => "Syncing".to_owned(),
                None => format!("Syncing: {reason}"),
            },
            StateWord::UpToDate => "Up to date".to_owned(),
            StateWord::Paused if reason == SWITCHED_OFF => "Off".to_owned(),
            StateWord::Paused => format!("Paused: {reason}"),
            StateWord::Offline => format!("Offline: {reason}"),
            StateWord::LoggedOut if reason == WAITING_FOR_LOGIN => "Waiting for login".to_owned(),
            StateWord::LoggedOut if reason == NOT_LOGGED_IN => "Logged out".to_owned(),
            StateWord::LoggedOut => format!("Logged out: {reason}"),
            StateWord::NotRunning => "Not running".to_owned(),
            StateWord::Outdated => reason.to_owned(),
        }
    }
}

/// `n` with thousands separators: 1200 → "1,200".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

/// The issues' one line, as the tray's menu and `status` show it: "3 files not synced",
/// "1 conflict settled", or both joined; `None` when there is nothing to say.
pub fn issues_line(issues: &[SyncIssue]) -> Option<String> {
    let unsynced = issues.iter().filter(|i| i.kind.unsynced()).count();
    let conflicts = issues.len() - unsynced;
    let mut parts = Vec::new();
    if unsynced > 0 {
        parts.push(format!("{} not synced", count(unsynced, "file", "files")));
    }
    if conflicts > 0 {
        parts.push(format!(
            "{} settled",
            count(conflicts, "conflict", "conflicts")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The reason an issue's file is not synced, and what the user can do about it.
pub fn why_and_what_to_do(kind: &IssueKind) -> (String, String) {
    match kind {
        IssueKind::Skipped { reason, hint } => (reason.clone(), hint.clone()),
        IssueKind::Failed { error } => (
            format!("it could not be synced: {error}"),
            "save it again to retry; the log file has the details".to_owned(),
        ),
        IssueKind::HeldBack => (
            "the account has no sites left, so this app was not created on Hyperclay".to_owned(),
            "delete an app you no longer need on Hyperclay, or upgrade your plan; it is synced \
             as soon as the account allows"
                .to_owned(),
        ),
        IssueKind::Conflict { backup, restore } => (
            "it changed on both sides; the newer copy won".to_owned(),
            match restore {
                Some(cmd) => format!(
                    "the other copy is kept at {backup}; to make it the current content again, \
                     run: {cmd}"
                ),
                None => {
                    format!("the other copy is kept at {backup}: open it to take anything back")
                }
            },
        ),
    }
}

/// The plain-text sync issues report, the file the tray's issues line opens and `status` names.
pub fn issues_report(folder: &str, issues: &[SyncIssue]) -> String {
    let mut out = format!("Hyperclay Sync: sync issues\nFolder: {folder}\n\n");
    let Some(line) = issues_line(issues) else {
        out.push_str("No sync issues: every file is in sync.\n");
        return out;
    };
    out.push_str(&line);
    out.push_str(".\n");
    let sections = [
        (true, "Not synced"),
        (false, "Conflicts settled (nothing lost)"),
    ];
    for (unsynced, title) in sections {
        let mut listed = issues
            .iter()
            .filter(|i| i.kind.unsynced() == unsynced)
            .peekable();
        if listed.peek().is_none() {
            continue;
        }
        out.push_str(&format!("\n{title}:\n"));
        for issue in listed {
            let (why, what) = why_and_what_to_do(&issue.kind);
            let what_label = if unsynced { "What to do" } else { "Backup" };
            out.push_str(&format!(
                "\n  {}\n    Why: {why}\n    {what_label}: {what}\n",
                issue.path
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::status::state::PendingLogin;

    use super::*;

    fn up_to_date() -> EngineState {
        EngineState {
            account: Some("alice".to_owned()),
            online: true,
            ..EngineState::starting(
                "https://hyperclay.com".to_owned(),
                PathBuf::from("/home/u/Hyperclay"),
                PathBuf::from("/l/sync.log"),
                true,
            )
        }
    }

    fn skipped(path: &str) -> SyncIssue {
        SyncIssue {
            path: path.to_owned(),
            kind: IssueKind::Skipped {
                reason: "\"Hello World\" is not a valid app name".to_owned(),
                hint: "rename it to lowercase letters, digits and dashes".to_owned(),
            },
        }
    }

    fn conflict(path: &str) -> SyncIssue {
        SyncIssue {
            path: path.to_owned(),
            kind: IssueKind::Conflict {
                backup: "sites-versions/notes/2026-11-30-10-00-00.html".to_owned(),
                restore: None,
            },
        }
    }

    #[test]
    fn a_file_waiting_for_its_next_try_is_syncing_not_up_to_date() {
        let s = EngineState {
            retrying: 2,
            ..up_to_date()
        };
        let summary = Summary::of(&s);
        assert_eq!(summary.state, StateWord::Syncing);
        assert_eq!(summary.line(), "Syncing: 2 files to try again");
        let one = EngineState {
            retrying: 1,
            ..up_to_date()
        };
        assert_eq!(Summary::of(&one).line(), "Syncing: 1 file to try again");
    }

    #[test]
    fn a_session_comparing_both_sides_is_syncing_not_up_to_date() {
        let s = EngineState {
            progress: Some(Progress::LOOKING),
            ..up_to_date()
        };
        let summary = Summary::of(&s);
        assert_eq!(summary.state, StateWord::Syncing);
        assert_eq!(summary.line(), "Syncing: looking for changes");
    }

    #[test]
    fn syncing_says_n_of_m_with_thousands_separators() {
        let s = EngineState {
            progress: Some(Progress {
                done: 1200,
                total: 3000,
            }),
            ..up_to_date()
        };
        let summary = Summary::of(&s);
        assert_eq!(summary.state, StateWord::Syncing);
        assert_eq!(summary.line(), "Syncing 1,200 of 3,000");
        assert_eq!(Summary::of(&up_to_date()).line(), "Up to date");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn offline_says_its_cause() {
        let s = EngineState {
            online: false,
            ..up_to_date()
        };
        let summary = Summary::of(&s);
        assert_eq!(summary.state, StateWord::Offline);
        assert_eq!(
            summary.line(),
            "Offline: cannot reach https://hyperclay.com"
        );
        // With the network's reason once a try failed.
        let s = EngineState {
            offline_cause: Some("cannot reach https://hyperclay.com: connection refused".into()),
            ..s
        };
        assert_eq!(
            Summary::of(&s).line(),
            "Offline: cannot reach https://hyperclay.com: connection refused"
        );
        let s = EngineState {
            error: Some(UserError::Other(
                "https://x is not a Hyperclay server".into(),
            )),
            ..s
        };
        assert_eq!(
            Summary::of(&s).line(),
            "Offline: https://x is not a Hyperclay server"
        );
    }

    #[test]
    fn switched_off_and_blocked_are_paused_with_the_reason() {
        let off = EngineState {
            enabled: false,
            ..up_to_date()
        };
        assert_eq!(Summary::of(&off).state, StateWord::Paused);
        assert_eq!(Summary::of(&off).line(), "Off");
        let unpaid = EngineState {
            error: Some(UserError::SubscriptionRequired),
            ..up_to_date()
        };
        assert_eq!(
            Summary::of(&unpaid).line(),
            "Paused: Sync is for paid subscribers"
        );
        // The quota stops one app, not sync: the state stays what it is.
        let quota = EngineState {
            error: Some(UserError::SiteLimit),
            ..up_to_date()
        };
        assert_eq!(Summary::of(&quota).state, StateWord::UpToDate);
    }

    #[test]
    fn logged_out_says_why() {
        let out = EngineState {
            account: None,
            token_given: false,
            ..up_to_date()
        };
        assert_eq!(Summary::of(&out).line(), "Logged out");
        let refused = EngineState {
            error: Some(UserError::LoginRefused),
            ..out.clone()
        };
        let summary = Summary::of(&refused);
        assert_eq!(summary.state, StateWord::LoggedOut);
        assert_eq!(summary.reason, Some(UserError::LoginRefused.message()));
        let waiting = EngineState {
            login: Some(PendingLogin { url: "u".into() }),
            ..out
        };
        assert_eq!(Summary::of(&waiting).line(), "Waiting for login");
    }

    #[test]
    fn the_command_line_puts_login_switch_and_engine_first() {
        let saved = Summary::of(&up_to_date());
        assert_eq!(
            Summary::on_disk(true, true, true, Some(saved.clone())),
            saved
        );
        assert_eq!(
            Summary::on_disk(true, true, false, Some(saved.clone())).state,
            StateWord::NotRunning
        );
        assert_eq!(
            Summary::on_disk(true, false, true, Some(saved.clone())).line(),
            "Off"
        );
        assert_eq!(
            Summary::on_disk(false, true, true, Some(saved)).line(),
            "Logged out"
        );
        let refused = Summary::of(&EngineState {
            account: None,
            token_given: false,
            error: Some(UserError::LoginRefused),
            ..up_to_date()
        });
        assert_eq!(
            Summary::on_disk(false, true, true, Some(refused.clone())),
            refused
        );
    }

    #[test]
    fn a_settled_conflict_names_the_command_that_brings_the_other_copy_back() {
        let issue = SyncIssue {
            path: "notes.html".to_owned(),
            kind: IssueKind::Conflict {
                backup: "sites-versions/notes/2026-11-30-10-00-00-000+0000.html".to_owned(),
                restore: Some("hyperclay-sync restore notes.html --version 0123456789ab".into()),
            },
        };
        let report = issues_report("/f", &[issue]);
        assert!(
            report.contains("run: hyperclay-sync restore notes.html --version 0123456789ab"),
            "{report}"
        );
    }

    #[test]
    fn the_issues_line_counts_unsynced_files_and_conflicts_apart() {
        assert_eq!(issues_line(&[]), None);
        assert_eq!(
            issues_line(&[skipped("Hello World.html")]).as_deref(),
            Some("1 file not synced")
        );
        let three = [skipped("a"), skipped("b"), skipped("c")];
        assert_eq!(issues_line(&three).as_deref(), Some("3 files not synced"));
        assert_eq!(
            issues_line(&[conflict("notes.html")]).as_deref(),
            Some("1 conflict settled")
        );
        assert_eq!(
            issues_line(&[skipped("a"), conflict("b"), conflict("c")]).as_deref(),
            Some("1 file not synced, 2 conflicts settled")
        );
    }

    #[test]
    fn the_report_lists_each_path_with_why_and_what_to_do() {
        let issues = [
            skipped("Hello World.html"),
            SyncIssue {
                path: "big.html".to_owned(),
                kind: IssueKind::Failed {
                    error: "the server answered 500".to_owned(),
                },
            },
            SyncIssue {
                path: "shop.html".to_owned(),
                kind: IssueKind::HeldBack,
            },
            conflict("notes.html"),
        ];
        let report = issues_report("/home/u/Hyperclay", &issues);
        assert!(report.starts_with(
            "Hyperclay Sync: sync issues\nFolder: /home/u/Hyperclay\n\n\
             3 files not synced, 1 conflict settled.\n\nNot synced:\n"
        ));
        assert!(report.contains(
            "\n  Hello World.html\n    Why: \"Hello World\" is not a valid app name\n    \
             What to do: rename it to lowercase letters, digits and dashes\n"
        ));
        assert!(
            report
                .contains("  big.html\n    Why: it could not be synced: the server answered 500\n")
        );
        assert!(report.contains("  shop.html\n    Why: the account has no sites left"));
        assert!(report.contains(
            "\nConflicts settled (nothing lost):\n\n  notes.html\n    Why: it changed on both \
             sides; the newer copy won\n    Backup: the other copy is kept at \
             sites-versions/notes/2026-11-30-10-00-00.html"
        ));
        assert_eq!(
            issues_report("/f", &[]),
            "Hyperclay Sync: sync issues\nFolder: /f\n\nNo sync issues: every file is in sync.\n"
        );
    }
}
