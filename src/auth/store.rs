//! Where the login token lives between runs: the OS keyring when it really accepts writes, else a
//! JSON file readable only by the user, one entry per server URL. This module must never log a
//! token, and never leave a token file readable by others, even for an instant.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use hyperclay_protocol::{Timestamp, TokenResponse, User, sha256_hex};
use serde::{Deserialize, Serialize};

use super::AuthError;
use super::api::base_url;

/// The keyring service under which tokens are stored; the server URL is the account name.
const KEYRING_SERVICE: &str = "hyperclay-sync";
/// Written and deleted once per [`TokenStore::open`] to prove the keyring accepts writes.
const KEYRING_PROBE_ACCOUNT: &str = "hyperclay-sync-probe";

/// A token as the client keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredToken {
    pub access_token: String,
    pub expires_at: Timestamp,
    pub user: User,
}

// Hand-written so that `{:?}` anywhere (logs, panics) never shows the token.
impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish()
    }
}

impl From<TokenResponse> for StoredToken {
    fn from(t: TokenResponse) -> Self {
        StoredToken {
            access_token: t.access_token,
            expires_at: t.expires_at,
            user: t.user,
        }
    }
}

/// Where a [`TokenStore`] keeps its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenBackend {
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// A 0600 JSON file, used where no working keyring exists (headless Linux).
    File(PathBuf),
}

/// The token of one server, in the keyring or in a private file.
#[derive(Debug)]
pub struct TokenStore {
    server_url: String,
    backend: TokenBackend,
    /// The file fallback's location. With the keyring backend it is still read once (a token
    /// saved while the keyring was locked moves into the keyring) and always cleared on logout.
    file: PathBuf,
}

/// The on-disk form of the file fallback; the URL makes the file self-describing.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenFile {
    server_url: String,
    token: StoredToken,
}

impl TokenStore {
    /// Probes the OS keyring with a real write and delete (keyring 4 reports a locked Secret
    /// Service as fine and then fails every write) and falls back to a 0600 file under `home`,
    /// saying so in the log.
    pub fn open(home: &Path, server_url: &str) -> TokenStore {
        let file = token_file(home, server_url);
        match probe_keyring() {
            Ok(()) => TokenStore {
                server_url: base_url(server_url).to_owned(),
                backend: TokenBackend::Keyring,
                file,
            },
            Err(reason) => {
                log::warn!(
                    "The OS keyring is not usable ({reason}); the login token is kept in {} instead, readable only by you",
                    file.display()
                );
                Self::file_only(home, server_url)
            }
        }
    }

    /// A store that never touches the keyring: for tests, and for callers that know there is none.
    pub fn file_only(home: &Path, server_url: &str) -> TokenStore {
        let file = token_file(home, server_url);
        TokenStore {
            server_url: base_url(server_url).to_owned(),
            backend: TokenBackend::File(file.clone()),
            file,
        }
    }

    pub fn backend(&self) -> &TokenBackend {
        &self.backend
    }

    /// The stored token, or `None` when logged out.
    pub fn load(&self) -> Result<Option<StoredToken>, AuthError> {
        match self.backend {
            TokenBackend::File(_) => self.load_file(),
            TokenBackend::Keyring => {
                if let Some(token) = self.load_keyring()? {
                    return Ok(Some(token));
                }
                let Some(token) = self.load_file()? else {
                    return Ok(None);
                };
                // Saved earlier while the keyring was unusable: move it where it belongs.
                self.save_keyring(&token)?;
                remove_if_present(&self.file)?;
                log::info!("Moved the stored login into the OS keyring");
                Ok(Some(token))
            }
        }
    }

    pub fn save(&self, token: &StoredToken) -> Result<(), AuthError> {
        match self.backend {
            TokenBackend::File(_) => self.save_file(token),
            TokenBackend::Keyring => self.save_keyring(token),
        }
    }

