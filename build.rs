//! Bakes the default server URL into the binary: `.env` (else the shipped `.env.example`) gives
//! one URL for development builds and one for distribution (`release` profile) builds.
//! It must never fail a build for a missing `.env`: the example always exists.
//! For Windows targets it also embeds the app icon and the version into `hyperclay-sync.exe`
//! (`installer/windows/resource.rs`; tray/build.rs does the same for the tray app).

use std::fs;
use std::path::Path;

// Shared with tray/build.rs: one resource definition for both programs.
#[path = "installer/windows/resource.rs"]
mod windows_resource;

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

    // The version this build says it is (User-Agent, --version, the update check): the package's,
    // unless HYPERCLAY_SYNC_BUILD_VERSION names another. The self-update tests build a "next"
    // release from this same source with it; release builds never set it.
    println!("cargo:rerun-if-env-changed=HYPERCLAY_SYNC_BUILD_VERSION");
    let package = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version = std::env::var("HYPERCLAY_SYNC_BUILD_VERSION")
        .ok()
        .filter(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
        })
        .unwrap_or(package);
    println!("cargo:rustc-env=HYPERCLAY_SYNC_VERSION={version}");

    // The target's OS, not the host's: a `#[cfg(windows)]` here would test the build machine.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        windows_resource::embed(
            &Path::new(&dir).join("installer/windows/hyperclay-sync.ico"),
            "Hyperclay Sync command line",
        );
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
