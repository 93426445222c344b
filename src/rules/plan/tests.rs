//! Example tests for each rule, and property tests for the planner's invariants.

use super::*;
use proptest::prelude::*;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// The checksum of a content label (`"c1"`, `"new3"`): equal labels, equal checksums.
fn c(label: &str) -> Checksum {
    Checksum::of(label.as_bytes())
}

fn lf(path: &str, label: &str, mtime: i64) -> LocalFile {
    LocalFile {
        path: path.into(),
        size: label.len() as u64,
        mtime: t(mtime),
        checksum: c(label),
    }
}

fn rf(path: &str, label: &str, modified: i64) -> RemoteFile {
    RemoteFile {
        path: path.into(),
        size: label.len() as u64,
        modified_at: t(modified),
        checksum: c(label),
    }
}

fn br(local_path: &str, remote_path: &str, label: &str) -> BaseRecord {
    BaseRecord {
        checksum: c(label),
        size: label.len() as u64,
        local_mtime: t(1),
        remote_modified: t(1),
        local_path: local_path.into(),
        remote_path: remote_path.into(),
    }
}

type Base = BTreeMap<Key, BaseRecord>;
type Local = BTreeMap<String, LocalFile>;
type Remote = BTreeMap<String, RemoteFile>;

fn locals(files: &[LocalFile]) -> Local {
    files.iter().map(|f| (f.path.clone(), f.clone())).collect()
}

fn remotes(files: &[RemoteFile]) -> Remote {
    files.iter().map(|f| (f.path.clone(), f.clone())).collect()
}

fn bases(records: &[BaseRecord]) -> Base {
    records
        .iter()
        .map(|r| (key_of(&r.local_path), r.clone()))
        .collect()
}

fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Record { record, .. } => format!("record {}", record.local_path),
            Action::Upload {
                local, remote_path, ..
            } => format!("upload {} -> {remote_path}", local.path),
            Action::Download {
                remote,
                local_path,
                replaces,
                ..
            } => format!(
                "download {} -> {local_path}{}",
                remote.path,
                if replaces.is_some() { " (backup)" } else { "" }
            ),
            Action::Forget { key } => format!("forget {key}"),
            Action::IgnoreDuplicate { local_path, .. } => format!("duplicate {local_path}"),
        })
        .collect()
}

#[test]
fn same_content_is_only_recorded() {
    let a = plan(
        &Base::new(),
        &locals(&[lf("a.html", "c1", 5)]),
        &remotes(&[rf("a.html", "c1", 9)]),
    );
    assert_eq!(kinds(&a), ["record a.html"]);
    let synced = bases(&[br("a.html", "a.html", "c1")]);
    assert!(
        plan(
            &synced,
            &locals(&[lf("a.html", "c1", 5)]),
            &remotes(&[rf("a.html", "c1", 9)])
        )
        .is_empty()
    );
}

#[test]
fn a_change_on_one_side_flows_to_the_other_whatever_the_times() {
    let base = bases(&[br("a.html", "a.html", "c1")]);
    let up = plan(
        &base,
        &locals(&[lf("a.html", "c2", 1)]),
        &remotes(&[rf("a.html", "c1", 100)]),
    );
    assert_eq!(kinds(&up), ["upload a.html -> a.html"]);
    let down = plan(
        &base,
        &locals(&[lf("a.html", "c1", 100)]),
        &remotes(&[rf("a.html", "c2", 1)]),
    );
    assert_eq!(kinds(&down), ["download a.html -> a.html (backup)"]);
}

#[test]
fn both_changed_or_never_synced_last_write_wins_and_the_loser_is_backed_up() {
    let base = bases(&[br("a.html", "a.html", "c1")]);
    let local_newer = plan(
        &base,
        &locals(&[lf("a.html", "c2", 20)]),
        &remotes(&[rf("a.html", "c3", 10)]),
    );
    assert_eq!(kinds(&local_newer), ["upload a.html -> a.html"]);
    let remote_newer = plan(
        &Base::new(),
        &locals(&[lf("a.html", "c2", 10)]),
        &remotes(&[rf("a.html", "c3", 20)]),
    );
    assert_eq!(kinds(&remote_newer), ["download a.html -> a.html (backup)"]);
    let tie = plan(
        &Base::new(),
        &locals(&[lf("a.html", "c2", 10)]),
        &remotes(&[rf("a.html", "c3", 10)]),
    );
    assert_eq!(kinds(&tie), ["download a.html -> a.html (backup)"]);
}

