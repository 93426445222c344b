//! The Hyperclay local-sync protocol, version 1: the wire types, the path rules and the small
//! helpers that the client (`hyperclay-sync`) and the reference server (`hyperclay-server`) must
//! agree on to the letter. See `docs/protocol.md`.
//!
//! This crate does no I/O and holds no policy: it only says what is well-formed.

pub mod checksum;
pub mod path;
pub mod timestamp;
pub mod wire;

pub use checksum::{Checksum, ChecksumError, sha256_hex};
pub use path::{EntryName, PathError, RemotePath, app_name_of, collision_key, is_deceptive_char};
pub use timestamp::Timestamp;
pub use wire::*;

/// The largest body either side accepts for one file: 20 MiB.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// Every route of the protocol lives under this prefix.
pub const API_PREFIX: &str = "/api/local-sync";

/// Header carrying a file's modification time (RFC 3339, milliseconds, UTC).
pub const HEADER_MODIFIED_AT: &str = "X-Modified-At";

/// Header carrying a file's SHA-256 checksum (lowercase hex).
pub const HEADER_CHECKSUM: &str = "X-Checksum";

/// The default number of entries in one page of `/changes`, and the largest a client may ask for.
pub const CHANGES_DEFAULT_LIMIT: usize = 1000;
pub const CHANGES_MAX_LIMIT: usize = 5000;

/// The longest `wait` (seconds) a `/changes` request may ask for; more is `invalid_request`.
pub const CHANGES_MAX_WAIT_SECS: u64 = 60;
