//! The client's data dir after a real sync against the real server: every folder in it 0700 and
//! every file 0600 (state DB with its -wal and -shm, log, lock, status, settings), including what
//! an older version had left wider before the engine started.
#![cfg(unix)]

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use hyperclay_protocol::Timestamp;

/// Every path under `dir` (relative) with its permission bits, symlinks not followed.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                dirs.push(e.path());
            }
            out.push((rel, meta.is_dir(), meta.permissions().mode() & 0o777));
        }
    }
    out.sort();
    out
}

#[test]
fn every_file_in_the_data_dir_is_private_after_a_sync() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    assert_eq!(api.put("down.html", b"<p>down</p>", Timestamp::now()), 200);

    let mut client = Client::start_stopped(&server.url(), &token);
    client.write("up.html", "<p>up</p>");
    // What an older version left: a wide home, log folder, rotated log and settings file.
    let home = client.home.path().to_path_buf();
    let set = |p: &Path, m: u32| std::fs::set_permissions(p, PermissionsExt::from_mode(m)).unwrap();
    std::fs::create_dir_all(home.join("logs")).unwrap();
    std::fs::write(home.join("logs/sync.log.1"), "old\n").unwrap();
    std::fs::write(home.join("settings.json"), "{}").unwrap();
    set(&home, 0o755);
    set(&home.join("logs"), 0o755);
    set(&home.join("logs/sync.log.1"), 0o644);
    set(&home.join("settings.json"), 0o644);

    client.spawn();
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("up.html").as_deref()
        == Some("<p>up</p>")));
    assert_eq!(client.read("down.html").as_deref(), Some("<p>down</p>"));

    let listed = modes(&home);
    let names: Vec<&str> = listed.iter().map(|(p, _, _)| p.as_str()).collect();
    for want in [
        "engine.lock",
        "status.json",
        "sync-issues.txt",
        "settings.json",
        "logs/sync.log",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("state/") && n.ends_with(".sqlite-wal")),
        "no state DB WAL: {names:?}"
    );
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let wide: Vec<_> = listed
        .iter()
        // The test harness's own capture of the client's stderr, not a file of the client.
        .filter(|(p, _, _)| p != "stderr.log")
        .filter(|(_, is_dir, m)| *m != if *is_dir { 0o700 } else { 0o600 })
        .collect();
    assert!(wide.is_empty(), "not private: {wide:?} (all: {listed:?})");
}
