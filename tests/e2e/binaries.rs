//! The package's two binaries: `hyperclay-sync` (the command line and the headless engine) must
//! never link the GUI stack, which only `hyperclay-sync-tray` needs: every GTK, GLib, cairo or X11
//! library a binary links is mapped and relocated at start even when nothing calls it, which cost
//! `run --headless` ~13 MB of resident memory before the split (docs/benchmarks.md, finding 2).
//! And `hyperclay-sync` with no subcommand must hand over to the tray beside it (with its
//! arguments: `--folder`, as `scripts/demo.sh` uses it), or say clearly that it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const CLI: &str = env!("CARGO_BIN_EXE_hyperclay-sync");
fn tray() -> std::path::PathBuf {
    hyperclay_testkit::bin::tray()
}

/// The `NEEDED` entries of an ELF binary's dynamic section, read with `readelf -d`
/// (binutils, installed by scripts/setup.sh).
#[cfg(target_os = "linux")]
fn needed_libraries(binary: impl AsRef<Path>) -> Vec<String> {
    let binary = binary.as_ref();
    let out = Command::new("readelf")
        .args(["-d", "--wide"])
        .arg(binary)
        .output()
        .unwrap_or_else(|e| panic!("run readelf (apt-get install binutils): {e}"));
    assert!(
        out.status.success(),
        "readelf -d {} failed: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // ` 0x0000000000000001 (NEEDED)             Shared library: [libgtk-3.so.0]`
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
        .collect()
}

/// Whether a library is part of the GUI stack: GTK, GDK, GLib/GObject/GIO, cairo, pango, ATK,
/// X11/XCB, the app indicators, libxdo.
#[cfg(target_os = "linux")]
fn is_gui(library: &str) -> bool {
    const GUI: [&str; 16] = [
        "libgtk",
        "libgdk",
        "libglib",
        "libgobject",
        "libgio",
        "libgmodule",
        "libcairo",
        "libpango",
        "libatk",
        "libepoxy",
        "libx11",
        "libxcb",
        "libxdo",
        "libappindicator",
        "libayatana",
        "libharfbuzz",
    ];
    let library = library.to_ascii_lowercase();
    GUI.iter().any(|prefix| library.starts_with(prefix))
}

#[cfg(target_os = "linux")]
#[test]
fn the_command_line_links_no_gui_library() {
    let needed = needed_libraries(CLI);
    assert!(
        needed.iter().any(|l| l.starts_with("libc.so")),
        "readelf found no NEEDED entries at all in {CLI}: {needed:?}"
    );
    let gui: Vec<&String> = needed.iter().filter(|l| is_gui(l)).collect();
    assert!(
        gui.is_empty(),
        "{CLI} links {gui:?}: something the command line or the engine library uses pulls in \
         the GUI stack; keep tray-only crates out of src/main.rs and src/lib.rs (all NEEDED: \
         {needed:?})"
    );
}

/// The other half, so the check above cannot pass because the filter matches nothing.
#[cfg(target_os = "linux")]
#[test]
fn the_tray_links_gtk() {
    let needed = needed_libraries(tray());
    assert!(
        needed.iter().any(|l| l.starts_with("libgtk-3")),
        "the tray does not link GTK 3: {needed:?}"
    );
    assert!(needed.iter().any(|l| is_gui(l)));
}

#[test]
fn without_the_tray_beside_it_the_command_line_names_the_missing_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let lonely = dir
        .path()
        .join(Path::new(CLI).file_name().expect("a file name"));
    std::fs::copy(CLI, &lonely).expect("copy the binary");
    let out = Command::new(&lonely)
        .env("HYPERCLAY_SYNC_HOME", dir.path().join("home"))
        .env_remove("HYPERCLAY_URL")
        .output()
        .expect("run hyperclay-sync");
    assert!(!out.status.success(), "it did not fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tray = dir.path().join(format!(
        "hyperclay-sync-tray{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        stderr.contains(&tray.display().to_string()),
        "the message does not name {}: {stderr}",
        tray.display()
    );
    assert!(
        stderr.contains("hyperclay-sync run --headless"),
        "no way out offered: {stderr}"
    );
}

/// With no subcommand the command line becomes the tray: same process (exec), other image.
/// Without a display the tray app says so and keeps syncing, so this needs no X server.
#[cfg(target_os = "linux")]
#[test]
fn with_no_subcommand_the_command_line_becomes_the_tray_in_the_same_process() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut child = Command::new(CLI)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOME", dir.path())
        .env("HYPERCLAY_SYNC_HOME", dir.path().join("home"))
        .env("HYPERCLAY_URL", "http://127.0.0.1:9")
        // Logged in, so the tray without a display keeps running to be looked at.
        .env("HYPERCLAY_TOKEN", "a-token-for-a-server-that-is-not-there")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start hyperclay-sync");
    let exe = Path::new("/proc").join(child.id().to_string()).join("exe");
    let tray = tray().canonicalize().expect("the tray binary");
    let deadline = std::time::Instant::now()
        + hyperclay_testkit::wait::scaled(std::time::Duration::from_secs(10));
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        seen = std::fs::read_link(&exe).ok();
        if seen.as_deref() == Some(tray.as_path()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen.as_deref(),
        Some(tray.as_path()),
        "pid {} never became the tray binary",
        child.id()
    );
}

