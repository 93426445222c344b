//! Keeps the installers consistent with the app they package: every file the .deb lists exists
//! and has the size its icon folder claims, both binaries (the command line and the tray) are
//! shipped, the .desktop entry and the Windows shortcuts start the tray binary, the macOS
//! Info.plist and the Windows setup script say what distribution needs, and the Uninstall text
//! names the data folder, keyring service and autostart entry the app really uses.
//! It must never build or install anything: installer/linux/smoke-test.sh does that.

use std::path::{Path, PathBuf};

const BIN: &str = "hyperclay-sync";
/// The tray app, which `BIN` with no subcommand execs; menu entries and shortcuts start it.
const TRAY_BIN: &str = "hyperclay-sync-tray";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The `[package.metadata.deb]` table of the root Cargo.toml, as text.
fn deb_section() -> String {
    let toml = read("Cargo.toml");
    let start = toml
        .find("[package.metadata.deb]")
        .expect("Cargo.toml has a [package.metadata.deb] section");
    let rest = &toml[start + 1..];
    // The next table header ends it; asset rows also start with `[`, but with `["`.
    let end = rest
        .lines()
        .skip(1)
        .find(|l| l.starts_with('[') && !l.starts_with("[\""))
        .and_then(|l| rest.find(l))
        .unwrap_or(rest.len());
    toml[start..start + 1 + end].to_owned()
}

/// `(source, destination)` of every asset row: `["src", "dest", "mode"],`.
fn deb_assets() -> Vec<(String, String)> {
    deb_section()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("[\""))
        .map(|l| {
            let quoted: Vec<&str> = l.split('"').skip(1).step_by(2).collect();
            assert!(
                quoted.len() >= 2,
                "asset row without source and destination: {l}"
            );
            (quoted[0].to_owned(), quoted[1].to_owned())
        })
        .collect()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// The string value of `const NAME: &str = "…";` in a source file of the app.
fn source_const(rel: &str, name: &str) -> String {
    let text = read(rel);
    let marker = format!("const {name}: &str = \"");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("{rel} no longer defines {name}; update this test and the docs"))
        + marker.len();
    let len = text[start..].find('"').expect("a closing quote");
    text[start..start + len].to_owned()
}

/// The element right after `<key>KEY</key>` in a plist.
fn plist_value<'a>(plist: &'a str, key: &str) -> &'a str {
    let marker = format!("<key>{key}</key>");
    let at = plist
        .find(&marker)
        .unwrap_or_else(|| panic!("Info.plist lacks {key}"))
        + marker.len();
    let rest = plist[at..].trim_start();
    let end = if rest.starts_with("<true/>") || rest.starts_with("<false/>") {
        rest.find("/>").map(|i| i + 2)
    } else {
        rest.find("</")
            .and_then(|i| rest[i..].find('>').map(|j| i + j + 1))
    };
    &rest[..end.expect("a complete element")]
}

#[test]
fn every_deb_asset_exists_and_icons_match_their_hicolor_size() {
    let assets = deb_assets();
    assert!(!assets.is_empty(), "no assets in [package.metadata.deb]");
    let mut binaries = Vec::new();
    for (src, dest) in &assets {
        if let Some(built) = src.strip_prefix("target/release/") {
            assert!(
                [BIN, TRAY_BIN].contains(&built),
                "the .deb ships an unknown binary {built}"
            );
            assert_eq!(dest, "usr/bin/");
            binaries.push(built);
            continue;
        }
        let path = repo().join(src);
        assert!(path.is_file(), "the .deb lists {src}, which does not exist");
        // usr/share/icons/hicolor/48x48/apps/…: the folder is the size the theme trusts.
        if let Some(folder) = dest
            .strip_prefix("usr/share/icons/hicolor/")
            .and_then(|d| d.split('/').next())
            .filter(|f| *f != "scalable")
        {
            let (w, h) = png_size(&path);
            assert_eq!(
                folder,
                format!("{w}x{h}"),
                "{src} is {w}x{h} but goes to {dest}"
            );
            assert!(dest.ends_with(&format!("/apps/{BIN}.png")), "{dest}");
        }
    }
    binaries.sort_unstable();
    assert_eq!(
        binaries,
        [BIN, TRAY_BIN],
        "the .deb must ship both binaries to usr/bin/: the command line execs the tray beside it"
    );
    let dests: Vec<&str> = assets.iter().map(|(_, d)| d.as_str()).collect();
    assert!(
        dests.contains(&"usr/share/applications/"),
        "no .desktop entry is packaged"
    );
    for size in ["16x16", "32x32", "48x48", "128x128"] {
        let want = format!("usr/share/icons/hicolor/{size}/apps/{BIN}.png");
        assert!(dests.contains(&want.as_str()), "missing {want}");
    }
    let svg = format!("usr/share/icons/hicolor/scalable/apps/{BIN}.svg");
    assert!(dests.contains(&svg.as_str()), "missing {svg}");
}

