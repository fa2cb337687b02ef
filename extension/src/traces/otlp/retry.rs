//! The OTLP exporter's retry policy, as pure functions: which answers are worth another
//! attempt (OTLP/HTTP: 429, 502, 503, 504 and connection failures; no other status),
//! `Retry-After` in seconds, exponential backoff with jitter, and how long one attempt may
//! take before the deadline.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use hyper::StatusCode;
use hyper::header::HeaderValue;

/// An attempt with less time than this left is not started.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(10);
/// Below twice this much time left, an attempt gets all of it rather than half.
const HALVING_FLOOR: Duration = Duration::from_millis(100);

/// What to do with a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: accepted (maybe partially).
    Accepted,
    /// Worth another attempt.
    Retry,
    /// Never going to be accepted: drop.
    Refused,
}

/// The verdict for `status` under the OTLP/HTTP spec.
pub fn verdict(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Accepted,
        429 | 502 | 503 | 504 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

/// A `Retry-After` given in seconds (the HTTP-date form is ignored: backoff applies).
pub fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds = value?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// Exponential backoff with equal jitter: wait `n` (from 0) lies between half and all of
/// `min(max, base * 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait's ceiling.
    pub base: Duration,
    /// The largest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

impl Backoff {
    /// The wait before retry `n` (0-based), with `jitter` in `[0, 1)`.
    pub fn delay(&self, n: u32, jitter: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(n.min(20)))
            .min(self.max);
        ceiling / 2 + (ceiling / 2).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// A number in `[0, 1)` from the standard library's random hasher keys.
pub fn jitter(n: u32) -> f64 {
    let bits = RandomState::new().hash_one(n);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// How long an attempt may take with `remaining` left and a per-attempt `limit`: at most
/// half of what is left (all of it when little is left), so an attempt on a connection that
/// died during a freeze still leaves time for a retry on a fresh one.
pub fn attempt_timeout(remaining: Duration, limit: Duration) -> Duration {
    let share = if remaining >= HALVING_FLOOR * 2 {
        remaining / 2
    } else {
        remaining
    };
    share.min(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_otlp_retry_rules() {
        let table = [
            (200, Verdict::Accepted),
            (202, Verdict::Accepted),
            (400, Verdict::Refused),
            (401, Verdict::Refused),
            (404, Verdict::Refused),
            (413, Verdict::Refused),
            (429, Verdict::Retry),
            (500, Verdict::Refused),
            (501, Verdict::Refused),
            (502, Verdict::Retry),
            (503, Verdict::Retry),
            (504, Verdict::Retry),
            (302, Verdict::Refused),
        ];
        for (code, expected) in table {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            assert_eq!(verdict(status), expected, "{code}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let table = [
            ("3", Some(Duration::from_secs(3))),
            (" 0 ", Some(Duration::ZERO)),
            ("99999999", Some(Duration::from_secs(3600))),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("-1", None),
            ("1.5", None),
        ];
        for (value, expected) in table {
            let header = HeaderValue::from_static(value);
            assert_eq!(retry_after(Some(&header)), expected, "{value}");
        }
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn backoff_doubles_within_its_jitter_band_up_to_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(backoff.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(backoff.delay(1, 0.5), Duration::from_millis(150));
        assert_eq!(backoff.delay(2, 0.0), Duration::from_millis(200));
        assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(250));
        assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_millis(500));
        for n in 0..50 {
            let j = jitter(n);
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn attempts_get_half_the_time_left_within_the_limit() {
        let limit = Duration::from_secs(10);
        assert_eq!(
            attempt_timeout(Duration::from_secs(2), limit),
            Duration::from_secs(1)
        );
        assert_eq!(
            attempt_timeout(Duration::from_millis(150), limit),
            Duration::from_millis(150)
        );
        assert_eq!(
            attempt_timeout(Duration::from_secs(60), limit),
            Duration::from_secs(10)
        );
    }
}
