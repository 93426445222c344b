//! The folder watcher: notify on its own thread, turned into "this path may be ready" signals for
//! the engine. It adds no delay of its own and never reads files: the engine does the careful
//! read. On Linux a write is complete at close-after-write or rename-into; elsewhere only a
//! modify event exists, so the engine waits for a short quiet time instead.
//!
//! Signals wait in a bounded [`Inbox`] (each one once), and the engine gets one wake-up when the
//! inbox stops being empty: a burst of a million events holds at most [`MAX_WAITING`] paths,
//! and past that one full rescan stands for all of them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FsSignal {
    /// A writer finished with this path (closed it, or renamed it into place), or it went
    /// away: act now.
    Done(PathBuf),
    /// Something changed here with no completion event (non-Linux): act after a quiet time.
    Changed(PathBuf),
    /// Events were lost or the watcher failed: only a full rescan is safe.
    Rescan,
}

/// Whether this platform's watcher says when a writer is done: inotify reports close-after-write
/// and rename-into-place; FSEvents (macOS) and ReadDirectoryChangesW (Windows) only report that
/// something was created or modified.
const COMPLETION_EVENTS: bool = cfg!(target_os = "linux");

/// What one notify event means for the engine.
pub fn signals(event: notify::Result<Event>) -> Vec<FsSignal> {
    signals_with(event, COMPLETION_EVENTS)
}

/// [`signals`] for a watcher that has (`completion_events`) or lacks completion events, so each
/// platform's decision is tested on every platform.
fn signals_with(event: notify::Result<Event>, completion_events: bool) -> Vec<FsSignal> {
    let event = match event {
        Ok(e) => e,
        Err(_) => return vec![FsSignal::Rescan],
    };
    if event.need_rescan() {
        return vec![FsSignal::Rescan];
    }
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            event.paths.into_iter().map(FsSignal::Done).collect()
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
            event.paths.into_iter().map(FsSignal::Done).collect()
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => event
            .paths
            .into_iter()
            .skip(1)
            .map(FsSignal::Done)
            .collect(),
        EventKind::Create(CreateKind::Folder) => {
            event.paths.into_iter().map(FsSignal::Done).collect()
        }
        // Gone (deleted or renamed away): the engine forgets its local copy, and never deletes
        // remotely.
        // A folder removed (the sync folder itself included: inotify's delete-self) makes the
        // engine check that its folder is still there before anything else.
        EventKind::Remove(RemoveKind::File | RemoveKind::Folder | RemoveKind::Any)
        | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
            event.paths.into_iter().map(FsSignal::Done).collect()
        }
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
            if !completion_events =>
        {
            event.paths.into_iter().map(FsSignal::Changed).collect()
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Any)) if !completion_events => {
            event.paths.into_iter().map(FsSignal::Changed).collect()
        }
        _ => Vec::new(),
    }
}

/// The most distinct signals that wait for the engine; past that the watcher keeps none and
/// asks for one full rescan instead.
pub const MAX_WAITING: usize = 4096;

/// The signals the engine has not taken yet, shared by the watcher's thread and the engine.
#[derive(Debug, Clone, Default)]
pub struct Inbox(Arc<Mutex<Waiting>>);

#[derive(Debug, Default)]
struct Waiting {
    signals: Vec<FsSignal>,
    seen: HashSet<FsSignal>,
    /// Too many to keep: only a full rescan is safe.
    overflowed: bool,
}

impl Inbox {
    /// Keeps `signal` for the engine; true when the inbox was empty (the engine needs a wake-up).
    pub fn put(&self, signal: FsSignal) -> bool {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let was_empty = w.signals.is_empty() && !w.overflowed;
        if w.overflowed {
            return false;
        }
        if signal == FsSignal::Rescan || w.signals.len() >= MAX_WAITING {
            *w = Waiting {
                overflowed: true,
                ..Waiting::default()
            };
            return was_empty;
        }
        if w.seen.insert(signal.clone()) {
            w.signals.push(signal);
        }
        was_empty
    }

    /// Everything waiting, oldest first; after an overflow, the one rescan.
    pub fn take(&self) -> Vec<FsSignal> {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::take(&mut *w);
        if taken.overflowed {
            return vec![FsSignal::Rescan];
        }
        taken.signals
    }
}

/// Watches `folder` recursively; signals wait in the returned [`Inbox`], and `wake()` is sent on
/// `tx` each time the inbox stops being empty.
pub fn start<T: Send + 'static>(
    folder: &Path,
    tx: Sender<T>,
    wake: fn() -> T,
) -> notify::Result<(notify::RecommendedWatcher, Inbox)> {
    let inbox = Inbox::default();
    let filled = inbox.clone();
    let mut watcher = notify::recommended_watcher(move |event| {
        for s in signals(event) {
            if filled.put(s) {
                // The engine is gone: nothing left to tell.
                let _ = tx.send(wake());
            }
        }
    })?;
    watcher.watch(folder, RecursiveMode::Recursive)?;
    Ok((watcher, inbox))
}

#[cfg(test)]
mod tests {
    use super::*;
    // Only the live watcher tests below (Linux) use these; elsewhere they would be unused
    // (clippy -D warnings for macOS, installer/macos/check.sh).
    #[cfg(target_os = "linux")]
    use std::sync::mpsc;
    #[cfg(target_os = "linux")]
    use std::time::{Duration, Instant};

