//! The client's end-to-end tests, folded into one test binary: each file beside this one is a
//! module, so the whole crate and its dev-dependencies are linked once, not once per file.
//! Run one file's tests with its module name as the filter:
//!   cargo test -p hyperclay-sync --test e2e engine_sync
//!   cargo test -p hyperclay-sync --test e2e hostile_server::a_test_name -- --exact
//!
//! Adding a test file (e.g. one written as its own `tests/sync_issues.rs` on another branch):
//!   1. `git mv tests/sync_issues.rs tests/e2e/sync_issues.rs`
//!   2. add `mod sync_issues;` to the list below
//!   3. in the file, turn `mod common;` into `use crate::common;` (same for `hostile`,
//!      `processes`); `use common::*;` then works unchanged
//!   4. if the file changes process-wide state (environment variables, the working directory),
//!      it cannot share this process with the others: leave it its own binary, as
//!      `tests/engine_login.rs` is.
//!
//! Shared helpers: `common` (client process, waits, direct server calls, proxy), `hostile`
//! (a scripted hostile server), `processes` (finding and killing the test's children) and `web`
//! (the login tests' browser, played over HTTP).

mod common;
#[path = "common/hostile_server.rs"]
mod hostile;
#[path = "common/processes.rs"]
mod processes;
#[path = "common/web.rs"]
mod web;

mod auth_cli;
mod auth_keyring;
mod auth_login;
mod binaries;
mod bursts;
mod client_versions;
mod device_login;
mod engine_cli;
mod engine_sync;
mod folder_hygiene;
mod hostile_server;
mod installer_default_server;
mod installer_files;
mod private_data;
mod reliability_crash;
mod remote_changes;
mod soak_no_data_loss;
mod status_cli;
mod sync_issues;
mod tls_trust;
mod version_history;