#[test]
fn deletions_are_respected_until_the_other_side_edits() {
    let base = bases(&[br("a.html", "a.html", "c1")]);
    assert!(plan(&base, &Local::new(), &remotes(&[rf("a.html", "c1", 1)])).is_empty());
    assert!(plan(&base, &locals(&[lf("a.html", "c1", 1)]), &Remote::new()).is_empty());
    let edited_remotely = plan(&base, &Local::new(), &remotes(&[rf("a.html", "c2", 1)]));
    assert_eq!(kinds(&edited_remotely), ["download a.html -> a.html"]);
    let edited_locally = plan(&base, &locals(&[lf("a.html", "c2", 1)]), &Remote::new());
    assert_eq!(kinds(&edited_locally), ["upload a.html -> a.html"]);
    assert_eq!(
        kinds(&plan(&base, &Local::new(), &Remote::new())),
        ["forget app:a"]
    );
}

#[test]
fn a_local_rename_is_a_new_remote_file_and_the_old_one_stays() {
    let base = bases(&[br("old.png", "old.png", "c1")]);
    let a = plan(
        &base,
        &locals(&[lf("new.png", "c1", 1)]),
        &remotes(&[rf("old.png", "c1", 1)]),
    );
    assert_eq!(kinds(&a), ["upload new.png -> new.png"]);
}

#[test]
fn apps_match_by_name_and_the_remote_folder_wins() {
    let a = plan(
        &Base::new(),
        &locals(&[lf("x.html", "c2", 20)]),
        &remotes(&[rf("deep/er/x.html", "c1", 10)]),
    );
    assert_eq!(kinds(&a), ["upload x.html -> deep/er/x.html"]);
    let b = plan(
        &Base::new(),
        &Local::new(),
        &remotes(&[rf("deep/x.html", "c1", 10)]),
    );
    assert_eq!(kinds(&b), ["download deep/x.html -> deep/x.html"]);
    let mapped = bases(&[br("x.html", "deep/x.html", "c1")]);
    let c = plan(
        &mapped,
        &locals(&[lf("x.html", "c1", 1)]),
        &remotes(&[rf("deep/x.html", "c2", 10)]),
    );
    assert_eq!(kinds(&c), ["download deep/x.html -> x.html (backup)"]);
    // Uploads are matched by full path, not by name.
    let d = plan(
        &Base::new(),
        &locals(&[lf("a.png", "c1", 1)]),
        &remotes(&[rf("f/a.png", "c2", 1)]),
    );
    assert_eq!(
        kinds(&d),
        ["upload a.png -> a.png", "download f/a.png -> f/a.png"]
    );
}

#[test]
fn duplicate_app_names_sync_the_one_at_the_remote_path_else_the_first() {
    let a = plan(
        &Base::new(),
        &locals(&[lf("b/x.html", "c1", 1), lf("a/x.html", "c2", 1)]),
        &remotes(&[rf("b/x.html", "c1", 1)]),
    );
    assert_eq!(kinds(&a), ["duplicate a/x.html", "record b/x.html"]);
    let b = plan(
        &Base::new(),
        &locals(&[lf("b/x.html", "c1", 1), lf("a/x.html", "c2", 1)]),
        &Remote::new(),
    );
    assert_eq!(
        kinds(&b),
        ["duplicate b/x.html", "upload a/x.html -> a/x.html"]
    );
}

// ---- properties ----

const PATHS: &[&str] = &[
    "x.html",
    "a/x.html",
    "b/c/x.html",
    "y.html",
    "a/y.htmlclay",
    "img.png",
    "a/img.png",
    "notes.txt",
];

fn same_key_paths(key: &Key) -> Vec<&'static str> {
    PATHS
        .iter()
        .copied()
        .filter(|p| key_of(p) == *key)
        .collect()
}

fn arb_local() -> impl Strategy<Value = Local> {
    proptest::collection::btree_map(0..PATHS.len(), (0..4u8, 0..20i64), 0..PATHS.len()).prop_map(
        |m| {
            m.into_iter()
                .map(|(i, (c, ms))| (PATHS[i].to_string(), lf(PATHS[i], &format!("c{c}"), ms)))
                .collect()
        },
    )
}

