//! Waits on a condition, polled until a deadline: the only way the tests and the benchmark wait
//! for something to happen. Never a fixed sleep, and never an assertion on how long it took.
//!
//! Every deadline is multiplied by [`scale`] (`HYPERCLAY_TEST_TIME_SCALE`, default 1), so a
//! loaded or slow machine raises them all at once instead of a test failing because a healthy
//! run used most of its time; scripts/test.sh sets 3. A deadline is the most a test waits on a
//! failure: a passing run returns as soon as its condition holds.

use std::time::{Duration, Instant};

/// How often a condition is polled unless a caller needs finer timing.
pub const POLL: Duration = Duration::from_millis(20);

/// The variable that scales every deadline of the tests.
pub const SCALE_VAR: &str = "HYPERCLAY_TEST_TIME_SCALE";

/// The factor every test deadline is multiplied by: `HYPERCLAY_TEST_TIME_SCALE` when it is a
/// number of at least 1, else 1.
pub fn scale() -> f64 {
    parse_scale(std::env::var(SCALE_VAR).ok().as_deref())
}

fn parse_scale(value: Option<&str>) -> f64 {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 1.0)
        .map_or(1.0, |f| f.min(100.0))
}

/// `deadline` times [`scale`]: for a test's own `Instant::now() + …` deadlines.
pub fn scaled(deadline: Duration) -> Duration {
    deadline.mul_f64(scale())
}

/// Polls `cond` every [`POLL`] until it holds; false when `deadline` passes first.
pub fn until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    until_some(deadline, POLL, || cond().then_some(())).is_some()
}

/// Polls `cond` for at most `pause`, NOT scaled: a scenario's own pause ("let two polls go by,
/// or 2 s"), which returns early when `cond` holds, where a longer wait on a slow machine would
/// only make the run longer.
pub fn pause_until(pause: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + pause;
    while !cond() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// Polls `check` every `every` until it gives a value; `None` when `deadline` (scaled by
/// [`scale`]) passes first.
pub fn until_some<T>(
    deadline: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + scaled(deadline);
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
    fn the_scale_is_a_number_of_at_least_one() {
        assert_eq!(parse_scale(None), 1.0);
        assert_eq!(parse_scale(Some("3")), 3.0);
        assert_eq!(parse_scale(Some(" 2.5 ")), 2.5);
        assert_eq!(parse_scale(Some("0.1")), 1.0, "never shorter than written");
        assert_eq!(parse_scale(Some("fast")), 1.0);
        assert_eq!(parse_scale(Some("inf")), 1.0);
        assert_eq!(parse_scale(Some("1e9")), 100.0, "capped");
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
