//! The fixed-window limiter: one conditional `ADD` per request.

use aws_sdk_dynamodb::Client;

use super::item::{Counted, count_if_below, partition_key};
use super::{FailureMode, Verdict};
use crate::clock::now_ms;
use crate::ratelimit::KeyClass;

/// A fixed-window limit of `limit` requests per `window_seconds` per key.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    client: Client,
    table: String,
    rule: String,
    limit: u64,
    window_seconds: u32,
    failure: FailureMode,
}

impl FixedWindow {
    /// A limiter for `rule` on `table` (pk String, sk Number).
    pub fn new(
        client: Client,
        table: &str,
        rule: &str,
        limit: u64,
        window_seconds: u32,
        failure: FailureMode,
    ) -> Self {
        FixedWindow {
            client,
            table: table.to_owned(),
            rule: rule.to_owned(),
            limit,
            window_seconds: window_seconds.max(1),
            failure,
        }
    }

    /// Counts one request for `key` (a user or tenant id) and decides, atomically.
    pub async fn check(&self, key: &str) -> Verdict {
        self.check_at(key, now_ms()).await
    }

    /// [`check`](Self::check) as of `now_ms` (Unix milliseconds).
    pub async fn check_at(&self, key: &str, now_ms: u64) -> Verdict {
        let now = now_ms / 1_000;
        let window = u64::from(self.window_seconds);
        let window_start = now / window * window;
        let reset_at = window_start + window;
        let pk = partition_key(&self.rule, key);
        let counted = count_if_below(
            &self.client,
            &self.table,
            &pk,
            window_start,
            self.limit,
            reset_at + 86_400,
        )
        .await;
        let (allowed, error, count) = match counted {
            Counted::Allowed(count) => (true, false, count),
            Counted::Refused => (false, false, self.limit),
            Counted::Failed => (self.failure == FailureMode::Open, true, 0),
        };
        Verdict {
            allowed,
            error,
            limit: self.limit,
            remaining: self.limit.saturating_sub(count),
            reset_at,
            retry_after: reset_at.saturating_sub(now).max(1),
            rule: self.rule.clone(),
            key_class: KeyClass::hashed_default(key),
            window_seconds: self.window_seconds,
            window_start,
        }
    }
}
