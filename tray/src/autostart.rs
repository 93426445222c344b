//! "Start at login": registers the app with the OS through the auto-launch crate.
//! Blocking file/registry I/O: call it off the UI thread. It must never store the choice
//! itself; the tray remembers it in the engine's settings.

use std::path::{Path, PathBuf};

use auto_launch::{AutoLaunch, AutoLaunchBuilder, WindowsEnableMode};
use thiserror::Error;

/// The entry's name (on Linux, `~/.config/autostart/hyperclay-sync.desktop`).
const NAME: &str = "hyperclay-sync";

#[derive(Debug, Error)]
pub enum AutostartError {
    #[error("cannot find the app's own path: {0}")]
    OwnPath(std::io::Error),
    #[error("the app's path is not valid UTF-8: {0}")]
    NotUtf8(PathBuf),
    #[error("cannot change the start-at-login entry: {0}")]
    Register(#[from] auto_launch::Error),
}

/// The command the OS should start: the AppImage itself when running from one (the binary's
/// own path is a temporary mount that is gone after exit), else this executable, which is the
/// tray app `hyperclay-sync-tray` (also when it was started through `hyperclay-sync`, which
/// execs it), so a login starts the tray directly.
fn own_command() -> Result<PathBuf, AutostartError> {
    match std::env::var_os("APPIMAGE") {
        Some(appimage) if !appimage.is_empty() => Ok(PathBuf::from(appimage)),
        _ => std::env::current_exe().map_err(AutostartError::OwnPath),
    }
}

fn launcher() -> Result<AutoLaunch, AutostartError> {
    let command = own_command()?;
    let path = command
        .to_str()
        .ok_or_else(|| AutostartError::NotUtf8(command.clone()))?;
    // auto-launch pastes the path unquoted into `Exec=` (Linux) and the Run value (Windows);
    // quote it here so a path with spaces or `$` still starts the app.
    let quoted = quote_for_platform(path);
    Ok(AutoLaunchBuilder::new()
        .set_app_name(NAME)
        .set_app_path(&quoted)
        // Windows: HKCU's Run key only. auto-launch's default tries HKLM first (every user of
        // the machine) and falls back to HKCU only when refused: an elevated or Wine process is
        // not refused, and the per-user uninstaller cleans HKCU only.
        .set_windows_enable_mode(WindowsEnableMode::CurrentUser)
        .build()?)
}

/// Makes the OS start the app at login (or not), and returns what is in effect afterwards.
/// Enabling again rewrites the entry, which refreshes a path that moved (a new AppImage).
pub fn apply(enabled: bool) -> Result<bool, AutostartError> {
    warn_about_ignored_config_home();
    let launcher = launcher()?;
    if enabled {
        launcher.enable()?;
    } else if launcher.is_enabled()? {
        launcher.disable()?;
    }
    Ok(launcher.is_enabled()?)
}

/// Whether the OS has an entry for the app now; false when that cannot be told.
pub fn is_registered() -> bool {
    match launcher().and_then(|l| Ok(l.is_enabled()?)) {
        Ok(on) => on,
        Err(e) => {
            log::warn!("{e}");
            false
        }
    }
}

/// auto-launch always writes under `$HOME/.config`; a desktop that honours a different
/// `XDG_CONFIG_HOME` will not see the entry. Say so rather than fail silently.
fn warn_about_ignored_config_home() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let (Some(config_home), Some(home)) = (
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    ) else {
        return;
    };
    if !config_home.is_empty() && Path::new(&config_home) != Path::new(&home).join(".config") {
        log::warn!(
            "start at login: the autostart entry goes to $HOME/.config/autostart, not to \
             XDG_CONFIG_HOME ({}); desktops that only read XDG_CONFIG_HOME will not start the app",
            Path::new(&config_home).display()
        );
    }
}

fn quote_for_platform(path: &str) -> String {
    quote_for(std::env::consts::OS, path)
}

/// The path as the start-at-login entry of `os` (`std::env::consts::OS`) must hold it; a
/// parameter, so every platform's choice is tested on every platform.
fn quote_for(os: &str, path: &str) -> String {
    match os {
        "windows" => quote_windows(path),
        // macOS: auto-launch writes the LaunchAgent's ProgramArguments, a plist array whose
        // first element is the program itself: no shell parsing, so quotes would become part of
        // the path.
        "macos" => path.to_owned(),
        _ => quote_desktop_exec(path),
    }
}

/// Quotes one argument for a Desktop Entry `Exec=` key: the spec's quoting (double quotes,
/// with `"`, `` ` ``, `$` and `\` escaped by a backslash), then the string-level escaping of
/// `\` that every desktop-file value gets, and `%` doubled so it is not read as a field code.
pub fn quote_desktop_exec(arg: &str) -> String {
    let plain = arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c));
    let arg = arg.replace('%', "%%");
    if plain {
        return arg;
    }
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted.replace('\\', "\\\\")
}

/// Windows splits a Run value at the first space unless the program path is quoted.
pub fn quote_windows(path: &str) -> String {
    if path.contains(' ') && !path.starts_with('"') {
        format!("\"{path}\"")
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_as_they_are() {
        assert_eq!(
            quote_desktop_exec("/usr/bin/hyperclay-sync-tray"),
            "/usr/bin/hyperclay-sync-tray"
        );
    }

    #[test]
    fn spaces_and_specials_are_quoted_per_the_desktop_entry_spec() {
        assert_eq!(
            quote_desktop_exec("/home/u/my apps/Hyperclay Sync.AppImage"),
            r#""/home/u/my apps/Hyperclay Sync.AppImage""#
        );
        // `$` is escaped as `\$` by the quoting rule, and that backslash is doubled by the
        // string-level escaping of the file: `\\$` on disk.
        assert_eq!(quote_desktop_exec("/opt/a$b"), r#""/opt/a\\$b""#);
        assert_eq!(quote_desktop_exec(r#"/x/"q""#), r#""/x/\\"q\\"""#);
        assert_eq!(
            quote_desktop_exec("/x/back\\slash"),
            r#""/x/back\\\\slash""#
        );
        assert_eq!(quote_desktop_exec("/x/100%"), r#""/x/100%%""#);
    }

    #[test]
    fn each_platforms_entry_gets_the_path_as_it_must_hold_it() {
        let mac = "/Applications/Hyperclay Sync.app/Contents/MacOS/hyperclay-sync-tray";
        assert_eq!(
            quote_for("macos", mac),
            mac,
            "a LaunchAgent argument is never quoted"
        );
        assert_eq!(
            quote_for(
                "windows",
                r"C:\Users\a b\AppData\Local\Programs\Hyperclay Sync\h.exe"
            ),
            r#""C:\Users\a b\AppData\Local\Programs\Hyperclay Sync\h.exe""#
        );
        assert_eq!(
            quote_for("linux", "/opt/Hyperclay Sync/h"),
            r#""/opt/Hyperclay Sync/h""#
        );
    }

    #[test]
    fn windows_paths_with_spaces_are_quoted_once() {
        assert_eq!(
            quote_windows(r"C:\Program Files\Hyperclay\hyperclay-sync-tray.exe"),
            r#""C:\Program Files\Hyperclay\hyperclay-sync-tray.exe""#
        );
        assert_eq!(quote_windows(r"C:\apps\h.exe"), r"C:\apps\h.exe");
    }
}
