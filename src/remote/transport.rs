//! The one mapping of a ureq failure to what it means for this client, used by the protocol
//! calls (`remote`) and the token calls (`auth::api`) alike. The failure itself is kept whole as
//! the cause, so a log reader still has it; its text is neutralised, as a transport error can
//! quote what the server sent.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use super::server_text::ServerText;

/// A failure's cause, kept for `source()`, shared so the errors holding it stay `Clone`.
#[derive(Debug, Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync>);

impl Cause {
    pub fn new(e: impl Error + Send + Sync + 'static) -> Cause {
        Cause(Arc::new(e))
    }

    /// A cause that is only words (tests, and failures found by this client itself).
    pub fn text(words: &str) -> Cause {
        Cause(Arc::from(Box::<dyn Error + Send + Sync>::from(words)))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ServerText::from_wire(&self.0.to_string()).fmt(f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// Two causes are the same when they read the same (errors compare by meaning, not identity).
impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

/// What a failed call's transport error means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The host could not be reached at all (no route, no name, connect timeout).
    Unreachable,
    /// The host answered that nothing listens on the port.
    NothingListening,
    /// A per-read or per-write timeout: a whole window without one byte moving.
    Stalled,
    /// A body passed the limit it was read with.
    TooLarge,
    /// An agent that turns statuses into errors got this one (its body is gone).
    Status(u16),
    /// Anything else: the connection broke or timed out mid-call.
    Broken,
}

/// Classifies `e` and keeps it as the cause (an I/O error as itself, so its words are as before).
pub fn classify(e: ureq::Error) -> (Failure, Cause) {
    use std::io::ErrorKind;
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            (Failure::Unreachable, Cause::new(e))
        }
        ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
            (Failure::NothingListening, Cause::new(io))
        }
        ureq::Error::Io(io) if io.kind() == ErrorKind::NotFound => {
            (Failure::Unreachable, Cause::new(io))
        }
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            (Failure::Unreachable, Cause::new(e))
        }
        ureq::Error::BodyExceedsLimit(_) => (Failure::TooLarge, Cause::new(e)),
        ureq::Error::Timeout(ureq::Timeout::PerRead | ureq::Timeout::PerWrite) => {
            (Failure::Stalled, Cause::new(e))
        }
        ureq::Error::StatusCode(status) => (Failure::Status(status), Cause::new(e)),
        other => (Failure::Broken, Cause::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_and_their_cause_kept() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let (f, cause) = classify(ureq::Error::Io(refused));
        assert_eq!(f, Failure::NothingListening);
        assert_eq!(
            cause.to_string(),
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused).to_string()
        );
        assert_eq!(classify(ureq::Error::HostNotFound).0, Failure::Unreachable);
        assert_eq!(
            classify(ureq::Error::StatusCode(503)).0,
            Failure::Status(503)
        );
        assert_eq!(
            classify(ureq::Error::Timeout(ureq::Timeout::PerRead)).0,
            Failure::Stalled
        );
        let (f, _) = classify(ureq::Error::Io(std::io::Error::other("reset")));
        assert_eq!(f, Failure::Broken);
    }

    #[test]
    fn a_cause_never_shows_raw_server_text() {
        let cause = Cause::text("bad \u{1b}[2J\nline");
        assert!(!cause.to_string().contains('\u{1b}') && !cause.to_string().contains('\n'));
    }
}
