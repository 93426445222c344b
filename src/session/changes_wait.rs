//! The long-poll: one thread per session that holds a `/changes?cursor=C&wait=N` request open
//! and hands whatever comes back to the engine through its channel, so the engine thread never
//! blocks on the wait (pushes and commands go on meanwhile). It only asks when told to, with
//! the cursor and token it is given: it never advances the cursor or applies a change itself.

use std::sync::mpsc::{self, Sender};

use crate::engine::event::Event;
use crate::home::config::LONG_POLL_WAIT;
use crate::remote::Remote;

/// One waited request to make.
struct Ask {
    remote: Remote,
    cursor: String,
}

/// The waiting thread of one session. Dropping it lets the thread end once its request in
/// flight returns (at most the wait plus its margin); a late reply carries the session's
/// number, so the engine drops it.
pub(crate) struct ChangesWait {
    asks: Sender<Ask>,
}

impl ChangesWait {
    /// Starts the thread for session `session`; replies come back as
    /// [`Event::ChangesArrived`].
    pub(crate) fn start(session: u64, events: Sender<Event>) -> std::io::Result<ChangesWait> {
        let (asks, asked) = mpsc::channel::<Ask>();
        std::thread::Builder::new()
            .name("changes-wait".into())
            .spawn(move || {
                while let Ok(ask) = asked.recv() {
                    let reply = ask.remote.changes(Some(&ask.cursor), Some(LONG_POLL_WAIT));
                    if events.send(Event::ChangesArrived(session, reply)).is_err() {
                        break;
                    }
                }
            })?;
        Ok(ChangesWait { asks })
    }

    /// Asks for the changes after `cursor`, waiting for one; false when the thread is gone.
    pub(crate) fn ask(&self, remote: Remote, cursor: String) -> bool {
        self.asks.send(Ask { remote, cursor }).is_ok()
    }
}
