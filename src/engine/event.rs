//! What reaches the engine's control loop, from any thread: commands, watcher signals, finished
//! logins and store openings, network changes and long-poll replies.

use crate::auth::{AuthError, StoredToken, TokenStore};
use crate::remote::RemoteError;
use crate::remote::listing::Page;
use crate::status::state::{Command, UpdateProgress};

/// What a long-poll brought back: a page and its size, or why there was none.
pub(crate) type WaitReply = Result<Page, RemoteError>;

/// What reaches the control loop.
pub(crate) enum Event {
    Command(Command),
    /// The session's watcher has signals waiting in its inbox.
    FsReady,
    LoginFinished(Result<StoredToken, AuthError>),
    /// The token store finished opening (on its own thread), with what it held then.
    StoreOpened(TokenStore, Result<Option<StoredToken>, AuthError>),
    /// The OS says a network address came up: worth trying the server now if offline.
    NetworkUp,
    /// The update's worker moved on (or ended).
    Update(UpdateProgress),
    /// A long-poll of session number `.0` came back.
    ChangesArrived(u64, WaitReply),
}
