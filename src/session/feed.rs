//! The remote side's changes as the session receives them: a long-poll held open on its own
//! thread (`changes_wait`) while the server supports it, else a plain poll every poll interval;
//! and the cursor to go on from. It says when a poll is due and hands over the reply in hand;
//! it must never apply a change or advance the cursor past what the session applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::engine::event::{Event, WaitReply};
use crate::remote::listing::Page;
use crate::remote::{Remote, RemoteError};
use crate::session::changes_wait::ChangesWait;

/// Numbers sessions, so a long-poll reply that outlived its session is recognised and dropped.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

pub(crate) struct Feed {
    /// This session's number, carried by its long-poll replies.
    id: u64,
    cursor: String,
    poll_interval: Duration,
    /// When the next plain poll is due; unused while long-polling.
    next_poll: Instant,
    /// The long-poll thread, while the server long-polls.
    waiter: Option<ChangesWait>,
    /// A long-poll reply not yet applied.
    arrived: Option<WaitReply>,
}

impl Feed {
    /// The feed after a full listing that ended at `cursor`.
    pub(crate) fn new(cursor: String, poll_interval: Duration, now: Instant) -> Feed {
        Feed {
            id: SESSIONS.fetch_add(1, Ordering::Relaxed),
            cursor,
            poll_interval,
            next_poll: now + poll_interval,
            waiter: None,
            arrived: None,
        }
    }

    pub(crate) fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The cursor a poll's last page handed back: the next poll goes on from there.
    pub(crate) fn moved_to(&mut self, cursor: String) {
        self.cursor = cursor;
    }

    /// Long-polls from now on, if its thread starts; the first reply says whether the server
    /// really does (else the feed falls back to the plain poll).
    pub(crate) fn start_waiting(&mut self, remote: &Remote, events: Sender<Event>) {
        match ChangesWait::start(self.id, events) {
            Ok(waiter) => {
                self.waiter = Some(waiter);
                self.ask(remote);
            }
            Err(e) => log::warn!(
                "Cannot start waiting for remote changes ({e}); polling every {} s",
                self.poll_interval.as_secs()
            ),
        }
    }

    /// Sends the long-poll thread off with the current cursor and token.
    pub(crate) fn ask(&mut self, remote: &Remote) {
        if let Some(waiter) = &self.waiter
            && !waiter.ask(remote.clone(), self.cursor.clone())
        {
            log::warn!("The wait for remote changes stopped; polling instead");
            self.waiter = None;
        }
    }

    /// A long-poll reply: applied at the next step (if it is this session's).
    pub(crate) fn arrived(&mut self, session: u64, reply: WaitReply) {
        if session == self.id {
            self.arrived = Some(reply);
        }
    }

    pub(crate) fn due(&self, now: Instant) -> bool {
        self.arrived.is_some() || (self.waiter.is_none() && now >= self.next_poll)
    }

    /// When a poll is due; `None` while only a long-poll reply can bring one.
    pub(crate) fn next_wake(&self, now: Instant) -> Option<Instant> {
        match (&self.arrived, &self.waiter) {
            (Some(_), _) => Some(now),
            (None, Some(_)) => None,
            (None, None) => Some(self.next_poll),
        }
    }

    /// A poll starts: the next plain one is due a poll interval from now. Returns the long-poll
    /// reply to apply first, if one came. A reply that does not echo the wait comes from a
    /// server that does not long-poll: from then on the feed polls itself.
    pub(crate) fn take(&mut self, now: Instant) -> Result<Option<Page>, RemoteError> {
        self.next_poll = now + self.poll_interval;
        let Some(reply) = self.arrived.take() else {
            return Ok(None);
        };
        let page = reply?;
        if page.0.wait.is_none() && self.waiter.take().is_some() {
            log::info!(
                "The server does not hold polls open: polling every {} s",
                self.poll_interval.as_secs()
            );
        }
        Ok(Some(page))
    }
}
