//! The reference Hyperclay server: a real, small implementation of the local-sync protocol
//! (`docs/protocol.md`) for development and for every end-to-end test of the sync app.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library. Nothing here may log a token, an
//! authorization code, a session id or a password.

pub mod admin;
pub mod bell;
pub mod client_addr;
pub mod client_version;
pub mod clock;
pub mod cursor;
pub mod device;
pub mod error;
pub mod http;
pub mod listing;
pub mod login_limits;
pub mod oauth;
pub mod password;
pub mod release;
pub mod save;
pub mod serve;
pub mod slots;
pub mod store;
pub mod token;

pub use clock::Clock;
pub use error::ServerError;
pub use store::{Plan, Store};