/// `scripts/demo.sh` starts the tray as `hyperclay-sync --folder DIR`. Both binaries must accept
/// `--folder` without a subcommand (the command line hands its arguments on unchanged), say so in
/// their help, and the command line must refuse it beside a command rather than ignore it.
#[test]
fn both_binaries_accept_folder_without_a_subcommand() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let folder = dir.path().join("never created");
    for bin in [PathBuf::from(CLI), tray()] {
        let bin = bin.as_path();
        let out = Command::new(bin)
            .arg("--folder")
            .arg(&folder)
            .arg("--version")
            .env("HYPERCLAY_SYNC_HOME", dir.path().join("home"))
            .output()
            .expect("run the binary");
        assert!(
            out.status.success(),
            "{} --folder DIR --version: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let help = Command::new(bin)
            .arg("--help")
            .output()
            .expect("run --help");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(
            text.contains("--folder <DIR>"),
            "{} --help:\n{text}",
            bin.display()
        );
    }
    assert!(!folder.exists(), "--version acted on --folder");

    let out = Command::new(CLI)
        .arg("--folder")
        .arg(&folder)
        .arg("status")
        .env("HYPERCLAY_SYNC_HOME", dir.path().join("home"))
        .output()
        .expect("run hyperclay-sync");
    assert!(
        !out.status.success(),
        "--folder beside a command was ignored"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--folder"), "unclear refusal: {stderr}");
}

/// `hyperclay-sync --folder DIR` for real, without a display (the tray then syncs without an
/// icon): the folder handed to the tray is created, synced and remembered in the settings.
#[cfg(target_os = "linux")]
#[test]
fn the_tray_started_with_folder_creates_uses_and_remembers_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let home = dir.path().join("home");
    let given = dir.path().join("sync here").join("apps");
    let mut child = Command::new(CLI)
        .arg("--folder")
        .arg(&given)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOME", dir.path())
        .env("HYPERCLAY_SYNC_HOME", &home)
        .env("HYPERCLAY_URL", "http://127.0.0.1:9")
        // Logged in (with no display and no login the tray says what to do and exits instead).
        .env("HYPERCLAY_TOKEN", "a-token-for-a-server-that-is-not-there")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start hyperclay-sync");
    let log = home.join("logs").join("sync.log");
    let deadline = std::time::Instant::now()
        + hyperclay_testkit::wait::scaled(std::time::Duration::from_secs(20));
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        let folder = given.canonicalize().ok();
        let remembered = hyperclay_sync::home::settings::load(&home)
            .ok()
            .and_then(|s| s.folder);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(folder) = &folder
            && remembered.as_ref() == Some(folder)
            && text.contains(&format!("folder {}", folder.display()))
        {
            seen = Some(folder.clone());
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the app exited with {status}; log:\n{text}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A clean stop on SIGTERM is tested with the tray on screen (tests/ui/ui_tray.rs).
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        seen.is_some(),
        "{} was not created, remembered and synced; settings: {:?}; log:\n{text}",
        given.display(),
        hyperclay_sync::home::settings::load(&home)
    );
    assert!(
        !dir.path().join("Hyperclay").exists(),
        "the default folder was used as well"
    );
}

/// The crate boundary that makes the check above hold on every platform: the engine library and
/// its command line (`hyperclay-sync`) depend on no GUI crate at all; only `hyperclay-sync-tray`
/// does. Read from `cargo tree` over the lock file (no network).
#[test]
fn the_engine_crate_depends_on_no_gui_crate() {
    const GUI_CRATES: [&str; 10] = [
        "tray-icon",
        "tao",
        "muda",
        "rfd",
        "gtk",
        "gdk",
        "ksni",
        "auto-launch",
        "libappindicator",
        "glib",
    ];
    let tree = |package: &str| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "tree",
                "--locked",
                "--offline",
                "-e",
                "normal,build",
                "--prefix",
                "none",
            ])
            .args(["--target", "all", "-p", package])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo tree");
        assert!(
            out.status.success(),
            "cargo tree -p {package}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect::<std::collections::BTreeSet<String>>()
    };
    let engine = tree("hyperclay-sync");
    let gui: Vec<&&str> = GUI_CRATES.iter().filter(|c| engine.contains(**c)).collect();
    assert!(
        gui.is_empty(),
        "the engine crate depends on GUI crates {gui:?}"
    );
    // The other half: the list names crates the tray really has, so it cannot pass by matching
    // nothing.
    let tray = tree("hyperclay-sync-tray");
    for c in ["tray-icon", "tao", "muda"] {
        assert!(
            tray.contains(c),
            "the tray no longer depends on {c}: update this list"
        );
    }
}
