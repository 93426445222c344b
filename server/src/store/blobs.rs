//! File bodies on disk, named by their SHA-256, written atomically (a temp file beside the final
//! name, fsync, rename, fsync the folder). A body is never removed, nor replaced by other
//! bytes: entries and versions point at bodies, so "nothing lost" holds by construction.
//!
//! Bodies are written *before* the save that needs them takes the store lock (see
//! [`crate::store::StoreHandle::put_blob`]), so concurrent saves write their bodies in parallel.
//! A body whose save is then refused (stale, name taken, site limit, path conflict) or fails
//! stays on disk unreferenced. That is harmless: it is content-addressed, so a later save of the
//! same bytes reuses it, and nothing serves a body that no entry or version points at (every
//! read goes through a row's checksum). Bodies are still never removed.
//!
//! The only proof that a body is durably on disk is a [`StoredBlob`], which only [`Blobs::put`]
//! makes, and the save process takes one: a row can never point at a body that is not.
//!
//! The prefix folders (`ab/` for `ab…`) are made once, the first time a body needs one, and
//! remembered: a save makes no `mkdir` for a folder that is known to exist. (Not all 256 up
//! front: on this project's ext4 every new inode is costly, and a test opens many small stores.)

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hyperclay_protocol::checksum::is_checksum;

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
    /// Checksums some thread of this process is writing right now, with how many. While one is
    /// listed, its file may exist (renamed) without its folder entry being durable yet.
    writing: Arc<Mutex<HashMap<String, usize>>>,
    /// Prefix folders known to exist durably (made and their entry in the root fsynced).
    made: Arc<[AtomicBool; 256]>,
}

/// A body that is durably stored (its file and its folder entry fsynced). Only [`Blobs::put`]
/// makes one; the save process needs one before any row may point at the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    checksum: String,
    size: u64,
}

impl StoredBlob {
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The index of a prefix folder's name (`"00"`..`"ff"`, lowercase as checksums are).
fn prefix_index(name: &str) -> Option<usize> {
    (name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| usize::from_str_radix(name, 16).ok())
        .flatten()
}

/// Removes a checksum from [`Blobs::writing`] when its write ends, however it ends.
struct Writing<'a> {
    blobs: &'a Blobs,
    checksum: &'a str,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut writing = self.blobs.writing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = writing.get_mut(self.checksum) {
            *n -= 1;
            if *n == 0 {
                writing.remove(self.checksum);
            }
        }
    }
}

impl Blobs {
    /// Opens (making it when needed) the blob folder and notes which prefix folders exist. The
    /// root is fsynced once so that those folders' entries are durable before bodies are
    /// renamed into them.
    pub fn open(root: &Path) -> std::io::Result<Blobs> {
        super::private::create_dir(root)?;
        let made: Arc<[AtomicBool; 256]> =
            Arc::new(std::array::from_fn(|_| AtomicBool::new(false)));
        for entry in fs::read_dir(root)? {
            let entry = entry?;
            if let Some(i) = entry
                .file_name()
                .to_str()
                .and_then(prefix_index)
                .filter(|_| entry.file_type().is_ok_and(|t| t.is_dir()))
            {
                made[i].store(true, Ordering::Relaxed);
            }
        }
        File::open(root)?.sync_all()?;
        Ok(Blobs {
            root: root.to_owned(),
            writing: Arc::default(),
            made,
        })
    }

    /// Makes the prefix folder `dir` (number `i`) exist durably, once per process.
    fn ensure_prefix(&self, i: usize, dir: &Path) -> std::io::Result<()> {
        if self.made[i].load(Ordering::Acquire) {
            return Ok(());
        }
        match super::private::create_subdir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        // Whoever made it, its entry is durable once this returns.
        File::open(&self.root)?.sync_all()?;
        self.made[i].store(true, Ordering::Release);
        Ok(())
    }

    fn path_of(&self, checksum: &str) -> std::io::Result<PathBuf> {
        if !is_checksum(checksum) {
            return Err(std::io::Error::other("not a checksum"));
        }
        Ok(self.root.join(&checksum[..2]).join(checksum))
    }

