//! The client's data dir (`home`): the state DB, the log, the lock, the status and settings files
//! and the token file fallback. Everything in it is the user's alone: folders are created 0700 and
//! files 0600 from the first byte (never widened and narrowed after), and what an older version
//! left wider is tightened at start. This module must never change the mode of anything in `home`
//! that is not ours, and never follow a symlink while tightening.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The folders under `home` that hold only our files.
const OWN_DIRS: [&str; 4] = ["folders", "logs", "state", "tokens"];
/// The files directly in `home` that are ours.
const OWN_FILES: [&str; 3] = ["engine.lock", "status.json", "settings.json"];

#[cfg(unix)]
const PRIVATE_DIR: u32 = 0o700;
#[cfg(unix)]
const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` and any missing parents, each 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Open options that create a missing file 0600 (the umask can only narrow that further).
pub fn private_options() -> fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE);
    }
    options
}

/// Creates `path` empty and 0600 unless it exists (a database then opened on it keeps that mode,
/// and SQLite gives its -wal and -shm files the database's mode).
pub fn create_private_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

/// Replaces `path` with `bytes` through a 0600 temp file in the same folder, fsynced and renamed:
/// a reader sees the old or the new file, never half of one, and never a moment of wider access.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no folder", path.display())))?;
    create_private_dir(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".hyperclay-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(PRIVATE_FILE));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Creates `home` private if needed and narrows what an older version created wider: `home`
/// itself, our folders and everything in them, and our files directly in `home`. Returns how many
/// modes it changed. Symlinks are skipped, never followed.
pub fn tighten(home: &Path) -> io::Result<usize> {
    create_private_dir(home)?;
    let mut changed = usize::from(narrow(home)?);
    for name in OWN_FILES {
        changed += usize::from(narrow(&home.join(name))?);
    }
    let mut dirs: Vec<_> = OWN_DIRS.iter().map(|d| home.join(d)).collect();
    while let Some(dir) = dirs.pop() {
        changed += usize::from(narrow(&dir)?);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(entry.path()),
                Ok(t) if t.is_file() => changed += usize::from(narrow(&entry.path())?),
                _ => {}
            }
        }
    }
    Ok(changed)
}

/// Takes group and other access off `path` when it is a real folder or file; true when it did.
#[cfg(unix)]
fn narrow(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let ft = meta.file_type();
    let mode = meta.permissions().mode() & 0o7777;
    let private = if ft.is_dir() {
        PRIVATE_DIR
    } else if ft.is_file() {
        PRIVATE_FILE
    } else {
        return Ok(false);
    };
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    // Keep what the owner had, so a folder stays enterable and a file writable.
    fs::set_permissions(path, fs::Permissions::from_mode((mode & 0o700) | private))?;
    Ok(true)
}

#[cfg(not(unix))]
fn narrow(_path: &Path) -> io::Result<bool> {
    // Elsewhere the user's profile folder's ACL already keeps others out.
    Ok(false)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_from_the_start() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        write_private(&home.join("settings.json"), b"{}").unwrap();
        create_private_file(&home.join("state/x.sqlite")).unwrap();
        let mut file = private_options()
            .append(true)
            .create(true)
            .open(home.join("engine.lock"))
            .unwrap();
        file.write_all(b"").unwrap();
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&home.join("state")), 0o700);
        for f in ["settings.json", "state/x.sqlite", "engine.lock"] {
            assert_eq!(mode(&home.join(f)), 0o600, "{f}");
        }
    }

    #[test]
    fn tighten_narrows_ours_and_leaves_the_rest() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let wide =
            |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
        fs::create_dir_all(h.join("logs")).unwrap();
        fs::write(h.join("logs/sync.log.1"), "x").unwrap();
        fs::write(h.join("status.json"), "{}").unwrap();
        fs::write(h.join("notes.txt"), "not ours").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::write(elsewhere.path().join("f"), "x").unwrap();
        wide(&elsewhere.path().join("f"), 0o644);
        std::os::unix::fs::symlink(elsewhere.path().join("f"), h.join("logs/sync.log")).unwrap();
        for p in [h, &h.join("logs")] {
            wide(p, 0o755);
        }
        for p in ["logs/sync.log.1", "status.json", "notes.txt"] {
            wide(&h.join(p), 0o644);
        }

        assert_eq!(tighten(h).unwrap(), 4);
        assert_eq!(mode(h), 0o700);
        assert_eq!(mode(&h.join("logs")), 0o700);
        assert_eq!(mode(&h.join("logs/sync.log.1")), 0o600);
        assert_eq!(mode(&h.join("status.json")), 0o600);
        assert_eq!(mode(&h.join("notes.txt")), 0o644, "not ours: left alone");
        assert_eq!(
            mode(&elsewhere.path().join("f")),
            0o644,
            "never through a link"
        );
        assert_eq!(tighten(h).unwrap(), 0, "nothing left to narrow");
    }
}
