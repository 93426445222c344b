//! The session's bookkeeping: what it knows of both sides (the picture), what it owes (the
//! schedule, the echoes to expect, the stalled transfers) and what it told the user (the sync
//! issues). It turns a plan into the transfers to run and folds each transfer's outcome back in.
//! It must never run a transfer or call the server itself.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::remote::RemoteError;
use crate::rules::fault::{self, FileFault, SessionEnd, session_end};
use crate::rules::plan::{Action, Key};
use crate::rules::schedule::{self, Attempt, Echoes, Schedule, Stalls};
use crate::session::issues::{self, Issues};
use crate::session::picture::Picture;
use crate::session::transfer::{Outcome, Transfer};
use crate::status::report::Reporter;

pub(crate) struct Book {
    pub(crate) picture: Picture,
    pub(crate) schedule: Schedule,
    pub(crate) echoes: Echoes,
    pub(crate) stalls: Stalls,
    pub(crate) issues: Issues,
    /// How often the account's site count is asked while an app is held back.
    pub(crate) poll_interval: Duration,
}

/// The transfers a plan calls for, and which of them settle a conflict.
pub(crate) struct Prepared {
    pub(crate) transfers: Vec<Transfer>,
    pub(crate) conflicts: HashSet<Key>,
}

impl Book {
    /// `key` (at local `path`) is in sync now.
    pub(crate) fn synced(&mut self, reporter: &Reporter, key: &Key, path: &str) {
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
    pub(crate) fn apply(
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
                self.picture.uploaded(&key, local, stamp, entry);
                self.synced(reporter, &key, &path);
                if conflicts.contains(&key) {
                    let backup = format!("the server's version history of {remote_path}");
                    self.issues.tell(reporter, issues::conflict(&path, backup));
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
                if let Some(stamp) = stamp {
                    self.echoes.expect(path.clone(), stamp);
                }
                self.picture.downloaded(&key, remote, local, stamp);
                self.synced(reporter, &key, &path);
                if let Some(b) = backup.filter(|_| conflicts.contains(&key)) {
                    self.issues.tell(reporter, issues::conflict(&path, b));
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
