//! Waits on a condition, polled until a deadline: the only way the tests and the benchmark wait
//! for something to happen. Never a fixed sleep, and never an assertion on how long it took.

use std::time::{Duration, Instant};

/// How often a condition is polled unless a caller needs finer timing.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` every [`POLL`] until it holds; false when `deadline` passes first.
pub fn until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    until_some(deadline, POLL, || cond().then_some(())).is_some()
}

/// Polls `check` every `every` until it gives a value; `None` when `deadline` passes first.
pub fn until_some<T>(
    deadline: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_that_becomes_true_is_seen() {
        let mut n = 0;
        assert!(until(Duration::from_secs(30), || {
            n += 1;
            n == 3
        }));
        assert_eq!(n, 3);
    }

    #[test]
    fn a_condition_that_never_holds_gives_up_at_the_deadline() {
        let mut n = 0;
        let got: Option<()> = until_some(Duration::ZERO, Duration::ZERO, || {
            n += 1;
            None
        });
        assert!(got.is_none());
        assert!(n >= 1, "checked at least once");
    }
}