    /// Forgets the token everywhere it could be. Clearing an empty store is fine.
    pub fn clear(&self) -> Result<(), AuthError> {
        if self.backend == TokenBackend::Keyring {
            match self.keyring_entry()?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(AuthError::Store(format!("keyring: {e}"))),
            }
        }
        remove_if_present(&self.file)
    }

    fn keyring_entry(&self) -> Result<keyring::Entry, AuthError> {
        keyring::Entry::new(KEYRING_SERVICE, &self.server_url)
            .map_err(|e| AuthError::Store(format!("keyring: {e}")))
    }

    fn load_keyring(&self) -> Result<Option<StoredToken>, AuthError> {
        match self.keyring_entry()?.get_password() {
            Ok(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| AuthError::Malformed(format!("the token in the keyring: {e}"))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(AuthError::Store(format!("keyring: {e}"))),
        }
    }

    fn save_keyring(&self, token: &StoredToken) -> Result<(), AuthError> {
        let json = serde_json::to_string(token)
            .map_err(|e| AuthError::Store(format!("encoding the token: {e}")))?;
        self.keyring_entry()?
            .set_password(&json)
            .map_err(|e| AuthError::Store(format!("keyring: {e}")))
    }

    fn load_file(&self) -> Result<Option<StoredToken>, AuthError> {
        let bytes = match fs::read(&self.file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_io(&self.file, e)),
        };
        let stored: TokenFile = serde_json::from_slice(&bytes).map_err(|e| {
            AuthError::Malformed(format!("the token file {}: {e}", self.file.display()))
        })?;
        // File names are a hash of the URL; a file for another server is not ours to use.
        Ok((stored.server_url == self.server_url).then_some(stored.token))
    }

    fn save_file(&self, token: &StoredToken) -> Result<(), AuthError> {
        let json = serde_json::to_vec_pretty(&TokenFile {
            server_url: self.server_url.clone(),
            token: token.clone(),
        })
        .map_err(|e| AuthError::Store(format!("encoding the token: {e}")))?;
        crate::home::data_dir::write_private(&self.file, &json).map_err(|e| store_io(&self.file, e))
    }
}

fn token_file(home: &Path, server_url: &str) -> PathBuf {
    let digest = sha256_hex(base_url(server_url).as_bytes());
    home.join("tokens").join(format!("{}.json", &digest[..16]))
}

fn probe_keyring() -> Result<(), keyring::Error> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, KEYRING_PROBE_ACCOUNT)?;
    entry.set_password("probe")?;
    entry.delete_credential()
}

fn remove_if_present(path: &Path) -> Result<(), AuthError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(store_io(path, e)),
    }
}

fn store_io(path: &Path, e: io::Error) -> AuthError {
    AuthError::Store(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str) -> StoredToken {
        StoredToken {
            access_token: format!("header.payload-of-{name}.signature"),
            expires_at: Timestamp::from_millis(1_764_151_200_123),
            user: User {
                id: format!("id-{name}"),
                name: name.to_owned(),
            },
        }
    }

    #[test]
    fn file_store_round_trips_and_clears() {
        let home = tempfile::tempdir().unwrap();
        let store = TokenStore::file_only(home.path(), "http://127.0.0.1:9/");
        assert_eq!(store.load().unwrap(), None);
        store.save(&token("demo")).unwrap();
        assert_eq!(store.load().unwrap(), Some(token("demo")));
        store.save(&token("other")).unwrap();
        assert_eq!(store.load().unwrap(), Some(token("other")));
        store.clear().unwrap();
        assert_eq!(store.load().unwrap(), None);
        store.clear().unwrap();
    }

    #[test]
    fn one_entry_per_server() {
        let home = tempfile::tempdir().unwrap();
        let a = TokenStore::file_only(home.path(), "http://127.0.0.1:1");
        let b = TokenStore::file_only(home.path(), "http://127.0.0.1:2");
        a.save(&token("a")).unwrap();
        b.save(&token("b")).unwrap();
        assert_eq!(a.load().unwrap(), Some(token("a")));
        assert_eq!(b.load().unwrap(), Some(token("b")));
        // A trailing slash names the same server.
        let a_slash = TokenStore::file_only(home.path(), "http://127.0.0.1:1/");
        assert_eq!(a_slash.load().unwrap(), Some(token("a")));
        a.clear().unwrap();
        assert_eq!(b.load().unwrap(), Some(token("b")));
    }

    #[cfg(unix)]
    #[test]
    fn token_file_is_private_and_leaves_no_temp_files() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let store = TokenStore::file_only(home.path(), "http://127.0.0.1:9");
        store.save(&token("demo")).unwrap();
        store.save(&token("demo2")).unwrap();
        let TokenBackend::File(path) = store.backend() else {
            panic!("file_only must use a file")
        };
        let mode = fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700, "{dir_mode:o}");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_corrupt_file_is_reported_not_mistaken_for_logged_out() {
        let home = tempfile::tempdir().unwrap();
        let store = TokenStore::file_only(home.path(), "http://127.0.0.1:9");
        store.save(&token("demo")).unwrap();
        let TokenBackend::File(path) = store.backend() else {
            panic!("file_only must use a file")
        };
        fs::write(path, b"{not json").unwrap();
        assert!(matches!(store.load(), Err(AuthError::Malformed(_))));
        store.clear().unwrap();
        assert_eq!(store.load().unwrap(), None);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let shown = format!("{:?}", token("demo"));
        assert!(!shown.contains("payload-of-demo"), "{shown}");
        assert!(shown.contains("demo"));
    }
}
