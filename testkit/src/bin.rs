//! Where the workspace's programs under test are: beside the test binary's own build folder
//! (`target/<profile>/`), so a test of one package finds another package's binary (the tray is
//! its own crate) without cargo's per-package `CARGO_BIN_EXE_*`. It never builds anything: a
//! missing binary is a clear panic that says which command builds it.
//!
//! The client under test can be another build of it, run another way: with
//! `HYPERCLAY_TEST_CLIENT=/path/to/hyperclay-sync.exe` and `HYPERCLAY_TEST_RUNNER=wine`, every test
//! that starts the client through [`client_command`] (or passes [`client`] to the kit's
//! `client::command`) runs the installed Windows program under Wine instead
//! (installer/windows/wine/test.sh does this for the scenarios that matter on Windows).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A client program to test instead of the one built beside the tests.
pub const CLIENT_ENV: &str = "HYPERCLAY_TEST_CLIENT";
/// A program that runs the client (`wine`), given the client's path as its first argument.
pub const RUNNER_ENV: &str = "HYPERCLAY_TEST_RUNNER";

/// The command line and headless engine.
pub const CLIENT: &str = "hyperclay-sync";
/// The tray app (crate `hyperclay-sync-tray`).
pub const TRAY: &str = "hyperclay-sync-tray";
/// The reference server.
pub const SERVER: &str = "hyperclay-server";

/// The built program `name` of this workspace, from the profile folder this test was built in.
///
/// # Panics
/// When it is not built: tests call this at their start, and a missing program is a set-up
/// error the message explains, not a test result.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let found =
        profile_dir(&exe).map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)));
    match found {
        Some(p) if p.is_file() => p,
        Some(p) => panic!(
            "{} is not built: run `cargo build --workspace --bins` (scripts/test.sh does) first",
            p.display()
        ),
        None => panic!("cannot tell the build folder from {}", exe.display()),
    }
}

/// The command line client under test: `HYPERCLAY_TEST_CLIENT` when set, else the built one.
///
/// # Panics
/// When `HYPERCLAY_TEST_CLIENT` names no file, or the built client is missing.
pub fn client() -> PathBuf {
    match std::env::var_os(CLIENT_ENV).filter(|v| !v.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "{CLIENT_ENV}={} is not a file", p.display());
            p
        }
        None => path(CLIENT),
    }
}

