//! A folder inside the sync folder, opened one level at a time without following a symlink, and
//! every write into it made relative to that open folder: once opened, swapping any folder on its
//! path for a symlink cannot redirect a write outside the sync folder. On Linux this is a directory
//! file descriptor (`openat`/`mkdirat`/`renameat`/`linkat` with no-follow); elsewhere a checked
//! path, which narrows the window but cannot close it. It must never follow a symlink below the
//! sync folder, and never replace an entry unless asked to.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why a folder could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// A level is a symlink, not a folder, or a name that leaves its parent.
    Outside,
    Io(io::Error),
}

fn is_plain_segment(seg: &str) -> bool {
    !(seg.is_empty() || seg == "." || seg == ".." || seg.contains('\\') || seg.contains('/'))
}

#[cfg(target_os = "linux")]
pub use linux::DirHandle;
#[cfg(not(target_os = "linux"))]
pub use portable::DirHandle;

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use rustix::fs::{AtFlags, CWD, Mode, OFlags, RenameFlags};
    use rustix::io::Errno;
    use std::os::fd::OwnedFd;

    const DIR: OFlags = OFlags::DIRECTORY
        .union(OFlags::RDONLY)
        .union(OFlags::CLOEXEC);

    #[derive(Debug)]
    pub struct DirHandle {
        fd: OwnedFd,
        path: PathBuf,
    }

    impl DirHandle {
        /// Opens `rel_dir` (slash-separated, may be empty) inside `folder`, creating missing
        /// levels. `folder` itself is the user's choice and may be reached through a symlink.
        pub fn open_inside(folder: &Path, rel_dir: &str) -> Result<DirHandle, OpenError> {
            open_levels(folder, rel_dir, open_level)
        }

        /// Opens the existing folder `rel_dir` inside `folder`, creating nothing.
        pub fn open_existing(folder: &Path, rel_dir: &str) -> Result<DirHandle, OpenError> {
            open_levels(folder, rel_dir, |parent, seg| {
                rustix::fs::openat(parent, seg, DIR | OFlags::NOFOLLOW, Mode::empty())
                    .map_err(refused)
            })
        }

        /// Opens `name` here for reading without following a symlink (`ELOOP` if it is one) and
        /// without blocking on a FIFO; the caller checks what it opened.
        pub fn open_read(&self, name: &str) -> io::Result<File> {
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty())?;
            Ok(File::from(fd))
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// Whether `name` exists here, a symlink counting as itself.
        pub fn has(&self, name: &str) -> bool {
            rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
        }

        pub fn is_symlink(&self, name: &str) -> bool {
            rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
            })
        }

        /// Creates the new file `name` with `mode` (less the umask); `AlreadyExists` if any
        /// entry, a symlink included, has that name.
        pub fn create_new(&self, name: &str, mode: u32) -> io::Result<File> {
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode))?;
            Ok(File::from(fd))
        }

        /// Renames `from` to `to` here, replacing what `to` was (a symlink is replaced, never
        /// followed).
        pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::renameat(&self.fd, from, &self.fd, to)?)
        }

        /// Renames `from` to `to` here unless `to` exists (`AlreadyExists`).
        pub fn rename_new(&self, from: &str, to: &str) -> io::Result<()> {
            match rustix::fs::renameat_with(&self.fd, from, &self.fd, to, RenameFlags::NOREPLACE) {
                Ok(()) => Ok(()),
                // Filesystems without RENAME_NOREPLACE: a hard link also refuses an existing name.
                Err(Errno::INVAL) | Err(Errno::NOSYS) => {
                    self.link(from, to)?;
                    let _ = self.remove(from);
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }

        /// A second name `to` for `from` here, unless `to` exists (`AlreadyExists`).
        pub fn link(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::linkat(
                &self.fd,
                from,
                &self.fd,
                to,
                AtFlags::empty(),
            )?)
        }

        pub fn remove(&self, name: &str) -> io::Result<()> {
            Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
        }

        /// Makes renames and links here durable; not possible everywhere, so failure is ignored.
        pub fn sync(&self) {
            let _ = rustix::fs::fsync(&self.fd);
        }
    }

    /// `folder`, then each plain segment of `rel_dir` opened from the last with `open`.
    fn open_levels(
        folder: &Path,
        rel_dir: &str,
        open: impl Fn(&OwnedFd, &str) -> Result<OwnedFd, OpenError>,
    ) -> Result<DirHandle, OpenError> {
        let mut fd = rustix::fs::openat(CWD, folder, DIR, Mode::empty())
            .map_err(|e| OpenError::Io(e.into()))?;
        let mut path = folder.to_path_buf();
        for seg in rel_dir.split('/').filter(|s| !s.is_empty()) {
            if !is_plain_segment(seg) {
                return Err(OpenError::Outside);
            }
            fd = open(&fd, seg)?;
            path.push(seg);
        }
        Ok(DirHandle { fd, path })
    }

    /// O_NOFOLLOW on a symlink, O_DIRECTORY on anything else that is not a folder: outside.
    fn refused(e: Errno) -> OpenError {
        match e {
            Errno::LOOP | Errno::NOTDIR => OpenError::Outside,
            e => OpenError::Io(e.into()),
        }
    }

    fn open_level(parent: &OwnedFd, seg: &str) -> Result<OwnedFd, OpenError> {
        let open = || rustix::fs::openat(parent, seg, DIR | OFlags::NOFOLLOW, Mode::empty());
        match open() {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT) => {
                match rustix::fs::mkdirat(parent, seg, Mode::from_raw_mode(0o777)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(OpenError::Io(e.into())),
                }
                open().map_err(refused)
            }
            Err(e) => Err(refused(e)),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod portable {
    use super::*;

    #[derive(Debug)]
    pub struct DirHandle {
        path: PathBuf,
    }

    impl DirHandle {
        pub fn open_inside(folder: &Path, rel_dir: &str) -> Result<DirHandle, OpenError> {
            let mut path = folder.to_path_buf();
            for seg in rel_dir.split('/').filter(|s| !s.is_empty()) {
                if !is_plain_segment(seg) {
                    return Err(OpenError::Outside);
                }
                path.push(seg);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
                        return Err(OpenError::Outside);
                    }
                    Ok(_) => {}
                    Err(_) => match std::fs::create_dir(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(OpenError::Io(e)),
                    },
                }
            }
            Ok(DirHandle { path })
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        pub fn has(&self, name: &str) -> bool {
            std::fs::symlink_metadata(self.path.join(name)).is_ok()
        }

        pub fn is_symlink(&self, name: &str) -> bool {
            std::fs::symlink_metadata(self.path.join(name))
                .is_ok_and(|m| m.file_type().is_symlink())
        }

        pub fn create_new(&self, name: &str, mode: u32) -> io::Result<File> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(mode);
            }
            #[cfg(not(unix))]
            let _ = mode;
            options.open(self.path.join(name))
        }

        pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            std::fs::rename(self.path.join(from), self.path.join(to))
        }

        pub fn rename_new(&self, from: &str, to: &str) -> io::Result<()> {
            self.link(from, to)?;
            let _ = self.remove(from);
            Ok(())
        }

        pub fn link(&self, from: &str, to: &str) -> io::Result<()> {
            std::fs::hard_link(self.path.join(from), self.path.join(to))
        }

        pub fn remove(&self, name: &str) -> io::Result<()> {
            std::fs::remove_file(self.path.join(name))
        }

        pub fn sync(&self) {
            if let Ok(f) = File::open(&self.path) {
                let _ = f.sync_all();
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_folder_swapped_for_a_symlink_after_opening_is_never_written_through() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = DirHandle::open_inside(root.path(), "a/b").unwrap();
        // The race, made deterministic: between the check (open) and the write, `a` becomes a
        // symlink to a folder outside with a `b` in it.
        std::fs::create_dir(outside.path().join("b")).unwrap();
        std::fs::rename(root.path().join("a"), root.path().join("a-moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("a")).unwrap();

        dir.create_new("t", 0o666).unwrap().write_all(b"x").unwrap();
        dir.rename("t", "x.html").unwrap();
        dir.link("x.html", "y.html").unwrap();
        #[cfg(target_os = "linux")]
        {
            assert!(!outside.path().join("b/x.html").exists());
            assert!(!outside.path().join("b/y.html").exists());
            assert_eq!(
                std::fs::read(root.path().join("a-moved/b/x.html")).unwrap(),
                b"x"
            );
        }
        // Opening again sees the symlink and refuses.
        assert!(matches!(
            DirHandle::open_inside(root.path(), "a/b"),
            Err(OpenError::Outside)
        ));
    }

    #[test]
    fn names_that_leave_the_folder_and_files_in_the_way_are_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), "x").unwrap();
        for rel in ["..", "a/../..", "a\\b", "f", "f/x"] {
            assert!(
                matches!(
                    DirHandle::open_inside(root.path(), rel),
                    Err(OpenError::Outside)
                ),
                "{rel}"
            );
        }
        let dir = DirHandle::open_inside(root.path(), "").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("l")).unwrap();
        assert!(dir.is_symlink("l") && dir.has("l") && !dir.has("none"));
        // A new file is never created through a symlink that holds its name.
        let e = dir.create_new("l", 0o666).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        dir.create_new("n", 0o666).unwrap();
        assert_eq!(
            dir.rename_new("n", "f").unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"x");
    }
}
