//! The server's version history of one file, read-only: the list (`GET /versions/{path}`) and
//! one version's bytes (`GET /versions/{path}/{id}`), and the whole account's listing for
//! finding where a file lives. Like every call here it never follows a redirect, and it never
//! hands back bytes that do not match the checksum the server listed for that version.

use hyperclay_protocol::{
    Checksum, Entry, MAX_FILE_BYTES, RemotePath, VersionInfo, VersionsResponse,
};

use super::listing::{PageError, read_pages};
use super::server_text::ServerText;
use super::{Remote, RemoteError, check, json, read_watched};

impl Remote {
    /// The previous contents of `path` the server kept, newest first (the current content is
    /// the file itself). A path the account never had is [`RemoteError::NotFound`].
    pub fn versions(&self, path: &RemotePath) -> Result<Vec<VersionInfo>, RemoteError> {
        let reply = self
            .agent
            .get(format!("{}/versions/{}", self.base, path.to_url_path()))
            .header("Authorization", self.auth())
            .call();
        // Ids and checksums are printed by `history`: never raw (issue 23, 4).
        json::<VersionsResponse>(reply).map(|r| {
            r.versions
                .into_iter()
                .map(|mut v| {
                    v.id = ServerText::from_wire(&v.id).to_string();
                    v.checksum = ServerText::from_wire(&v.checksum).to_string();
                    v
                })
                .collect()
        })
    }

    /// The bytes of version `id` of `path`; they must have the checksum `expected`.
    pub fn version_bytes(
        &self,
        path: &RemotePath,
        id: &str,
        expected: Checksum,
    ) -> Result<Vec<u8>, RemoteError> {
        let id_segment =
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
        let reply = self.get_watched(&format!(
            "{}/versions/{}/{id_segment}",
            self.base,
            path.to_url_path()
        ));
        let response = check(reply)?;
        let bytes = read_watched(response.into_body(), MAX_FILE_BYTES, self.stall_window)?;
        if Checksum::of(&bytes) != expected {
            return Err(RemoteError::malformed(format!(
                "version {} of {path} does not have the checksum the server listed",
                ServerText::from_wire(id)
            )));
        }
        Ok(bytes)
    }

    /// Every file entry of the account changed after `cursor` (`None`: a full listing, paged),
    /// folders and tombstones left out, and the cursor to go on from.
    pub fn files_since(&self, cursor: Option<&str>) -> Result<(Vec<Entry>, String), RemoteError> {
        let mut files = Vec::new();
        let next = read_pages(
            cursor,
            None,
            |cursor| self.changes(cursor, None),
            |entry| {
                // A path that breaks the protocol's rules is of no use, and not to be shown.
                if !entry.deleted
                    && entry.checksum.is_some()
                    && RemotePath::file(&entry.path).is_ok()
                {
                    files.push(entry);
                }
            },
        )
        .map_err(|e| match e {
            PageError::Remote(e) => e,
            PageError::Listing(e) => RemoteError::malformed(e.to_string()),
        })?;
        Ok((files, next))
    }
}
