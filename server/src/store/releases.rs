//! Published client releases: one row per platform and version, naming the file's body in the
//! blob store (by SHA-256, as file bodies are) and keeping its minisign signature text beside
//! it. A row is never changed: publishing the same version and platform again is a no-op with
//! the same bytes and refused with other bytes. "Newest" is by semver (`0.10.0` > `0.9.0`),
//! so it is chosen here, not by SQL's text order.

use rusqlite::{Connection, params};
use semver::Version;

use super::optional;
use crate::error::ServerError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub platform: String,
    /// A semver version, as `Version` prints it.
    pub version: String,
    pub sha256: String,
    pub size: u64,
    /// The `.minisig` text, as published.
    pub signature: String,
    /// Unix milliseconds.
    pub published_at: i64,
}

impl Release {
    /// Its version as semver; rows are only written with one (see [`publish`]).
    pub fn semver(&self) -> Option<Version> {
        Version::parse(&self.version).ok()
    }
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Added,
    /// The same version, platform and bytes were published before; nothing changed.
    AlreadyThere,
    /// This version and platform were published with other bytes (their SHA-256).
    Conflict(String),
}

const COLUMNS: &str = "platform, version, sha256, size, signature, published_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Release> {
    let size: i64 = r.get(3)?;
    Ok(Release {
        platform: r.get(0)?,
        version: r.get(1)?,
        sha256: r.get(2)?,
        size: u64::try_from(size).unwrap_or(0),
        signature: r.get(4)?,
        published_at: r.get(5)?,
    })
}

/// Records `release` unless its platform and version are taken. The caller has stored the
/// body and checked the version is semver; run inside a write transaction.
pub fn publish(conn: &Connection, release: &Release) -> Result<Published, ServerError> {
    let size = i64::try_from(release.size)
        .map_err(|_| ServerError::Internal("release size out of range".into()))?;
    let added = conn.execute(
        &format!("INSERT OR IGNORE INTO releases({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            release.platform,
            release.version,
            release.sha256,
            size,
            release.signature,
            release.published_at
        ],
    )? == 1;
    if added {
        return Ok(Published::Added);
    }
    let existing = find(conn, &release.platform, &release.version)?
        .ok_or_else(|| ServerError::Internal("a release row vanished".into()))?;
    Ok(if existing.sha256 == release.sha256 {
        Published::AlreadyThere
    } else {
        Published::Conflict(existing.sha256)
    })
}

pub fn find(
    conn: &Connection,
    platform: &str,
    version: &str,
) -> Result<Option<Release>, ServerError> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS} FROM releases WHERE platform = ?1 AND version = ?2"),
        params![platform, version],
        from_row,
    ))
}

/// Every release, by platform then newest first.
pub fn all(conn: &Connection) -> Result<Vec<Release>, ServerError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM releases"))?;
    let mut rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort_by(|a, b| {
        a.platform
            .cmp(&b.platform)
            .then_with(|| b.semver().cmp(&a.semver()))
    });
    Ok(rows)
}

/// The release of `platform` with the highest version.
pub fn newest_for(conn: &Connection, platform: &str) -> Result<Option<Release>, ServerError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM releases WHERE platform = ?1"
    ))?;
    let rows = stmt
        .query_map([platform], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|r| r.semver().is_some())
        .max_by_key(Release::semver))
}

/// The highest version published for any platform.
pub fn newest_version(conn: &Connection) -> Result<Option<Version>, ServerError> {
    let mut stmt = conn.prepare("SELECT DISTINCT version FROM releases")?;
    let versions = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(versions.iter().filter_map(|v| Version::parse(v).ok()).max())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn release(platform: &str, version: &str, sha256: &str) -> Release {
        Release {
            platform: platform.into(),
            version: version.into(),
            sha256: sha256.into(),
            size: 3,
            signature: "sig".into(),
            published_at: 1,
        }
    }

    #[test]
    fn a_release_is_published_once_and_the_newest_is_by_semver() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = store.conn();
        assert_eq!(newest_for(c, "linux-x86_64-deb").unwrap(), None);
        assert_eq!(newest_version(c).unwrap(), None);
        let old = release("linux-x86_64-deb", "0.9.0", "aa");
        assert_eq!(publish(c, &old).unwrap(), Published::Added);
        assert_eq!(publish(c, &old).unwrap(), Published::AlreadyThere);
        assert_eq!(
            publish(c, &release("linux-x86_64-deb", "0.9.0", "bb")).unwrap(),
            Published::Conflict("aa".into())
        );
        let new = release("linux-x86_64-deb", "0.10.0", "cc");
        publish(c, &new).unwrap();
        publish(c, &release("macos-aarch64", "0.11.0-rc.1", "dd")).unwrap();
        assert_eq!(newest_for(c, "linux-x86_64-deb").unwrap(), Some(new));
        assert_eq!(
            newest_version(c).unwrap(),
            Some(Version::parse("0.11.0-rc.1").unwrap())
        );
        let listed: Vec<String> = all(c).unwrap().into_iter().map(|r| r.version).collect();
        assert_eq!(listed, ["0.10.0", "0.9.0", "0.11.0-rc.1"]);
    }
}
