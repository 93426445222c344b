//! What a stat says of one local file, as the hash cache and the echo check compare it: a file
//! whose stamp is unchanged has not been written. Plain data, so the pure rules and the state
//! store use it without importing the folder's I/O.

use std::time::UNIX_EPOCH;

/// What the hash cache remembers about one local file: a file whose stamp is unchanged is not
/// read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub size: u64,
    /// Local mtime in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status-change time in nanoseconds (0 where the OS has none): it moves on every write even
    /// when a tool puts the mtime back (`cp -p`, `rsync -t`, `touch -r`).
    pub ctime_ns: i64,
    /// The file's inode (0 where the OS has none): another file renamed over it has another.
    pub inode: u64,
}

pub fn stamp_of(meta: &std::fs::Metadata) -> Stamp {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    #[cfg(unix)]
    let (ctime_ns, inode) = {
        use std::os::unix::fs::MetadataExt;
        (
            meta.ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.ctime_nsec()),
            meta.ino(),
        )
    };
    #[cfg(not(unix))]
    let (ctime_ns, inode) = (0, 0);
    Stamp {
        size: meta.len(),
        mtime_ns,
        ctime_ns,
        inode,
    }
}
