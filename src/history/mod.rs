//! Every version of one file, wherever it is kept: this machine's backups in `sites-versions/`,
//! the server's version history, and the current content on either side. The same bytes are one
//! version (found in one place or both), named by the start of their SHA-256, so an id reads the
//! same on every machine and in both histories. Listing, choosing and planning are pure; the
//! command code that reads the disk and calls the server is in [`command`]. Nothing here may
//! remove a version except [`retention`], and that never removes the newest of a file.

pub mod command;
pub mod diff;
pub mod local_versions;
pub mod restore;
pub mod retention;

use hyperclay_protocol::{Checksum, Timestamp, VersionInfo};
use serde::Serialize;

/// How many hex digits of the checksum make a version's id.
pub const ID_LEN: usize = 12;
/// The fewest hex digits `--version` accepts (a shorter prefix matches too much).
pub const MIN_ID_LEN: usize = 6;

/// The id `history` shows for content with this checksum.
pub fn version_id(checksum: &Checksum) -> String {
    checksum.to_hex()[..ID_LEN].to_owned()
}

/// One backup in this machine's `sites-versions/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBackup {
    /// Folder-relative, `/`-separated (`sites-versions/blog/post/2026-….html`).
    pub rel: String,
    /// When the backup was made: the moment that content was replaced here.
    pub kept_at: Timestamp,
    pub checksum: Checksum,
    pub size: u64,
}

/// The current content of the file on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub checksum: Checksum,
    pub size: u64,
    pub modified_at: Timestamp,
}

/// Where a version's bytes can be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Place {
    /// This machine only (a backup in `sites-versions/`, or the file itself).
    Local,
    /// The server only (its version history, or its current copy).
    Server,
    Both,
}

impl Place {
    fn of(local: bool, server: bool) -> Place {
        match (local, server) {
            (true, true) => Place::Both,
            (false, true) => Place::Server,
            _ => Place::Local,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Place::Local => "this machine",
            Place::Server => "server",
            Place::Both => "both",
        }
    }
}

/// One version: distinct bytes, with everywhere they are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// What `--version` takes: the first [`ID_LEN`] hex digits of the checksum.
    pub id: String,
    /// When this content was saved: the server's `savedAt` or a side's modification time when
    /// one of those knows it, else when this machine backed it up (the moment it was replaced,
    /// so never earlier than its save).
    pub saved_at: Timestamp,
    pub size: u64,
    pub checksum: Checksum,
    /// The newest backup in `sites-versions/` holding these bytes.
    pub backup: Option<String>,
    /// The server's id of a version holding these bytes (its newest).
    pub server_id: Option<String>,
    /// The current content here / on the server.
    pub current_here: bool,
    pub current_on_server: bool,
}

impl Version {
    pub fn place(&self) -> Place {
        Place::of(
            self.backup.is_some() || self.current_here,
            self.server_id.is_some() || self.current_on_server,
        )
    }

    pub fn is_current(&self) -> bool {
        self.current_here || self.current_on_server
    }

