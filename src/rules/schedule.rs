//! The session's sync rules beside the planner, as one pure layer: when a path the watcher named
//! is read (at once, after a quiet time, after the grace for a file that just became empty,
//! after a write too fresh to trust), when a failed transfer, poll or folder is tried again (1,
//! 2, 3, 4, 5 s, then given up), when the folder is rescanned; which watcher events are only our
//! own download's echo; which transfers stalled and are not tried again this session; what a
//! stale upload takes instead. Every method takes `now`: it must never read a clock, sleep or do
//! I/O. (Forbidden or malformed remote entries are dropped by `remote_files::take_entry`.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hyperclay_protocol::{Checksum, Timestamp};

use crate::local::Stamp;
use crate::remote::RETRY_SCHEDULE;
use crate::rules::plan::{Action, Key, RemoteFile};

/// A file that just became empty is usually mid-save (truncate, then write): wait this long for
/// its next write before believing it.
pub(crate) const EMPTY_GRACE: Duration = Duration::from_millis(1500);
/// A file the scan finds modified this recently may still be being written.
pub(crate) const FRESH_WRITE: Duration = Duration::from_secs(1);
/// Without a close-after-write event (non-Linux), a path is read after this much quiet; also the
/// wait before the second look into a new folder, and before reading a too-fresh write.
pub(crate) const QUIET: Duration = Duration::from_millis(200);

/// A local path to read again, and whether it already had its grace for being empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Look {
    due: Instant,
    waited_empty: bool,
}

/// A key whose transfer failed with trouble that may pass: tried again at `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Retry {
    due: Option<Instant>,
    /// Retries made so far (0 before the first).
    made: usize,
}

/// What the session should do about one failure that may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Tried again at this time.
    RetryAt(Instant),
    /// The last retry failed too: give up.
    GiveUp,
}

#[derive(Debug, Default)]
pub(crate) struct Schedule {
    looks: HashMap<String, Look>,
    retries: HashMap<Key, Retry>,
    poll_retry: Option<Retry>,
    /// Folders that did not go up: retried together, by a rescan.
    folder_retry: Option<Retry>,
    rescan: bool,
    /// A second look at the folder a moment after a folder appeared: files written into it
    /// before the watcher had added it produce no events at all.
    rescan_at: Option<Instant>,
    /// When the last rescan was handed out, and when the last folder appeared: a copy of a
    /// whole tree makes a folder appear every few milliseconds, and a full rescan for each was
    /// most of a burst's time.
    last_rescan: Option<Instant>,
    last_folder: Option<Instant>,
}

impl Schedule {
    /// A writer finished with `path` (or it went away): read it now. A new event restarts the
    /// wait for an empty file: only an emptiness that outlasts the grace with no further writes
    /// is believed.
    pub(crate) fn saved(&mut self, path: String, now: Instant) {
        self.look(path, now, false);
    }

    /// `path` changed with no completion event: read it after a quiet time.
    pub(crate) fn changed(&mut self, path: String, now: Instant) {
        self.look(path, now + QUIET, false);
    }

    /// A scan found `path` written too recently to trust (a scan sees no close event): its
    /// upload waits for a quiet moment, and the watcher's close event, if one comes.
    pub(crate) fn written_recently(&mut self, path: String, now: Instant) {
        self.look(path, now + QUIET, false);
    }

    /// `path` just became empty while the last sync had content: wait for its next write.
    pub(crate) fn emptied(&mut self, path: String, now: Instant) {
        self.look(path, now + EMPTY_GRACE, true);
    }

    /// Whatever moved under us is looked at again at once.
    pub(crate) fn look_again(&mut self, path: String, now: Instant) {
        self.look(path, now, false);
    }

    fn look(&mut self, path: String, due: Instant, waited_empty: bool) {
        self.looks.insert(path, Look { due, waited_empty });
    }

    /// Events were lost: only a full rescan is safe.
    pub(crate) fn rescan(&mut self) {
        self.rescan = true;
    }

    /// A folder moved or was created in: a rescan at once finds its files (if it has any), and
    /// a second one after a quiet moment catches files written before the watcher had added it.
    /// A folder still empty waits for the second look, so one made and filled at once with
    /// ignored files (`mkdir x && touch x/a.pyc`) never goes up as an empty folder.
    ///
    /// Folders appearing one after another (a tree being copied in) share their rescans: one
    /// at once, then at most one per quiet time while they keep coming, and a last one a quiet
    /// time after the last folder, so each still gets its second look.
    pub(crate) fn folder_appeared(&mut self, has_entries: bool, now: Instant) {
        let scanned_just_now = self.last_rescan.is_some_and(|at| now < at + QUIET);
        self.rescan |= has_entries && !scanned_just_now;
        self.last_folder = Some(now);
        let second_look = now + QUIET;
        self.rescan_at = Some(self.rescan_at.map_or(second_look, |at| at.min(second_look)));
    }

