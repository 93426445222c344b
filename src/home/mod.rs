//! The engine's home: where it keeps its own files (never inside the sync folder), what they
//! hold, and that they stay private to the user.

pub mod config;
pub mod data_dir;
pub mod lock;
pub mod logging;
pub mod settings;
pub mod state_store;