    #[cfg(target_os = "linux")]
    fn wait_for(rx: &mpsc::Receiver<()>, inbox: &Inbox, want: &FsSignal) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(()) if inbox.take().contains(want) => return true,
                Ok(()) => {}
                Err(_) => return false,
            }
        }
        false
    }

    fn done(path: &str) -> FsSignal {
        FsSignal::Done(PathBuf::from(path))
    }

    fn changed(path: &str) -> FsSignal {
        FsSignal::Changed(PathBuf::from(path))
    }

    fn event(kind: EventKind, paths: &[&str]) -> notify::Result<Event> {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        Ok(e)
    }

    /// macOS (FSEvents) and Windows have no close-after-write: a created or modified file, and a
    /// rename FSEvents cannot pair (`Name(Any)`), wait for a quiet time; a removal or a rename
    /// away is final at once. Checked here because no Mac runs these tests in CI.
    #[test]
    fn without_completion_events_a_write_waits_for_quiet_and_a_removal_is_final() {
        let without = |kind, paths: &[&str]| signals_with(event(kind, paths), false);
        let data = ModifyKind::Data(notify::event::DataChange::Content);
        assert_eq!(
            without(EventKind::Create(CreateKind::File), &["/f/a.html"]),
            [changed("/f/a.html")]
        );
        assert_eq!(
            without(EventKind::Modify(data), &["/f/a.html"]),
            [changed("/f/a.html")]
        );
        assert_eq!(
            without(EventKind::Modify(ModifyKind::Any), &["/f/a.html"]),
            [changed("/f/a.html")]
        );
        assert_eq!(
            without(
                EventKind::Modify(ModifyKind::Name(RenameMode::Any)),
                &["/f/.a.tmp"]
            ),
            [changed("/f/.a.tmp")]
        );
        assert_eq!(
            without(EventKind::Remove(RemoveKind::File), &["/f/a.html"]),
            [done("/f/a.html")]
        );
        assert_eq!(
            without(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/f/.a.tmp", "/f/a.html"]
            ),
            [done("/f/a.html")]
        );
    }

    /// Linux (inotify): only a finished write counts; the modify events before it are noise.
    #[test]
    fn with_completion_events_only_a_finished_write_counts() {
        let with = |kind, paths: &[&str]| signals_with(event(kind, paths), true);
        let data = ModifyKind::Data(notify::event::DataChange::Content);
        assert!(with(EventKind::Modify(data), &["/f/a.html"]).is_empty());
        assert!(with(EventKind::Create(CreateKind::File), &["/f/a.html"]).is_empty());
        assert!(
            with(
                EventKind::Modify(ModifyKind::Name(RenameMode::Any)),
                &["/f/a.html"]
            )
            .is_empty()
        );
        assert_eq!(
            with(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/f/a.html"]
            ),
            [done("/f/a.html")]
        );
        assert_eq!(
            with(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                &["/f/a.html"]
            ),
            [done("/f/a.html")]
        );
        assert_eq!(
            signals_with(Err(notify::Error::generic("lost")), true),
            [FsSignal::Rescan]
        );
    }

    #[test]
    fn a_signal_waits_once_and_wakes_the_engine_only_when_the_inbox_was_empty() {
        let inbox = Inbox::default();
        assert!(inbox.put(done("a")));
        assert!(!inbox.put(done("b")));
        assert!(!inbox.put(done("a")), "already waiting");
        assert_eq!(inbox.take(), [done("a"), done("b")]);
        assert!(inbox.take().is_empty());
        assert!(inbox.put(done("c")), "empty again: a new wake-up");
    }

    #[test]
    fn more_signals_than_the_inbox_holds_become_one_rescan() {
        let inbox = Inbox::default();
        let mut wakes = 0;
        for i in 0..MAX_WAITING + 10 {
            wakes += usize::from(inbox.put(done(&format!("f{i}"))));
        }
        assert_eq!(wakes, 1);
        assert_eq!(inbox.take(), [FsSignal::Rescan]);
        assert!(inbox.take().is_empty(), "the rescan is taken once");
        // A watcher that lost events asks for the rescan the same way.
        inbox.put(done("x"));
        inbox.put(FsSignal::Rescan);
        assert_eq!(inbox.take(), [FsSignal::Rescan]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_finished_write_and_a_rename_into_place_are_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (tx, rx) = mpsc::channel();
        let (_w, inbox) = start(&root, tx, || ()).unwrap();
        std::fs::write(root.join("a.html"), "x").unwrap();
        assert!(wait_for(&rx, &inbox, &FsSignal::Done(root.join("a.html"))));
        std::fs::write(root.join(".b.tmp"), "y").unwrap();
        std::fs::rename(root.join(".b.tmp"), root.join("b.html")).unwrap();
        assert!(wait_for(&rx, &inbox, &FsSignal::Done(root.join("b.html"))));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_removal_of_the_watched_folder_itself_is_signalled() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().canonicalize().unwrap().join("sync");
        std::fs::create_dir(&root).unwrap();
        let (tx, rx) = mpsc::channel();
        let (_w, inbox) = start(&root, tx, || ()).unwrap();
        std::fs::remove_dir(&root).unwrap();
        assert!(wait_for(&rx, &inbox, &FsSignal::Done(root.clone())));
    }
}
