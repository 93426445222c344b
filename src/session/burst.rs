//! The count of a burst, for "Syncing N of M": the files the watcher (or a scan's fresh-write
//! rule) has in hand from the moment something waits until nothing does, counted across the
//! session's steps. Pure: the session tells it what it looked at, transferred and still has
//! waiting, and shows what it returns. It must never say "nothing waits" while something does.

use crate::status::state::Progress;

/// A burst this large gives its memory back once it is over (a trim costs a few ms; a save or
/// two does not need one).
pub(crate) const BIG_BURST: u64 = 256;

/// The files of the burst in progress: seen so far (`total`) and settled so far (`done`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Burst {
    done: u64,
    total: u64,
}

impl Burst {
    /// Whether a burst is being counted (something waited since it last settled).
    pub(crate) fn in_progress(&self) -> bool {
        self.total > 0
    }

    /// `looked` paths were looked at and `transfers` of them need a transfer now, while
    /// `waiting` more wait: the ones needing none are settled already. Returns the count to
    /// show while the transfers run: (done before them, total).
    pub(crate) fn transferring(&mut self, looked: u64, transfers: u64, waiting: u64) -> (u64, u64) {
        self.done += looked.saturating_sub(transfers);
        self.total = self.total.max(self.done + transfers + waiting);
        (self.done, self.total)
    }

    /// `n` transfers finished (whatever their outcome: a failure is the retry schedule's).
    pub(crate) fn transferred(&mut self, n: u64) {
        self.done += n;
        self.total = self.total.max(self.done);
    }

    /// After a step: the count to show while `waiting` paths wait, or `None` (and the burst
    /// over) when none does. The second value is the size of a burst that just ended.
    pub(crate) fn settle(&mut self, waiting: u64) -> (Option<Progress>, u64) {
        if waiting == 0 {
            let ended = self.total;
            *self = Burst::default();
            return (None, ended);
        }
        self.total = self.total.max(self.done + waiting);
        let progress = Progress {
            done: self.done,
            total: self.total,
        };
        (Some(progress), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(done: u64, total: u64) -> Option<Progress> {
        Some(Progress { done, total })
    }

    #[test]
    fn nothing_waiting_shows_nothing_and_ends_no_burst() {
        let mut b = Burst::default();
        assert_eq!(b.settle(0), (None, 0));
        assert!(!b.in_progress());
    }

    #[test]
    fn a_burst_counts_across_steps_and_m_grows_as_more_is_found() {
        let mut b = Burst::default();
        // A step finds 3 waiting (a folder dropped in: fresh files held for a look).
        assert_eq!(b.settle(3), (shown(0, 3), 0));
        // Next step: 3 looked at, all need uploading, 10 more have turned up meanwhile.
        assert_eq!(b.transferring(3, 3, 10), (0, 13));
        b.transferred(3);
        assert_eq!(b.settle(10), (shown(3, 13), 0));
        // 10 looked at, 2 of them our own downloads coming back: 8 transfers.
        assert_eq!(b.transferring(10, 8, 0), (5, 13));
        b.transferred(8);
        assert_eq!(b.settle(0), (None, 13), "over, and it was 13 files");
        assert!(!b.in_progress());
    }

    #[test]
    fn the_count_never_says_more_done_than_there_are() {
        let mut b = Burst::default();
        b.settle(1);
        // More looked at than the count knew of (signals that came in the same step).
        let (done, total) = b.transferring(5, 1, 0);
        assert!(done <= total);
        b.transferred(1);
        let (p, _) = b.settle(2);
        let p = p.unwrap();
        assert!(p.done <= p.total, "{p:?}");
    }
}
