//! What the engine shows: its state (`state`), the words for every reader (`text`), and the
//! `Reporter` that publishes them to the tray, `status.json` and `sync-issues.txt` (`report`).

pub mod report;
pub mod state;
pub mod text;
