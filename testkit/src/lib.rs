//! The test kit: the processes the end-to-end tests and the benchmark (xtask) drive, started one
//! way for both. The reference server (`bin` finds the built programs, `http` is the one HTTP client of the tests and the bench, `server`, and `test_server` for the tests' temp-dir
//! server with its admin helpers), signed test releases (`release`), the sync client (`client`), the screen rig of
//! Xvfb, a private session bus and a tray host (`screen`), and waits on conditions with a
//! deadline (`wait`). It only ever signals or kills processes it started itself, never prints a
//! token, and installs nothing: the tools come from scripts/setup.sh.

pub mod bin;
pub mod client;
pub mod http;
pub mod release;
pub mod screen;
pub mod server;
pub mod test_server;
pub mod wait;

pub use release::ReleaseKey;
pub use test_server::{ServerOptions, TestServer};

use std::process::Child;
use std::time::Duration;

/// Why a process of the kit could not be started or did not come up.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("could not start {program} ({hint}): {source}")]
    Spawn {
        program: String,
        hint: &'static str,
        source: std::io::Error,
    },
    #[error("{what} did not come up: {detail}")]
    NotReady { what: &'static str, detail: String },
    #[error("{what} failed: {detail}")]
    Failed { what: String, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(
        "pid {pid} ignored signal {signal} (SIGTERM 15, SIGINT 2) for {grace:?} and was killed"
    )]
    IgnoredTerm {
        pid: u32,
        signal: libc::c_int,
        grace: Duration,
    },
}

/// SIGTERM to our own child, as a logout or a session's end would, then SIGKILL if it is still
/// there after `grace`. The child is reaped either way.
pub fn terminate(child: &mut Child, grace: Duration) -> Result<(), KitError> {
    terminate_with(child, libc::SIGTERM, grace)
}

/// [`terminate`] for the client under test: with the signal that stops it politely where it
/// runs (`bin::client_stop_signal`: SIGINT under Wine).
pub fn terminate_client(child: &mut Child, grace: Duration) -> Result<(), KitError> {
    terminate_with(child, bin::client_stop_signal(), grace)
}

fn terminate_with(child: &mut Child, signal: libc::c_int, grace: Duration) -> Result<(), KitError> {
    if let Ok(Some(_)) = child.try_wait() {
        return Ok(());
    }
    let pid = child.id();
    #[cfg(unix)]
    if let Ok(raw) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet, so the pid
        // cannot have been reused by another process.
        unsafe {
            libc::kill(raw, signal);
        }
    }
    // Windows has no signals to send: the grace below ends in a kill.
    if wait::until(grace, || matches!(child.try_wait(), Ok(Some(_)))) {
        return Ok(());
    }
    kill(child);
    Err(KitError::IgnoredTerm { pid, signal, grace })
}

/// SIGKILL and reap our own child; for drops, where nothing is left to report to.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
