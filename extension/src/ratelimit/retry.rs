//! The statistics writer's retry loop: one `UpdateItem` retried with exponential backoff
//! and jitter until the flush's deadline, each attempt given at most half of what is left.
//! The same policy as `sink::cloudwatch::retry`, whose loop is tied to the CloudWatch error
//! type; this one is generic over the attempt's result.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

/// An attempt with less time than this is not started.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);
/// Below twice this much time left, an attempt gets all of it rather than half.
const HALVING_FLOOR: Duration = Duration::from_millis(100);
/// The first wait's ceiling.
const BASE: Duration = Duration::from_millis(25);
/// The largest wait.
const MAX: Duration = Duration::from_secs(1);

/// How one attempt ended, as the loop sees it.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Done: stop.
    Done(T),
    /// Worth another attempt.
    Transient(E),
    /// Will never succeed: stop.
    Rejected(E),
}

/// How the loop ended when it did not succeed.
#[derive(Debug)]
pub enum Failed<E> {
    /// Refused for good.
    Rejected(E),
    /// The deadline came first; the last failure, if an attempt ended with one.
    GaveUp(Option<E>),
}

/// The wait before retry `n` (0-based): equal jitter over `min(MAX, BASE * 2^n)`.
fn delay(n: u32) -> Duration {
    let ceiling = BASE.saturating_mul(2u32.saturating_pow(n.min(20))).min(MAX);
    let jitter = (RandomState::new().hash_one(n) >> 11) as f64 / (1u64 << 53) as f64;
    ceiling / 2 + ceiling.div_f64(2.0).mul_f64(jitter)
}

/// Runs `attempt(n, timeout)` until it is done, rejected, or the deadline leaves no room.
pub async fn with_retry<T, E, F, Fut>(deadline: Instant, mut attempt: F) -> Result<T, Failed<E>>
where
    F: FnMut(u32, Duration) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut last = None;
    for n in 0u32.. {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining < MIN_ATTEMPT {
            break;
        }
        let timeout = if remaining >= HALVING_FLOOR * 2 {
            remaining / 2
        } else {
            remaining
        };
        let hard_stop = tokio::time::Instant::from_std(Instant::now() + timeout);
        match tokio::time::timeout_at(hard_stop, attempt(n, timeout)).await {
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Rejected(error)) => return Err(Failed::Rejected(error)),
            Ok(Attempt::Transient(error)) => last = Some(error),
            Err(_) => {}
        }
        let wait = delay(n);
        if Instant::now() + wait + MIN_ATTEMPT > deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Err(Failed::GaveUp(last))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn transient_failures_are_retried_until_done_and_numbered() {
        let seen = std::cell::RefCell::new(Vec::new());
        let deadline = Instant::now() + Duration::from_secs(5);
        let result: Result<u32, Failed<()>> = with_retry(deadline, |n, _| {
            seen.borrow_mut().push(n);
            async move {
                if n < 2 {
                    Attempt::Transient(())
                } else {
                    Attempt::Done(n)
                }
            }
        })
        .await;
        assert_eq!(result.ok(), Some(2));
        assert_eq!(seen.into_inner(), [0, 1, 2]);
    }

    #[tokio::test]
    async fn rejections_stop_and_the_deadline_is_kept() {
        let calls = Cell::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let result: Result<(), Failed<&str>> = with_retry(deadline, |_, _| {
            calls.set(calls.get() + 1);
            async { Attempt::Rejected("no") }
        })
        .await;
        assert!(matches!(result, Err(Failed::Rejected("no"))));
        assert_eq!(calls.get(), 1);
        let deadline = Instant::now() + Duration::from_millis(300);
        let result: Result<(), Failed<()>> =
            with_retry(deadline, |_, _| std::future::pending()).await;
        assert!(matches!(result, Err(Failed::GaveUp(None))));
        assert!(Instant::now() <= deadline + Duration::from_millis(50));
    }
}
