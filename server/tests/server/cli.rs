//! The admin CLI of `hyperclay-server`: data dir selection, account commands and their errors.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hyperclay-server"));
    c.env_remove("HYPERCLAY_SERVER_DATA");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run hyperclay-server")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails_with(out: &Output, needle: &str) {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn accounts_are_added_changed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&run(
        d,
        &[
            "user",
            "add",
            "ann",
            "--password",
            "pw",
            "--plan",
            "free",
            "--site-limit",
            "3",
        ],
    ));
    assert!(
        out.contains("ann") && out.contains("plan free") && out.contains("site limit 3"),
        "{out}"
    );
    fails_with(
        &run(d, &["user", "add", "ann", "--password", "x"]),
        "already exists",
    );
    fails_with(
        &run(d, &["user", "add", "Bad Name", "--password", "x"]),
        "not a valid account name",
    );
    let out = ok(&run(d, &["user", "set", "ann", "--plan", "paid"]));
    assert!(
        out.contains("plan paid") && out.contains("site limit 3"),
        "{out}"
    );
    fails_with(&run(d, &["user", "set", "ann"]), "nothing to change");
    fails_with(
        &run(d, &["user", "set", "nobody", "--plan", "paid"]),
        "no account",
    );
    fails_with(&run(d, &["token", "nobody"]), "no account");
    let token = ok(&run(d, &["token", "ann"]));
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
}

#[test]
fn rm_refuses_what_is_not_there_or_not_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&run(d, &["user", "add", "ann", "--password", "pw"]));
    fails_with(&run(d, &["rm", "ann", "nothing.txt"]), "does not exist");
    fails_with(
        &run(d, &["rm", "ann", "../x.txt"]),
        "neither a valid file path",
    );
    fails_with(&run(d, &["rm", "nobody", "x.txt"]), "no account");
}

#[test]
fn the_data_dir_comes_from_the_environment_when_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["user", "add", "env", "--password", "pw"])
        .env("HYPERCLAY_SERVER_DATA", dir.path())
        .output()
        .unwrap();
    ok(&out);
    assert!(dir.path().join("hyperclay.sqlite3").is_file());
    let token = bin()
        .args(["token", "env"])
        .env("HYPERCLAY_SERVER_DATA", dir.path())
        .output()
        .unwrap();
    assert!(ok(&token).trim().len() > 20);
    assert!(dir.path().join("jwt.key").is_file());
}

#[test]
fn tokens_are_signed_with_one_key_per_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&run(d, &["user", "add", "ann", "--password", "pw"]));
    ok(&run(d, &["token", "ann"]));
    let key = std::fs::read(d.join("jwt.key")).unwrap();
    ok(&run(d, &["token", "ann", "--age", "90000"]));
    assert_eq!(
        std::fs::read(d.join("jwt.key")).unwrap(),
        key,
        "the key is made once"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("jwt.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
    }
}
