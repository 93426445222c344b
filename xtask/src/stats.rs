//! Distributions of one run's samples: nearest-rank percentiles, never interpolated, so every
//! figure printed is a sample that really happened. Pure arithmetic; it must never judge a
//! figure (the report does that against the targets).

use serde_json::{Value, json};

/// The shape of one set of samples, in the samples' own unit (milliseconds throughout the bench).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dist {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Dist {
    /// None for no samples: a figure with nothing behind it is reported as missing, not as 0.
    pub fn of(samples: &[f64]) -> Option<Dist> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        Some(Dist {
            n,
            min: s[0],
            p50: rank(&s, 50.0),
            p90: rank(&s, 90.0),
            p99: rank(&s, 99.0),
            max: s[n - 1],
            mean: s.iter().sum::<f64>() / n as f64,
        })
    }

    pub fn to_json(self) -> Value {
        json!({
            "n": self.n, "min": round3(self.min), "p50": round3(self.p50), "p90": round3(self.p90),
            "p99": round3(self.p99), "max": round3(self.max), "mean": round3(self.mean),
        })
    }

    /// `p50 / p90 / p99 / max` in ms, as the report's table shows it.
    pub fn brief(self) -> String {
        format!(
            "{} / {} / {} / {} ms",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// The nearest-rank percentile of sorted samples.
fn rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let idx = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[idx.clamp(1, n) - 1]
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Milliseconds with as many digits as they deserve.
pub fn ms(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A ratio like `2.4×`.
pub fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.1}×")
    }
}

pub fn bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 10 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_are_real_samples() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = Dist::of(&samples).unwrap();
        assert_eq!(
            (d.p50, d.p90, d.p99, d.max, d.min),
            (50.0, 90.0, 99.0, 100.0, 1.0)
        );
        assert_eq!(d.mean, 50.5);
        let one = Dist::of(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p99, one.max), (7.0, 7.0, 7.0));
        let unsorted = Dist::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((unsorted.p50, unsorted.max), (2.0, 3.0));
    }

    #[test]
    fn no_samples_is_no_figure() {
        assert_eq!(Dist::of(&[]), None);
    }

    #[test]
    fn formatting_keeps_sensible_digits() {
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(1234.5), "1234");
        assert_eq!(ratio(2.44), "2.4×");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(20 * 1024), "20.0 KiB");
    }
}
