//! DynamoDB-backed rate limiters (feature `dynamodb`) that decide atomically (no
//! read-then-write race), return the standard response headers, and give back the decision
//! to report to the extension.
//!
//! - [`FixedWindow`]: one conditional `UpdateItem` per request (`ADD` under
//!   `count < limit`). Cheap and exact per window, but a caller can spend two budgets around
//!   a window boundary.
//! - [`SlidingWindow`]: the sliding-window counter. The previous window's count, weighted by
//!   how much of it still overlaps the last `window` seconds, is subtracted from the budget
//!   of the current window's conditional `ADD`: one `UpdateItem` plus one `GetItem` of the
//!   previous window (cached once that window has closed), and bursts at a boundary are
//!   smoothed.
//!
//! Per-user and per-tenant limits are two limiters (two rules) checked in turn: the request
//! proceeds only when both allow it. [`FailureMode`] says what happens when DynamoDB cannot
//! be reached: the verdict then has `error` set and reports an `error` outcome.
//!
//! Item schema (the same key shape as the extension's statistics table, so one table can
//! serve both): `pk` = `limit#<rule>#<key>`, `sk` = window start (Unix seconds), `count`,
//! and `expires_at` (TTL, the end of the window after it + one day).
//!
//! ```no_run
//! # async fn handler(client: aws_sdk_dynamodb::Client, liftwatch: &liftwatch::Client) {
//! use liftwatch::limiter::{FailureMode, FixedWindow, SlidingWindow};
//! let per_user = SlidingWindow::new(client.clone(), "limits", "login", 100, 60, FailureMode::Open);
//! let per_tenant = FixedWindow::new(client, "limits", "login-tenant", 5_000, 60, FailureMode::Open);
//! let user = per_user.check("user-42").await;
//! liftwatch.rate_limit(user.decision());
//! let tenant = per_tenant.check("tenant-7").await;
//! liftwatch.rate_limit(tenant.decision());
//! if !(user.allowed && tenant.allowed) {
//!     // answer 429 with the refusing verdict's headers()
//! }
//! # }
//! ```

mod fixed;
mod item;
mod settings;
mod sliding;
mod verdict;

pub use fixed::FixedWindow;
pub use sliding::SlidingWindow;
pub use verdict::Verdict;

/// What to do when DynamoDB cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Let the request through (availability first).
    Open,
    /// Refuse it (protection first).
    Closed,
}
