//! The Hyperclay Local save process for writes coming from the server (and for a restore): back
//! up the current content into `sites-versions/` (never overwriting a version; only
//! `history::retention` prunes), then write the new content through a temp file in the same folder, fsync, and rename, with the mtime set to the
//! remote time. It must never write outside the sync folder, never through a symlink, and never
//! replace a file whose content is not what the plan saw.

pub(crate) mod dir_handle;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::SystemTime;

use hyperclay_protocol::{Checksum, EntryName, RemotePath};
use time::{OffsetDateTime, UtcOffset};

use super::{ReadOutcome, VERSIONS_DIR, join_inside, read_stable};
use crate::local::Stamp;
use dir_handle::{DirHandle, OpenError};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target is not what the plan saw (edited meanwhile): nothing was overwritten.
    #[error("{0} changed since the plan; left as it is")]
    Changed(String),
    #[error("{0} would be written outside the sync folder or through a symlink")]
    Outside(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Captures the local UTC offset. Call early (before threads start): `time` refuses to read it
/// from a multi-threaded process on some platforms, and backups then fall back to UTC.
pub fn capture_local_offset() {
    let _ = LOCAL_OFFSET.set(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC));
}

fn local_offset() -> UtcOffset {
    *LOCAL_OFFSET.get_or_init(|| UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC))
}

/// `YYYY-MM-DD-HH-MM-SS-mmm±HHMM`, Hyperclay Local's version name.
pub fn version_stem(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at).to_offset(local_offset());
    let off = t.offset();
    let sign = if off.is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{:03}{sign}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
        off.whole_hours().unsigned_abs(),
        off.minutes_past_hour().unsigned_abs(),
    )
}

