//! Hyperclay Sync's engine: keeps a local folder and a Hyperclay account in live two-way sync.
//! No UI lives here: the `hyperclay-sync` binary (command line, headless engine) and the
//! `hyperclay-sync-tray` binary (the tray app, which shows [`state::EngineState`] and sends
//! [`state::Command`]s) share everything through this library.

pub mod auth;
mod bookkeeping;
mod changes_wait;
pub mod config;
pub mod data_dir;
pub mod engine;
mod event;
mod executor;
mod fault;
mod feed;
pub mod folder_guard;
mod folders;
mod issues;
pub mod listing;
pub mod local;
pub mod lock;
pub mod logging;
pub mod memory;
pub mod network;
mod picture;
pub mod plan;
pub mod remote;
mod remote_files;
pub mod report;
mod schedule;
mod session;
pub mod settings;
pub mod signals;
pub mod state;
pub mod state_store;
pub mod status_text;
mod token_slot;
mod transfer;
pub mod watch;