#[test]
fn deb_depends_on_the_tray_runtime_libraries() {
    let section = deb_section();
    let depends = section
        .lines()
        .find(|l| l.starts_with("depends"))
        .expect("a depends line");
    // The appindicator library is dlopened, so dpkg-shlibdeps ($auto) cannot find it.
    assert!(
        depends.contains("libayatana-appindicator3-1 | libappindicator3-1"),
        "{depends}"
    );
    // GTK, GLib and libc come from the binary's NEEDED entries; the smoke test checks the result.
    assert!(depends.contains("$auto"), "{depends}");
}

#[test]
fn desktop_entry_starts_the_installed_tray_with_the_installed_icon() {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_hyperclay-sync"));
    assert_eq!(built.file_stem().and_then(|s| s.to_str()), Some(BIN));
    let tray = hyperclay_testkit::bin::tray();
    assert_eq!(tray.file_stem().and_then(|s| s.to_str()), Some(TRAY_BIN));
    let entry = read("installer/linux/hyperclay-sync.desktop");
    let lines: Vec<&str> = entry.lines().collect();
    for want in [
        "[Desktop Entry]",
        "Type=Application",
        "Name=Hyperclay Sync",
        "Exec=hyperclay-sync-tray",
        "Icon=hyperclay-sync",
        "Terminal=false",
    ] {
        assert!(lines.contains(&want), "the .desktop entry lacks {want:?}");
    }
}

#[test]
fn macos_info_plist_describes_a_menu_bar_app() {
    let plist = read("installer/macos/Info.plist");
    assert_eq!(
        plist_value(&plist, "LSUIElement"),
        "<true/>",
        "no Dock icon"
    );
    assert_eq!(
        plist_value(&plist, "CFBundleIdentifier"),
        "<string>com.hyperclay.sync</string>"
    );
    assert_eq!(
        plist_value(&plist, "CFBundleExecutable"),
        format!("<string>{BIN}</string>")
    );
    assert_eq!(
        plist_value(&plist, "CFBundleIconFile"),
        "<string>AppIcon</string>"
    );
    // build-app.sh fills the version in from the crate.
    assert_eq!(
        plist_value(&plist, "CFBundleShortVersionString"),
        "<string>@VERSION@</string>"
    );
    assert_eq!(
        plist_value(&plist, "CFBundlePackageType"),
        "<string>APPL</string>"
    );
}