/// Keeps `bytes` as a new version of `rel` under `sites-versions/`; returns its folder-relative
/// path. Never replaces an existing version: collisions get `-001`, `-002`, … suffixes.
pub fn backup(
    folder: &Path,
    rel: &RemotePath,
    bytes: &[u8],
    at: SystemTime,
) -> Result<String, WriteError> {
    let io = |source| WriteError::Io {
        path: rel.to_string(),
        source,
    };
    let name = rel.file_name();
    let (stem, ext) = match rel.kind() {
        EntryName::App => (
            name.rsplit_once('.').map_or(name, |(s, _)| s),
            "html".to_owned(),
        ),
        EntryName::Upload => match name.rsplit_once('.') {
            Some((s, e)) => (s, e.to_owned()),
            None => (name, String::new()),
        },
    };
    let parent = rel.parent();
    let versions_rel = if parent.is_empty() {
        format!("{VERSIONS_DIR}/{stem}")
    } else {
        format!("{VERSIONS_DIR}/{parent}/{stem}")
    };
    let dir = open_dir(folder, &versions_rel)?;
    let dot_ext = if ext.is_empty() {
        String::new()
    } else {
        format!(".{ext}")
    };
    if let Some(newest) = newest_version(dir.path(), &dot_ext)
        && std::fs::read(dir.path().join(&newest)).is_ok_and(|kept| kept == bytes)
    {
        // The same bytes are kept already: another copy would only grow `sites-versions/`.
        return Ok(format!("{versions_rel}/{newest}"));
    }
    let (tmp, mut file) = Temp::create(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    let base = version_stem(at);
    for n in 0..1000 {
        let file = if n == 0 {
            format!("{base}{dot_ext}")
        } else {
            format!("{base}-{n:03}{dot_ext}")
        };
        // A hard link fails when the name exists, so an existing version is never replaced.
        match tmp.dir.link(&tmp.name, &file) {
            Ok(()) => {
                tmp.dir.sync();
                return Ok(format!("{versions_rel}/{file}"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other(
        "too many versions with one timestamp",
    )))
}

/// The name of the newest version in `dir` with extension `dot_ext` (another file with the same
/// stem shares the folder): the latest modification time, then the greatest name (a `-001`
/// suffix comes after its base within one millisecond).
fn newest_version(dir: &Path, dot_ext: &str) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(dot_ext)?;
            let is_version = stem.starts_with(|c: char| c.is_ascii_digit()) && !stem.contains('.');
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            is_version.then(|| (meta.modified().ok(), name))
        })
        .max()
        .map(|(_, name)| name)
}

/// What one download's save left behind.
#[derive(Debug, Default)]
pub struct Saved {
    /// The backup of the content it replaced, folder-relative, if there was one.
    pub backup: Option<String>,
    /// The placed file's stamp, taken through our own handle the moment it was renamed in; `None`
    /// when someone else wrote to it since (its mtime is no longer the one we set), so that its
    /// watcher event is read as the edit it is, never skipped as our own echo.
    pub stamp: Option<Stamp>,
}

/// The save process for one download. `expected` is the checksum of the local file the plan saw
/// (None: the plan saw no file there).
pub fn save(
    folder: &Path,
    rel: &RemotePath,
    bytes: &[u8],
    mtime: SystemTime,
    expected: Option<Checksum>,
) -> Result<Saved, WriteError> {
    let io = |source| WriteError::Io {
        path: rel.to_string(),
        source,
    };
    let target = join_inside(folder, rel).ok_or_else(|| WriteError::Outside(rel.to_string()))?;
    let dir = open_dir(folder, rel.parent())?;
    if dir.is_symlink(rel.file_name()) {
        return Err(WriteError::Outside(rel.to_string()));
    }
    let seen = current(folder, &target, rel)?;
    if seen.as_ref().map(|(c, _)| *c) != expected {
        return Err(WriteError::Changed(rel.to_string()));
    }
    let mut backup_path = None;
    if let Some((seen_checksum, old)) = &seen {
        if *seen_checksum == Checksum::of(bytes) {
            // Already there (e.g. written by the user meanwhile): only the time is ours to set.
            let _ = filetime::set_file_mtime(&target, filetime::FileTime::from_system_time(mtime));
            return Ok(Saved::default());
        }
        backup_path = Some(backup(folder, rel, old, SystemTime::now())?);
    }
    let (mut tmp, mut file) = Temp::create(dir).map_err(io)?;
    // A replaced file keeps its permissions; a new one gets the user's default (0666 less umask).
    if let Ok(meta) = std::fs::symlink_metadata(&target) {
        file.set_permissions(meta.permissions()).map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    set_mtime(&file, mtime).map_err(io)?;
    let written = file.metadata().ok().map(|m| super::stamp_of(&m));
    // The last look before replacing: an edit since the plan wins over the download.
    let now = current(folder, &target, rel)?;
    if now.as_ref().map(|(c, _)| *c) != expected {
        return Err(WriteError::Changed(rel.to_string()));
    }
    tmp.dir.rename(&tmp.name, rel.file_name()).map_err(io)?;
    // Before the folder's fsync, which may take a while: an editor that writes the file the
    // moment it appears must not have its save taken for our echo. The rename itself moves the
    // ctime, so the stamp is the one after it, kept only while size and mtime are still ours.
    let placed = file
        .metadata()
        .ok()
        .map(|m| super::stamp_of(&m))
        .filter(|after| {
            written.is_some_and(|w| w.size == after.size && w.mtime_ns == after.mtime_ns)
        });
    drop(file);
    tmp.keep().sync();
    Ok(Saved {
        backup: backup_path,
        stamp: placed,
    })
}

/// A new file's bytes, written beside its target but not yet durable or visible: the first sync
/// of a folder writes many new files, and making each one durable on its own (an fsync of the
/// file and one of its folder, per file) costs more than everything else together. Staged files
/// are made durable together by [`publish`], and only then renamed into place.
pub struct Staged {
    tmp: Temp,
    name: String,
    rel: String,
    stamp: Option<crate::local::Stamp>,
}

impl Staged {
    /// The folder-relative path it will have.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// The size and mtime it will have (a rename keeps the inode).
    pub fn stamp(&self) -> Option<crate::local::Stamp> {
        self.stamp
    }
}

/// Stages `bytes` as the new file `rel` (the plan saw no file there), with its mtime set to
/// `mtime`. Nothing is visible until [`publish`]; a staged file that is dropped leaves nothing.
pub fn stage_new(
    folder: &Path,
    rel: &RemotePath,
    bytes: &[u8],
    mtime: SystemTime,
) -> Result<Staged, WriteError> {
    let io = |source| WriteError::Io {
        path: rel.to_string(),
        source,
    };
    join_inside(folder, rel).ok_or_else(|| WriteError::Outside(rel.to_string()))?;
    let dir = open_dir(folder, rel.parent())?;
    if dir.has(rel.file_name()) {
        return Err(WriteError::Changed(rel.to_string()));
    }
    let (tmp, mut file) = Temp::create(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    set_mtime(&file, mtime).map_err(io)?;
    let stamp = file.metadata().ok().map(|m| super::stamp_of(&m));
    Ok(Staged {
        tmp,
        name: rel.file_name().to_owned(),
        rel: rel.to_string(),
        stamp,
    })
}

/// Makes every staged file durable at once, then moves each into place, never over a file that
/// appeared meanwhile (that one is the user's: `Changed`, and the staged copy is dropped). The
/// results are in the order given. After a crash at any point, a file is either absent (its temp
/// is removed at the next start) or complete: never a torn or empty file where a synced one was.
pub fn publish(folder: &Path, staged: Vec<Staged>) -> Vec<Result<(), WriteError>> {
    if staged.is_empty() {
        return Vec::new();
    }
    if let Err(e) = make_durable(folder, &staged) {
        let why = e.to_string();
        return staged
            .iter()
            .map(|s| {
                Err(WriteError::Io {
                    path: s.rel.clone(),
                    source: std::io::Error::new(e.kind(), why.clone()),
                })
            })
            .collect();
    }
    let mut synced = BTreeSet::new();
    staged
        .into_iter()
        .map(|s| {
            let Staged {
                mut tmp, name, rel, ..
            } = s;
            match tmp.dir.rename_new(&tmp.name, &name) {
                Ok(()) => {
                    let dir = tmp.keep();
                    if synced.insert(dir.path().to_path_buf()) {
                        dir.sync();
                    }
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(WriteError::Changed(rel))
                }
                Err(source) => Err(WriteError::Io { path: rel, source }),
            }
        })
        .collect()
}

/// Flushes the staged bytes to disk. On Linux one `syncfs` of the folder's filesystem does it for
/// all of them (one flush instead of one per file); elsewhere each file is fsynced.
fn make_durable(folder: &Path, staged: &[Staged]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let _ = staged;
        let dir = std::fs::File::open(folder)?;
        rustix::fs::syncfs(&dir).map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = folder;
        for s in staged {
            // Windows flushes a file (FlushFileBuffers) only through a handle with write
            // access: a read-only one fails with "Access denied" (found under Wine; real
            // Windows does the same).
            std::fs::OpenOptions::new()
                .write(true)
                .open(s.tmp.dir.path().join(&s.tmp.name))?
                .sync_all()?;
        }
        Ok(())
    }
}

/// A temp file of ours in an opened folder, removed when dropped unless kept. It is created with
/// the mode an ordinary file gets there (0666 less the umask, as `open(2)` applies it) rather than
/// a private 0600: once renamed into place it is the user's file, and a user's HTML must stay
/// readable by their web server or editor group.
struct Temp {
    dir: DirHandle,
    name: String,
    kept: bool,
}

impl Temp {
    fn create(dir: DirHandle) -> std::io::Result<(Temp, std::fs::File)> {
        loop {
            let name = format!("{TEMP_PREFIX}{:016x}{TEMP_SUFFIX}", rand::random::<u64>());
            match dir.create_new(&name, 0o666) {
                Ok(file) => {
                    let temp = Temp {
                        dir,
                        name,
                        kept: false,
                    };
                    return Ok((temp, file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Its name is gone (renamed into place): nothing to remove. Returns the folder.
    fn keep(&mut self) -> &DirHandle {
        self.kept = true;
        &self.dir
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.kept {
            let _ = self.dir.remove(&self.name);
        }
    }
}

fn set_mtime(file: &std::fs::File, mtime: SystemTime) -> std::io::Result<()> {
    filetime::set_file_handle_times(
        file,
        None,
        Some(filetime::FileTime::from_system_time(mtime)),
    )
}

/// The checksum and bytes at `target` now, or None when there is no file.
fn current(
    folder: &Path,
    target: &Path,
    rel: &RemotePath,
) -> Result<Option<(Checksum, Vec<u8>)>, WriteError> {
    match read_stable(folder, target) {
        ReadOutcome::Ready(s) => Ok(Some((s.checksum, s.bytes))),
        ReadOutcome::Gone => Ok(None),
        ReadOutcome::Moving | ReadOutcome::TooLarge(_) | ReadOutcome::NotAFile => {
            Err(WriteError::Changed(rel.to_string()))
        }
    }
}

/// Creates the (empty) folder `rel` and its parents inside `folder`, never through a symlink,
/// and makes it durable (its parent synced).
pub fn create_folder(folder: &Path, rel: &RemotePath) -> Result<(), WriteError> {
    create_folders(folder, std::slice::from_ref(rel))
        .pop()
        .map_or(Ok(()), |(_, r)| r)
}

/// The folders that hold each level of `rel`, from the top: `a/b/c` → `""`, `a`, `a/b`.
fn ancestors(rel: &str) -> impl Iterator<Item = &str> {
    std::iter::once("").chain(rel.match_indices('/').map(move |(i, _)| &rel[..i]))
}

/// Creates many folders as [`create_folder`] does, in the order given, each result beside its
/// path; then syncs each parent folder once, so every folder reported `Ok` is durable when this
/// returns (the base may record it), at the cost of one sync per parent rather than per folder.
pub fn create_folders(
    folder: &Path,
    rels: &[RemotePath],
) -> Vec<(RemotePath, Result<(), WriteError>)> {
    let mut parents: Vec<(String, DirHandle)> = Vec::new();
    let mut done = Vec::with_capacity(rels.len());
    for rel in rels {
        let made = open_dir(folder, rel.as_str()).and_then(|_| {
            // Every level above may be new too (mkdir made the missing ones): each folder that
            // holds one is synced. The levels were just opened through the same checks.
            for parent in ancestors(rel.as_str()) {
                if !parents.iter().any(|(p, _)| p == parent) {
                    parents.push((parent.to_owned(), open_dir(folder, parent)?));
                }
            }
            Ok(())
        });
        done.push((rel.clone(), made));
        // Keep only the last few parent handles open: folders arrive grouped by parent, and a
        // listing of 50,000 folders must not hold 50,000 descriptors.
        if parents.len() > 64 {
            for (_, dir) in parents.drain(..32) {
                dir.sync();
            }
        }
    }
    for (_, dir) in parents {
        dir.sync();
    }
    done
}

/// Opens `rel_dir` under `folder`, creating missing levels, refusing any level that is a symlink.
fn open_dir(folder: &Path, rel_dir: &str) -> Result<DirHandle, WriteError> {
    DirHandle::open_inside(folder, rel_dir).map_err(|e| match e {
        OpenError::Outside => WriteError::Outside(rel_dir.to_owned()),
        OpenError::Io(source) => WriteError::Io {
            path: rel_dir.to_owned(),
            source,
        },
    })
}

/// The name every temp file of ours has: dot-prefixed (so the watcher and the scan ignore it).
const TEMP_PREFIX: &str = ".hyperclay-sync-";
const TEMP_SUFFIX: &str = ".tmp";

/// Removes the temp files a killed engine left behind (anywhere in the folder, backups
/// included); returns how many. Only names of ours are touched, and never through a symlink.
/// Call only while no write of this engine is in flight.
pub fn remove_stray_temps(folder: &Path) -> usize {
    let mut removed = 0;
    let mut dirs = vec![folder.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if ft.is_dir() {
                dirs.push(entry.path());
            } else if ft.is_file()
                && name.starts_with(TEMP_PREFIX)
                && name.ends_with(TEMP_SUFFIX)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RemotePath {
        RemotePath::file(s).unwrap()
    }

    #[test]
    fn each_level_of_a_folder_has_its_holder_synced() {
        assert_eq!(ancestors("a").collect::<Vec<_>>(), [""]);
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["", "a", "a/b"]);
    }

    #[test]
    fn many_folders_are_made_in_one_pass_and_a_symlinked_level_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        let mut rels: Vec<RemotePath> = (0..200)
            .map(|i| RemotePath::folder(&format!("f{}/g{i}", i % 7)).unwrap())
            .collect();
        rels.push(RemotePath::folder("link/inside").unwrap());
        let done = create_folders(root, &rels);
        assert_eq!(done.len(), rels.len());
        for (rel, made) in &done[..200] {
            assert!(made.is_ok(), "{rel}: {made:?}");
            assert!(root.join(rel.as_str()).is_dir());
        }
        #[cfg(unix)]
        {
            assert!(
                matches!(done[200].1, Err(WriteError::Outside(_))),
                "{:?}",
                done[200]
            );
            assert!(!outside.path().join("inside").exists());
        }
    }

    /// `cargo test -p hyperclay-sync --lib fifty_thousand_folders -- --ignored --nocapture`
    /// prints how long `create_folders` takes for 50,000 folders (flat, and 100 × 500 nested)
    /// against plain `create_dir_all` of the same tree, in one run (compare the ratio).
    #[test]
    #[ignore = "a measurement; run by hand"]
    fn fifty_thousand_folders_against_plain_mkdir() {
        let trees: [(&str, Vec<String>); 2] = [
            ("flat", (0..50_000).map(|i| format!("f{i}")).collect()),
            (
                "nested",
                (0..50_000)
                    .map(|i| format!("d{}/e{}", i / 500, i % 500))
                    .collect(),
            ),
        ];
        for (name, tree) in trees {
            let plain = tempfile::tempdir().unwrap();
            let t = std::time::Instant::now();
            for p in &tree {
                std::fs::create_dir_all(plain.path().join(p)).unwrap();
            }
            let mkdir = t.elapsed();
            let ours = tempfile::tempdir().unwrap();
            let rels: Vec<RemotePath> = tree
                .iter()
                .map(|p| RemotePath::folder(p).unwrap())
                .collect();
            let t = std::time::Instant::now();
            let done = create_folders(ours.path(), &rels);
            let made = t.elapsed();
            assert!(done.iter().all(|(_, r)| r.is_ok()));
            println!(
                "{name}: create_folders {made:?}, create_dir_all {mkdir:?}, ratio {:.2}",
                made.as_secs_f64() / mkdir.as_secs_f64()
            );
        }
    }

    #[test]
    fn version_names_follow_hyperclay_local() {
        let stem = version_stem(SystemTime::UNIX_EPOCH);
        // 1970-01-01-00-00-00-000+0000 in UTC; other zones shift it, the shape stays.
        assert_eq!(stem.len(), "1970-01-01-00-00-00-000+0000".len());
        assert!(stem.contains('+') || stem.contains('-'));
    }

    #[test]
    fn save_backs_up_then_replaces_and_sets_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("a")).unwrap();
        std::fs::write(root.join("a/x.html"), "old").unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let b = save(root, &p("a/x.html"), b"new", t, Some(Checksum::of(b"old")))
            .unwrap()
            .backup
            .unwrap();
        assert!(b.starts_with("sites-versions/a/x/"), "{b}");
        assert!(b.ends_with(".html"));
        assert_eq!(std::fs::read(root.join(&b)).unwrap(), b"old");
        assert_eq!(std::fs::read(root.join("a/x.html")).unwrap(), b"new");
        let m = std::fs::metadata(root.join("a/x.html"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(m, t);
        // Two backups in the same millisecond both survive.
        let b1 = backup(root, &p("pic.png"), b"1", t).unwrap();
        let b2 = backup(root, &p("pic.png"), b"2", t).unwrap();
        assert_ne!(b1, b2);
        assert!(b2.ends_with("-001.png"), "{b2}");
        assert_eq!(std::fs::read(root.join(b1)).unwrap(), b"1");
    }

    #[test]
    fn a_backup_of_the_bytes_the_newest_version_holds_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let later = |s| t + std::time::Duration::from_secs(s);
        let count = || {
            std::fs::read_dir(root.join("sites-versions/pic"))
                .unwrap()
                .count()
        };
        let first = backup(root, &p("pic.png"), b"A", t).unwrap();
        assert_eq!(backup(root, &p("pic.png"), b"A", later(1)).unwrap(), first);
        assert_eq!(count(), 1);
        // Another file with the same stem is not a version of this one.
        std::fs::write(
            root.join("sites-versions/pic/2099-01-01-00-00-00-000+0000.jpg"),
            "B",
        )
        .unwrap();
        let b = backup(root, &p("pic.png"), b"B", later(2)).unwrap();
        assert_ne!(b, first);
        // Content seen before but not the newest is kept again: the history stays in order.
        let a_again = backup(root, &p("pic.png"), b"A", later(3)).unwrap();
        assert_ne!(a_again, first);
        assert_eq!(count(), 4);
        assert_eq!(std::fs::read(root.join(a_again)).unwrap(), b"A");

        // Through the save process: the same old content replaced twice is kept once.
        std::fs::write(root.join("x.html"), "old").unwrap();
        let old = Some(Checksum::of(b"old"));
        let b1 = save(root, &p("x.html"), b"new", t, old)
            .unwrap()
            .backup
            .unwrap();
        std::fs::write(root.join("x.html"), "old").unwrap();
        let b2 = save(root, &p("x.html"), b"new2", t, old)
            .unwrap()
            .backup
            .unwrap();
        assert_eq!(b1, b2);
        assert_eq!(
            std::fs::read_dir(root.join("sites-versions/x"))
                .unwrap()
                .count(),
            1
        );
    }

    #[cfg(unix)]
    #[test]
    fn saved_files_get_ordinary_permissions_and_replaced_ones_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plain.txt"), b"x").unwrap();
        let ordinary = mode(&dir.path().join("plain.txt"));

        save(
            dir.path(),
            &p("new.html"),
            b"<p>new</p>",
            SystemTime::now(),
            None,
        )
        .unwrap();
        assert_eq!(mode(&dir.path().join("new.html")), ordinary);

        let kept = dir.path().join("kept.html");
        std::fs::write(&kept, b"<p>old</p>").unwrap();
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).unwrap();
        let old = Checksum::of(b"<p>old</p>");
        let backup = save(
            dir.path(),
            &p("kept.html"),
            b"<p>new</p>",
            SystemTime::now(),
            Some(old),
        )
        .unwrap()
        .backup
        .expect("a backup");
        assert_eq!(mode(&kept), 0o640);
        assert_eq!(mode(&dir.path().join(backup)), ordinary);
    }

    #[test]
    fn a_save_returns_the_stamp_its_watcher_echo_will_show() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("x.html"), "old").unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let saved = save(root, &p("x.html"), b"new", t, Some(Checksum::of(b"old"))).unwrap();
        let now = super::super::stamp_of(&std::fs::metadata(root.join("x.html")).unwrap());
        assert_eq!(
            saved.stamp,
            Some(now),
            "taken after the rename, ctime included"
        );
        // A user's save of the same size since then is not our echo.
        std::fs::write(root.join("x.html"), "NEW").unwrap();
        let edited = super::super::stamp_of(&std::fs::metadata(root.join("x.html")).unwrap());
        assert_ne!(saved.stamp, Some(edited));
    }

    #[test]
    fn save_refuses_when_the_file_is_not_what_the_plan_saw() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("x.html"), "edited").unwrap();
        let t = SystemTime::now();
        assert!(matches!(
            save(root, &p("x.html"), b"new", t, Some(Checksum::of(b"old"))),
            Err(WriteError::Changed(_))
        ));
        assert!(matches!(
            save(root, &p("x.html"), b"new", t, None),
            Err(WriteError::Changed(_))
        ));
        assert_eq!(std::fs::read(root.join("x.html")).unwrap(), b"edited");
    }

    #[test]
    fn stray_temp_files_of_ours_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sites-versions/x")).unwrap();
        std::fs::write(root.join(".hyperclay-sync-AbC.tmp"), "x").unwrap();
        std::fs::write(root.join("sites-versions/x/.hyperclay-sync-Q.tmp"), "x").unwrap();
        std::fs::write(root.join(".other.tmp"), "keep").unwrap();
        std::fs::write(root.join("x.html"), "keep").unwrap();
        assert_eq!(remove_stray_temps(root), 2);
        assert!(root.join(".other.tmp").exists() && root.join("x.html").exists());
        assert!(!root.join(".hyperclay-sync-AbC.tmp").exists());
    }

    #[cfg(unix)]
    #[test]
    fn save_never_writes_through_a_symlinked_folder() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("a")).unwrap();
        let r = save(dir.path(), &p("a/x.html"), b"x", SystemTime::now(), None);
        assert!(matches!(r, Err(WriteError::Outside(_))));
        assert!(!outside.path().join("x.html").exists());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_swapped_for_a_symlink_between_staging_and_publishing_is_never_written_through() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let staged = stage_new(root, &p("a/x.html"), b"x", SystemTime::now()).unwrap();
        // The check is done; now `a` becomes a symlink to a folder outside.
        std::fs::rename(root.join("a"), root.join("a-moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("a")).unwrap();
        let results = publish(root, vec![staged]);
        assert!(results[0].is_ok(), "{results:?}");
        assert!(!outside.path().join("x.html").exists());
        assert_eq!(std::fs::read(root.join("a-moved/x.html")).unwrap(), b"x");
        // And the next write sees the symlink and refuses.
        let r = save(root, &p("a/y.html"), b"y", SystemTime::now(), None);
        assert!(matches!(r, Err(WriteError::Outside(_))), "{r:?}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }

    #[test]
    fn staged_files_appear_only_when_published_and_never_over_a_newcomer() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let a = stage_new(root, &p("s/a.html"), b"A", t).unwrap();
        let b = stage_new(root, &p("s/b.png"), b"B", t).unwrap();
        let c = stage_new(root, &p("c.html"), b"C", t).unwrap();
        assert_eq!(a.stamp().map(|s| s.size), Some(1));
        // Nothing is visible before publishing; the temps are ours (hidden, swept at start).
        assert!(!root.join("s/a.html").exists() && !root.join("c.html").exists());
        // The user saves b.png meanwhile: theirs stays, ours is dropped.
        std::fs::write(root.join("s/b.png"), "user").unwrap();
        // A staged file that is dropped (e.g. at shutdown) leaves nothing.
        drop(c);
        let results = publish(root, vec![a, b]);
        assert!(results[0].is_ok());
        assert!(matches!(&results[1], Err(WriteError::Changed(p)) if p == "s/b.png"));
        assert_eq!(std::fs::read(root.join("s/a.html")).unwrap(), b"A");
        assert_eq!(std::fs::read(root.join("s/b.png")).unwrap(), b"user");
        let m = std::fs::metadata(root.join("s/a.html")).unwrap();
        assert_eq!(m.modified().unwrap(), t);
        assert_eq!(remove_stray_temps(root), 0, "no temp file is left behind");
        assert!(!root.join("c.html").exists());
        // A target that exists already is refused at staging.
        assert!(matches!(
            stage_new(root, &p("s/a.html"), b"A2", t),
            Err(WriteError::Changed(_))
        ));
    }
}
