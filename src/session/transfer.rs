//! One file's transfer in either direction, runnable on any thread: the careful read and upload
//! (`stale` turned into taking the server's copy), or the download through the local save
//! process. One attempt each: retries are the session's schedule, so a failing file never holds
//! up the engine. It only reports what happened; the session applies it. It must never write
//! outside the folder or replace a file the plan did not see, and never sleep.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use hyperclay_protocol::{Checksum, Entry, RemotePath, Timestamp};

use crate::local::Stamp;
use crate::local::{self, ReadOutcome, Snapshot, write};
use crate::remote::{Remote, RemoteError};
use crate::rules::plan::{Key, LocalFile, RemoteFile};
use crate::rules::schedule::{Stalled, stale_takes};

/// A planned action that moves a file; the others are bookkeeping the session does itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transfer {
    Upload {
        key: Key,
        local: LocalFile,
        remote_path: String,
    },
    Download {
        key: Key,
        remote: RemoteFile,
        local_path: String,
        replaces: Option<Checksum>,
    },
}

/// What one transfer came to; applied to the session's state on the engine thread.
pub(crate) enum Outcome {
    Uploaded {
        key: Key,
        local: LocalFile,
        stamp: Stamp,
        entry: Entry,
    },
    Downloaded {
        key: Key,
        remote: RemoteFile,
        local: LocalFile,
        stamp: Option<Stamp>,
        backup: Option<String>,
        /// A new file written but not yet in place: the session publishes a batch of them
        /// together (one flush for all), then applies the outcome.
        staged: Option<write::Staged>,
    },
    /// The local file moved under us; look at it again.
    Replan(String),
    /// Not transferred, for a reason that concerns this file alone (`why`).
    Skipped { path: String, why: String },
    /// The folder refused the write (read-only, full disk, …): the user must be told.
    WriteRefused(String, String),
    /// The server refused or failed the one attempt; `fault::file_fault` says what it means.
    Failed {
        key: Key,
        path: String,
        error: RemoteError,
    },
    /// A body stopped moving and was abandoned: it waits for `what` to change or for the next
    /// session, never for the retry schedule (it would only stall again).
    Stalled {
        key: Key,
        path: String,
        what: Stalled,
    },
}

impl Outcome {
    /// A download staged for [`write::publish`], not yet in place.
    pub(crate) fn is_staged(&self) -> bool {
        matches!(
            self,
            Outcome::Downloaded {
                staged: Some(_),
                ..
            }
        )
    }

    /// Takes a staged download's file out (with the local path it goes to), to be published;
    /// the outcome then says it is in place.
    pub(crate) fn take_staged(&mut self) -> Option<(String, write::Staged)> {
        match self {
            Outcome::Downloaded { staged, local, .. } => {
                staged.take().map(|s| (local.path.clone(), s))
            }
            _ => None,
        }
    }
}

/// Everything a transfer needs, shareable across the transfer threads.
pub(crate) struct Ctx<'a> {
    pub(crate) remote: &'a Remote,
    pub(crate) folder: &'a Path,
    pub(crate) offset_ms: i64,
    pub(crate) shutdown: &'a AtomicBool,
    /// New files are staged for [`write::publish`] instead of being made durable one by one.
    pub(crate) stage_new: bool,
}

