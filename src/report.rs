//! What the engine tells the outside world: the shared state snapshot, its observer, the status
//! file `hyperclay-sync status` reads, and the sync-issues list.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hyperclay_protocol::Timestamp;
use serde::{Deserialize, Serialize};

use crate::settings;
use crate::state::{EngineState, Progress, SyncIssue, UserError};

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
}

pub fn status_file(home: &Path) -> PathBuf {
    home.join("status.json")
}

pub(crate) struct Reporter {
    shared: Arc<Shared>,
    observer: Box<dyn Fn(&EngineState) + Send + 'static>,
    status_file: PathBuf,
}

impl Reporter {
    /// Reports for the engine of data folder `home`, into `shared` and to `observer`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        observer: Box<dyn Fn(&EngineState) + Send + 'static>,
        home: &Path,
    ) -> Reporter {
        Reporter {
            shared,
            observer,
            status_file: status_file(home),
        }
    }

    /// Changes the state; observers and the status file hear of it only if it really changed.
    pub(crate) fn update(&self, change: impl FnOnce(&mut EngineState)) {
        let (before, after) = {
            let mut s = lock(&self.shared.state);
            let before = s.clone();
            change(&mut s);
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
        };
        if let Ok(bytes) = serde_json::to_vec_pretty(&file)
            && let Err(e) = settings::write_atomically(&self.status_file, &bytes)
        {
            log::warn!("cannot write the status file: {e}");
        }
        (self.observer)(s);
    }

    /// Adds `issue` to the sync issues (replacing an older one for the same path). Logged at its
    /// first occurrence only, with `log_line` (the cause and the hint, for the log reader).
    pub(crate) fn issue(&self, issue: SyncIssue, log_line: &str) {
        let mut first = false;
        self.update(
            |s| match s.issues.iter_mut().find(|i| i.path == issue.path) {
                Some(known) if *known == issue => {}
                Some(known) => {
                    first = true;
                    *known = issue;
                }
                None => {
                    first = true;
                    s.issues.push(issue);
                }
            },
        );
        if first {
            log::warn!("{log_line}");
        }
    }

    /// `path` synced (or was removed): its issue, if any, is over.
    pub(crate) fn resolved(&self, path: &str) {
        self.update(|s| s.issues.retain(|i| i.path != path));
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