    /// Whether a rescan is due or waits for its time (a folder's second look).
    pub(crate) fn rescan_pending(&self) -> bool {
        self.rescan || self.rescan_at.is_some()
    }

    /// How many paths wait to be read (due or not), leaving out those `skip` names.
    pub(crate) fn looks_pending_but(&self, skip: impl Fn(&str) -> bool) -> usize {
        self.looks.keys().filter(|p| !skip(p)).count()
    }

    /// How many files wait for another try of their transfer.
    pub(crate) fn retries_pending(&self) -> usize {
        self.retries.len()
    }

    /// True once when a rescan is due.
    pub(crate) fn take_rescan(&mut self, now: Instant) -> bool {
        if self.rescan_at.is_some_and(|at| at <= now) {
            self.rescan_at = None;
            self.rescan = true;
        }
        let due = std::mem::take(&mut self.rescan);
        if due {
            self.last_rescan = Some(now);
            // A folder that appeared less than a quiet time ago still gets its second look.
            if let Some(second_look) = self.last_folder.map(|at| at + QUIET)
                && second_look > now
            {
                self.rescan_at = Some(self.rescan_at.map_or(second_look, |at| at.min(second_look)));
            }
        }
        due
    }

    /// The paths due to be read, each with whether it already waited out its empty grace.
    pub(crate) fn take_looks(&mut self, now: Instant) -> Vec<(String, bool)> {
        let due: Vec<String> = self
            .looks
            .iter()
            .filter(|(_, l)| l.due <= now)
            .map(|(p, _)| p.clone())
            .collect();
        due.into_iter()
            .filter_map(|p| self.looks.remove(&p).map(|l| (p, l.waited_empty)))
            .collect()
    }

    /// `key`'s transfer failed with trouble that may pass.
    pub(crate) fn transfer_failed(&mut self, key: Key, now: Instant) -> Attempt {
        let retry = self
            .retries
            .entry(key.clone())
            .or_insert(Retry { due: None, made: 0 });
        let attempt = next_attempt(retry, now);
        if attempt == Attempt::GiveUp {
            self.retries.remove(&key);
        }
        attempt
    }

    /// `key` synced (or was settled otherwise): its retry count starts over.
    pub(crate) fn transfer_done(&mut self, key: &Key) {
        self.retries.remove(key);
    }

    /// The keys whose retry is due.
    pub(crate) fn take_retries(&mut self, now: Instant) -> Vec<Key> {
        let mut due = Vec::new();
        for (key, retry) in &mut self.retries {
            if retry.due.is_some_and(|at| at <= now) {
                retry.due = None;
                due.push(key.clone());
            }
        }
        due.sort();
        due
    }

    /// A poll failed with trouble that may pass.
    pub(crate) fn poll_failed(&mut self, now: Instant) -> Attempt {
        let retry = self.poll_retry.get_or_insert(Retry { due: None, made: 0 });
        let attempt = next_attempt(retry, now);
        if attempt == Attempt::GiveUp {
            self.poll_retry = None;
        }
        attempt
    }

    /// A poll went through: the next failure starts the schedule over.
    pub(crate) fn poll_done(&mut self) {
        self.poll_retry = None;
    }

    /// A failed poll's retry is due (until the poll is done or fails again).
    pub(crate) fn poll_retry_due(&self, now: Instant) -> bool {
        self.poll_retry
            .is_some_and(|r| r.due.is_some_and(|at| at <= now))
    }

    /// A poll is waiting for its retry: no other poll goes out before it.
    pub(crate) fn poll_waiting(&self, now: Instant) -> bool {
        self.poll_retry
            .is_some_and(|r| r.due.is_some_and(|at| at > now))
    }

    /// Folders did not go up for trouble that may pass: the rescan that pushes them again comes
    /// at the retry's time.
    pub(crate) fn folder_push_failed(&mut self, now: Instant) -> Attempt {
        let retry = self
            .folder_retry
            .get_or_insert(Retry { due: None, made: 0 });
        let attempt = next_attempt(retry, now);
        match attempt {
            Attempt::RetryAt(at) => {
                self.rescan_at = Some(self.rescan_at.map_or(at, |r| r.min(at)));
            }
            Attempt::GiveUp => self.folder_retry = None,
        }
        attempt
    }

