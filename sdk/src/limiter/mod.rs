//! A DynamoDB-backed fixed-window rate limiter (feature `dynamodb`): one conditional
//! `UpdateItem` per request decides atomically (no read-then-write race), returns the
//! standard response headers, and gives back the decision to report to the extension.
//!
//! Item schema (the same key shape as the extension's statistics table, so one table can
//! serve both): `pk` = `limit#<rule>#<key>`, `sk` = window start (Unix seconds), `count`,
//! and `expires_at` (TTL, window end + one day).
//!
//! ```no_run
//! # async fn handler(client: aws_sdk_dynamodb::Client, liftwatch: &liftwatch::Client) {
//! use liftwatch::limiter::{FailureMode, FixedWindow};
//! let limiter = FixedWindow::new(client, "limits", "login", 100, 60, FailureMode::Open);
//! let verdict = limiter.check("user-42").await;
//! liftwatch.rate_limit(verdict.decision());
//! if !verdict.allowed {
//!     // answer 429 with verdict.headers()
//! }
//! # }
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::ratelimit::{KeyClass, RateLimitDecision};

/// What to do when DynamoDB cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Let the request through (availability first).
    Open,
    /// Refuse it (protection first).
    Closed,
}

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
    /// Seconds until the reset.
    pub retry_after: u64,
    rule: String,
    key_class: KeyClass,
    window_seconds: u32,
    window_start: u64,
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let window = u64::from(self.window_seconds);
        let window_start = now / window * window;
        let reset_at = window_start + window;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(format!("limit#{}#{key}", self.rule)),
            )
            .key("sk", AttributeValue::N(window_start.to_string()))
            .update_expression("ADD #count :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(self.limit.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((reset_at + 86_400).to_string()),
            )
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let (allowed, error, count) = match result {
            Ok(out) => {
                let count = out
                    .attributes()
                    .and_then(|a| a.get("count"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(self.limit);
                (true, false, count)
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                (false, false, self.limit)
            }
            Err(_) => (self.failure == FailureMode::Open, true, 0),
        };
        Verdict {
            allowed,
            error,
            limit: self.limit,
            remaining: self.limit.saturating_sub(count),
            reset_at,
            retry_after: reset_at.saturating_sub(now),
            rule: self.rule.clone(),
            key_class: KeyClass::hashed_default(key),
            window_seconds: self.window_seconds,
            window_start,
        }
    }
}
