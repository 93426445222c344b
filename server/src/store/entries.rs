//! Rows of the entries and versions tables, and the queries over them. Policy (what a save
//! means, who may write what) lives in `crate::save`; this module only reads and writes rows.

use hyperclay_protocol::{Entry, EntryKind, Timestamp, VersionInfo};
use rusqlite::{Connection, params};

use super::accounts::to_i64;
use super::optional;
use crate::error::ServerError;

/// One row of `entries`: a live file or folder, or a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub account_id: i64,
    pub path: String,
    pub kind: EntryKind,
    pub size: Option<u64>,
    pub checksum: Option<String>,
    pub modified_at: Timestamp,
    pub deleted: bool,
    pub seq: i64,
}

impl Row {
    /// The protocol form. A tombstone carries no size or checksum.
    pub fn to_entry(&self) -> Entry {
        Entry {
            path: self.path.clone(),
            kind: self.kind,
            size: if self.deleted { None } else { self.size },
            modified_at: self.modified_at,
            checksum: if self.deleted {
                None
            } else {
                self.checksum.clone()
            },
            deleted: self.deleted,
        }
    }
}

pub fn kind_str(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::App => "app",
        EntryKind::Upload => "upload",
        EntryKind::Folder => "folder",
    }
}

fn parse_kind(s: &str) -> EntryKind {
    match s {
        "app" => EntryKind::App,
        "folder" => EntryKind::Folder,
        _ => EntryKind::Upload,
    }
}

const COLUMNS: &str = "account_id, path, kind, size, checksum, modified_at, deleted, seq";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let kind: String = r.get(2)?;
    let size: Option<i64> = r.get(3)?;
    Ok(Row {
        account_id: r.get(0)?,
        path: r.get(1)?,
        kind: parse_kind(&kind),
        size: size.map(|s| u64::try_from(s).unwrap_or(0)),
        checksum: r.get(4)?,
        modified_at: Timestamp::from_millis(r.get(5)?),
        deleted: r.get::<_, i64>(6)? != 0,
        seq: r.get(7)?,
    })
}

/// The row at `path`, live or tombstone.
pub fn get(conn: &Connection, account_id: i64, path: &str) -> Result<Option<Row>, ServerError> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS} FROM entries WHERE account_id = ?1 AND path = ?2"),
        params![account_id, path],
        from_row,
    ))
}

/// The live row at `path`.
pub fn get_live(
    conn: &Connection,
    account_id: i64,
    path: &str,
) -> Result<Option<Row>, ServerError> {
    Ok(get(conn, account_id, path)?.filter(|r| !r.deleted))
}

/// The live app called `name`, in any account.
pub fn live_app(conn: &Connection, name: &str) -> Result<Option<Row>, ServerError> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS} FROM entries WHERE app_name = ?1 AND deleted = 0"),
        [name],
        from_row,
    ))
}

pub fn count_live_apps(conn: &Connection, account_id: i64) -> Result<u64, ServerError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM entries WHERE account_id = ?1 AND kind = 'app' AND deleted = 0",
        [account_id],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The content of a live file row.
#[derive(Debug, Clone)]
pub struct FileRow<'a> {
    pub path: &'a str,
    pub kind: EntryKind,
    pub app_name: Option<&'a str>,
    pub size: u64,
    pub checksum: &'a str,
    pub modified_at: Timestamp,
}

/// Writes a live file row (insert, overwrite, or revive a tombstone).
pub fn put_file(
    conn: &Connection,
    account_id: i64,
    file: &FileRow<'_>,
    seq: i64,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO entries(account_id, path, kind, app_name, size, checksum, modified_at, deleted, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)
         ON CONFLICT(account_id, path) DO UPDATE SET
           kind = excluded.kind, app_name = excluded.app_name, size = excluded.size,
           checksum = excluded.checksum, modified_at = excluded.modified_at, deleted = 0,
           seq = excluded.seq",
        params![
            account_id,
            file.path,
            kind_str(file.kind),
            file.app_name,
            to_i64(file.size),
            file.checksum,
            file.modified_at.as_millis(),
            seq
        ],
    )?;
    Ok(())
}

