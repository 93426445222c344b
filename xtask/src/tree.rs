//! The files a benchmark syncs: deterministic contents (the same seed gives the same bytes on
//! every machine) and the mixed trees of apps and uploads. Only ever writes under the root it
//! is given.

use std::path::Path;

use anyhow::{Context, Result};

/// A small, fast, deterministic generator (SplitMix64): reproducible bytes, not secrets.
pub struct Mix(u64);

impl Mix {
    pub fn new(seed: u64) -> Mix {
        Mix(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `len` bytes of binary content, different for every seed.
pub fn binary(seed: u64, len: usize) -> Vec<u8> {
    let mut mix = Mix::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&mix.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An HTML app of exactly `len` bytes (at least 64) whose text names `seed`, so that every seed
/// has its own checksum.
pub fn html(seed: u64, len: usize) -> Vec<u8> {
    let head = format!("<!doctype html>\n<html><head><title>bench {seed}</title></head><body>\n");
    let tail = "\n</body></html>\n";
    let mut out = head.into_bytes();
    let mut mix = Mix::new(seed);
    const WORDS: [&str; 8] = [
        "clay ", "sync ", "page ", "edit ", "save ", "live ", "html ", "app ",
    ];
    let body_len = len.saturating_sub(out.len() + tail.len());
    let mut body = Vec::with_capacity(body_len + 8);
    while body.len() < body_len {
        body.extend_from_slice(WORDS[(mix.next_u64() % 8) as usize].as_bytes());
    }
    body.truncate(body_len);
    out.extend_from_slice(&body);
    out.extend_from_slice(tail.as_bytes());
    out
}

/// One file of a generated tree: its remote (and folder-relative) path and how to make it.
#[derive(Debug, Clone)]
pub struct TreeFile {
    pub path: String,
    pub len: usize,
    pub seed: u64,
    pub app: bool,
}

impl TreeFile {
    pub fn bytes(&self) -> Vec<u8> {
        if self.app {
            html(self.seed, self.len)
        } else {
            binary(self.seed, self.len)
        }
    }
}

/// `files` apps and uploads spread over ten sites (two folder levels), `total` bytes in all:
/// mostly small files, some medium, a few large, as a real account holds. App names carry
/// `prefix` because an app name is unique across the whole server.
pub fn mixed(prefix: &str, files: usize, total: u64, seed: u64) -> Vec<TreeFile> {
    let mut mix = Mix::new(seed);
    let mut out = Vec::with_capacity(files);
    for i in 0..files {
        let class = mix.unit();
        let len = if class < 0.6 {
            mix.range(2_000, 20_000)
        } else if class < 0.9 {
            mix.range(20_000, 200_000)
        } else {
            mix.range(200_000, 2_000_000)
        };
        let site = i % 10;
        let app = i % 3 == 0;
        let path = if app {
            format!("site-{site}/{prefix}-app-{i:04}.html")
        } else if i % 3 == 1 {
            format!("site-{site}/assets/img-{i:04}.bin")
        } else {
            format!("site-{site}/data-{i:04}.json")
        };
        out.push(TreeFile {
            path,
            len: len as usize,
            seed: seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
            app,
        });
    }
    // Scale to the exact total, so "1,000 files / 50 MB" is what was synced.
    let sum: u64 = out.iter().map(|f| f.len as u64).sum();
    let scale = total as f64 / sum.max(1) as f64;
    for f in &mut out {
        f.len = ((f.len as f64 * scale) as usize).max(200);
    }
    let scaled: i64 = out.iter().map(|f| f.len as i64).sum();
    if let Some(last) = out.last_mut() {
        last.len = (last.len as i64 + total as i64 - scaled).max(200) as usize;
    }
    out
}

/// `files` small files (0.5–4 KiB, one in five an app) in 100 folders: an account that is big
/// in count, not in bytes.
pub fn many_small(prefix: &str, files: usize, seed: u64) -> Vec<TreeFile> {
    let mut mix = Mix::new(seed);
    (0..files)
        .map(|i| {
            let app = i % 5 == 0;
            let folder = i % 100;
            let path = if app {
                format!("f{folder:02}/{prefix}-{i:05}.html")
            } else {
                format!("f{folder:02}/note-{i:05}.txt")
            };
            small_file(&mut mix, seed, i, path, app)
        })
        .collect()
}

/// The `i`th small file (0.5–4 KiB) of a tree made from `seed`.
fn small_file(mix: &mut Mix, seed: u64, i: usize, path: String, app: bool) -> TreeFile {
    TreeFile {
        path,
        len: mix.range(512, 4096) as usize,
        seed: seed.wrapping_mul(7_919).wrapping_add(i as u64),
        app,
    }
}

/// `folders` folders (in 1,000-folder groups), each holding one small file (0.5–4 KiB, one in
/// five an app): an account that is big in folders.
pub fn one_per_folder(prefix: &str, folders: usize, seed: u64) -> Vec<TreeFile> {
    let mut mix = Mix::new(seed);
    (0..folders)
        .map(|i| {
            let app = i % 5 == 0;
            let dir = format!("g{:03}/d{i:06}", i / 1000);
            let path = if app {
                format!("{dir}/{prefix}-{i:06}.html")
            } else {
                format!("{dir}/note.txt")
            };
            small_file(&mut mix, seed, i, path, app)
        })
        .collect()
}

/// Writes `files` under `root`, creating folders as needed.
pub fn write(root: &Path, files: &[TreeFile]) -> Result<()> {
    for f in files {
        let path = root.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, f.bytes()).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::RemotePath;

    #[test]
    fn contents_are_deterministic_and_distinct() {
        assert_eq!(binary(1, 1000), binary(1, 1000));
        assert_ne!(binary(1, 1000), binary(2, 1000));
        assert_eq!(html(5, 20_480).len(), 20_480);
        assert_ne!(html(5, 20_480), html(6, 20_480));
        assert!(html(5, 20_480).starts_with(b"<!doctype html>"));
    }

    #[test]
    fn a_mixed_tree_has_the_asked_count_and_total_and_valid_paths() {
        let tree = mixed("t", 1000, 50_000_000, 42);
        assert_eq!(tree.len(), 1000);
        assert_eq!(tree.iter().map(|f| f.len as u64).sum::<u64>(), 50_000_000);
        for f in &tree {
            assert!(RemotePath::file(&f.path).is_ok(), "{}", f.path);
            assert_eq!(f.app, f.path.ends_with(".html"));
        }
        let small = many_small("s", 500, 1);
        assert_eq!(small.len(), 500);
        assert!(small.iter().all(|f| RemotePath::file(&f.path).is_ok()));
        let deep = one_per_folder("d", 2500, 1);
        let dirs: std::collections::BTreeSet<_> = deep
            .iter()
            .map(|f| f.path.rsplit_once('/').unwrap().0)
            .collect();
        assert_eq!(dirs.len(), 2500);
        assert!(deep.iter().all(|f| RemotePath::file(&f.path).is_ok()));
    }
}