    /// Stores `bytes` under `checksum`, which the caller computed from them (`sha256_hex`).
    /// Idempotent, and safe to call from several threads at once, for the same body too: a
    /// body already stored is not written again, and when it returns the body is durable.
    pub fn put(&self, checksum: &str, bytes: &[u8]) -> std::io::Result<StoredBlob> {
        let target = self.path_of(checksum)?;
        debug_assert_eq!(checksum, hyperclay_protocol::sha256_hex(bytes));
        let stored = StoredBlob {
            checksum: checksum.to_owned(),
            size: bytes.len() as u64,
        };
        let _writing = {
            let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
            // The file exists and no one here is between its rename and its folder's fsync:
            // it is durable. (Checked under the lock that writers register under, so a writer
            // cannot rename in between.)
            if !writing.contains_key(checksum) && target.exists() {
                return Ok(stored);
            }
            *writing.entry(checksum.to_owned()).or_insert(0) += 1;
            Writing {
                blobs: self,
                checksum,
            }
        };
        let dir = target
            .parent()
            .ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
        let prefix =
            prefix_index(&checksum[..2]).ok_or_else(|| std::io::Error::other("not a checksum"))?;
        self.ensure_prefix(prefix, dir)?;
        // The temp file is made beside its final name (a dot name, never a checksum): the
        // rename stays in one folder, and concurrent saves create their files in different
        // folders rather than contending for one (a shared `tmp/` measured ~5x slower creates).
        let tmp = dir.join(format!(".{checksum}.{:016x}.tmp", rand::random::<u64>()));
        let result = (|| {
            let mut f = super::private::create_new_file(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &target)?;
            File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| stored)
    }

    /// Where the body `checksum` is on disk, for reading it in pieces (a release file).
    pub fn file_path(&self, checksum: &str) -> std::io::Result<PathBuf> {
        self.path_of(checksum)
    }

    pub fn get(&self, checksum: &str) -> std::io::Result<Vec<u8>> {
        fs::read(self.path_of(checksum)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::sha256_hex;

    #[test]
    fn stores_and_reads_back_by_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let sum = sha256_hex(b"hello");
        let stored = blobs.put(&sum, b"hello").unwrap();
        assert_eq!((stored.checksum(), stored.size()), (sum.as_str(), 5));
        assert_eq!(blobs.put(&sum, b"hello").unwrap(), stored);
        assert_eq!(blobs.get(&sum).unwrap(), b"hello");
        assert!(blobs.get("../../etc/passwd").is_err());
        assert!(blobs.put("../../etc/passwd", b"x").is_err());
        assert_eq!(temp_files(dir.path()), 0);
        assert!(blobs.writing.lock().unwrap().is_empty());
    }

    /// Files left in the prefix folders that are not bodies.
    fn temp_files(root: &Path) -> usize {
        fs::read_dir(root)
            .unwrap()
            .flat_map(|d| fs::read_dir(d.unwrap().path()).unwrap())
            .filter(|f| !is_checksum(f.as_ref().unwrap().file_name().to_str().unwrap()))
            .count()
    }

    #[test]
    fn prefix_folders_are_made_when_needed_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        assert!(blobs.made.iter().all(|m| !m.load(Ordering::Relaxed)));
        let sum = sha256_hex(b"kept");
        let i = prefix_index(&sum[..2]).unwrap();
        blobs.put(&sum, b"kept").unwrap();
        assert!(blobs.made[i].load(Ordering::Relaxed));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "one prefix folder"
        );
        // A new process knows the folder from the disk.
        let again = Blobs::open(dir.path()).unwrap();
        let known: Vec<usize> = (0..256)
            .filter(|&j| again.made[j].load(Ordering::Relaxed))
            .collect();
        assert_eq!(known, [i]);
        assert_eq!(again.get(&sum).unwrap(), b"kept");
        let other = sha256_hex(b"other");
        again.put(&other, b"other").unwrap();
        assert_eq!(again.get(&other).unwrap(), b"other");
        assert_eq!(prefix_index("ff"), Some(255));
        for bad in ["tmp", "FF", "f", "0g", "123"] {
            assert_eq!(prefix_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn concurrent_puts_of_the_same_and_of_different_bodies_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let bodies: Vec<Vec<u8>> = (0..8).map(|i| vec![b'a' + (i % 3) as u8; 1000]).collect();
        std::thread::scope(|s| {
            for body in &bodies {
                let blobs = &blobs;
                s.spawn(move || {
                    let sum = sha256_hex(body);
                    assert_eq!(blobs.put(&sum, body).unwrap().checksum(), sum);
                });
            }
        });
        for body in &bodies {
            assert_eq!(&blobs.get(&sha256_hex(body)).unwrap(), body);
        }
        assert_eq!(temp_files(dir.path()), 0);
        assert!(blobs.writing.lock().unwrap().is_empty());
    }
}
