//! One engine per data dir: an exclusive OS lock on `<home>/engine.lock`, held for the engine's
//! life and released by the OS even if the process dies. It must never block waiting for the lock.

use std::fs::File;
use std::path::Path;

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another Hyperclay Sync is already running with this data folder")]
    Held,
    #[error("cannot create the lock file in {0}: {1}")]
    Io(String, std::io::Error),
}

impl DataDirLock {
    pub fn acquire(home: &Path) -> Result<DataDirLock, LockError> {
        let io = |e| LockError::Io(home.display().to_string(), e);
        crate::home::data_dir::create_private_dir(home).map_err(io)?;
        let file = crate::home::data_dir::private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(home.join("engine.lock"))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                // Only the engine that holds the lock tightens, so two never race over modes.
                crate::home::data_dir::tighten(home).map_err(io)?;
                Ok(DataDirLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// True when an engine holds the lock right now (for `status`, from another process).
    pub fn is_held(home: &Path) -> bool {
        matches!(DataDirLock::acquire(home), Err(LockError::Held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_the_same_dir_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(LockError::Held)
        ));
        drop(first);
        assert!(DataDirLock::acquire(dir.path()).is_ok());
    }
}
