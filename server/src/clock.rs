//! The server's notion of "now", optionally shifted so that tests can give the server a clock
//! that disagrees with the client's. Every time the server stamps or checks goes through here;
//! nothing in the server may read the system clock directly.

use hyperclay_protocol::Timestamp;

#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    skew_ms: i64,
}

impl Clock {
    /// A clock `skew_ms` milliseconds ahead of the system clock (behind when negative).
    pub fn with_skew_ms(skew_ms: i64) -> Clock {
        Clock { skew_ms }
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::now().offset_by(self.skew_ms)
    }

    /// Seconds since the epoch, as JWT claims count time.
    pub fn now_secs(&self) -> i64 {
        self.now().as_millis().div_euclid(1000)
    }

    /// A client's claimed modification time, never later than the server's own now.
    pub fn clamp(&self, claimed: Timestamp) -> Timestamp {
        clamp_to(claimed, self.now())
    }
}

/// `claimed`, or `now` when `claimed` lies in the future.
pub fn clamp_to(claimed: Timestamp, now: Timestamp) -> Timestamp {
    claimed.min(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_times_are_clamped_to_now_and_past_times_kept() {
        let now = Timestamp::from_millis(1_000_000);
        assert_eq!(clamp_to(Timestamp::from_millis(2_000_000), now), now);
        assert_eq!(
            clamp_to(Timestamp::from_millis(999_999), now),
            Timestamp::from_millis(999_999)
        );
        assert_eq!(clamp_to(now, now), now);
    }

    #[test]
    fn skew_shifts_now() {
        let ahead = Clock::with_skew_ms(3_600_000).now().as_millis();
        let plain = Clock::default().now().as_millis();
        assert!(ahead - plain >= 3_600_000 - 1_000, "{ahead} {plain}");
    }
}
