//! The rate-limit statistics table, as its readers see it: the item schema the extension
//! writes (one item per rule and window, `ADD`ed by every sandbox's flushes), the counter
//! type, and (feature `dynamodb`) [`query_totals`], which sums a rule's windows over a time
//! range, and [`create_table`], which makes the table.
//!
//! Item schema:
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S | `rule#<rule>` ([`partition_key`]) |
//! | `sk` | N | window start, Unix seconds |
//! | `window_seconds` | N | window length |
//! | `requests`, `allowed`, `blocked`, `errors` | N | the rule's totals in the window |
//! | `kc#<class>#allowed` (`blocked`, `errors`) | N | the same per key class ([`class_attribute`]) |
//! | `expires_at` | N | TTL: window end + retention (30 days by default), refreshed by every write |
//! | `seq#<sandbox>` | N | the last flush a sandbox applied (makes a replayed flush a no-op) |
//!
//! ```no_run
//! # #[cfg(feature = "dynamodb")]
//! # async fn show(client: aws_sdk_dynamodb::Client) -> Result<(), liftwatch::stats::QueryError> {
//! let day = liftwatch::stats::query_totals(&client, "liftwatch-ratelimit", "login", None, 1_700_000_000, 1_700_086_400).await?;
//! println!("{} of {} login attempts blocked", day.counts.blocked, day.counts.requests);
//! # Ok(()) }
//! ```

#[cfg(feature = "dynamodb")]
mod query;

#[cfg(feature = "dynamodb")]
pub use query::{QueryError, Totals, query_totals, query_totals_at};

#[cfg(feature = "dynamodb")]
pub use crate::dynamodb_table::TableError;

use crate::protocol::Outcome;

/// The partition key attribute: `rule#<rule>`.
pub const PK: &str = "pk";
/// The sort key attribute: the window start (Number, Unix seconds).
pub const SK: &str = "sk";
/// The window length attribute (Number, seconds).
pub const WINDOW_SECONDS: &str = "window_seconds";
/// The TTL attribute (Number, Unix seconds): window end plus the retention.
pub const EXPIRES_AT: &str = "expires_at";
/// The per-outcome counters, for the totals and (prefixed) per key class.
pub const OUTCOMES: [&str; 3] = ["allowed", "blocked", "errors"];
/// The totals' request counter (per key class it is the sum of the outcomes).
pub const REQUESTS: &str = "requests";

/// The partition key value of `rule`.
pub fn partition_key(rule: &str) -> String {
    format!("rule#{rule}")
}

/// The attribute holding `outcome`'s count for key class `class`.
pub fn class_attribute(class: &str, outcome: &str) -> String {
    format!("kc#{class}#{outcome}")
}

/// Decision counters; `requests` is the sum of the other three.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every decision.
    pub requests: u64,
    /// Allowed decisions.
    pub allowed: u64,
    /// Blocked decisions.
    pub blocked: u64,
    /// Decisions that failed.
    pub errors: u64,
}

impl Counts {
    /// Counts one decision.
    pub fn add(&mut self, outcome: Outcome) {
        self.requests += 1;
        match outcome {
            Outcome::Allowed => self.allowed += 1,
            Outcome::Blocked => self.blocked += 1,
            Outcome::Error => self.errors += 1,
        }
    }

    /// Adds `other` to these counters.
    pub fn merge(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.allowed += other.allowed;
        self.blocked += other.blocked;
        self.errors += other.errors;
    }
}

/// Creates the statistics table `table`: [`PK`] (String, HASH), [`SK`] (Number, RANGE),
/// on-demand billing; waits until it is active, then turns TTL on for [`EXPIRES_AT`]. An
/// existing table is an error (`ResourceInUseException`). For tests and for setting the
/// table up by hand (with IaC tools, use the names above).
///
/// ```no_run
/// # async fn setup(client: aws_sdk_dynamodb::Client) -> Result<(), liftwatch::stats::TableError> {
/// liftwatch::stats::create_table(&client, "liftwatch-ratelimit").await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "dynamodb")]
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), TableError> {
    let layout = crate::dynamodb_table::Layout {
        partition_key: PK,
        sort_key: SK,
        index_attributes: &[],
        indexes: Vec::new(),
        ttl_attribute: EXPIRES_AT,
    };
    crate::dynamodb_table::create(client, table, layout).await
}
