//! What an error means, decided here and nowhere else: whether it ends the session (and how the
//! engine then behaves), is retried on the schedule, is shown to the user as their one error
//! line, or stays a sync issue of the one file it concerns. It must never do I/O or log: callers
//! act on the verdict.

use crate::local::folder_guard::GuardError;
use crate::remote::RemoteError;
use crate::remote::listing::PageError;
use crate::status::state::UserError;

/// Why a session stopped; the engine decides from it what to try next.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    Offline(String),
    Unauthorized,
    SubscriptionRequired,
    /// The server no longer accepts this version (426, or a status naming a higher minimum):
    /// nothing more is sent until the app is updated.
    Outdated {
        minimum: Option<semver::Version>,
        download: Option<String>,
    },
    Restart(String),
    /// The sync folder is missing or replaced: paused until it is back (no call is made).
    FolderUnavailable(GuardError),
    Failed(String),
}

/// A session-wide call (status, a listing page, a poll) failed for good: how the session ends.
pub(crate) fn session_end(e: RemoteError) -> SessionEnd {
    if let Some(why) = unreachable_because(&e) {
        return SessionEnd::Offline(why);
    }
    match e {
        RemoteError::Unauthorized => SessionEnd::Unauthorized,
        RemoteError::SubscriptionRequired => SessionEnd::SubscriptionRequired,
        RemoteError::ClientOutdated { minimum, download } => {
            SessionEnd::Outdated { minimum, download }
        }
        RemoteError::CursorExpired => SessionEnd::Restart("the cursor expired".into()),
        other => SessionEnd::Failed(other.to_string()),
    }
}

/// Why the server could not be reached, when that is what `e` says: the network's or the
/// server's words, for the offline line.
pub(crate) fn unreachable_because(e: &RemoteError) -> Option<String> {
    match e {
        RemoteError::Unreachable(m)
        | RemoteError::NothingListening(m)
        | RemoteError::Network(m) => Some(m.to_string()),
        RemoteError::Server { status, message } => {
            Some(format!("server error {status}: {message}"))
        }
        _ => None,
    }
}

/// The offline line's cause: "cannot reach https://hyperclay.com: connection refused".
pub(crate) fn offline_cause(server: &str, why: &str) -> String {
    format!("cannot reach {server}: {why}")
}

/// A listing that failed: the remote's error as above; one the server would not end stops the
/// session rather than grow without bound.
pub(crate) fn listing_end(e: PageError) -> SessionEnd {
    match e {
        PageError::Remote(e) => session_end(e),
        PageError::Listing(e) => SessionEnd::Failed(e.to_string()),
    }
}

/// Is a failed session-wide call worth another try on the retry schedule before the session is
/// given up? Only trouble that may pass by itself is: a server restarting (its host refuses the
/// connection) too, so a restart costs neither "offline" nor a full listing. A host that cannot
/// be reached at all means no network, where the seed wants no retries.
pub(crate) fn call_retryable(e: &RemoteError) -> bool {
    e.is_retryable() || matches!(e, RemoteError::NothingListening(_))
}

/// What one file's failed transfer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileFault {
    /// Trouble that may pass (the network, a server error): tried again on the retry schedule;
    /// after the last retry it becomes a failed sync issue.
    Retry,
    /// The whole session cannot go on (the server went away, the login or subscription ended).
    EndSession,
    /// The account is out of sites: the app is held back until the site count allows, and the
    /// user sees the quota line meanwhile.
    HeldBack,
    /// The user must act (an app name another account owns): their error line says so, and the
    /// file is a failed sync issue.
    Tell(UserError),
    /// The server no longer has the file (deleted since it was listed): its tombstone comes
    /// with the next poll, so there is nothing to tell.
    Gone,
    /// Only this file failed; it is a failed sync issue and nothing else changes.
    Issue,
}

pub(crate) fn file_fault(e: &RemoteError) -> FileFault {
    match e {
        RemoteError::Network(_) | RemoteError::Server { .. } => FileFault::Retry,
        RemoteError::Unreachable(_)
        | RemoteError::NothingListening(_)
        | RemoteError::Unauthorized
        | RemoteError::SubscriptionRequired
        | RemoteError::ClientOutdated { .. } => FileFault::EndSession,
        RemoteError::SiteLimit => FileFault::HeldBack,
        RemoteError::NameTaken => FileFault::Tell(UserError::NameTaken),
        RemoteError::NotFound => FileFault::Gone,
        _ => FileFault::Issue,
    }
}

/// A moment that may make the user's error line untrue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cleared {
    /// A session started: the server answered, the folder is there and the subscription is paid.
    SessionStarted,
    /// Every local file the folder refused has since been written.
    FolderWritable,
    /// No app is held back by the site quota any more.
    NothingHeldBack,
}

/// Whether `error` stops being true at `moment`. The quota line is not cleared by a session
/// start or another file's upload: only once no app is held back by it.
pub(crate) fn clears(error: &UserError, moment: Cleared) -> bool {
    match moment {
        Cleared::SessionStarted => matches!(
            error,
            UserError::SubscriptionRequired
                | UserError::FolderNotWritable(_)
                | UserError::FolderUnavailable(_)
                | UserError::NameTaken
                | UserError::Other(_)
        ),
        Cleared::FolderWritable => matches!(error, UserError::FolderNotWritable(_)),
        Cleared::NothingHeldBack => matches!(error, UserError::SiteLimit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::server_text::ServerText;
    use crate::remote::transport::Cause;

    #[test]
    fn passing_trouble_is_retried_and_a_lost_login_ends_the_session() {
        assert_eq!(
            file_fault(&RemoteError::Network(Cause::text("x"))),
            FileFault::Retry
        );
        let server = RemoteError::Server {
            status: 503,
            message: ServerText::default(),
        };
        assert_eq!(file_fault(&server), FileFault::Retry);
        assert!(call_retryable(&server));
        assert_eq!(
            file_fault(&RemoteError::Unauthorized),
            FileFault::EndSession
        );
        assert_eq!(file_fault(&RemoteError::SiteLimit), FileFault::HeldBack);
        assert_eq!(file_fault(&RemoteError::NotFound), FileFault::Gone);
        assert_eq!(file_fault(&RemoteError::TooLarge), FileFault::Issue);
        assert!(!call_retryable(&RemoteError::Unauthorized));
        // A restarting server is worth a poll's retries, a machine without a network is not;
        // a transfer that meets either ends the session.
        let restarting = RemoteError::NothingListening(Cause::text("connection refused"));
        assert!(call_retryable(&restarting));
        assert_eq!(file_fault(&restarting), FileFault::EndSession);
        let no_network = RemoteError::Unreachable(Cause::text("no route to host"));
        assert!(!call_retryable(&no_network));
        assert_eq!(file_fault(&no_network), FileFault::EndSession);
    }

    #[test]
    fn the_quota_line_outlives_a_session_start_and_ends_when_nothing_is_held_back() {
        assert!(!clears(&UserError::SiteLimit, Cleared::SessionStarted));
        assert!(!clears(&UserError::SiteLimit, Cleared::FolderWritable));
        assert!(clears(&UserError::SiteLimit, Cleared::NothingHeldBack));
        assert!(clears(
            &UserError::Other("x".into()),
            Cleared::SessionStarted
        ));
        assert!(!clears(&UserError::LoginRefused, Cleared::SessionStarted));
    }
}
