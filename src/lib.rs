//! Hyperclay Sync's engine: keeps a local folder and a Hyperclay account in live two-way sync.
//! No UI lives here, and this crate links no GUI library: the `hyperclay-sync` binary (command
//! line, headless engine) and the tray app (the `hyperclay-sync-tray` crate, which shows
//! [`status::state::EngineState`] and sends [`status::state::Command`]s) share everything
//! through this library.
//!
//! The folders are the layers, from the top (docs/architecture.md has the map):
//! `engine` (the control loop) drives a `session` (one connection: its parts and bookkeeping),
//! which decides with the pure `rules` and acts through `remote` (the protocol's calls) and
//! `local` (the folder, its watcher and the careful write); `status` is what the engine shows,
//! `auth` the login and the token, `home` the engine's own files, `os` the calls into the
//! operating system.

pub mod auth;
pub mod engine;
pub mod history;
pub mod home;
pub mod local;
pub mod os;
pub mod remote;
pub mod rules;
mod session;
pub mod status;
pub mod update;