    /// Every folder asked for went up: the next failure starts the schedule over.
    pub(crate) fn folders_pushed(&mut self) {
        self.folder_retry = None;
    }

    /// The next time anything here is due; `None` when only an event can bring work.
    pub(crate) fn next_wake(&self, now: Instant) -> Option<Instant> {
        if self.rescan {
            return Some(now);
        }
        self.looks
            .values()
            .map(|l| l.due)
            .chain(self.retries.values().filter_map(|r| r.due))
            .chain(self.poll_retry.and_then(|r| r.due))
            .chain(self.rescan_at)
            .min()
    }
}

fn next_attempt(retry: &mut Retry, now: Instant) -> Attempt {
    match RETRY_SCHEDULE.get(retry.made) {
        Some(wait) => {
            retry.made += 1;
            let at = now + *wait;
            retry.due = Some(at);
            Attempt::RetryAt(at)
        }
        None => Attempt::GiveUp,
    }
}

/// Is a local mtime (on the server's clock) too recent for a scan to trust, at server time `now`?
pub(crate) fn written_too_recently(mtime: Timestamp, now: Timestamp) -> bool {
    mtime > now.offset_by(-(FRESH_WRITE.as_millis() as i64))
}

/// Does a file read as empty wait for its next write before it is believed? Only the first time
/// (the grace is given once per event), and only if the last sync had content.
pub(crate) fn waits_for_next_write(empty: bool, waited: bool, synced_size: Option<u64>) -> bool {
    empty && !waited && synced_size.is_some_and(|s| s > 0)
}

/// An upload the server refused as stale (its copy is newer) takes the server's copy instead:
/// fetched from where the server says it is (else where it was sent), written only over the
/// local content that was sent, which is backed up first. Returns (remote path, replaces).
pub(crate) fn stale_takes(
    sent_to: &str,
    server_has: Option<&str>,
    sent: Checksum,
) -> (String, Option<Checksum>) {
    (server_has.unwrap_or(sent_to).to_owned(), Some(sent))
}

/// The files our downloads wrote, with the stamp each was left with, until the watcher's echo.
/// The watcher echoes each of our own writes (a first sync makes thousands); a stat settles it
/// instead of a read and a hash. Only downloads qualify: their mtime is the remote time we set,
/// which no later save by the user can have, whereas a user's two saves of one size can share a
/// coarse kernel mtime.
#[derive(Debug, Default)]
pub(crate) struct Echoes(HashMap<String, Stamp>);

impl Echoes {
    pub(crate) fn expect(&mut self, path: String, stamp: Stamp) {
        self.0.insert(path, stamp);
    }

    /// Is `path`, which now has stamp `now` (`None`: not a file), still exactly what our
    /// download wrote? Each expected echo is used once.
    pub(crate) fn is_echo(&mut self, path: &str, now: Option<Stamp>) -> bool {
        let Some(written) = self.0.remove(path) else {
            return false;
        };
        if self.0.is_empty() {
            self.0.shrink_to_fit();
        }
        now == Some(written)
    }

    /// Whether a look at `path` is awaited as our own download's echo.
    pub(crate) fn awaits(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    /// A full scan reads every file anew; echoes still awaited (a watcher that overflowed sends
    /// none) would only hold memory.
    pub(crate) fn forget_all(&mut self) {
        self.0 = HashMap::new();
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

/// Transfers abandoned as stalled, with what they were moving: not planned again in this session
/// until that changes (a rescan or another event would only stall again).
#[derive(Debug, Default)]
pub(crate) struct Stalls(HashMap<Key, Stalled>);

impl Stalls {
    pub(crate) fn stalled(&mut self, key: Key, what: Stalled) {
        self.0.insert(key, what);
    }

    /// `key` moved: whatever stalled before may go again.
    pub(crate) fn moved(&mut self, key: &Key) {
        self.0.remove(key);
    }

    /// Would `action` move exactly what already stalled in this session?
    pub(crate) fn blocks(&self, action: &Action) -> bool {
        match action {
            Action::Download { key, remote, .. } => {
                matches!(self.0.get(key), Some(Stalled::Download(r)) if r == remote)
            }
            Action::Upload { key, local, .. } => {
                matches!(self.0.get(key), Some(Stalled::Upload(c)) if *c == local.checksum)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