/// Writes a live folder row (insert or revive a tombstone).
pub fn put_folder(
    conn: &Connection,
    account_id: i64,
    path: &str,
    modified_at: Timestamp,
    seq: i64,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO entries(account_id, path, kind, app_name, size, checksum, modified_at, deleted, seq)
         VALUES (?1, ?2, 'folder', NULL, NULL, NULL, ?3, 0, ?4)
         ON CONFLICT(account_id, path) DO UPDATE SET
           kind = 'folder', app_name = NULL, size = NULL, checksum = NULL,
           modified_at = excluded.modified_at, deleted = 0, seq = excluded.seq",
        params![account_id, path, modified_at.as_millis(), seq],
    )?;
    Ok(())
}

/// Turns a live row into a tombstone.
pub fn tombstone(
    conn: &Connection,
    account_id: i64,
    path: &str,
    at: Timestamp,
    seq: i64,
) -> Result<(), ServerError> {
    conn.execute(
        "UPDATE entries SET deleted = 1, modified_at = ?3, seq = ?4
         WHERE account_id = ?1 AND path = ?2",
        params![account_id, path, at.as_millis(), seq],
    )?;
    Ok(())
}

/// Live rows strictly inside folder `path`, deepest first.
pub fn live_under(conn: &Connection, account_id: i64, path: &str) -> Result<Vec<Row>, ServerError> {
    let prefix = format!("{path}/");
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM entries
         WHERE account_id = ?1 AND deleted = 0 AND substr(path, 1, length(?2)) = ?2
         ORDER BY length(path) DESC"
    ))?;
    let rows = stmt
        .query_map(params![account_id, prefix], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Rows changed after `after`, in change order, at most `limit`. With `tombstones_after`, only
/// tombstones made after that change are included (a full listing); otherwise all are.
pub fn changed_after(
    conn: &Connection,
    account_id: i64,
    after: u64,
    tombstones_after: Option<u64>,
    limit: usize,
) -> Result<Vec<Row>, ServerError> {
    let tomb_floor = tombstones_after.map(to_i64).unwrap_or(-1);
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM entries
         WHERE account_id = ?1 AND seq > ?2 AND (deleted = 0 OR seq > ?3)
         ORDER BY seq LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(
            params![
                account_id,
                to_i64(after),
                tomb_floor,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Keeps a copy of a file's content as a version.
pub fn add_version(
    conn: &Connection,
    account_id: i64,
    path: &str,
    saved_at: Timestamp,
    checksum: &str,
    size: u64,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO versions(account_id, path, saved_at, checksum, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![account_id, path, saved_at.as_millis(), checksum, to_i64(size)],
    )?;
    Ok(())
}

/// The versions of `path`, newest first.
pub fn versions(
    conn: &Connection,
    account_id: i64,
    path: &str,
) -> Result<Vec<VersionInfo>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT id, saved_at, checksum, size FROM versions
         WHERE account_id = ?1 AND path = ?2 ORDER BY id DESC",
    )?;
    let rows = stmt
        .query_map(params![account_id, path], |r| {
            let id: i64 = r.get(0)?;
            let size: i64 = r.get(3)?;
            Ok(VersionInfo {
                id: id.to_string(),
                saved_at: Timestamp::from_millis(r.get(1)?),
                checksum: r.get(2)?,
                size: u64::try_from(size).unwrap_or(0),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The checksum of version `id` of `path`.
pub fn version_checksum(
    conn: &Connection,
    account_id: i64,
    path: &str,
    id: i64,
) -> Result<Option<String>, ServerError> {
    optional(conn.query_row(
        "SELECT checksum FROM versions WHERE account_id = ?1 AND path = ?2 AND id = ?3",
        params![account_id, path, id],
        |r| r.get(0),
    ))
}
