//! A limiter's answer: allowed or not, the numbers behind the standard headers, and the
//! decision to report to the extension.

use crate::ratelimit::{KeyClass, RateLimitDecision};

/// One decision with what the caller needs to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limiter could not decide (DynamoDB failed); `allowed` follows the failure mode.
    pub error: bool,
    /// The limit per window.
    pub limit: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// When the window resets, in Unix seconds.
    pub reset_at: u64,
    /// Seconds until a refused request may be retried.
    pub retry_after: u64,
    pub(super) rule: String,
    pub(super) key_class: KeyClass,
    pub(super) window_seconds: u32,
    pub(super) window_start: u64,
}

impl Verdict {
    /// The standard headers: `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds), and
    /// `Retry-After` (seconds) when refused.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", self.reset_at.to_string()),
        ];
        if !self.allowed {
            headers.push(("Retry-After", self.retry_after.to_string()));
        }
        headers
    }

    /// The decision to report to the extension (`Client::rate_limit`), the key hashed.
    pub fn decision(&self) -> RateLimitDecision {
        let decision = match (self.error, self.allowed) {
            (true, _) => RateLimitDecision::error(&self.rule, self.window_seconds),
            (false, true) => RateLimitDecision::allowed(&self.rule, self.window_seconds),
            (false, false) => RateLimitDecision::blocked(&self.rule, self.window_seconds),
        };
        decision
            .key_class(self.key_class.clone())
            .limit(self.limit)
            .remaining(self.remaining)
            .window_start(self.window_start)
    }
}
