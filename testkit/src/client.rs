//! The sync client as a child process, set up one way: its own data home and server, and none
//! of the tester's own `HYPERCLAY_*` settings (a real token in the tester's shell must never
//! reach a test client). Also reads what the client reports in its status file.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// `bin` with `HYPERCLAY_SYNC_HOME=home` and `HYPERCLAY_URL=url`, every other inherited
/// `HYPERCLAY_*` variable removed. The caller adds the subcommand, token and output.
/// The client under test (`crate::bin::client`) starts through its runner, if any.
pub fn command(bin: &Path, home: &Path, url: &str) -> Command {
    let mut cmd = crate::bin::command_for(bin);
    forget_hyperclay_settings(&mut cmd, std::env::vars_os().map(|(k, _)| k));
    cmd.env("HYPERCLAY_SYNC_HOME", home)
        .env("HYPERCLAY_URL", url);
    cmd
}

fn forget_hyperclay_settings(cmd: &mut Command, inherited: impl Iterator<Item = OsString>) {
    for key in inherited {
        if key.to_string_lossy().starts_with("HYPERCLAY_") {
            cmd.env_remove(key);
        }
    }
}

/// `bin run --headless --folder FOLDER` logged in with `token`, off the desktop session bus, so
/// it never touches the tester's keyring.
pub fn headless(bin: &Path, home: &Path, url: &str, token: &str, folder: &Path) -> Command {
    let mut cmd = command(bin, home, url);
    cmd.args(["run", "--headless", "--folder"])
        .arg(folder)
        .env("HYPERCLAY_TOKEN", token)
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    cmd
}

/// The client's `status.json` under `home`; `Null` while there is none (or it is mid-write).
pub fn status(home: &Path) -> serde_json::Value {
    std::fs::read(home.join("status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Whether a status says the client is online and has finished a session.
pub fn has_synced(status: &serde_json::Value) -> bool {
    status["online"] == true && !status["lastSync"].is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_counts_once_online_with_a_last_sync() {
        let dir = tempfile::tempdir().unwrap();
        assert!(status(dir.path()).is_null());
        std::fs::write(
            dir.path().join("status.json"),
            r#"{"online": true, "lastSync": null}"#,
        )
        .unwrap();
        assert!(!has_synced(&status(dir.path())));
        std::fs::write(
            dir.path().join("status.json"),
            r#"{"online": true, "lastSync": "2026-11-30T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(has_synced(&status(dir.path())));
    }

    #[test]
    fn the_testers_own_settings_do_not_reach_the_client() {
        let mut cmd = Command::new("hyperclay-sync");
        let inherited = ["HYPERCLAY_TOKEN", "PATH", "HYPERCLAY_POLL_SECONDS"].map(OsString::from);
        forget_hyperclay_settings(&mut cmd, inherited.into_iter());
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(removed, ["HYPERCLAY_POLL_SECONDS", "HYPERCLAY_TOKEN"]);
    }
}
