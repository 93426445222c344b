//! The command line around the engine: version, headless without a login, one engine per data
//! dir, `status` from another process, and a graceful stop on SIGTERM.

mod common;

use std::process::Command;

use common::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hyperclay-sync"))
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
        text.contains(&format!("Folder:    {}", client.folder.display())),
        "{text}"
    );
    assert!(text.contains("Sync:      on"), "{text}");
    assert!(text.contains("Engine:    running"), "{text}");
    assert!(text.contains("Online:    yes"), "{text}");
    assert!(!text.contains("Last sync: never"), "{text}");
    assert!(text.contains("logs/sync.log"), "{text}");

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
