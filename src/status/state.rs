//! What the engine tells the outside world (the tray, `hyperclay-sync status`), and what the
//! outside world may ask of it. Plain data only: no I/O, no UI.

use std::path::PathBuf;

use hyperclay_protocol::Timestamp;

/// A problem the user must see, because it stops syncing (or some of it) until its cause goes away.
/// Offline is not an error: it is [`EngineState::online`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserError {
    /// The account is not (or no longer) a paid subscriber.
    SubscriptionRequired,
    /// Creating an app would pass the account's site quota.
    SiteLimit,
    /// Another account owns an app with a name in the folder.
    NameTaken,
    /// A download could not be written into the sync folder (read-only, disk full, …); carries
    /// the OS's reason with the file's folder-relative path. Cleared by the next good write.
    FolderNotWritable(String),
    /// The server refused the login (expired after 10 days without use, revoked, or the account
    /// gone): the app is logged out and says so until the user logs in again.
    LoginRefused,
    /// The sync folder is missing or not the one that was synced (its marker is gone): sync is
    /// paused, and resumes by itself when it is back. Carries the whole message.
    FolderUnavailable(String),
    /// The server no longer accepts this version: syncing stopped until the app is updated.
    /// Carries the oldest version the server accepts, when it said one.
    Outdated { minimum: Option<String> },
    /// Anything else that blocks syncing, already phrased for the user (e.g. "The sync folder is
    /// not writable").
    Other(String),
}

impl UserError {
    /// The exact line the user sees.
    pub fn message(&self) -> String {
        match self {
            UserError::SubscriptionRequired => "Sync is for paid subscribers".to_owned(),
            UserError::SiteLimit => {
                "You've run out of sites. We can't sync any more sites.".to_owned()
            }
            UserError::NameTaken => {
                "An app name is taken by another account. App names are unique across Hyperclay."
                    .to_owned()
            }
            UserError::FolderNotWritable(why) => {
                format!("Can't write into the sync folder: {why}")
            }
            UserError::LoginRefused => {
                "Your login has expired or was revoked (10 days without use end a login): \
                 choose Sync to log in again"
                    .to_owned()
            }
            UserError::Outdated {
                minimum: Some(minimum),
            } => format!("Update Hyperclay Sync to keep syncing (version {minimum} or later)"),
            UserError::Outdated { minimum: None } => {
                "Update Hyperclay Sync to keep syncing".to_owned()
            }
            UserError::FolderUnavailable(text) | UserError::Other(text) => text.clone(),
        }
    }
}

/// One entry of the "sync issues" list: a file the engine could not sync, or a conflict it settled
/// for the user. The tray shows only their count ("3 files not synced"); the report lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncIssue {
    /// The folder-relative path, `/`-separated, as the user sees it.
    pub path: String,
    /// Flattened, so `status --json` lists `{"path", "kind", "reason", "hint"}`.
    #[serde(flatten)]
    pub kind: IssueKind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IssueKind {
    /// Never tried: its name, size or place breaks a rule. `reason` says which, `hint` what to do.
    Skipped { reason: String, hint: String },
    /// Tried and given up (after the last retry, or refused); `error` is the cause.
    Failed { error: String },
    /// An app not created because the account is out of sites; tried again when the count allows.
    HeldBack,
    /// Both sides changed; the newer copy won and the other one is kept at `backup` (a path the
    /// user can open: local `sites-versions/…`, or the server's version history). `restore` is
    /// the command that brings that other copy back (`hyperclay-sync restore … --version …`).
    Conflict {
        backup: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore: Option<String>,
    },
}

impl IssueKind {
    /// A conflict was settled (nothing is left unsynced); every other kind leaves a file unsynced.
    pub fn unsynced(&self) -> bool {
        !matches!(self, IssueKind::Conflict { .. })
    }
}

/// How far the work in hand has got: "Syncing 1,200 of 3,000".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// Both sides are being read and compared: what there is to do is not counted yet (a
    /// session's start: the listing, the scan, the plan).
    pub const LOOKING: Progress = Progress { done: 0, total: 0 };
}

/// What the server's version policy says about this build, when it says anything.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionNews {
    /// The version to update to: the latest, or (when `required`) the oldest the server accepts.
    pub version: String,
    /// Below the server's minimum: nothing syncs until the update.
    pub required: bool,
    /// The page a person downloads the app from by hand, when the server named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<String>,
}

/// An update the user asked for: where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", tag = "step", content = "detail")]
pub enum UpdateProgress {
    /// Reading the release feed.
    Checking,
    /// The release (this version) is coming down, checked as it comes.
    Downloading(String),
    /// Verified; being put in place.
    Installing(String),
    /// In place: this process is to exit so the new version starts.
    Restarting(String),
    /// This copy cannot update itself: what to do instead.
    ByHand(String),
    /// It failed; the running version is untouched. Why.
    Failed(String),
}

