//! One file's transfer in either direction, runnable on any thread: the careful read and upload
//! (with the retry schedule, and `stale` turned into taking the server's copy), or the download
//! through the local save process. It only reports what happened; the session applies it. It
//! must never write outside the folder or replace a file the plan did not see.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyperclay_protocol::{Checksum, Entry, RemotePath, Timestamp};

use crate::local::{self, ReadOutcome, Snapshot, write};
use crate::plan::{Action, Key, LocalFile, RemoteFile};
use crate::remote::{Remote, RemoteError, with_retries};
use crate::state_store::Stamp;

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
    Skipped(String, String),
    /// The folder refused the write (read-only, full disk, …): the user must be told.
    WriteRefused(String, String),
    Failed(String, RemoteError),
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

    /// Takes a staged download's file out, to be published; the outcome then says it is in place.
    pub(crate) fn take_staged(&mut self) -> Option<write::Staged> {
        match self {
            Outcome::Downloaded { staged, .. } => staged.take(),
            _ => None,
        }
    }

    /// The local path a download wrote (empty for other outcomes; only downloads are staged).
    pub(crate) fn download_path(&self) -> &str {
        match self {
            Outcome::Downloaded { local, .. } => &local.path,
            _ => "",
        }
    }
}

/// What a stalled transfer was moving; the same thing is not planned again this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stalled {
    /// The server's copy, as listed.
    Download(RemoteFile),
    /// The local content, by checksum.
    Upload(Checksum),
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
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if self.shutdown.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        !self.shutdown.load(Ordering::SeqCst)
    }

    /// The local mtime of `stamp` on the server's clock.
    pub(crate) fn server_time(&self, stamp: Stamp) -> Timestamp {
        Timestamp::from_millis(stamp.mtime_ns.div_euclid(1_000_000)).offset_by(self.offset_ms)
    }

    fn upload(
        &self,
        key: &str,
        l: &LocalFile,
        remote_path: &str,
        snap: Option<Snapshot>,
    ) -> Outcome {
        let Ok(rp) = RemotePath::file(remote_path) else {
            return Outcome::Skipped(l.path.clone(), "not a valid remote path".into());
        };
        let snap = match snap {
            Some(s) => s,
            None => match local::read_stable(self.folder, &self.folder.join(&l.path)) {
                ReadOutcome::Ready(s) => s,
                ReadOutcome::Moving => return Outcome::Replan(l.path.clone()),
                _ => return Outcome::Skipped(l.path.clone(), "gone before upload".into()),
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
        let result = with_retries(|| self.remote.upload(&rp, &snap.bytes, mtime), &mut |d| {
            self.sleep(d)
        });
        match result {
            Ok(put) => Outcome::Uploaded {
                key: key.to_owned(),
                local: sent,
                stamp: snap.stamp,
                entry: put.entry,
            },
            Err(RemoteError::Stale(entry)) => {
                log::info!("stale {}: the server has a newer copy; taking it", l.path);
                let path = entry.map_or_else(|| remote_path.to_owned(), |e| e.path);
                self.download(key, &path, &l.path, Some(snap.checksum))
            }
            Err(RemoteError::Stalled(why)) => {
                log::debug!("{}: {why}", l.path);
                Outcome::Stalled {
                    key: key.to_owned(),
                    path: l.path.clone(),
                    what: Stalled::Upload(snap.checksum),
                }
            }
            Err(e) => Outcome::Failed(l.path.clone(), e),
        }
    }

    fn download(
        &self,
        key: &str,
        remote_path: &str,
        local_path: &str,
        replaces: Option<Checksum>,
    ) -> Outcome {
        let (Ok(rp), Ok(lp)) = (RemotePath::file(remote_path), RemotePath::file(local_path)) else {
            return Outcome::Skipped(remote_path.to_owned(), "not a valid path".into());
        };
        let got = match with_retries(|| self.remote.download(&rp), &mut |d| self.sleep(d)) {
            Ok(d) => d,
            Err(e) => return Outcome::Failed(remote_path.to_owned(), e),
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
            Err(e) => Outcome::Skipped(local_path.to_owned(), e.to_string()),
        }
    }

    pub(crate) fn run(&self, action: &Action, snap: Option<Snapshot>) -> Outcome {
        match action {
            Action::Upload {
                key,
                local,
                remote_path,
                ..
            } => self.upload(key, local, remote_path, snap),
            Action::Download {
                key,
                remote,
                local_path,
                replaces,
            } => match self.download(key, &remote.path, local_path, *replaces) {
                Outcome::Failed(_, RemoteError::Stalled(why)) => {
                    log::debug!("{}: {why}", remote.path);
                    Outcome::Stalled {
                        key: key.clone(),
                        path: remote.path.clone(),
                        what: Stalled::Download(remote.clone()),
                    }
                }
                other => other,
            },
            _ => Outcome::Skipped(String::new(), String::new()),
        }
    }
}