/// A remote listing: at most one file per key, as a server guarantees.
fn arb_remote() -> impl Strategy<Value = Remote> {
    proptest::collection::btree_map(0..PATHS.len(), (0..4u8, 0..20i64), 0..PATHS.len()).prop_map(
        |m| {
            let mut seen = std::collections::BTreeSet::new();
            m.into_iter()
                .filter(|(i, _)| seen.insert(key_of(PATHS[*i])))
                .map(|(i, (c, ms))| (PATHS[i].to_string(), rf(PATHS[i], &format!("c{c}"), ms)))
                .collect()
        },
    )
}

fn arb_base() -> impl Strategy<Value = Base> {
    proptest::collection::btree_map(
        0..PATHS.len(),
        (0..4u8, 0..8usize, 0..8usize),
        0..PATHS.len(),
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(i, (c, li, ri))| {
                let key = key_of(PATHS[i]);
                let options = same_key_paths(&key);
                let lp = options[li % options.len()];
                let rp = options[ri % options.len()];
                (key, br(lp, rp, &format!("c{c}")))
            })
            .collect()
    })
}

/// Carries out a plan on the model: what the executor does when every transfer succeeds.
fn apply(base: &mut Base, local: &mut Local, remote: &mut Remote, actions: &[Action]) {
    for action in actions {
        match action {
            Action::Record { key, record } => {
                base.insert(key.clone(), record.clone());
            }
            Action::Upload {
                key,
                local: l,
                remote_path,
                ..
            } => {
                let r = RemoteFile {
                    path: remote_path.clone(),
                    size: l.size,
                    modified_at: l.mtime,
                    checksum: l.checksum,
                };
                remote.insert(remote_path.clone(), r.clone());
                base.insert(
                    key.clone(),
                    BaseRecord {
                        checksum: l.checksum,
                        size: l.size,
                        local_mtime: l.mtime,
                        remote_modified: r.modified_at,
                        local_path: l.path.clone(),
                        remote_path: remote_path.clone(),
                    },
                );
            }
            Action::Download {
                key,
                remote: r,
                local_path,
                ..
            } => {
                let l = LocalFile {
                    path: local_path.clone(),
                    size: r.size,
                    mtime: r.modified_at,
                    checksum: r.checksum,
                };
                local.insert(local_path.clone(), l);
                base.insert(
                    key.clone(),
                    BaseRecord {
                        checksum: r.checksum,
                        size: r.size,
                        local_mtime: r.modified_at,
                        remote_modified: r.modified_at,
                        local_path: local_path.clone(),
                        remote_path: r.path.clone(),
                    },
                );
            }
            Action::Forget { key } => {
                base.remove(key);
            }
            Action::IgnoreDuplicate { .. } => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_overwrites_without_a_backup_and_never_loses_a_remote_file(
        base in arb_base(), local in arb_local(), remote in arb_remote()
    ) {
        let actions = plan(&base, &local, &remote);
        for a in &actions {
            match a {
                Action::Download { local_path, replaces, .. } => {
                    prop_assert_eq!(replaces.as_ref(), local.get(local_path).map(|f| &f.checksum));
                }
                Action::Upload { remote_path, replaces, .. } => {
                    prop_assert_eq!(replaces.as_ref(), remote.get(remote_path).map(|f| &f.checksum));
                }
                _ => {}
            }
        }
        let (mut b, mut l, mut r) = (base, local, remote.clone());
        apply(&mut b, &mut l, &mut r, &actions);
        for path in remote.keys() {
            prop_assert!(r.contains_key(path), "remote file {} went away", path);
        }
    }

    #[test]
    fn applying_the_plan_then_planning_again_yields_nothing(
        base in arb_base(), local in arb_local(), remote in arb_remote()
    ) {
        let (mut b, mut l, mut r) = (base, local, remote);
        let first = plan(&b, &l, &r);
        apply(&mut b, &mut l, &mut r, &first);
        let second: Vec<Action> = plan(&b, &l, &r)
            .into_iter()
            .filter(|a| !matches!(a, Action::IgnoreDuplicate { .. }))
            .collect();
        prop_assert!(second.is_empty(), "second plan: {:?}", second);
    }

    #[test]
    fn a_file_changed_on_one_side_only_reaches_the_other(
        synced in proptest::collection::btree_map(0..PATHS.len(), (0..4u8, 0..8usize), 0..PATHS.len()),
        changes in proptest::collection::vec((any::<bool>(), 0..20i64), PATHS.len()),
    ) {
        let (mut base, mut local, mut remote) = (Base::new(), Local::new(), Remote::new());
        for (i, (c, ri)) in synced {
            let key = key_of(PATHS[i]);
            if base.contains_key(&key) { continue; }
            let options = same_key_paths(&key);
            let (lp, rp) = (PATHS[i], options[ri % options.len()]);
            let cs = format!("c{c}");
            base.insert(key, br(lp, rp, &cs));
            local.insert(lp.to_string(), lf(lp, &cs, 1));
            remote.insert(rp.to_string(), rf(rp, &cs, 1));
        }
        let mut expected = Vec::new();
        for (n, record) in base.values().enumerate() {
            let (on_local, ms) = changes[n];
            let new = format!("new{n}");
            if on_local {
                local.insert(record.local_path.clone(), lf(&record.local_path, &new, ms));
            } else {
                remote.insert(record.remote_path.clone(), rf(&record.remote_path, &new, ms));
            }
            expected.push((record.local_path.clone(), record.remote_path.clone(), new));
        }
        let actions = plan(&base, &local, &remote);
        apply(&mut base, &mut local, &mut remote, &actions);
        for (lp, rp, new) in expected {
            prop_assert_eq!(local[&lp].checksum, c(&new));
            prop_assert_eq!(remote[&rp].checksum, c(&new));
        }
    }
}

// ---- folders ----

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn a_new_folder_on_either_side_is_made_on_the_other() {
    let actions = plan_folders(
        &set(&[]),
        &set(&["mine", "both"]),
        &set(&["theirs", "both"]),
    );
    assert_eq!(
        actions,
        vec![
            FolderAction::Record("both".into()),
            FolderAction::Push("mine".into()),
            FolderAction::Create("theirs".into()),
        ]
    );
}

#[test]
fn a_synced_folder_deleted_on_one_side_stays_deleted_there() {
    let base = set(&["gone-here", "gone-there", "gone-both", "kept"]);
    let local = set(&["gone-there", "kept"]);
    let remote = set(&["gone-here", "kept"]);
    assert_eq!(
        plan_folders(&base, &local, &remote),
        vec![FolderAction::Forget("gone-both".into())]
    );
}

#[test]
fn something_new_in_a_folder_deleted_here_brings_it_back() {
    // `a` was synced and deleted here; `a/new` is new on the server: it is created (with `a`).
    let actions = plan_folders(&set(&["a"]), &set(&[]), &set(&["a", "a/new"]));
    assert_eq!(actions, vec![FolderAction::Create("a/new".into())]);
}

const FOLDERS: [&str; 5] = ["a", "a/b", "c", "c/d/e", "f"];

fn arb_folders() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::collection::btree_set(0..FOLDERS.len(), 0..=FOLDERS.len())
        .prop_map(|s| s.into_iter().map(|i| FOLDERS[i].to_string()).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn folders_are_never_deleted_and_a_synced_deletion_is_respected(
        base in arb_folders(), local in arb_folders(), remote in arb_folders()
    ) {
        for a in plan_folders(&base, &local, &remote) {
            match a {
                FolderAction::Push(p) => {
                    prop_assert!(local.contains(&p) && !remote.contains(&p) && !base.contains(&p));
                }
                FolderAction::Create(p) => {
                    prop_assert!(remote.contains(&p) && !local.contains(&p) && !base.contains(&p));
                }
                FolderAction::Record(p) => {
                    prop_assert!(local.contains(&p) && remote.contains(&p) && !base.contains(&p));
                }
                FolderAction::Forget(p) => {
                    prop_assert!(base.contains(&p) && !local.contains(&p) && !remote.contains(&p));
                }
            }
        }
    }

    #[test]
    fn applying_the_folder_plan_then_planning_again_yields_nothing(
        base in arb_folders(), local in arb_folders(), remote in arb_folders()
    ) {
        let (mut b, mut l, mut r) = (base, local, remote);
        for a in plan_folders(&b, &l, &r) {
            match a {
                FolderAction::Record(p) => { b.insert(p); }
                FolderAction::Push(p) => { r.insert(p.clone()); b.insert(p); }
                FolderAction::Create(p) => { l.insert(p.clone()); b.insert(p); }
                FolderAction::Forget(p) => { b.remove(&p); }
            }
        }
        prop_assert!(plan_folders(&b, &l, &r).is_empty());
    }
}
