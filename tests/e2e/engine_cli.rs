//! The command line around the engine: version, headless without a login, one engine per data
//! dir, `status` from another process, and a graceful stop on SIGTERM.

use crate::common;

use std::process::Command;

use common::*;

fn bin() -> Command {
    hyperclay_testkit::bin::client_command()
}

#[test]
fn version_names_the_default_server() {
    let out = bin().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.starts_with("hyperclay-sync 0.1.0 (server: http"),
        "{text}"
    );
}

#[test]
fn headless_without_a_login_says_how_to_log_in_and_fails() {
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["run", "--headless", "--folder"])
        .arg(folder.path())
        .env("HYPERCLAY_SYNC_HOME", home.path())
        .env("HYPERCLAY_URL", "http://127.0.0.1:9")
        .env_remove("HYPERCLAY_TOKEN")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hyperclay-sync login"));
}

#[test]
fn status_reports_a_running_engine_and_a_second_engine_is_refused() {
    let server = TestServer::start();
    let token = server.token("demo");
    let mut client = Client::start(&server.url(), &token);
    client.wait_synced();

    let second = bin()
        .args(["run", "--headless"])
        .env("HYPERCLAY_SYNC_HOME", client.home.path())
        .env("HYPERCLAY_URL", server.url())
        .env("HYPERCLAY_TOKEN", &token)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));

    let status = bin()
        .arg("status")
        .env("HYPERCLAY_SYNC_HOME", client.home.path())
        .env("HYPERCLAY_URL", server.url())
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("Account:   demo"), "{text}");
    assert!(
        text.contains(&format!("Server:    {}", server.url())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Folder:    {}",
            hyperclay_testkit::bin::client_path(&client.folder)
        )),
        "{text}"
    );
    assert!(text.contains("Sync:      on"), "{text}");
    assert!(text.contains("Engine:    running"), "{text}");
    assert!(text.contains("Online:    yes"), "{text}");
    assert!(text.contains("State:     Up to date"), "{text}");
    assert!(text.contains("Issues:    none"), "{text}");
    assert!(!text.contains("Last sync: never"), "{text}");
    let log_line = text.lines().find_map(|l| l.strip_prefix("Log file:"));
    assert!(
        log_line.is_some_and(
            |l| hyperclay_testkit::bin::from_client_path(l.trim()).ends_with("logs/sync.log")
        ),
        "{text}"
    );

    client.stop();
    assert!(client.log().contains("Engine stopped"), "no graceful stop");
    let after = bin()
        .arg("status")
        .env("HYPERCLAY_SYNC_HOME", client.home.path())
        .env("HYPERCLAY_URL", server.url())
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&after.stdout).contains("Engine:    not running"));
}

#[test]
fn help_lists_every_environment_variable_and_the_exit_codes() {
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for var in [
        "HYPERCLAY_URL",
        "HYPERCLAY_SYNC_HOME",
        "HYPERCLAY_TOKEN",
        "HYPERCLAY_POLL_SECONDS",
        "HYPERCLAY_STALL_SECONDS",
        "HYPERCLAY_LOG",
    ] {
        assert!(
            text.contains(&format!("[env: {var}")),
            "{var} missing:\n{text}"
        );
    }
    assert!(text.contains("Exit codes:"), "{text}");
}

#[test]
fn exit_codes_tell_a_usage_error_from_a_missing_login() {
    let home = tempfile::tempdir().unwrap();
    let usage = bin().arg("no-such-command").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let not_logged_in = bin()
        .args(["run", "--headless"])
        .env("HYPERCLAY_SYNC_HOME", home.path())
        .env("HYPERCLAY_URL", "http://127.0.0.1:9")
        .env_remove("HYPERCLAY_TOKEN")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    assert_eq!(not_logged_in.status.code(), Some(4));
}

#[test]
fn a_refused_token_ends_the_headless_engine_with_a_hint() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["run", "--headless", "--folder"])
        .arg(folder.path())
        .env("HYPERCLAY_SYNC_HOME", home.path())
        .env("HYPERCLAY_URL", server.url())
        .env("HYPERCLAY_TOKEN", "not-a-token-this-server-issued")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut code = None;
    wait_until(DEADLINE, || {
        code = child.try_wait().unwrap().map(|s| s.code());
        code.is_some()
    });
    if code.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, Some(Some(5)), "still running or wrong code: {stderr}");
    assert!(stderr.contains("hyperclay-sync login"), "{stderr}");
}

#[test]
fn a_refused_second_instance_changes_nothing_and_status_json_tells_the_running_one() {
    let server = TestServer::start();
    let token = server.token("demo");
    let client = Client::start(&server.url(), &token);
    client.wait_synced();
    let settings_before = std::fs::read(client.home.path().join("settings.json")).unwrap();

    let elsewhere = tempfile::tempdir().unwrap();
    let second = bin()
        .args(["run", "--headless", "--folder"])
        .arg(elsewhere.path())
        .env("HYPERCLAY_SYNC_HOME", client.home.path())
        .env("HYPERCLAY_URL", server.url())
        .env("HYPERCLAY_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(3));
    assert_eq!(
        std::fs::read(client.home.path().join("settings.json")).unwrap(),
        settings_before,
        "the refused instance rewrote the settings"
    );

    let status = bin()
        .args(["status", "--json"])
        .env("HYPERCLAY_SYNC_HOME", client.home.path())
        .env("HYPERCLAY_URL", server.url())
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    assert!(status.status.success());
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["state"], "upToDate", "{json}");
    assert_eq!(json["account"], "demo");
    assert_eq!(json["engineRunning"], true);
    assert_eq!(json["online"], true);
    assert_eq!(
        json["folder"].as_str(),
        Some(hyperclay_testkit::bin::client_path(&client.folder).as_str()),
        "{json}"
    );
    assert!(json["lastSync"].is_string(), "{json}");
}

#[test]
fn a_url_that_is_not_a_hyperclay_server_is_said_once_with_what_to_check() {
    let server = TestServer::start();
    let token = server.token("demo");
    // The reference server answers here, but not with the protocol: some other web server.
    let client = Client::start(&format!("{}/not-the-api", server.url()), &token);
    let said = wait_until(DEADLINE, || {
        client.status()["error"]
            .as_str()
            .is_some_and(|e| e.contains("is not a Hyperclay server (check HYPERCLAY_URL"))
    });
    assert!(said, "{}", client.log());
    // It probes again every 0.2 s; the same wall is not said again.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        client.log().matches("Sync stopped").count(),
        1,
        "{}",
        client.log()
    );
}

#[test]
fn an_unreachable_server_is_said_at_once_with_its_address() {
    let client = Client::start("http://127.0.0.1:9", "some-token");
    let said = wait_until(DEADLINE, || {
        client
            .log()
            .contains("Offline: cannot reach http://127.0.0.1:9: ")
    });
    assert!(said, "{}", client.log());
    // The status says the same, with the OS's reason, for as long as it holds.
    let says_why = |status: &serde_json::Value| {
        status["state"] == "offline"
            && status["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("cannot reach http://127.0.0.1:9: ") && r.len() > 34)
    };
    assert!(
        wait_until(DEADLINE, || says_why(&client.status())),
        "{}",
        client.status()
    );
}
