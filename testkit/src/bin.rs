//! Where the workspace's programs under test are: beside the test binary's own build folder
//! (`target/<profile>/`), so a test of one package finds another package's binary (the tray is
//! its own crate) without cargo's per-package `CARGO_BIN_EXE_*`. It never builds anything: a
//! missing binary is a clear panic that says which command builds it.

use std::path::{Path, PathBuf};

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
    fn a_program_in_the_profile_folder_finds_its_siblings() {
        let exe = Path::new("/w/target/release/xtask");
        assert_eq!(profile_dir(exe), Some(Path::new("/w/target/release")));
    }
}
