//! How long this machine keeps backups in `sites-versions/`, so the folder stays bounded:
//!
//! - every version for 30 days;
//! - after that, the newest version of each day, until a year;
//! - after a year, the newest version of each week;
//! - whatever their age, the newest 10 versions of every file, and so always its newest.
//!
//! [`to_drop`] decides, as a pure function of the versions' times and a clock passed in;
//! [`prune`] applies it to a folder (the engine does, at a session's start, at most once a day).
//! Only files named as versions are ever removed, never through a symlink, and never the newest
//! version of a file. The server's own history is the server's to keep.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use hyperclay_protocol::Timestamp;

use super::local_versions::kept_at;
use crate::local::VERSIONS_DIR;

const DAY_MS: i64 = 24 * 3_600_000;

/// The rule [`to_drop`] applies; [`Policy::STANDARD`] is the one the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Every version younger than this many days is kept.
    pub keep_all_days: i64,
    /// Until this age (days), one version a day is kept; after it, one a week.
    pub daily_until_days: i64,
    /// The newest this many versions of a file are kept whatever their age (at least 1).
    pub keep_newest: usize,
}

impl Policy {
    pub const STANDARD: Policy = Policy {
        keep_all_days: 30,
        daily_until_days: 365,
        keep_newest: 10,
    };
}

/// Which of one file's versions (each given by when it was kept) to remove at `now`: indices
/// into `versions`. Never the newest [`Policy::keep_newest`] (at least one), never one younger
/// than [`Policy::keep_all_days`], never the newest of its day (or, past
/// [`Policy::daily_until_days`], of its week).
pub fn to_drop(versions: &[Timestamp], now: Timestamp, policy: Policy) -> Vec<usize> {
    let mut order: Vec<usize> = (0..versions.len()).collect();
    // Newest first; equal times by position, so the answer never depends on the sort.
    order.sort_by(|&a, &b| versions[b].cmp(&versions[a]).then(a.cmp(&b)));
    let mut buckets_kept = HashSet::new();
    let mut drop = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        let at = versions[i];
        let age_days = (now.as_millis() - at.as_millis()).div_euclid(DAY_MS);
        if age_days < policy.keep_all_days {
            continue;
        }
        let day = at.as_millis().div_euclid(DAY_MS);
        let bucket = if age_days < policy.daily_until_days {
            (0, day)
        } else {
            (1, day.div_euclid(7))
        };
        // The first seen in each bucket is its newest; one of the newest N keeps its day too.
        let first_of_bucket = buckets_kept.insert(bucket);
        if !first_of_bucket && rank >= policy.keep_newest.max(1) {
            drop.push(i);
        }
    }
    drop.sort_unstable();
    drop
}

/// Removes from `folder`'s `sites-versions/` what [`to_drop`] says, for every file's versions
/// (the version files of one folder with one extension); returns how many were removed.
pub fn prune(folder: &Path, now: Timestamp, policy: Policy) -> usize {
    let mut removed = 0;
    let mut dirs = vec![VERSIONS_DIR.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(folder.join(&dir)) else {
            continue;
        };
        // extension → (file name, kept at)
        let mut files: BTreeMap<String, Vec<(String, Timestamp)>> = BTreeMap::new();
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if ft.is_dir() {
                dirs.push(format!("{dir}/{name}"));
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let (stem, ext) = match name.split_once('.') {
                Some((s, e)) => (s, format!(".{e}")),
                None => (name.as_str(), String::new()),
            };
            if let Some(at) = kept_at(stem) {
                files.entry(ext).or_default().push((name.clone(), at));
            }
        }
        for group in files.values() {
            let times: Vec<Timestamp> = group.iter().map(|(_, t)| *t).collect();
            for i in to_drop(&times, now, policy) {
                let path = folder.join(&dir).join(&group[i].0);
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) => log::warn!("Cannot remove the old backup {}: {e}", path.display()),
                }
            }
        }
    }
    removed
}

