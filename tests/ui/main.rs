//! The tray and browser tests, one test binary: each starts its own Xvfb, session bus, tray
//! host or headless Chromium, so they are `#[ignore]`d for a plain `cargo test` on a desktop and
//! run by scripts/test.sh with `cargo test -p hyperclay-sync --test ui -- --ignored`.
//! Filter by file: `cargo test -p hyperclay-sync --test ui ui_tray_sni -- --ignored`.
//!
//! Adding a test file (e.g. `tests/status_cli.rs` from another branch, if it needs a screen):
//!   1. `git mv tests/status_cli.rs tests/ui/status_cli.rs`, add `mod status_cli;` below
//!   2. in the file, turn `mod ui_support;` into `use crate::ui_support;`
//!
//! A test that needs no screen belongs in `tests/e2e/` instead (recipe in its main.rs).

mod ui_support;

mod browser_login;
mod ui_tray;
mod ui_tray_sni;
