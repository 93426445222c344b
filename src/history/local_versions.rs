//! This machine's backups of one file in `sites-versions/`, as `local::write::backup` names
//! them: `sites-versions/<folder>/<stem>/<YYYY-MM-DD-HH-MM-SS-mmm±HHMM>[-NNN].<ext>` (Hyperclay
//! Local's layout). Apps are found by name in any folder (an app moved here keeps its history).
//! It only reads, and never follows a symlink.

use std::path::Path;

use hyperclay_protocol::{Checksum, EntryName, MAX_FILE_BYTES, RemotePath, Timestamp};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use super::LocalBackup;
use crate::local::VERSIONS_DIR;

/// When a version file named `stem` (its name without the extension) was kept, or `None` when
/// the name is not a version's.
pub fn kept_at(stem: &str) -> Option<Timestamp> {
    // `2026-12-08-01-16-07-123+0100`, then an optional `-001` for a second one that millisecond.
    let (base, rest) = stem.split_at_checked(28)?;
    if !(rest.is_empty() || (rest.len() == 4 && rest.starts_with('-'))) {
        return None;
    }
    if !rest.is_empty() && !rest[1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let s = base.get(r)?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let dashes = [4, 7, 10, 13, 16, 19];
    if dashes.iter().any(|&i| base.as_bytes()[i] != b'-') {
        return None;
    }
    let sign = match base.as_bytes()[23] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let date = Date::from_calendar_date(num(0..4)?, month, u8::try_from(num(8..10)?).ok()?).ok()?;
    let time = Time::from_hms_milli(
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
        u16::try_from(num(20..23)?).ok()?,
    )
    .ok()?;
    let offset = UtcOffset::from_hms(
        i8::try_from(sign * num(24..26)?).ok()?,
        i8::try_from(sign * num(26..28)?).ok()?,
        0,
    )
    .ok()?;
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    let ms = at.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).ok().map(Timestamp::from_millis)
}

/// The stem and `.ext` a file's versions are named with (apps always `.html`).
pub fn stem_and_ext(rel: &RemotePath) -> (String, String) {
    let name = rel.file_name();
    match rel.kind() {
        EntryName::App => (
            name.rsplit_once('.').map_or(name, |(s, _)| s).to_owned(),
            ".html".to_owned(),
        ),
        EntryName::Upload => match name.rsplit_once('.') {
            Some((s, e)) => (s.to_owned(), format!(".{e}")),
            None => (name.to_owned(), String::new()),
        },
    }
}

/// The version files directly in `dir` (folder-relative `dir_rel`) with extension `dot_ext`:
/// (folder-relative path, kept at).
pub fn version_files(folder: &Path, dir_rel: &str, dot_ext: &str) -> Vec<(String, Timestamp)> {
    let Ok(entries) = std::fs::read_dir(folder.join(dir_rel)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(dot_ext)?;
            let at = kept_at(stem)?;
            Some((format!("{dir_rel}/{name}"), at))
        })
        .collect()
}

/// Every backup of `rel` (a file's folder-relative path) in `folder`'s `sites-versions/`.
/// Files that cannot be read, or are over 20 MiB, are left out.
pub fn backups_of(folder: &Path, rel: &RemotePath) -> Vec<LocalBackup> {
    let (stem, ext) = stem_and_ext(rel);
    let dirs: Vec<String> = match rel.kind() {
        // An app's name is unique: its versions are in a folder of that name anywhere.
        EntryName::App => folders_named(folder, &stem),
        EntryName::Upload => {
            let parent = rel.parent();
            vec![if parent.is_empty() {
                format!("{VERSIONS_DIR}/{stem}")
            } else {
                format!("{VERSIONS_DIR}/{parent}/{stem}")
            }]
        }
    };
    let mut out = Vec::new();
    for dir in dirs {
        for (file_rel, kept_at) in version_files(folder, &dir, &ext) {
            let path = folder.join(&file_rel);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            out.push(LocalBackup {
                rel: file_rel,
                kept_at,
                checksum: Checksum::of(&bytes),
                size: bytes.len() as u64,
            });
        }
    }
    out
}

/// Every folder under `sites-versions/` named `name` (folder-relative), never through a symlink.
fn folders_named(folder: &Path, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![VERSIONS_DIR.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(folder.join(&dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(child) = e.file_name().into_string() else {
                continue;
            };
            let rel = format!("{dir}/{child}");
            if child == name {
                found.push(rel.clone());
            }
            dirs.push(rel);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_read_back_as_the_time_they_were_kept() {
        let t = kept_at("2026-12-08-01-16-07-123+0100").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-08T00:16:07.123Z");
        let t2 = kept_at("2026-12-08-01-16-07-123-0130-001").unwrap();
        assert_eq!(t2.to_rfc3339(), "2026-12-08T02:46:07.123Z");
        for not_a_version in [
            "notes",
            "2026-12-08",
            "2026-13-08-01-16-07-123+0100",
            "2026-12-08-01-16-07-123+0100-x",
            "2026-12-08-01-16-07-123*0100",
        ] {
            assert_eq!(kept_at(not_a_version), None, "{not_a_version}");
        }
    }

    #[test]
    fn a_written_backup_is_found_with_its_time_and_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let rel = RemotePath::file("blog/post.html").unwrap();
        crate::local::write::backup(root, &rel, b"old", at).unwrap();
        // The same app kept in another folder earlier (it moved) is found by its name.
        let moved = RemotePath::file("post.html").unwrap();
        crate::local::write::backup(root, &moved, b"older", at).unwrap();
        // Not versions of it: another extension beside it, another upload's folder.
        let pic = RemotePath::file("blog/post.png").unwrap();
        crate::local::write::backup(root, &pic, b"png", at).unwrap();
        let mut found = backups_of(root, &rel);
        found.sort_by(|a, b| a.rel.cmp(&b.rel));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .all(|b| b.kept_at == Timestamp::from_system_time(at))
        );
        let sums: Vec<Checksum> = found.iter().map(|b| b.checksum).collect();
        assert!(sums.contains(&Checksum::of(b"old")) && sums.contains(&Checksum::of(b"older")));
        let pics = backups_of(root, &pic);
        assert_eq!(pics.len(), 1);
        assert_eq!(pics[0].checksum, Checksum::of(b"png"));
    }
}
