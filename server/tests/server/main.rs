//! The reference server's tests, one test binary: the admin CLI, the protocol conformance suite
//! and the security cases. Filter by file: `cargo test -p hyperclay-server --test server security`.
//!
//! Adding a test file (e.g. one written as its own `server/tests/device_login.rs`):
//!   1. `git mv server/tests/device_login.rs server/tests/server/device_login.rs`
//!   2. add `mod device_login;` below
//!   3. in the file, turn `mod common;` into `use crate::common;` and
//!      `#[path = "oauth_flow/mod.rs"] mod oauth_flow;` into `use crate::oauth_flow;`

mod common;
mod oauth_flow;

mod cli;
mod client_address;
mod client_versions;
mod conformance;
mod device_flow;
mod exhaustion;
mod security;
