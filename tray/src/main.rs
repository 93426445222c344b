//! `hyperclay-sync-tray`: the tray app, a thin shell over the engine library. It is a binary of
//! its own so that only it links the GUI stack (GTK, cairo, X11…): the `hyperclay-sync` command
//! line and its headless engine map none of it. `hyperclay-sync` with no subcommand execs this.
//! It shows the engine's state as an icon and a menu and sends the engine commands; it must
//! never sync, talk to the server or hold a token itself.
//!
//! - `view`: the pure mapping from engine state to icon, tooltip and menu;
//! - `icons`: the embedded icons;
//! - `autostart`: start at login (registers this executable);
//! - `sni` (Linux): the StatusNotifierItem tray, used where the desktop has an SNI host;
//! - `system_tray`: the tray-icon crate's tray elsewhere (AppIndicator/XEmbed, macOS, Windows);
//! - `desktop`: opening files, the clipboard, stop signals, off the UI thread;
//! - `app`: the event loop that ties them together and turns clicks into engine commands.
//!
//! Clicks on the icon: on Windows, macOS and Linux desktops with a StatusNotifierItem host (KDE,
//! GNOME with the AppIndicator extension, Xfce, Cinnamon, MATE, Budgie) a left click switches
//! sync on/off (or starts the login when logged out) and the right button opens the menu. The
//! Linux fallback (tray-icon's XEmbed tray, where no SNI host exists) reports no clicks and shows
//! the menu on any click, so sync is switched with the menu's "Sync: On/Off" item there.

// No console window on Windows (the command line, `hyperclay-sync`, keeps its console).
#![cfg_attr(windows, windows_subsystem = "windows")]

mod app;
mod autostart;
mod desktop;
mod icons;
#[cfg(target_os = "linux")]
mod sni;
mod system_tray;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hyperclay_sync::home::config::{EngineConfig, VERSION};
use hyperclay_sync::home::settings;
use hyperclay_sync::local;

/// `hyperclay-sync` with no command execs this with its own arguments, so both accept the same
/// ones: `--folder` (as `run --headless --folder` means it), `--version` and `--help`, which
/// answer instead of starting the tray. The command line is `hyperclay-sync`.
#[derive(Parser)]
#[command(
    name = "hyperclay-sync-tray",
    version = VERSION,
    about = "The Hyperclay Sync tray app; `hyperclay-sync --help` for the command line"
)]
struct Args {
    /// Sync this folder (created if needed, and remembered for later starts; "Choose folder…"
    /// in the menu changes it again).
    #[arg(long, value_name = "DIR")]
    folder: Option<PathBuf>,
}

fn main() -> ExitCode {
    // The tray draws with cairo only, but GTK also initialises OpenGL once its icon embeds in a
    // fresh panel, which maps Mesa and LLVM: about 55 MB more resident memory for nothing
    // (measured by `xtask bench`, docs/benchmarks.md). A user's own GDK_GL still wins.
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: no other thread exists yet, so nothing can read the environment meanwhile.
        unsafe { std::env::set_var("GDK_GL", "disable") };
    }
    // Before any thread starts: reading the local UTC offset is refused in threaded processes.
    local::write::capture_local_offset();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyperclay-sync-tray: {e:#}");
            // The command line's code for "not logged in" (`hyperclay-sync --help`).
            if e.is::<app::NoDisplayNoLogin>() {
                ExitCode::from(4)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = EngineConfig::from_env()?;
    if let Some(folder) = args.folder {
        config.folder = Some(settings::use_folder(&folder)?);
    }
    app::run(config)
}
