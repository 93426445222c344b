//! Proves which server a build talks to when `HYPERCLAY_URL` is not set, through the binary's
//! own `--version` line: a development build names http://localhyperclay.com:8787, a distribution
//! (`--release`) build https://hyperclay.com. `cargo test` checks the first; `cargo test --release`
//! and `installer/linux/smoke-test.sh` (on the installed .deb) check the second.
//! It must never pass HYPERCLAY_URL to the binary: that run-time override would hide the default.

use std::path::Path;

const DEVELOPMENT_URL: &str = "http://localhyperclay.com:8787";
const DISTRIBUTION_URL: &str = "https://hyperclay.com";

/// `KEY=value` from a dotenv text, the way build.rs reads it (comments skipped, quotes dropped).
fn dotenv_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|v| !v.is_empty())
}

/// The URL this test binary's profile bakes in: the shipped default, unless a developer's own
/// `.env` (never committed) overrides it on this machine.
fn expected_default() -> String {
    let (key, shipped) = if cfg!(debug_assertions) {
        ("HYPERCLAY_URL_DEVELOPMENT", DEVELOPMENT_URL)
    } else {
        ("HYPERCLAY_URL_DISTRIBUTION", DISTRIBUTION_URL)
    };
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env");
    std::fs::read_to_string(local)
        .ok()
        .and_then(|text| dotenv_value(&text, key))
        .unwrap_or_else(|| shipped.to_owned())
}

#[test]
fn the_shipped_env_example_names_the_development_and_distribution_servers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example");
    let text = std::fs::read_to_string(&path).expect("read .env.example");
    assert_eq!(
        dotenv_value(&text, "HYPERCLAY_URL_DEVELOPMENT").as_deref(),
        Some(DEVELOPMENT_URL)
    );
    assert_eq!(
        dotenv_value(&text, "HYPERCLAY_URL_DISTRIBUTION").as_deref(),
        Some(DISTRIBUTION_URL)
    );
}

#[test]
fn version_names_the_baked_in_server_of_this_build_profile() {
    let out = hyperclay_testkit::bin::client_command()
        .arg("--version")
        .env_remove("HYPERCLAY_URL")
        .output()
        .expect("run hyperclay-sync --version");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "--version failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().next().unwrap_or_default();
    let expected = expected_default();
    assert!(
        line.starts_with(&format!("hyperclay-sync {} ", env!("CARGO_PKG_VERSION"))),
        "--version should start with the name and version, got {line:?}"
    );
    assert!(
        line.contains(&format!("(server: {expected})")),
        "--version should name {expected} (profile {}), got {line:?}",
        if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        }
    );
}
