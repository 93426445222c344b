//! Bakes the default server URL into the binary: `.env` (else the shipped `.env.example`) gives
//! one URL for development builds and one for distribution (`release` profile) builds.
//! It must never fail a build for a missing `.env`: the example always exists.
//! For Windows targets it also embeds the app icon and the version into both `.exe` files (the
//! Explorer icon, Properties → Details, the Apps list): a resource script written into `OUT_DIR`
//! and compiled by `embed-resource` with mingw's `x86_64-w64-mingw32-windres` when cross-building
//! from Linux (`installer/windows/build.sh`), or `rc.exe` with the MSVC toolchain on Windows.

use std::fs;
use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let env_file = Path::new(&dir).join(".env");
    let example = Path::new(&dir).join(".env.example");
    // Cargo counts a watched file that does not exist as always changed, which rebuilt the crate
    // (and everything linking it) on every cargo command. So `.env` is watched only once it
    // exists; after creating one, `touch build.rs` (docs in .env.example).
    if env_file.exists() {
        println!("cargo:rerun-if-changed={}", env_file.display());
    }
    println!("cargo:rerun-if-changed={}", example.display());

    let text = fs::read_to_string(&env_file)
        .or_else(|_| fs::read_to_string(&example))
        .unwrap_or_default();
    let development = value_of(&text, "HYPERCLAY_URL_DEVELOPMENT")
        .unwrap_or_else(|| "http://localhyperclay.com:8787".to_owned());
    let distribution = value_of(&text, "HYPERCLAY_URL_DISTRIBUTION")
        .unwrap_or_else(|| "https://hyperclay.com".to_owned());
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let url = if profile == "release" {
        distribution
    } else {
        development
    };
    println!("cargo:rustc-env=HYPERCLAY_DEFAULT_URL={url}");

    // The target's OS, not the host's: a `#[cfg(windows)]` here would test the build machine.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        windows_resource(Path::new(&dir));
    }
}

/// Writes the resource script (icon + VERSIONINFO from the crate version) and has it linked into
/// every binary of the package. Fails the build when the resource compiler is missing: a Windows
/// build without its icon and version must not pass for a finished one.
fn windows_resource(dir: &Path) {
    let icon = dir.join("installer/windows/hyperclay-sync.ico");
    println!("cargo:rerun-if-changed={}", icon.display());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let number = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(0)
    };
    let (major, minor, patch) = (
        number("CARGO_PKG_VERSION_MAJOR"),
        number("CARGO_PKG_VERSION_MINOR"),
        number("CARGO_PKG_VERSION_PATCH"),
    );
    // Resource scripts take C string escapes: a Windows path's backslashes are doubled.
    let icon_path = icon.display().to_string().replace('\\', "\\\\");
    let script = format!(
        r#"#pragma code_page(65001)
1 ICON "{icon_path}"
1 VERSIONINFO
FILEVERSION {major},{minor},{patch},0
PRODUCTVERSION {major},{minor},{patch},0
FILEOS 0x40004
FILETYPE 0x1
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "CompanyName", "Hyperclay"
      VALUE "FileDescription", "Hyperclay Sync"
      VALUE "FileVersion", "{version}"
      VALUE "ProductName", "Hyperclay Sync"
      VALUE "ProductVersion", "{version}"
      VALUE "LegalCopyright", "MIT license"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#
    );
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("app.rc");
    fs::write(&out, script).expect("writing the Windows resource script");
    // `manifest_required`: "not attempted" (no resource compiler found) is an error too.
    if let Err(e) = embed_resource::compile(&out, embed_resource::NONE).manifest_required() {
        panic!("the Windows resource (icon, version) did not compile: {e}");
    }
}

/// The value of `KEY=value` in a dotenv text (comments and blank lines skipped, quotes stripped).
fn value_of(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|v| !v.is_empty())
}