/// The "next release" of the client for the self-update tests: the same source built as the
/// next patch version by `scripts/build-next-version.sh` (scripts/test.sh runs it), or
/// `HYPERCLAY_TEST_NEXT_CLIENT`.
///
/// # Panics
/// When neither is there.
pub fn next_client() -> PathBuf {
    if let Some(p) = std::env::var_os("HYPERCLAY_TEST_NEXT_CLIENT").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let dir = profile_dir(&exe)
        .and_then(|d| d.parent().map(|t| t.join("next-version")))
        .expect("a build folder");
    let p = dir.join(format!("hyperclay-sync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.is_file(),
        "{} is not built: run scripts/build-next-version.sh (scripts/test.sh does) first",
        p.display()
    );
    p
}

/// The program that runs the client, when `HYPERCLAY_TEST_RUNNER` names one.
pub fn client_runner() -> Option<OsString> {
    std::env::var_os(RUNNER_ENV).filter(|v| !v.is_empty())
}

/// A command that starts the client under test: `RUNNER CLIENT` with a runner, else `CLIENT`.
/// The caller adds the arguments.
pub fn client_command() -> Command {
    command_for(&client())
}

/// A command that starts `program`; through the runner when `program` is the client under test
/// (only the client has a runner: the server and the test tools stay native).
pub fn command_for(program: &Path) -> Command {
    match client_runner() {
        Some(runner) if program == client() => {
            let mut cmd = Command::new(runner);
            cmd.arg(program);
            cmd
        }
        _ => Command::new(program),
    }
}

/// The signal that asks the client to stop as a user's logout or shutdown would: SIGTERM, or
/// SIGINT under a runner. Wine ends a Windows program at once on SIGTERM, and turns SIGINT into
/// the Ctrl-C console event, Windows' polite stop for a console program.
pub fn client_stop_signal() -> libc::c_int {
    if client_runner().is_some() {
        libc::SIGINT
    } else {
        libc::SIGTERM
    }
}

/// `path` as the client under test shows it (in `status`, in its JSON): as it is, or, when the
/// client runs under Wine, in the form Wine gives a Linux path to a Windows program: drive `Z:`
/// is `/`, so `/tmp/x/y` is `Z:\tmp\x\y`. A Windows client never shows the verbatim `\\?\`
/// form (it strips it where that is safe, as Explorer would show the path).
pub fn client_path(path: &Path) -> String {
    shown_path(path, client_runner().as_deref())
}

/// The Linux path of a path the client under test showed: as it is, or, under Wine, with drive
/// `Z:` dropped and `\` read as `/`. A path the client made by joining a name onto a folder it
/// was given in Linux form (`HYPERCLAY_SYNC_HOME=/tmp/h` gives `/tmp/h\sync-issues.txt`) comes
/// back whole too.
pub fn from_client_path(shown: &str) -> PathBuf {
    linux_path(shown, client_runner().as_deref())
}

fn linux_path(shown: &str, runner: Option<&std::ffi::OsStr>) -> PathBuf {
    if !is_wine(runner) {
        return PathBuf::from(shown);
    }
    let rest = shown
        .strip_prefix("Z:")
        .or_else(|| shown.strip_prefix("z:"))
        .unwrap_or(shown);
    PathBuf::from(rest.replace('\\', "/"))
}

fn is_wine(runner: Option<&std::ffi::OsStr>) -> bool {
    runner
        .and_then(|r| Path::new(r).file_name())
        .is_some_and(|name| name.to_string_lossy().starts_with("wine"))
}

/// [`client_path`] for a given runner: a parameter, so both forms are tested everywhere.
fn shown_path(path: &Path, runner: Option<&std::ffi::OsStr>) -> String {
    let text = path.to_string_lossy();
    if is_wine(runner) && text.starts_with('/') {
        format!("Z:{}", text.replace('/', "\\"))
    } else {
        text.into_owned()
    }
}

/// The tray app's path.
pub fn tray() -> PathBuf {
    path(TRAY)
}

/// `target/<profile>` for a test binary in `target/<profile>/deps/` (or a program in
/// `target/<profile>/` itself, as the benchmark is).
fn profile_dir(exe: &Path) -> Option<&Path> {
    let dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent()
    } else {
        Some(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_binary_in_deps_finds_programs_one_folder_up() {
        let exe = Path::new("/w/target/debug/deps/e2e-0123abcd");
        assert_eq!(profile_dir(exe), Some(Path::new("/w/target/debug")));
    }

    #[test]
    fn a_path_is_shown_as_the_client_under_its_runner_shows_it() {
        let p = Path::new("/tmp/.tmpAb1/sync-issues.txt");
        assert_eq!(shown_path(p, None), "/tmp/.tmpAb1/sync-issues.txt");
        let wine = std::ffi::OsStr::new("/usr/bin/wine");
        assert_eq!(shown_path(p, Some(wine)), r"Z:\tmp\.tmpAb1\sync-issues.txt");
        let other = std::ffi::OsStr::new("valgrind");
        assert_eq!(shown_path(p, Some(other)), "/tmp/.tmpAb1/sync-issues.txt");
        assert_eq!(linux_path(r"Z:\tmp\.tmpAb1\sync-issues.txt", Some(wine)), p);
        assert_eq!(linux_path(r"/tmp/.tmpAb1\sync-issues.txt", Some(wine)), p);
        assert_eq!(linux_path("/tmp/a\\b", None), Path::new("/tmp/a\\b"));
    }

    #[test]
    fn a_program_in_the_profile_folder_finds_its_siblings() {
        let exe = Path::new("/w/target/release/xtask");
        assert_eq!(profile_dir(exe), Some(Path::new("/w/target/release")));
    }
}