impl UpdateProgress {
    /// The words of the menu item and of `status`.
    pub fn line(&self) -> String {
        match self {
            UpdateProgress::Checking => "Looking for the update…".to_owned(),
            UpdateProgress::Downloading(v) => format!("Downloading version {v}…"),
            UpdateProgress::Installing(v) => format!("Installing version {v}…"),
            UpdateProgress::Restarting(v) => format!("Restarting as version {v}…"),
            UpdateProgress::ByHand(text) => text.clone(),
            UpdateProgress::Failed(why) => format!("The update failed: {why}"),
        }
    }

    /// Whether the update is still running (the menu item is greyed meanwhile).
    pub fn running(&self) -> bool {
        matches!(
            self,
            UpdateProgress::Checking
                | UpdateProgress::Downloading(_)
                | UpdateProgress::Installing(_)
                | UpdateProgress::Restarting(_)
        )
    }
}

/// A login that is waiting for the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The authorize URL, shown to the user too: opening a browser may silently fail.
    pub url: String,
}

/// A snapshot of the engine, sent to observers on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineState {
    /// The account's name while a token is held.
    pub account: Option<String>,
    /// A token came from `HYPERCLAY_TOKEN`: logged in, though the account's name is known only
    /// once the server answers.
    pub token_given: bool,
    /// The user's switch: sync on or off. Remembered across restarts.
    pub enabled: bool,
    /// The server answered the last call (meaningful while enabled and logged in).
    pub online: bool,
    /// Why the server could not be reached the last time it was tried ("cannot reach https://…:
    /// connection refused"); `None` while online or before the first try.
    pub offline_cause: Option<String>,
    /// A browser login in progress.
    pub login: Option<PendingLogin>,
    /// What blocks syncing, when anything does.
    pub error: Option<UserError>,
    /// The local folder kept in sync.
    pub folder: PathBuf,
    /// The server's base URL.
    pub server: String,
    /// When the last session or poll finished without trouble.
    pub last_sync: Option<Timestamp>,
    /// The plain-text log file.
    pub log_file: PathBuf,
    /// The sync issues, one per path, oldest first.
    pub issues: Vec<SyncIssue>,
    /// Set while a batch of transfers is in hand; `None` when up to date.
    pub progress: Option<Progress>,
    /// Files whose transfer failed and waits for its next try (1–5 s apart): not up to date.
    pub retrying: usize,
    /// A newer version the server names (required or offered); `None` when this one is current.
    pub version_news: Option<VersionNews>,
    /// The update the user asked for, while it runs and after it ended.
    pub update: Option<UpdateProgress>,
}

impl EngineState {
    /// An engine's state before anything happened: no login, not online, no error, no issues.
    pub fn starting(server: String, folder: PathBuf, log_file: PathBuf, enabled: bool) -> Self {
        EngineState {
            account: None,
            token_given: false,
            enabled,
            online: false,
            offline_cause: None,
            login: None,
            error: None,
            folder,
            server,
            last_sync: None,
            log_file,
            issues: Vec::new(),
            progress: None,
            retrying: 0,
            version_news: None,
            update: None,
        }
    }

    pub fn logged_in(&self) -> bool {
        self.account.is_some()
    }

    /// Syncing for real: logged in, switched on, and nothing blocking.
    pub fn syncing(&self) -> bool {
        self.logged_in() && self.enabled && self.error.is_none()
    }
}

/// What the tray (or a signal handler) asks of the engine. Commands never block the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Switch sync on or off (remembered).
    SetEnabled(bool),
    /// Start the browser login; on success sync switches on.
    Login,
    /// Revoke the token on the server, then forget it locally; sync stops.
    Logout,
    /// Sync another folder from now on (remembered; a new session starts).
    SetFolder(PathBuf),
    /// The tray registered (or removed) the app with the OS's start at login: remember it. The
    /// engine is the settings file's one writer.
    SetStartAtLogin(bool),
    /// Update this copy to the newest release (download, verify, install); on success the
    /// state says `Restarting` and the host exits so the new version starts.
    Update,
    /// Finish the transfer in hand, persist state, stop.
    Shutdown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_issue_kind_round_trips_flat() {
        let kinds = [
            IssueKind::Skipped {
                reason: "r".into(),
                hint: "h".into(),
            },
            IssueKind::Failed { error: "e".into() },
            IssueKind::HeldBack,
            IssueKind::Conflict {
                backup: "b".into(),
                restore: None,
            },
        ];
        for kind in kinds {
            let issue = SyncIssue {
                path: "a/b.html".into(),
                kind,
            };
            let json = serde_json::to_value(&issue).unwrap();
            assert_eq!(json["path"], "a/b.html");
            assert!(json["kind"].is_string(), "{json}");
            assert_eq!(serde_json::from_value::<SyncIssue>(json).unwrap(), issue);
        }
    }
}
