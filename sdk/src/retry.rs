//! The one retry loop of the workspace: exponential backoff with equal jitter, a deadline
//! or an attempt budget, each attempt cut at its own timeout, and a server's retry-after
//! hint taking the place of the backoff. Every sink of the extension and the SDK's DynamoDB
//! writers retry through [`run`]; what counts as retryable stays with the caller, which
//! answers each attempt with an [`Attempt`].
//!
//! The loop is runtime-agnostic: the caller passes its runtime's `sleep` (tokio's in the
//! extension, the AWS client's in the SDK). With a deadline, an attempt gets at most half of
//! the time left (all of it when little is left), so an attempt on a connection that died
//! during a freeze still leaves time for a retry on a fresh one, and the loop returns by the
//! deadline.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use liftwatch::retry::{self, Attempt, Policy};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! let policy = Policy::attempts(5);
//! let result = block_on(retry::run(&policy, |_| async {}, |n, _timeout| async move {
//!     if n < 2 { Attempt::Retry { error: "busy", after: None } } else { Attempt::Done(n) }
//! }));
//! assert_eq!(result.ok(), Some(2));
//! ```

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

/// An attempt with less time than this left is not started.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(10);
/// Below twice this much time left, an attempt gets all of it rather than half.
const HALVING_FLOOR: Duration = Duration::from_millis(100);
/// The longest retry-after hint honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

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
    /// 25 ms doubling up to 1 s.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(25),
            max: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The wait before retry `n` (0-based), with `jitter` in `[0, 1)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use liftwatch::retry::Backoff;
    /// let backoff = Backoff { base: Duration::from_millis(100), max: Duration::from_millis(500) };
    /// assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(50));
    /// assert_eq!(backoff.delay(1, 0.5), Duration::from_millis(150));
    /// assert_eq!(backoff.delay(9, 1.0), Duration::from_millis(500));
    /// ```
    pub fn delay(&self, n: u32, jitter: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(n.min(20)))
            .min(self.max);
        ceiling / 2 + (ceiling / 2).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// When the loop stops trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The waits between attempts.
    pub backoff: Backoff,
    /// No attempt starts (and no wait ends) after this.
    pub deadline: Option<Instant>,
    /// Attempts at most.
    pub max_attempts: u32,
    /// The longest one attempt may take; with a deadline, also at most half of what is left.
    pub attempt_limit: Option<Duration>,
}

impl Policy {
    /// Tries until `deadline`, each attempt given at most half of the time left.
    pub fn until(deadline: Instant) -> Self {
        Policy {
            backoff: Backoff::default(),
            deadline: Some(deadline),
            max_attempts: u32::MAX,
            attempt_limit: None,
        }
    }

    /// Tries `max_attempts` times, with no deadline and no attempt timeout.
    pub fn attempts(max_attempts: u32) -> Self {
        Policy {
            backoff: Backoff::default(),
            deadline: None,
            max_attempts,
            attempt_limit: None,
        }
    }

    /// The same policy with other waits.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The same policy with no attempt longer than `limit`.
    pub fn with_attempt_limit(mut self, limit: Duration) -> Self {
        self.attempt_limit = Some(limit);
        self
    }

    /// How long the next attempt may take at `now`, or `None` when none should start. An
    /// attempt without a deadline or a limit is given `Duration::MAX`.
    pub fn attempt_timeout(&self, now: Instant) -> Option<Duration> {
        let limit = self.attempt_limit.unwrap_or(Duration::MAX);
        let Some(deadline) = self.deadline else {
            return Some(limit);
        };
        let remaining = deadline.saturating_duration_since(now);
        if remaining < MIN_ATTEMPT {
            return None;
        }
        let share = if remaining >= HALVING_FLOOR * 2 {
            remaining / 2
        } else {
            remaining
        };
        Some(share.min(limit))
    }
}

/// How one attempt ended, as the caller classifies it.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Done: stop with this value.
    Done(T),
    /// Worth another attempt: after `after` when the server said so, else after the backoff.
    Retry {
        /// Why this attempt failed.
        error: E,
        /// The server's retry-after hint.
        after: Option<Duration>,
    },
    /// Will never succeed: stop.
    Rejected(E),
}

/// Why the last attempt before giving up failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Last<E> {
    /// No attempt started: the deadline had passed.
    NotStarted,
    /// It failed with this error.
    Failed(E),
    /// It was cut at its timeout.
    TimedOut(Duration),
}

impl<E> Last<E> {
    /// The error, when the last attempt ended with one.
    pub fn error(self) -> Option<E> {
        match self {
            Last::Failed(error) => Some(error),
            Last::NotStarted | Last::TimedOut(_) => None,
        }
    }
}

/// How the loop ended without success.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed<E> {
    /// Refused for good.
    Rejected(E),
    /// Out of time or attempts.
    GaveUp(Last<E>),
}

/// Runs `attempt(n, timeout)` (n from 0) until it is done or rejected, or `policy` leaves no
/// room for another; waits with `sleep`. Returns by the policy's deadline.
pub async fn run<T, E, F, Fut, S, SFut>(
    policy: &Policy,
    mut sleep: S,
    mut attempt: F,
) -> Result<T, Failed<E>>
where
    F: FnMut(u32, Duration) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
    S: FnMut(Duration) -> SFut,
    SFut: Future<Output = ()>,
{
    let mut last = Last::NotStarted;
    for n in 0..policy.max_attempts {
        let Some(timeout) = policy.attempt_timeout(Instant::now()) else {
            break;
        };
        let ended = if timeout == Duration::MAX {
            Some(attempt(n, timeout).await)
        } else {
            within(timeout, &mut sleep, attempt(n, timeout)).await
        };
        let after = match ended {
            Some(Attempt::Done(value)) => return Ok(value),
            Some(Attempt::Rejected(error)) => return Err(Failed::Rejected(error)),
            Some(Attempt::Retry { error, after }) => {
                last = Last::Failed(error);
                after
            }
            None => {
                last = Last::TimedOut(timeout);
                None
            }
        };
        if n.saturating_add(1) >= policy.max_attempts {
            break;
        }
        let wait = after.unwrap_or_else(|| policy.backoff.delay(n, crate::random::fraction()));
        if let Some(deadline) = policy.deadline
            && Instant::now() + wait + MIN_ATTEMPT > deadline
        {
            break;
        }
        sleep(wait).await;
    }
    Err(Failed::GaveUp(last))
}

/// `work`'s output, or `None` when `timeout` passes first.
async fn within<T, S, SFut>(
    timeout: Duration,
    sleep: &mut S,
    work: impl Future<Output = T>,
) -> Option<T>
where
    S: FnMut(Duration) -> SFut,
    SFut: Future<Output = ()>,
{
    let mut work = pin!(work);
    let mut timer = pin!(sleep(timeout));
    poll_fn(|cx| {
        if let Poll::Ready(value) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A retry-after hint given in whole seconds (`Retry-After: 3`), at most an hour; the
/// HTTP-date form and anything else is `None` (the backoff applies).
///
/// ```
/// use std::time::Duration;
/// use liftwatch::retry::retry_after_secs;
/// assert_eq!(retry_after_secs(" 3 "), Some(Duration::from_secs(3)));
/// assert_eq!(retry_after_secs("Wed, 21 Oct 2015 07:28:00 GMT"), None);
/// ```
pub fn retry_after_secs(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests;
