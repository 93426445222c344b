//! The token store against a real Secret Service: gnome-keyring in a private D-Bus session
//! (`dbus-run-session`), with its own HOME and runtime dir so the keyring of whoever runs the
//! tests is never touched. Each outer test re-runs this test binary inside such a session to
//! execute one `#[ignore]`d inner test. Needs `dbus-run-session` (dbus) and
//! `gnome-keyring-daemon` (gnome-keyring).

use std::path::Path;
use std::process::Command;

use hyperclay_protocol::{Timestamp, User};
use hyperclay_sync::auth::{StoredToken, TokenBackend, TokenStore};

const SERVER: &str = "http://127.0.0.1:9";

/// Runs the inner test `name` in a fresh D-Bus session after `setup` (shell) started the keyring.
fn in_private_session(name: &str, setup: &str) {
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{tool} is missing: apt-get install dbus gnome-keyring (test-only packages)"
        );
    }
    let root = tempfile::tempdir().expect("a temp root");
    let dir = |sub: &str| {
        let p = root.path().join(sub);
        std::fs::create_dir_all(&p).expect("create a session dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))
                .expect("chmod a session dir");
        }
        p
    };
    let exe = std::env::current_exe().expect("the test binary");
    // The harness names a test by its module path without the crate: `auth_keyring::name`.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let script = format!(
        "{setup}\nexec \"$0\" {module}::{name} --exact --ignored --nocapture --test-threads=1"
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .arg(&exe)
        .env("HOME", dir("home"))
        .env("XDG_DATA_HOME", dir("data"))
        .env("XDG_CONFIG_HOME", dir("config"))
        .env("XDG_CACHE_HOME", dir("cache"))
        .env("XDG_RUNTIME_DIR", dir("run"))
        .env("AUTH_SYNC_HOME", dir("sync-home"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run dbus-run-session");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed") && stdout.contains(RAN),
        "inner test {name} failed:\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn token(name: &str) -> StoredToken {
    StoredToken {
        access_token: format!("h.{name}.s"),
        expires_at: Timestamp::from_millis(1_764_151_200_000),
        user: User {
            id: format!("id-{name}"),
            name: name.to_owned(),
        },
    }
}

/// The inner tests' data dir, or `None` when the harness runs them on their own (e.g.
/// `--include-ignored`): outside a private session they must neither touch the user's keyring
/// nor fail, so they do nothing. The outer test checks for [`RAN`] to know the body really ran.
fn session_home() -> Option<std::path::PathBuf> {
    std::env::var_os("AUTH_SYNC_HOME").map(Into::into)
}

/// Printed by an inner test that ran its checks inside a private session.
const RAN: &str = "auth-keyring-inner-test-ran";

fn file_count(home: &Path) -> usize {
    std::fs::read_dir(home.join("tokens")).map_or(0, |d| d.count())
}

#[test]
fn an_unlocked_keyring_holds_the_token() {
    in_private_session(
        "inner_unlocked_keyring",
        "printf %s test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null",
    );
}

#[test]
#[ignore = "runs inside a private D-Bus session, started by an_unlocked_keyring_holds_the_token"]
fn inner_unlocked_keyring() {
    let Some(home) = session_home() else {
        return;
    };
    // A token saved earlier while the keyring was unusable...
    TokenStore::file_only(&home, SERVER)
        .save(&token("from-file"))
        .expect("save to the file");
    let store = TokenStore::open(&home, SERVER);
    assert_eq!(store.backend(), &TokenBackend::Keyring);
    // ...moves into the keyring on first load.
    assert_eq!(store.load().expect("load"), Some(token("from-file")));
    assert_eq!(file_count(&home), 0, "the file copy is gone once moved");
    store.save(&token("demo")).expect("save to the keyring");
    assert_eq!(file_count(&home), 0, "nothing written to disk by us");
    let again = TokenStore::open(&home, SERVER);
    assert_eq!(again.load().expect("load"), Some(token("demo")));
    let other = TokenStore::open(&home, "http://127.0.0.1:10");
    assert_eq!(other.load().expect("load"), None, "one entry per server");
    again.clear().expect("clear");
    assert_eq!(store.load().expect("load"), None);
    again.clear().expect("clearing twice is fine");
    println!("{RAN}");
}

#[test]
fn a_locked_keyring_falls_back_to_the_file() {
    // The daemon runs but no collection is unlocked: keyring 4 reports the store as fine, then
    // every write fails. Only the probe write catches that.
    in_private_session(
        "inner_locked_keyring",
        "gnome-keyring-daemon --start --components=secrets >/dev/null",
    );
}

#[test]
#[ignore = "runs inside a private D-Bus session, started by a_locked_keyring_falls_back_to_the_file"]
fn inner_locked_keyring() {
    let Some(home) = session_home() else {
        return;
    };
    // The session bus and the Secret Service are there: only the probe write can tell.
    assert!(
        keyring::Entry::store_status().is_ok(),
        "{:?}",
        keyring::Entry::store_status()
    );
    let store = TokenStore::open(&home, SERVER);
    assert!(
        matches!(store.backend(), TokenBackend::File(_)),
        "{:?}",
        store.backend()
    );
    store.save(&token("demo")).expect("save");
    assert_eq!(file_count(&home), 1);
    assert_eq!(store.load().expect("load"), Some(token("demo")));
    store.clear().expect("clear");
    assert_eq!(file_count(&home), 0);
    println!("{RAN}");
}
