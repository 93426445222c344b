//! File bodies on disk, named by their SHA-256, written atomically (temp file in the same
//! filesystem, fsync, rename, fsync the folder). A body is never overwritten or removed: entries
//! and versions point at bodies, so "nothing lost" holds by construction.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use hyperclay_protocol::checksum::is_checksum;

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    pub fn open(root: &Path) -> std::io::Result<Blobs> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(Blobs {
            root: root.to_owned(),
        })
    }

    fn path_of(&self, checksum: &str) -> std::io::Result<PathBuf> {
        if !is_checksum(checksum) {
            return Err(std::io::Error::other("not a checksum"));
        }
        Ok(self.root.join(&checksum[..2]).join(checksum))
    }

    /// Stores `bytes` under `checksum` (which the caller computed from them). Idempotent.
    pub fn put(&self, checksum: &str, bytes: &[u8]) -> std::io::Result<()> {
        let target = self.path_of(checksum)?;
        if target.exists() {
            return Ok(());
        }
        let dir = target
            .parent()
            .ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
        fs::create_dir_all(dir)?;
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{checksum}.{:016x}", rand::random::<u64>()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &target)?;
            File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
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
        blobs.put(&sum, b"hello").unwrap();
        blobs.put(&sum, b"hello").unwrap();
        assert_eq!(blobs.get(&sum).unwrap(), b"hello");
        assert!(blobs.get("../../etc/passwd").is_err());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
