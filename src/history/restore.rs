//! What a restore does, decided as a pure function: a restore is an ordinary save of the
//! chosen version's bytes. Here, the careful local write keeps the current content in
//! `sites-versions/` first and replaces the file only if it is still what was seen; on the
//! server, the save process keeps its current copy as a version first. So a restore is undone
//! the same way. It must never plan an upload of anything but the chosen bytes, nor a write
//! over content it has not seen.

use hyperclay_protocol::Checksum;

use super::Version;

/// Who carries the restore to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// A running engine: its watcher takes the local save as any other and pushes it; the
    /// command waits until the server holds it.
    Engine,
    /// No engine runs: the command itself uploads (holding the engine's lock meanwhile).
    Command,
    /// No engine and no login or server: only the local side now; the next sync uploads it.
    LaterSync,
}

/// The steps of one restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub version: Version,
    /// Write the version here, replacing the content with this checksum (`None`: no file there
    /// now), which is backed up first. `None` when this machine already holds it.
    pub write_local: Option<Option<Checksum>>,
    /// The server must end up holding the version.
    pub upload: bool,
    pub carrier: Carrier,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("version {0} is already the current content here and on the server: nothing to do")]
    AlreadyCurrent(String),
}

/// The plan to make `version` current on both sides, given the current local checksum (`None`:
/// no local file), whether the server's current copy is known to be the version, and who can
/// carry it.
pub fn plan(
    version: &Version,
    here: Option<Checksum>,
    server_has_it: bool,
    carrier: Carrier,
) -> Result<Plan, PlanError> {
    let local_ok = here == Some(version.checksum);
    if local_ok && server_has_it {
        return Err(PlanError::AlreadyCurrent(version.id.clone()));
    }
    Ok(Plan {
        version: version.clone(),
        write_local: (!local_ok).then_some(here),
        upload: !server_has_it,
        carrier,
    })
}

impl Plan {
    /// The plan in words, one step a line (what `--dry-run` prints).
    pub fn steps(&self, path: &str) -> Vec<String> {
        let v = &self.version;
        let mut out = Vec::new();
        match self.write_local {
            Some(Some(old)) => {
                out.push(format!(
                    "back up the current content of {path} (checksum {}) into sites-versions/",
                    super::version_id(&old)
                ));
                out.push(format!(
                    "write version {} ({} bytes) to {path}, only if the file is still that content",
                    v.id, v.size
                ));
            }
            Some(None) => out.push(format!(
                "write version {} ({} bytes) to {path} (there is no file there now)",
                v.id, v.size
            )),
            None => out.push(format!("{path} here already holds version {}", v.id)),
        }
        if self.upload {
            out.push(match self.carrier {
                Carrier::Engine => "the running engine uploads it as any save (the server keeps \
                                    its current copy as a version first); wait until the server \
                                    holds it"
                    .to_owned(),
                Carrier::Command => "upload it to the server (which keeps its current copy as a \
                                     version first); no engine runs meanwhile"
                    .to_owned(),
                Carrier::LaterSync => "the server cannot be reached now: sync uploads it the next \
                                       time it runs"
                    .to_owned(),
            });
        } else {
            out.push("the server already holds it".to_owned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::Timestamp;

    fn version(bytes: &[u8]) -> Version {
        let checksum = Checksum::of(bytes);
        Version {
            id: super::super::version_id(&checksum),
            saved_at: Timestamp::from_millis(1),
            size: bytes.len() as u64,
            checksum,
            backup: Some("sites-versions/x/1.html".into()),
            server_id: None,
            current_here: false,
            current_on_server: false,
        }
    }

    #[test]
    fn a_restore_backs_up_what_it_replaces_and_uploads_only_the_chosen_version() {
        let v = version(b"old");
        let p = plan(&v, Some(Checksum::of(b"new")), false, Carrier::Command).unwrap();
        assert_eq!(p.write_local, Some(Some(Checksum::of(b"new"))));
        assert!(p.upload);
        assert_eq!(p.version.checksum, Checksum::of(b"old"));
        assert!(p.steps("x.html")[0].starts_with("back up the current content"));
    }

    #[test]
    fn a_side_already_holding_the_version_is_left_alone() {
        let v = version(b"old");
        let only_server = plan(&v, Some(Checksum::of(b"old")), false, Carrier::Engine).unwrap();
        assert_eq!(only_server.write_local, None);
        assert!(only_server.upload);
        let only_here = plan(&v, None, true, Carrier::Command).unwrap();
        assert_eq!(only_here.write_local, Some(None));
        assert!(!only_here.upload);
        assert_eq!(
            plan(&v, Some(Checksum::of(b"old")), true, Carrier::Command),
            Err(PlanError::AlreadyCurrent(v.id.clone()))
        );
    }
}