    /// "current", "current here", "current on the server", or "".
    pub fn current_words(&self) -> &'static str {
        match (self.current_here, self.current_on_server) {
            (true, true) => "current",
            (true, false) => "current here",
            (false, true) => "current on the server",
            (false, false) => "",
        }
    }

    /// The JSON form `history --json` prints.
    pub fn to_json(&self) -> VersionJson {
        let mut current = Vec::new();
        if self.current_here {
            current.push("local");
        }
        if self.current_on_server {
            current.push("server");
        }
        VersionJson {
            id: self.id.clone(),
            saved_at: self.saved_at,
            size: self.size,
            checksum: self.checksum.to_hex(),
            place: self.place(),
            current,
            backup: self.backup.clone(),
            server_id: self.server_id.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionJson {
    pub id: String,
    pub saved_at: Timestamp,
    pub size: u64,
    /// The full lowercase SHA-256 hex.
    pub checksum: String,
    #[serde(rename = "where")]
    pub place: Place,
    /// The sides whose current content this is: `local`, `server`, or none.
    pub current: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
}

/// Everything known of one file, merged: one [`Version`] per distinct content, newest first.
/// Server entries whose checksum is malformed are left out (they could never be verified).
pub fn merge(
    backups: &[LocalBackup],
    server: &[VersionInfo],
    here: Option<Current>,
    on_server: Option<Current>,
) -> Vec<Version> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Acc {
        saved: Option<Timestamp>,
        kept: Option<(Timestamp, String)>,
        size: u64,
        server_id: Option<(Timestamp, String)>,
        here: bool,
        on_server: bool,
    }
    let mut all: BTreeMap<Checksum, Acc> = BTreeMap::new();
    let later = |a: Option<Timestamp>, b: Timestamp| Some(a.map_or(b, |a| a.max(b)));
    for b in backups {
        let acc = all.entry(b.checksum).or_default();
        acc.size = b.size;
        if acc.kept.as_ref().is_none_or(|(t, _)| b.kept_at > *t) {
            acc.kept = Some((b.kept_at, b.rel.clone()));
        }
    }
    for v in server {
        let Ok(checksum) = Checksum::parse(&v.checksum) else {
            continue;
        };
        let acc = all.entry(checksum).or_default();
        acc.size = v.size;
        acc.saved = later(acc.saved, v.saved_at);
        if acc.server_id.as_ref().is_none_or(|(t, _)| v.saved_at > *t) {
            acc.server_id = Some((v.saved_at, v.id.clone()));
        }
    }
    for (current, is_here) in [(here, true), (on_server, false)] {
        let Some(c) = current else { continue };
        let acc = all.entry(c.checksum).or_default();
        acc.size = c.size;
        acc.saved = later(acc.saved, c.modified_at);
        if is_here {
            acc.here = true;
        } else {
            acc.on_server = true;
        }
    }
    let mut out: Vec<Version> = all
        .into_iter()
        .map(|(checksum, a)| Version {
            id: version_id(&checksum),
            saved_at: a
                .saved
                .or(a.kept.as_ref().map(|(t, _)| *t))
                .unwrap_or_default(),
            size: a.size,
            checksum,
            backup: a.kept.map(|(_, rel)| rel),
            server_id: a.server_id.map(|(_, id)| id),
            current_here: a.here,
            current_on_server: a.on_server,
        })
        .collect();
    // Newest first; the current content before an older one saved in the same millisecond.
    out.sort_by(|a, b| {
        (b.saved_at, b.is_current(), &b.id).cmp(&(a.saved_at, a.is_current(), &a.id))
    });
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    #[error(
        "{0:?} is not a version id: give the id `history` shows (at least {MIN_ID_LEN} hex digits)"
    )]
    NotAnId(String),
    #[error("no version {0} of this file (run `hyperclay-sync history` on it to see them)")]
    NoSuchVersion(String),
    #[error("{0} matches more than one version: give more of its digits")]
    Ambiguous(String),
    #[error("no version of this file was saved at or before {0}")]
    NoneBefore(Timestamp),
}

/// The version `--version ID` names: `ID` is a prefix of its checksum (case-insensitive).
pub fn by_id<'v>(versions: &'v [Version], id: &str) -> Result<&'v Version, ChooseError> {
    let wanted = id.trim().to_ascii_lowercase();
    if wanted.len() < MIN_ID_LEN || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ChooseError::NotAnId(id.to_owned()));
    }
    let mut hits = versions
        .iter()
        .filter(|v| v.checksum.to_hex().starts_with(&wanted));
    match (hits.next(), hits.next()) {
        (Some(v), None) => Ok(v),
        (None, _) => Err(ChooseError::NoSuchVersion(wanted)),
        (Some(_), Some(_)) => Err(ChooseError::Ambiguous(wanted)),
    }
}

/// The newest version saved at or before `at` (`--before TIME`).
pub fn before(versions: &[Version], at: Timestamp) -> Result<&Version, ChooseError> {
    versions
        .iter()
        .filter(|v| v.saved_at <= at)
        .max_by_key(|v| (v.saved_at, v.is_current()))
        .ok_or(ChooseError::NoneBefore(at))
}

/// `text` with every control character (other than a tab) written as an escape, so bytes from
/// the server or a file never act on the terminal.
pub fn escape(text: &str) -> String {
    escape_but(text, &['\t'])
}

/// [`escape`] that keeps line breaks, for a message of several lines (an error and its causes).
pub fn escape_lines(text: &str) -> String {
    escape_but(text, &['\t', '\n'])
}

fn escape_but(text: &str, kept: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !kept.contains(&c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `path` as one shell word: as it is when it holds only safe characters, else single-quoted.
pub fn shell_quote(path: &str) -> String {
    let safe = !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/+@%=:,".contains(&b));
    if safe {
        path.to_owned()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// The command that makes the content with `checksum` current again for the file at `path`
/// (what a settled conflict's report names for its losing side).
pub fn restore_command(path: &str, checksum: &Checksum) -> String {
    format!(
        "hyperclay-sync restore {} --version {}",
        shell_quote(path),
        version_id(checksum)
    )
}

#[cfg(test)]
mod tests;
