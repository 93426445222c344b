//! `hyperclay-sync status` and `status --json` against a real engine and server: the state word
//! and line the tray shows too, the sync issues with why and what to do, and the report file
//! they point to.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::*;

fn status(home: &Path, url: &str, json: bool) -> Output {
    status_with_token(home, url, json, None)
}

fn status_with_token(home: &Path, url: &str, json: bool, token: Option<&str>) -> Output {
    let mut command = hyperclay_testkit::bin::client_command();
    command.arg("status");
    if json {
        command.arg("--json");
    }
    match token {
        Some(token) => command.env("HYPERCLAY_TOKEN", token),
        None => command.env_remove("HYPERCLAY_TOKEN"),
    };
    command
        .env("HYPERCLAY_SYNC_HOME", home)
        .env("HYPERCLAY_URL", url)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap()
}

fn status_json(home: &Path, url: &str) -> serde_json::Value {
    let out = status(home, url, true);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status_text(home: &Path, url: &str) -> String {
    let out = status(home, url, false);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_skipped_file_is_listed_with_why_and_what_to_do_and_in_the_report() {
    let server = TestServer::start();
    let token = server.token("demo");
    // The seed's own app name: not a valid site name, so never uploaded.
    let client = Client::with_files(
        &server.url(),
        &token,
        &[
            ("Hello World.html", "<p>hi</p>"),
            ("fine.html", "<p>ok</p>"),
        ],
    );
    client.wait_synced();
    let home = client.home.path();
    let listed = wait_until(DEADLINE, || {
        status_json(home, &server.url())["issues"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    assert!(listed, "no issue listed:\n{}", client.log());

    let json = status_json(home, &server.url());
    let issues = json["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{json}");
    assert_eq!(issues[0]["path"], "Hello World.html", "{json}");
    assert_eq!(issues[0]["kind"], "skipped", "{json}");
    assert!(
        issues[0]["why"].as_str().is_some_and(|s| !s.is_empty()),
        "{json}"
    );
    assert!(
        issues[0]["whatToDo"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{json}"
    );
    let report_path = json["issuesReport"].as_str().unwrap().to_owned();
    let report = std::fs::read_to_string(&report_path).unwrap();
    assert!(report.contains("1 file not synced."), "{report}");
    assert!(report.contains("  Hello World.html\n    Why: "), "{report}");
    assert!(report.contains("    What to do: "), "{report}");

    let text = status_text(home, &server.url());
    assert!(
        text.contains(&format!("Issues:    1 file not synced: see {report_path}")),
        "{text}"
    );
}

#[test]
fn a_synced_folder_is_up_to_date_with_no_issues_then_not_running() {
    let server = TestServer::start();
    let token = server.token("demo");
    let mut client = Client::with_files(&server.url(), &token, &[("fine.html", "<p>ok</p>")]);
    client.wait_synced();
    let home = client.home.path().to_owned();

    // A file written just before the start waits out the fresh-write rule: syncing until then.
    assert!(wait_until(
        DEADLINE,
        || status_json(&home, &server.url())["state"] == "upToDate"
    ));
    let json = status_json(&home, &server.url());
    assert_eq!(json["state"], "upToDate", "{json}");
    assert_eq!(json["line"], "Up to date", "{json}");
    assert_eq!(json["issues"], serde_json::json!([]), "{json}");
    let report_path = json["issuesReport"].as_str().unwrap().to_owned();
    let report_file = home.join("sync-issues.txt");
    assert_eq!(
        hyperclay_testkit::bin::from_client_path(&report_path),
        report_file,
        "{json}"
    );
    let report = std::fs::read_to_string(&report_file).unwrap();
    assert!(report.contains("No sync issues"), "{report}");
    // A Windows client (under Wine) keeps it private through the profile's ACL, not a mode.
    #[cfg(unix)]
    if hyperclay_testkit::bin::client_runner().is_none() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&report_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the report is private");
    }
    let text = status_text(&home, &server.url());
    assert!(text.contains("State:     Up to date"), "{text}");
    assert!(text.contains("Issues:    none"), "{text}");

    client.stop();
    // The client logs in with HYPERCLAY_TOKEN, so `status` is given it too.
    let out = status_with_token(&home, &server.url(), true, Some(&token));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["state"], "notRunning", "{json}");
    assert_eq!(json["reason"], "the sync engine is not running", "{json}");
    let out = status_with_token(&home, &server.url(), false, Some(&token));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("State:     Not running"), "{text}");
    assert!(
        text.contains("Issues:    unknown while the engine is not running"),
        "{text}"
    );
}

#[test]
fn without_a_login_the_state_is_logged_out_with_the_reason() {
    let home = tempfile::tempdir().unwrap();
    let json = status_json(home.path(), "http://127.0.0.1:9");
    assert_eq!(json["state"], "loggedOut", "{json}");
    assert_eq!(json["reason"], "not logged in", "{json}");
    assert_eq!(json["line"], "Logged out", "{json}");
    let text = status_text(home.path(), "http://127.0.0.1:9");
    assert!(text.contains("State:     Logged out"), "{text}");
}

/// Issue 23, 8: `status` run at the moment an engine starts made that engine exit with 3
/// ("already running"), about 1 in 12: the status probe took the engine's lock for an instant.
/// Each round starts `run --headless` and at once two `status` calls, and the engine must still
/// be running once it has written its status.
#[test]
fn a_status_query_never_stops_an_engine_from_starting() {
    let server = crate::hostile::HostileServer::start(crate::hostile::Script::serving(&[]));
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut rounds = 0;
    // A few hundred rounds, or two minutes on a slow machine, whichever comes first.
    while rounds < 300 && started.elapsed() < std::time::Duration::from_secs(120) {
        let _ = std::fs::remove_file(home.path().join("status.json"));
        let mut engine = hyperclay_testkit::client::headless(
            &hyperclay_testkit::bin::client(),
            home.path(),
            &server.url,
            "race-token",
            folder.path(),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        let queries: Vec<_> = (0..2)
            .map(|i| {
                let (home, url) = (home.path().to_path_buf(), server.url.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(i * 3));
                    status(&home, &url, true)
                })
            })
            .collect();
        for q in queries {
            assert!(q.join().unwrap().status.success());
        }
        let up = wait_until(DEADLINE, || {
            !hyperclay_testkit::client::status(home.path()).is_null()
                || matches!(engine.try_wait(), Ok(Some(_)))
        });
        let exited = engine.try_wait().unwrap();
        assert!(
            up && exited.is_none(),
            "round {rounds}: the engine did not start ({exited:?})"
        );
        hyperclay_testkit::terminate(&mut engine, DEADLINE).unwrap();
        rounds += 1;
    }
    assert!(rounds >= 50, "only {rounds} rounds in the time given");
}
