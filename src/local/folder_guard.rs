//! The sync-folder guard. A marker file, `.hyperclay-sync`, at the root of the sync folder says
//! "this is the folder we sync" (like Syncthing's `.stfolder`), and the engine's home remembers
//! that it placed one. Where a marker was placed before and is now missing, the folder in front
//! of us is not the user's synced folder: a drive not mounted (its empty mount point), a folder
//! deleted, moved away or replaced. Sync then pauses with an error until the marker is back.
//! It must never create a folder or a marker where one was placed before (an empty folder would
//! read as "the user deleted everything"), and it never deletes anything.

use std::path::{Path, PathBuf};

use hyperclay_protocol::sha256_hex;

/// The marker's name at the folder root. A dotfile: never synced.
pub const MARKER: &str = ".hyperclay-sync";

const MARKER_TEXT: &str = "This file marks the folder Hyperclay Sync keeps in sync with your \
Hyperclay account.\nIf it goes missing (a drive not mounted, a folder replaced), sync pauses \
instead of taking every file as deleted. Leave it here.\n";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error(
        "The sync folder {0} is missing (deleted, moved, or on a drive that is not mounted); \
         sync is paused until it is back"
    )]
    Missing(PathBuf),
    #[error(
        "The sync folder {0} is not the one that was synced: its marker file .hyperclay-sync is \
         missing (a drive not mounted, or the folder replaced); sync is paused until it is back. \
         To sync this folder from scratch, choose it again in the menu"
    )]
    Unmarked(PathBuf),
    #[error("The sync folder {0} cannot be set up: {1}")]
    Setup(PathBuf, String),
}

/// Where the engine's home remembers that `folder` was given a marker.
fn record(home: &Path, folder: &Path) -> PathBuf {
    let id = sha256_hex(folder.to_string_lossy().as_bytes());
    home.join("folders").join(&id[..16])
}

/// True when the marker is in place: one stat, cheap enough for every engine step.
pub fn marked(folder: &Path) -> bool {
    std::fs::symlink_metadata(folder.join(MARKER)).is_ok_and(|m| m.is_file())
}

/// Checks, during a session, that `folder` is still the marked one it started with: a folder
/// that went away (or a drive unmounted) must not look like files the user deleted.
pub fn still_marked(folder: &Path) -> Result<(), GuardError> {
    if marked(folder) {
        return Ok(());
    }
    Err(if folder.is_dir() {
        GuardError::Unmarked(folder.to_path_buf())
    } else {
        GuardError::Missing(folder.to_path_buf())
    })
}

/// Checks `folder` before a session uses it. On the folder's first use (no marker ever placed)
/// it is created if need be and marked; afterwards only a marked folder passes.
pub fn check(home: &Path, folder: &Path) -> Result<(), GuardError> {
    if marked(folder) {
        return Ok(());
    }
    let placed_before = record(home, folder).exists();
    match std::fs::metadata(folder) {
        Ok(m) if m.is_dir() => {
            if placed_before {
                return Err(GuardError::Unmarked(folder.to_path_buf()));
            }
        }
        Ok(_) => {
            return Err(GuardError::Setup(
                folder.to_path_buf(),
                "it is not a folder".into(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if placed_before {
                return Err(GuardError::Missing(folder.to_path_buf()));
            }
            std::fs::create_dir_all(folder)
                .map_err(|e| GuardError::Setup(folder.to_path_buf(), e.to_string()))?;
        }
        Err(e) => return Err(GuardError::Setup(folder.to_path_buf(), e.to_string())),
    }
    adopt(home, folder)
}

/// Marks `folder` as the synced folder from now on (its first use, or the user choosing it
/// again after it was replaced). The folder must exist.
pub fn adopt(home: &Path, folder: &Path) -> Result<(), GuardError> {
    let setup = |e: std::io::Error| GuardError::Setup(folder.to_path_buf(), e.to_string());
    if !marked(folder) {
        std::fs::write(folder.join(MARKER), MARKER_TEXT).map_err(setup)?;
    }
    // In the engine's home, so private like everything there (folders 0700, files 0600).
    crate::home::data_dir::write_private(&record(home, folder), folder.to_string_lossy().as_bytes())
        .map_err(setup)
}

/// Forgets that `folder` was marked, so its next [`check`] sets it up afresh: the user chose it
/// (again), which is the one way to start over in a folder that lost its marker.
pub fn forget(home: &Path, folder: &Path) {
    let _ = std::fs::remove_file(record(home, folder));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_folder_is_created_and_marked_once_then_never_recreated() {
        let home = tempfile::tempdir().unwrap();
        let parent = tempfile::tempdir().unwrap();
        let folder = parent.path().join("Hyperclay");
        check(home.path(), &folder).unwrap();
        assert!(marked(&folder));
        check(home.path(), &folder).unwrap();

        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(
            check(home.path(), &folder),
            Err(GuardError::Missing(folder.clone()))
        );
        assert!(!folder.exists(), "a missing folder is never recreated");

        std::fs::create_dir(&folder).unwrap();
        assert_eq!(
            check(home.path(), &folder),
            Err(GuardError::Unmarked(folder.clone()))
        );
        assert!(!marked(&folder), "a replaced folder is never marked");

        // The user chose the folder again: it is set up afresh.
        forget(home.path(), &folder);
        check(home.path(), &folder).unwrap();
        assert!(marked(&folder));
    }

    #[test]
    fn a_folder_synced_before_the_guard_existed_is_marked_on_first_check() {
        let home = tempfile::tempdir().unwrap();
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("x.html"), "x").unwrap();
        check(home.path(), folder.path()).unwrap();
        assert!(marked(folder.path()));
        let file = folder.path().join("x.html");
        assert!(matches!(
            check(home.path(), &file),
            Err(GuardError::Setup(..))
        ));
    }
}