/// The NSIS script's promises, read from its text (fast, everywhere); the setup itself is built,
/// installed into Wine, run and uninstalled by `installer/windows/wine/test.sh`.
#[test]
fn windows_setup_is_per_user_with_a_start_menu_entry_and_no_autostart() {
    let nsi = read("installer/windows/hyperclay-sync.nsi");
    let lines: Vec<&str> = nsi
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(';'))
        .collect();
    for line in [
        "Unicode true",
        "Target amd64-unicode",
        "RequestExecutionLevel user",
        "InstallDir \"$LOCALAPPDATA\\Programs\\${APPNAME}\"",
    ] {
        assert!(lines.contains(&line), "the .nsi lacks {line:?}");
    }
    let define = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("!define {name} \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("the .nsi does not define {name}"))
    };
    assert_eq!(define("CLIEXE"), format!("{BIN}.exe"));
    assert_eq!(define("TRAYEXE"), format!("{TRAY_BIN}.exe"));
    assert_eq!(define("APPNAME"), "Hyperclay Sync");
    for exe in ["CLIEXE", "TRAYEXE"] {
        assert!(
            lines.contains(&format!("File \"${{BINDIR}}\\${{{exe}}}\"").as_str()),
            "the setup does not install {exe}"
        );
    }
    // What a user starts (the Start menu entry, the finish page's box) is the tray, which has
    // no console window; the command line keeps its console.
    let shortcut = lines
        .iter()
        .find(|l| l.starts_with("CreateShortcut \"$SMPROGRAMS\\"))
        .expect("no Start menu entry");
    assert!(
        shortcut.contains("\"$INSTDIR\\${TRAYEXE}\""),
        "must start the tray: {shortcut}"
    );
    assert!(lines.contains(&"!define MUI_FINISHPAGE_RUN \"$INSTDIR\\${TRAYEXE}\""));
    // Start at login belongs to the app's own menu item: the setup never writes the Run key or
    // the Startup folder, the uninstaller only removes the app's value.
    assert!(
        !nsi.contains("$SMSTARTUP"),
        "the installer must not use the Startup folder"
    );
    for line in &lines {
        assert!(
            !(line.starts_with("WriteReg") && line.contains("RUNKEY")),
            "the installer must not write the Run key: {line}"
        );
        // The uninstaller must never take the user's files with it.
        assert!(!line.starts_with("RMDir /r"), "a recursive delete: {line}");
    }
    let name = source_const("tray/src/autostart.rs", "NAME");
    assert_eq!(define("AUTOSTARTNAME"), name);
    assert!(
        lines.contains(&"DeleteRegValue HKCU \"${RUNKEY}\" \"${AUTOSTARTNAME}\""),
        "the uninstaller must remove the Run value {name:?}"
    );
}

#[test]
fn uninstall_text_names_what_the_app_really_leaves_behind() {
    let doc = read("installer/README-install.md");

    let service = source_const("src/auth/store.rs", "KEYRING_SERVICE");
    assert!(
        doc.contains(&format!("service `{service}`")),
        "keyring service"
    );
    assert!(doc.contains(&format!("secret-tool clear service {service}")));
    assert!(doc.contains(&format!("security delete-generic-password -s {service}")));

    let autostart = source_const("tray/src/autostart.rs", "NAME");
    assert!(doc.contains(&format!("~/.config/autostart/{autostart}.desktop")));
    assert!(doc.contains(&format!("~/Library/LaunchAgents/{autostart}.plist")));
    assert!(doc.contains(&format!("-Name {autostart} ")));
}

#[cfg(target_os = "linux")]
#[test]
fn uninstall_text_names_the_engines_linux_data_folder() {
    let config = hyperclay_sync::home::config::EngineConfig::from_vars(|_| None)
        .expect("the engine finds a data folder without any variable");
    let name = config
        .home
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a data folder name")
        .to_owned();
    // What the docs promise: $XDG_DATA_HOME/NAME, else ~/.local/share/NAME.
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .expect("HOME is set");
    assert_eq!(config.home, base.join(&name));

    let doc = read("installer/README-install.md");
    assert!(doc.contains(&format!("`~/.local/share/{name}`")), "{name}");
    assert!(doc.contains(&format!("`$XDG_DATA_HOME/{name}`")), "{name}");
    assert!(
        doc.contains(&format!("rm -rf ~/.local/share/{name} ")),
        "{name}"
    );
    assert!(
        config.log_file().starts_with(&config.home),
        "the log lives in the data folder the docs tell people to remove"
    );
}
