//! What both limiters are made of (the table, the rule, the limit per window, the window's
//! length, the failure mode) and the [`Verdict`] each builds from what the counter said.

use aws_sdk_dynamodb::Client;

use super::item::Counted;
use super::{FailureMode, Verdict};
use crate::ratelimit::KeyClass;

/// A limiter's configuration.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) client: Client,
    pub(super) table: String,
    pub(super) rule: String,
    pub(super) limit: u64,
    /// At least 1.
    pub(super) window_seconds: u32,
    pub(super) failure: FailureMode,
}

impl Settings {
    /// The verdict on `key` in the window starting at `window_start`: allowed when counted,
    /// refused when the budget was spent, as the failure mode says when DynamoDB failed.
    /// A limiter that could not count knows nothing of the budget, so the remaining budget
    /// it reports follows its verdict: failing open, this request is taken as the window's
    /// first (`limit - 1` left); failing closed, the budget as spent (0 left, retry after
    /// the given wait). Both limiters alike.
    pub(super) fn verdict(
        &self,
        key: &str,
        counted: Counted,
        remaining: u64,
        retry_after: u64,
        window_start: u64,
    ) -> Verdict {
        let (allowed, error, remaining) = match counted {
            Counted::Allowed(_) => (true, false, remaining),
            Counted::Refused => (false, false, remaining),
            Counted::Failed if self.failure == FailureMode::Open => {
                (true, true, self.limit.saturating_sub(1))
            }
            Counted::Failed => (false, true, 0),
        };
        Verdict {
            allowed,
            error,
            limit: self.limit,
            remaining,
            reset_at: window_start + u64::from(self.window_seconds),
            retry_after,
            rule: self.rule.clone(),
            key_class: KeyClass::hashed_default(key),
            window_seconds: self.window_seconds,
            window_start,
        }
    }
}