impl Ctx<'_> {
    /// The local mtime of `stamp` on the server's clock.
    pub(crate) fn server_time(&self, stamp: Stamp) -> Timestamp {
        Timestamp::from_millis(stamp.mtime_ns.div_euclid(1_000_000)).offset_by(self.offset_ms)
    }

    fn upload(
        &self,
        key: &Key,
        l: &LocalFile,
        remote_path: &str,
        snap: Option<Snapshot>,
    ) -> Outcome {
        let Ok(rp) = RemotePath::file(remote_path) else {
            return skipped(&l.path, "not a valid remote path");
        };
        let snap = match snap {
            Some(s) => s,
            None => match local::read_stable(self.folder, &self.folder.join(&l.path)) {
                ReadOutcome::Ready(s) => s,
                ReadOutcome::Moving => return Outcome::Replan(l.path.clone()),
                _ => return skipped(&l.path, "gone before upload"),
            },
        };
        // Never older than the plan's time for it: a change made after the last sync is sent
        // as newer than that sync's remote copy, whatever mtime a tool put back.
        let mtime = self.server_time(snap.stamp).max(l.mtime);
        let sent = LocalFile {
            path: l.path.clone(),
            size: snap.stamp.size,
            mtime,
            checksum: snap.checksum,
        };
        match self.remote.upload(&rp, &snap.bytes, mtime) {
            Ok(put) => Outcome::Uploaded {
                key: key.to_owned(),
                local: sent,
                stamp: snap.stamp,
                entry: put.entry,
            },
            Err(RemoteError::Stale(entry)) => {
                log::info!("stale {}: the server has a newer copy; taking it", l.path);
                let server_has = entry.as_ref().map(|e| e.path.as_str());
                let (path, replaces) = stale_takes(remote_path, server_has, snap.checksum);
                self.download(key, &path, &l.path, replaces)
            }
            Err(RemoteError::Stalled(why)) => {
                log::debug!("{}: {why}", l.path);
                Outcome::Stalled {
                    key: key.to_owned(),
                    path: l.path.clone(),
                    what: Stalled::Upload(snap.checksum),
                }
            }
            Err(error) => Outcome::Failed {
                key: key.clone(),
                path: l.path.clone(),
                error,
            },
        }
    }

    fn download(
        &self,
        key: &Key,
        remote_path: &str,
        local_path: &str,
        replaces: Option<Checksum>,
    ) -> Outcome {
        let (Ok(rp), Ok(lp)) = (RemotePath::file(remote_path), RemotePath::file(local_path)) else {
            return skipped(remote_path, "not a valid path");
        };
        let got = match self.remote.download(&rp) {
            Ok(d) => d,
            Err(error) => {
                return Outcome::Failed {
                    key: key.clone(),
                    path: remote_path.to_owned(),
                    error,
                };
            }
        };
        let mtime = got.modified_at.offset_by(-self.offset_ms).to_system_time();
        let written = if self.stage_new && replaces.is_none() {
            write::stage_new(self.folder, &lp, &got.bytes, mtime)
                .map(|s| (None, s.stamp(), Some(s)))
        } else {
            write::save(self.folder, &lp, &got.bytes, mtime, replaces)
                .map(|saved| (saved.backup, saved.stamp, None))
        };
        match written {
            Ok((backup, stamp, staged)) => {
                let size = got.bytes.len() as u64;
                Outcome::Downloaded {
                    key: key.to_owned(),
                    remote: RemoteFile {
                        path: remote_path.to_owned(),
                        size,
                        modified_at: got.modified_at,
                        checksum: got.checksum,
                    },
                    local: LocalFile {
                        path: local_path.to_owned(),
                        size,
                        mtime: got.modified_at,
                        checksum: got.checksum,
                    },
                    stamp,
                    backup,
                    staged,
                }
            }
            Err(write::WriteError::Changed(_)) => Outcome::Replan(local_path.to_owned()),
            Err(e @ write::WriteError::Io { .. }) => {
                Outcome::WriteRefused(local_path.to_owned(), e.to_string())
            }
            Err(e) => skipped(local_path, &e.to_string()),
        }
    }

    pub(crate) fn run(&self, transfer: &Transfer, snap: Option<Snapshot>) -> Outcome {
        match transfer {
            Transfer::Upload {
                key,
                local,
                remote_path,
            } => self.upload(key, local, remote_path, snap),
            Transfer::Download {
                key,
                remote,
                local_path,
                replaces,
            } => match self.download(key, &remote.path, local_path, *replaces) {
                Outcome::Failed {
                    error: RemoteError::Stalled(why),
                    ..
                } => {
                    log::debug!("{}: {why}", remote.path);
                    Outcome::Stalled {
                        key: key.clone(),
                        path: remote.path.clone(),
                        what: Stalled::Download(remote.clone()),
                    }
                }
                other => other,
            },
        }
    }
}

fn skipped(path: &str, why: &str) -> Outcome {
    Outcome::Skipped {
        path: path.to_owned(),
        why: why.to_owned(),
    }
}