/// How often the engine prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Prunes `folder` with the standard policy unless it was done less than [`PRUNE_EVERY`] ago
/// (`last` is when, updated here). For the engine, at a session's start.
pub fn prune_if_due(folder: &Path, last: &mut Option<Instant>) {
    if last.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
        return;
    }
    *last = Some(Instant::now());
    let removed = prune(folder, Timestamp::now(), Policy::STANDARD);
    if removed > 0 {
        log::info!(
            "Removed {removed} old backups from {VERSIONS_DIR}/ (kept: everything for 30 days, \
             then one a day, after a year one a week, and always the newest 10 of each file)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn days_ago(d: f64) -> Timestamp {
        NOW.offset_by(-(d * DAY_MS as f64) as i64)
    }

    const SMALL: Policy = Policy {
        keep_newest: 2,
        ..Policy::STANDARD
    };

    #[test]
    fn everything_younger_than_30_days_is_kept() {
        let v: Vec<Timestamp> = (0..100).map(|i| days_ago(f64::from(i) * 0.29)).collect();
        assert!(to_drop(&v, NOW, SMALL).is_empty());
    }

    #[test]
    fn older_versions_keep_the_newest_of_each_day() {
        // Three versions on one day 40 days ago, two the day before; plus two recent ones.
        let day40 = days_ago(40.0).as_millis().div_euclid(DAY_MS) * DAY_MS;
        let at = |d: i64, h: i64| Timestamp::from_millis(day40 - d * DAY_MS + h * 3_600_000);
        let v = vec![
            at(0, 9),
            at(0, 18),
            at(0, 12),
            at(1, 3),
            at(1, 4),
            days_ago(1.0),
            days_ago(0.5),
        ];
        let dropped = to_drop(&v, NOW, SMALL);
        assert_eq!(dropped, vec![0, 2, 3], "the 18:00 and the 04:00 stay");
    }

    #[test]
    fn past_a_year_one_a_week_is_kept() {
        let v: Vec<Timestamp> = (0..28).map(|i| days_ago(400.0 + f64::from(i))).collect();
        let kept = v.len()
            - to_drop(
                &v,
                NOW,
                Policy {
                    keep_newest: 1,
                    ..Policy::STANDARD
                },
            )
            .len();
        // 28 consecutive days span 4 or 5 weeks.
        assert!((4..=5).contains(&kept), "{kept}");
    }

    #[test]
    fn the_newest_of_a_file_is_kept_however_old_and_however_many() {
        let v = vec![days_ago(900.0), days_ago(900.1), days_ago(900.2)];
        let zero = Policy {
            keep_newest: 0,
            ..Policy::STANDARD
        };
        let dropped = to_drop(&v, NOW, zero);
        assert!(!dropped.contains(&0), "{dropped:?}");
        // The newest N are kept even on one old day.
        assert!(
            to_drop(
                &v,
                NOW,
                Policy {
                    keep_newest: 3,
                    ..Policy::STANDARD
                }
            )
            .is_empty()
        );
    }

    proptest! {
        #[test]
        fn the_newest_and_every_recent_version_always_survive(
            ages in proptest::collection::vec(0.0f64..2000.0, 1..60),
            keep_newest in 0usize..12,
        ) {
            let v: Vec<Timestamp> = ages.iter().map(|&d| days_ago(d)).collect();
            let policy = Policy { keep_newest, ..Policy::STANDARD };
            let dropped = to_drop(&v, NOW, policy);
            let newest = v.iter().max().copied();
            let kept: Vec<Timestamp> = (0..v.len()).filter(|i| !dropped.contains(i)).map(|i| v[i]).collect();
            prop_assert!(kept.iter().max().copied() == newest);
            for (i, t) in v.iter().enumerate() {
                if (NOW.as_millis() - t.as_millis()) < 30 * DAY_MS {
                    prop_assert!(!dropped.contains(&i));
                }
            }
            prop_assert!(kept.len() >= keep_newest.max(1).min(v.len()));
            // Pruning what is left drops nothing more.
            prop_assert!(to_drop(&kept, NOW, policy).is_empty());
        }
    }

    #[test]
    fn prune_removes_old_versions_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let app = crate::local::write::version_stem;
        let vdir = root.join("sites-versions/blog/post");
        std::fs::create_dir_all(&vdir).unwrap();
        let old_day = days_ago(100.0);
        let mut names = Vec::new();
        for h in 0..5 {
            let t = old_day.offset_by(h * 60_000).to_system_time();
            let name = format!("{}.html", app(t));
            std::fs::write(vdir.join(&name), format!("v{h}")).unwrap();
            names.push(name);
        }
        // Not a version, and a version of another file type beside them: untouched.
        std::fs::write(vdir.join("notes.txt"), "mine").unwrap();
        let png = format!("{}.png", app(days_ago(100.0).to_system_time()));
        std::fs::write(vdir.join(&png), "png").unwrap();
        let policy = Policy {
            keep_newest: 2,
            ..Policy::STANDARD
        };
        assert_eq!(prune(root, NOW, policy), 3);
        let left: Vec<String> = std::fs::read_dir(&vdir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(left.contains(&names[4]) && left.contains(&names[3]));
        assert!(left.contains(&"notes.txt".to_owned()) && left.contains(&png));
        assert_eq!(prune(root, NOW, policy), 0);
    }
}
