//! The fixed-window limiter: one conditional `ADD` per request.

use aws_sdk_dynamodb::Client;

use super::item::{Counted, count_if_below, partition_key};
use super::settings::Settings;
use super::{FailureMode, Verdict};
use crate::clock::now_ms;

/// A fixed-window limit of `limit` requests per `window_seconds` per key.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    pub(super) settings: Settings,
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
        let settings = Settings {
            client,
            table: table.to_owned(),
            rule: rule.to_owned(),
            limit,
            window_seconds: window_seconds.max(1),
            failure,
        };
        FixedWindow { settings }
    }

    /// Counts one request for `key` (a user or tenant id) and decides, atomically.
    pub async fn check(&self, key: &str) -> Verdict {
        self.check_at(key, now_ms()).await
    }

    /// [`check`](Self::check) as of `now_ms` (Unix milliseconds).
    pub async fn check_at(&self, key: &str, now_ms: u64) -> Verdict {
        let s = &self.settings;
        let now = now_ms / 1_000;
        let window = u64::from(s.window_seconds);
        let window_start = now / window * window;
        let reset_at = window_start + window;
        let pk = partition_key(&s.rule, key);
        let counted = count_if_below(
            &s.client,
            &s.table,
            &pk,
            window_start,
            s.limit,
            reset_at + 86_400,
        )
        .await;
        let remaining = match counted {
            Counted::Allowed(count) => s.limit.saturating_sub(count),
            Counted::Refused | Counted::Failed => 0,
        };
        let retry_after = reset_at.saturating_sub(now).max(1);
        s.verdict(key, counted, remaining, retry_after, window_start)
    }
}
