//! The user's choices that survive a restart: sync on/off, the folder, start at login.
//! Stored as a small JSON file under the engine's home, always replaced atomically; it must never
//! hold a token.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::home::lock::{DataDirLock, LockError};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// The sync switch.
    pub enabled: bool,
    /// The synced folder, when the user picked one.
    pub folder: Option<PathBuf>,
    /// Kept for the tray, which registers the app with the OS.
    pub start_at_login: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read or write the settings file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the settings file {path} is not valid: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("Hyperclay Sync is running for this data folder; change this from its tray menu")]
    EngineRunning,
    #[error("cannot use {path} as the sync folder: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn settings_file(home: &Path) -> PathBuf {
    home.join("settings.json")
}

/// The settings under `home`; defaults when the file does not exist yet.
pub fn load(home: &Path) -> Result<Settings, SettingsError> {
    let path = settings_file(home);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| SettingsError::Format { path, source })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(source) => Err(SettingsError::Io { path, source }),
    }
}

/// Writes the settings under `home` (temp file, fsync, rename).
pub fn save(home: &Path, settings: &Settings) -> Result<(), SettingsError> {
    let path = settings_file(home);
    let bytes = serde_json::to_vec_pretty(settings).map_err(|source| SettingsError::Format {
        path: path.clone(),
        source,
    })?;
    write_atomically(&path, &bytes).map_err(|source| SettingsError::Io { path, source })
}

/// What `--folder` means, for `run --headless` and the tray alike: creates `folder` if needed and
/// returns its canonical path for [`crate::home::config::EngineConfig::folder`]. The engine remembers it
/// for later runs once it holds the data folder's lock, so a refused second instance writes
/// nothing.
pub fn use_folder(folder: &Path) -> Result<PathBuf, SettingsError> {
    let folder_error = |source| SettingsError::Folder {
        path: folder.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(folder).map_err(folder_error)?;
    dunce::canonicalize(folder).map_err(folder_error)
}

/// Changes the settings under `home` from outside the engine (the command line's `login`), only
/// while no engine runs there: a running engine is their one writer and would write its own copy
/// over this change. Holds the engine's lock meanwhile, so none starts halfway.
pub fn update_offline(
    home: &Path,
    change: impl FnOnce(&mut Settings),
) -> Result<(), SettingsError> {
    let _lock = DataDirLock::acquire(home).map_err(|e| match e {
        LockError::Held => SettingsError::EngineRunning,
        LockError::Io(_, source) => SettingsError::Io {
            path: home.to_path_buf(),
            source,
        },
    })?;
    let mut s = load(home)?;
    change(&mut s);
    save(home, &s)
}

/// Replaces `path` with `bytes` so that a reader sees the old or the new file, never a mix, and
/// nobody but the user ever can.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::home::data_dir::write_private(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_defaults_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Settings::default());
        let s = Settings {
            enabled: true,
            folder: Some(PathBuf::from("/x/y")),
            start_at_login: true,
        };
        save(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path()).unwrap(), s);
    }

    #[test]
    fn use_folder_creates_and_canonicalises_but_writes_no_settings() {
        let root = tempfile::tempdir().unwrap();
        // Not there yet, and named through a `..`: created, then returned canonical.
        let given = root.path().join("a").join("..").join("sync");
        let used = use_folder(&given).unwrap();
        let want = root.path().canonicalize().unwrap().join("sync");
        assert_eq!(used, want);
        assert!(want.is_dir());
    }

    #[test]
    fn update_offline_keeps_the_rest_and_is_refused_while_an_engine_runs() {
        let home = tempfile::tempdir().unwrap();
        let before = Settings {
            enabled: false,
            folder: Some(PathBuf::from("/old")),
            start_at_login: true,
        };
        save(home.path(), &before).unwrap();
        update_offline(home.path(), |s| s.enabled = true).unwrap();
        let after = load(home.path()).unwrap();
        assert_eq!(
            after,
            Settings {
                enabled: true,
                ..before
            }
        );

        let engine = DataDirLock::acquire(home.path()).unwrap();
        let e = update_offline(home.path(), |s| s.enabled = false).unwrap_err();
        assert!(matches!(e, SettingsError::EngineRunning), "{e}");
        assert_eq!(load(home.path()).unwrap(), after, "changed while running");
        drop(engine);
    }

    #[test]
    fn use_folder_refuses_a_file() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let e = use_folder(file.path()).unwrap_err();
        assert!(matches!(e, SettingsError::Folder { .. }), "{e}");
    }
}
