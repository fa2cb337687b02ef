//! The CloudWatch sink's retry loop: one `PutMetricData` request retried with exponential
//! backoff and jitter until the flush's deadline. The SDK's own retry layer is off; this
//! loop is the only one, so the deadline bounds everything.
//!
//! Each attempt gets at most half of what is left (all of it when little is left), so a
//! connection that went silent during a freeze costs one bounded attempt and the retry
//! still has time on a fresh connection.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use super::CloudWatchError;

/// Why an attempt failed, as the loop sees it.
#[derive(Debug)]
pub enum Failure {
    /// Throttling, 5xx, timeouts, connection errors: worth another attempt.
    Transient(CloudWatchError),
    /// Any other 4xx: the request will never be accepted; its datums are dropped.
    Rejected(CloudWatchError),
}

/// How a request ended.
#[derive(Debug)]
pub enum Outcome {
    /// CloudWatch accepted it.
    Sent,
    /// CloudWatch refused it for good.
    Rejected(CloudWatchError),
    /// The deadline came first; the last failure says why.
    GaveUp(CloudWatchError),
}

/// An attempt with less time than this is not started.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);
/// Below twice this much time left, an attempt gets all of it rather than half.
const HALVING_FLOOR: Duration = Duration::from_millis(100);

/// Exponential backoff with equal jitter: the n-th wait (from 0) is between half and all of
/// `min(max, base * 2^n)`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first wait's ceiling.
    pub base: Duration,
    /// The largest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(25),
            max: Duration::from_secs(1),
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
        ceiling / 2 + ceiling.div_f64(2.0).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// The time one attempt may take with `remaining` left before the deadline.
pub fn attempt_timeout(remaining: Duration) -> Duration {
    if remaining >= HALVING_FLOOR * 2 {
        remaining / 2
    } else {
        remaining
    }
}

/// A number in `[0, 1)` from the standard library's random hasher keys.
fn jitter(n: u32) -> f64 {
    let bits = RandomState::new().hash_one(n);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs `attempt` (given its timeout) until it succeeds, is rejected, or the deadline leaves
/// no room for another try. Returns by `deadline`.
pub async fn send_with_retry<F, Fut>(deadline: Instant, backoff: Backoff, mut attempt: F) -> Outcome
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let mut last = CloudWatchError::Deadline;
    for n in 0u32.. {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining < MIN_ATTEMPT {
            break;
        }
        let timeout = attempt_timeout(remaining);
        let hard_stop = tokio::time::Instant::from_std(Instant::now() + timeout);
        match tokio::time::timeout_at(hard_stop, attempt(timeout)).await {
            Ok(Ok(())) => return Outcome::Sent,
            Ok(Err(Failure::Rejected(error))) => return Outcome::Rejected(error),
            Ok(Err(Failure::Transient(error))) => last = error,
            Err(_) => last = CloudWatchError::AttemptTimeout(timeout),
        }
        let wait = backoff.delay(n, jitter(n));
        if Instant::now() + wait + MIN_ATTEMPT > deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Outcome::GaveUp(last)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_bounded_jitter() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(0, 0.0), Duration::from_micros(12_500));
        assert_eq!(backoff.delay(0, 0.999_999).as_millis(), 24);
        assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(25));
        assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(100));
        assert_eq!(
            backoff.delay(6, 0.0),
            Duration::from_millis(500),
            "capped at 1 s"
        );
        assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_the_unit_interval_and_varies() {
        let samples: Vec<f64> = (0..64).map(jitter).collect();
        assert!(samples.iter().all(|j| (0.0..1.0).contains(j)));
        assert!(samples.iter().any(|&j| j != samples[0]));
    }

    #[test]
    fn an_attempt_gets_half_of_what_is_left_until_little_is_left() {
        assert_eq!(
            attempt_timeout(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
        assert_eq!(
            attempt_timeout(Duration::from_millis(200)),
            Duration::from_millis(100)
        );
        assert_eq!(
            attempt_timeout(Duration::from_millis(150)),
            Duration::from_millis(150)
        );
    }

    fn transient() -> Failure {
        Failure::Transient(CloudWatchError::Deadline)
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = Cell::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = send_with_retry(deadline, Backoff::default(), |_| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(transient()) } else { Ok(()) } }
        })
        .await;
        assert!(matches!(outcome, Outcome::Sent), "{outcome:?}");
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test]
    async fn a_rejection_is_not_retried() {
        let calls = Cell::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = send_with_retry(deadline, Backoff::default(), |_| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Rejected(CloudWatchError::Deadline)) }
        })
        .await;
        assert!(matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn failures_give_up_by_the_deadline() {
        let calls = Cell::new(0);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(300);
        let outcome = send_with_retry(deadline, Backoff::default(), |_| {
            calls.set(calls.get() + 1);
            async { Err(transient()) }
        })
        .await;
        assert!(matches!(outcome, Outcome::GaveUp(_)), "{outcome:?}");
        assert!(Instant::now() <= deadline, "returned by the deadline");
        assert!(
            (3..=12).contains(&calls.get()),
            "backed off: {} calls",
            calls.get()
        );
    }

    #[tokio::test]
    async fn a_silent_attempt_is_cut_at_its_timeout_and_retried() {
        let timeouts = std::cell::RefCell::new(Vec::new());
        let deadline = Instant::now() + Duration::from_millis(400);
        let outcome = send_with_retry(deadline, Backoff::default(), |timeout| {
            timeouts.borrow_mut().push(timeout);
            let first = timeouts.borrow().len() == 1;
            async move {
                if first {
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
        })
        .await;
        assert!(matches!(outcome, Outcome::Sent), "{outcome:?}");
        let timeouts = timeouts.into_inner();
        assert_eq!(timeouts.len(), 2);
        assert!(timeouts[0] <= Duration::from_millis(200), "{timeouts:?}");
        assert!(Instant::now() <= deadline);
    }
}
