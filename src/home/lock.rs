//! One engine per data dir: an exclusive OS lock on `<home>/engine.lock`, held for the engine's
//! life and released by the OS even if the process dies. It must never block waiting for that
//! lock, and a read-only command (`status`, the pre-check of `run`) must never take it: a probe
//! that held it for even a microsecond could make an engine starting at that moment give up as
//! "already running" (issue 23, 8).
//!
//! So whether an engine runs is asked of a second file, `<home>/engine.running`: the engine holds
//! an *exclusive* lock on it for its life, taken only after it owns `engine.lock`; a probe tries
//! a *shared* lock on it without waiting, which fails exactly while an engine holds its
//! exclusive one. Probes share with each other, so one probe never reads another as an engine
//! (the other way round, a `run` whose pre-check met a `status` probe's lock gave up as "already
//! running"). The engine may wait for its lock, but only ever behind probes' instants, as only an
//! engine takes `engine.running` exclusively, and only while it owns `engine.lock`.

use std::fs::File;
use std::path::Path;

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    _running: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another Hyperclay Sync is already running with this data folder")]
    Held,
    #[error("cannot create the lock file in {0}: {1}")]
    Io(String, #[source] std::io::Error),
}

const LOCK_FILE: &str = "engine.lock";
const RUNNING_FILE: &str = "engine.running";

impl DataDirLock {
    pub fn acquire(home: &Path) -> Result<DataDirLock, LockError> {
        let io = |e| LockError::Io(home.display().to_string(), e);
        crate::home::data_dir::create_private_dir(home).map_err(io)?;
        let open = |name: &str| {
            crate::home::data_dir::private_options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(home.join(name))
                .map_err(io)
        };
        let file = open(LOCK_FILE)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Held),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Only the engine that holds the lock tightens, so two never race over modes.
        crate::home::data_dir::tighten(home).map_err(io)?;
        let running = open(RUNNING_FILE)?;
        // Blocks only while probes hold their shared locks, which they drop at once.
        running.lock().map_err(io)?;
        Ok(DataDirLock {
            _file: file,
            _running: running,
        })
    }

    /// True when an engine holds the lock right now (for `status`, from another process). Takes
    /// nothing the engine needs: see the module's doc.
    pub fn is_held(home: &Path) -> bool {
        // Read-only and never created: no file, no engine.
        let Ok(running) = File::open(home.join(RUNNING_FILE)) else {
            return false;
        };
        match running.try_lock_shared() {
            // Dropping the file releases the probe's lock at once.
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(e)) => {
                log::debug!("cannot probe {RUNNING_FILE}: {e}");
                false
            }
        }
    }

    /// A version started by its own update (`HYPERCLAY_SYNC_AFTER_UPDATE` set) waits, up to a
    /// minute, for the version it replaces to let go of the data folder; any other start
    /// returns at once (a second instance is refused, as always).
    pub fn wait_after_update(home: &Path) {
        if std::env::var_os(crate::update::install::AFTER_UPDATE_ENV).is_none() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while DataDirLock::is_held(home) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
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
        assert!(DataDirLock::is_held(dir.path()));
        drop(first);
        assert!(!DataDirLock::is_held(dir.path()));
        assert!(DataDirLock::acquire(dir.path()).is_ok());
    }

    #[test]
    fn probing_never_makes_an_engine_start_fail() {
        // Issue 23, 8: a probe that took the engine's lock made a start at that instant fail.
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let probes = std::thread::spawn({
            let (home, stop) = (home.clone(), stop.clone());
            move || {
                let mut n = 0_u32;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = DataDirLock::is_held(&home);
                    n += 1;
                }
                n
            }
        });
        for i in 0..2000 {
            let lock = DataDirLock::acquire(&home);
            assert!(lock.is_ok(), "start {i} failed: {lock:?}");
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(probes.join().unwrap() > 0);
    }

    #[test]
    fn probes_racing_each_other_never_see_an_engine() {
        // A `run`'s pre-check meeting a `status` probe's lock said "already running" (seen in a
        // fresh-clone run of the status race test at round 38).
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        drop(DataDirLock::acquire(&home).unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let others: Vec<_> = (0..3)
            .map(|_| {
                let (home, stop) = (home.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let _ = DataDirLock::is_held(&home);
                    }
                })
            })
            .collect();
        for i in 0..20_000 {
            assert!(!DataDirLock::is_held(&home), "probe {i} saw an engine");
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for t in others {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_probe_of_a_fresh_home_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        assert!(!DataDirLock::is_held(&home));
        assert!(!home.exists());
    }
}
