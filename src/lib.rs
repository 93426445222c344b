//! Hyperclay Sync's engine: keeps a local folder and a Hyperclay account in live two-way sync.
//! No UI lives here; the tray (in the binary) only shows [`state::EngineState`] and sends
//! [`state::Command`]s.

pub mod auth;
pub mod state;
