//! The sliding-window counter limiter: the current window's conditional `ADD`, with the
//! budget reduced by the previous window's count weighted by its remaining overlap.
//!
//! At `elapsed` milliseconds into the current window of `w` milliseconds, a request is let
//! through while `current + ceil(previous × (w − elapsed) / w) < limit`. The previous
//! window's count is read once with a consistent `GetItem` and cached per key while that
//! window is current-minus-one (it no longer changes once closed), so a hot key costs one
//! write per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::Client;

use super::item::{Counted, count_if_below, partition_key, read_count};
use super::settings::Settings;
use super::{FailureMode, FixedWindow, Verdict};
use crate::clock::now_ms;

/// Keys whose previous-window count is cached; past this the cache starts over.
const MAX_CACHED: usize = 4_096;
/// A previous window is cached only once it has been closed this long (late writes).
const SETTLE_MS: u64 = 1_000;

/// A sliding-window limit of `limit` requests in any `window_seconds` per key
/// (approximated by the sliding-window counter).
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    settings: Settings,
    previous: Arc<Mutex<HashMap<String, (u64, u64)>>>,
}

impl SlidingWindow {
    /// A limiter for `rule` on `table` (pk String, sk Number).
    pub fn new(
        client: Client,
        table: &str,
        rule: &str,
        limit: u64,
        window_seconds: u32,
        failure: FailureMode,
    ) -> Self {
        SlidingWindow {
            // The same settings as a fixed window's: one place builds them.
            settings: FixedWindow::new(client, table, rule, limit, window_seconds, failure)
                .settings,
            previous: Arc::default(),
        }
    }

    /// Counts one request for `key` (a user or tenant id) and decides, atomically.
    pub async fn check(&self, key: &str) -> Verdict {
        self.check_at(key, now_ms()).await
    }

    /// [`check`](Self::check) as of `now_ms` (Unix milliseconds).
    pub async fn check_at(&self, key: &str, now_ms: u64) -> Verdict {
        let s = &self.settings;
        let window = u64::from(s.window_seconds);
        let window_ms = window * 1_000;
        let window_start = now_ms / window_ms * window;
        let elapsed_ms = now_ms - window_start * 1_000;
        let reset_at = window_start + window;
        let pk = partition_key(&s.rule, key);
        let previous = match self
            .previous_count(&pk, window_start - window.min(window_start), elapsed_ms)
            .await
        {
            Some(previous) => previous,
            None => return self.verdict(key, Counted::Failed, 0, 0, now_ms, window_start),
        };
        let weighted = weighted(previous, window_ms - elapsed_ms, window_ms);
        let budget = s.limit.saturating_sub(weighted);
        let counted = count_if_below(
            &s.client,
            &s.table,
            &pk,
            window_start,
            budget,
            reset_at + window + 86_400,
        )
        .await;
        let retry_at_ms = retry_at_ms(previous, weighted, window_start * 1_000, window_ms);
        self.verdict(key, counted, budget, retry_at_ms, now_ms, window_start)
    }

    /// The previous window's count, from the cache when that window has settled.
    async fn previous_count(&self, pk: &str, previous_start: u64, elapsed_ms: u64) -> Option<u64> {
        let cached = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pk)
            .filter(|(start, _)| *start == previous_start)
            .map(|(_, count)| *count);
        if let Some(count) = cached {
            return Some(count);
        }
        let count = read_count(
            &self.settings.client,
            &self.settings.table,
            pk,
            previous_start,
        )
        .await?;
        if elapsed_ms >= SETTLE_MS {
            let mut cache = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(pk.to_owned(), (previous_start, count));
        }
        Some(count)
    }

    fn verdict(
        &self,
        key: &str,
        counted: Counted,
        budget: u64,
        retry_at_ms: u64,
        now_ms: u64,
        window_start: u64,
    ) -> Verdict {
        let remaining = match counted {
            Counted::Allowed(count) => budget.saturating_sub(count),
            Counted::Refused | Counted::Failed => 0,
        };
        let retry_after = retry_at_ms.saturating_sub(now_ms).div_ceil(1_000).max(1);
        self.settings
            .verdict(key, counted, remaining, retry_after, window_start)
    }
}

/// The earliest time a refused request may fit: when the previous window's weight has
/// dropped by one (`previous × (w − e) / w ≤ weighted − 1`), or the window's end when the
/// previous window weighs nothing (the current one alone is full). A lower bound: later
/// requests of other callers can spend that room first.
fn retry_at_ms(previous: u64, weighted: u64, window_start_ms: u64, window_ms: u64) -> u64 {
    if previous == 0 || weighted == 0 {
        return window_start_ms + window_ms;
    }
    let target = u128::from(weighted - 1);
    let remaining_overlap = (target * u128::from(window_ms)) / u128::from(previous);
    let elapsed = u128::from(window_ms).saturating_sub(remaining_overlap);
    window_start_ms + u64::try_from(elapsed).unwrap_or(window_ms)
}

/// `ceil(count × overlap / window)`.
fn weighted(count: u64, overlap_ms: u64, window_ms: u64) -> u64 {
    let product = u128::from(count) * u128::from(overlap_ms);
    let window = u128::from(window_ms.max(1));
    u64::try_from(product.div_ceil(window)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{retry_at_ms, weighted};

    #[test]
    fn the_previous_window_weighs_by_its_overlap_rounded_up() {
        assert_eq!(weighted(10, 60_000, 60_000), 10);
        assert_eq!(weighted(10, 30_000, 60_000), 5);
        assert_eq!(weighted(10, 1, 60_000), 1);
        assert_eq!(weighted(10, 0, 60_000), 0);
        assert_eq!(weighted(u64::MAX, 60_000, 60_000), u64::MAX);
    }

    #[test]
    fn a_refusal_retries_when_the_previous_weight_drops_by_one() {
        // 10 in the previous 60 s window, 30 s in: weight 5; it becomes 4 at 36 s.
        assert_eq!(retry_at_ms(10, 5, 0, 60_000), 36_000);
        assert_eq!(weighted(10, 60_000 - 36_000, 60_000), 4);
        // Nothing before: wait for the window's end.
        assert_eq!(retry_at_ms(0, 0, 120_000, 60_000), 180_000);
    }
}
