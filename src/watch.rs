//! The folder watcher: notify on its own thread, turned into "this path may be ready" signals for
//! the engine. It adds no delay of its own and never reads files: the engine does the careful
//! read. On Linux a write is complete at close-after-write or rename-into; elsewhere only a
//! modify event exists, so the engine waits for a short quiet time instead.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsSignal {
    /// A writer finished with this path (closed it, or renamed it into place), or it went
    /// away: act now.
    Done(PathBuf),
    /// Something changed here with no completion event (non-Linux): act after a quiet time.
    Changed(PathBuf),
    /// Events were lost or the watcher failed: only a full rescan is safe.
    Rescan,
}

/// What one notify event means for the engine.
pub fn signals(event: notify::Result<Event>) -> Vec<FsSignal> {
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
            if !cfg!(target_os = "linux") =>
        {
            event.paths.into_iter().map(FsSignal::Changed).collect()
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Any)) if !cfg!(target_os = "linux") => {
            event.paths.into_iter().map(FsSignal::Changed).collect()
        }
        _ => Vec::new(),
    }
}

/// Watches `folder` recursively; every signal is wrapped by `wrap` and sent on `tx`.
pub fn start<T: Send + 'static>(
    folder: &Path,
    tx: Sender<T>,
    wrap: fn(FsSignal) -> T,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event| {
        for s in signals(event) {
            // The engine is gone: nothing left to tell.
            let _ = tx.send(wrap(s));
        }
    })?;
    watcher.watch(folder, RecursiveMode::Recursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn wait_for(rx: &mpsc::Receiver<FsSignal>, want: &FsSignal) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(s) if &s == want => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_finished_write_and_a_rename_into_place_are_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (tx, rx) = mpsc::channel();
        let _w = start(&root, tx, |s| s).unwrap();
        std::fs::write(root.join("a.html"), "x").unwrap();
        assert!(wait_for(&rx, &FsSignal::Done(root.join("a.html"))));
        std::fs::write(root.join(".b.tmp"), "y").unwrap();
        std::fs::rename(root.join(".b.tmp"), root.join("b.html")).unwrap();
        assert!(wait_for(&rx, &FsSignal::Done(root.join("b.html"))));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_removal_of_the_watched_folder_itself_is_signalled() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().canonicalize().unwrap().join("sync");
        std::fs::create_dir(&root).unwrap();
        let (tx, rx) = mpsc::channel();
        let _w = start(&root, tx, |s| s).unwrap();
        std::fs::remove_dir(&root).unwrap();
        assert!(wait_for(&rx, &FsSignal::Done(root.clone())));
    }
}
