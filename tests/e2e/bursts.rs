//! Many files at once: a folder dropped into a running client's folder, and files written just
//! before the client starts. From the first file of a burst to the last one on the server the
//! status says "syncing" (with its N of M), never "up to date": a user who closes the laptop at
//! "Up to date" must not lose an upload.

use crate::common;

use std::collections::BTreeSet;

use common::*;

/// Upload names under `dir` that the server lists.
fn on_server(api: &Api, dir: &str) -> usize {
    api.paths()
        .iter()
        .filter(|p| p.starts_with(&format!("{dir}/")) && p.ends_with(".txt"))
        .count()
}

/// Samples the client's status until the server holds `n` files under `dir`; returns every
/// status seen while it held fewer, once the burst's first file had arrived.
fn watch_burst(client: &Client, api: &Api, dir: &str, n: usize) -> Vec<serde_json::Value> {
    let mut during = Vec::new();
    let done = wait_until(DEADLINE, || {
        let status = client.status();
        let there = on_server(api, dir);
        if there >= n {
            return true;
        }
        if there > 0 {
            during.push(status);
        }
        false
    });
    assert!(
        done,
        "only {} of {n} files reached the server",
        on_server(api, dir)
    );
    during
}

fn write_tree(root: &std::path::Path, dir: &str, folders: usize, per_folder: usize) -> usize {
    for f in 0..folders {
        let sub = root.join(dir).join(format!("part-{f}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..per_folder {
            std::fs::write(
                sub.join(format!("f{i}.txt")),
                format!("{f}/{i} ").repeat(100),
            )
            .unwrap();
        }
    }
    folders * per_folder
}

#[test]
fn a_folder_dropped_into_a_running_client_says_syncing_until_its_last_file_is_up() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let client = Client::start(&server.url(), &token);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || client.status()["state"] == "upToDate"));

    // Written just now and moved in whole: every file is too fresh to trust at the scan that
    // the new folder causes, so each waits for a look.
    let staging = tempfile::tempdir().unwrap();
    let n = write_tree(staging.path(), "site", 10, 40);
    std::fs::rename(staging.path().join("site"), client.path("site")).unwrap();

    let during = watch_burst(&client, &api, "site", n);
    let lies: Vec<&serde_json::Value> =
        during.iter().filter(|s| s["state"] == "upToDate").collect();
    assert!(
        lies.is_empty(),
        "'up to date' while the burst was going up ({} of {} samples): {}",
        lies.len(),
        during.len(),
        lies[0]
    );
    let counted: BTreeSet<u64> = during
        .iter()
        .filter_map(|s| s["progress"]["total"].as_u64())
        .collect();
    assert!(
        counted.iter().any(|t| *t >= 2),
        "no N of M shown during the burst: {:?}",
        during.last()
    );
    assert!(wait_until(DEADLINE, || client.status()["state"] == "upToDate"));
}

#[test]
fn files_written_just_before_the_client_starts_are_syncing_not_up_to_date() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let mut client = Client::start_stopped(&server.url(), &token);
    let n = write_tree(&client.path(""), "fresh", 5, 40);
    client.spawn();

    // From the session's start (lastSync set) until the last file is on the server.
    let mut during = Vec::new();
    let done = wait_until(DEADLINE, || {
        let status = client.status();
        if on_server(&api, "fresh") >= n {
            return true;
        }
        if !status["lastSync"].is_null() {
            during.push(status);
        }
        false
    });
    assert!(
        done,
        "only {} of {n} reached the server",
        on_server(&api, "fresh")
    );
    let lies: Vec<&serde_json::Value> =
        during.iter().filter(|s| s["state"] == "upToDate").collect();
    assert!(
        lies.is_empty(),
        "'up to date' with fresh files still waiting ({} of {} samples): {}",
        lies.len(),
        during.len(),
        lies[0]
    );
    assert!(wait_until(DEADLINE, || client.status()["state"] == "upToDate"));
}
