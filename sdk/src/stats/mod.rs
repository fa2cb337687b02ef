//! The rate-limit statistics table, as its readers see it: the item layout the extension
//! writes (one item per rule, window and writer, spread over [`SHARDS`] partition keys), the
//! counter type, and (feature `dynamodb`) [`query_totals`], which sums a rule's items over
//! a time range, and [`create_table`], which makes the table.
//!
//! Item layout (keys in [`layout`]):
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S | `stats#<shard>#<rule>`, shard = the writer's slot % [`SHARDS`] ([`shard_partition_key`]) |
//! | `sk` | N | window start × 10^25 + the writer's slot ([`sort_key`]): one item per writer and window |
//! | `window_seconds` | N | window length |
//! | `requests`, `allowed`, `blocked`, `errors` | N | the writer's totals of the rule in the window |
//! | `kc#<class>#allowed` (`blocked`, `errors`) | N | the same per key class ([`class_attribute`]) |
//! | `expires_at` | N | TTL: window end + retention (30 days by default), refreshed by every write |
//! | `seq` | N | the last flush of this writer applied to the item (makes a replayed flush a no-op) |
//!
//! An item's size depends on the key classes it counts, never on how many sandboxes write
//! the rule, and each writer's updates land on its own item in one of 32 partitions: see
//! `docs/SCALING.md` for what this costs and where it stops holding. Items of the earlier
//! layout (`pk` = `rule#<rule>`, `sk` = window start, one `seq#<writer>` per writer) are
//! still read by [`query_totals`] until their TTL removes them.
//!
//! ```no_run
//! # #[cfg(feature = "dynamodb-core")]
//! # async fn show(client: aws_sdk_dynamodb::Client) -> Result<(), liftwatch::stats::QueryError> {
//! let day = liftwatch::stats::query_totals(&client, "liftwatch-ratelimit", "login", None, 1_700_000_000, 1_700_086_400).await?;
//! println!("{} of {} login attempts blocked", day.counts.blocked, day.counts.requests);
//! # Ok(()) }
//! ```

pub mod layout;
#[cfg(feature = "dynamodb-core")]
mod query;

#[cfg(feature = "dynamodb-core")]
pub use query::{QueryError, Totals, query_totals, query_totals_at};

#[cfg(feature = "dynamodb-core")]
pub use crate::dynamodb_table::TableError;

use crate::protocol::Outcome;

pub use layout::{SHARDS, shard_partition_key, sort_key};

/// The partition key attribute: `stats#<shard>#<rule>` (earlier layout: `rule#<rule>`).
pub const PK: &str = "pk";
/// The sort key attribute (Number): window start × 10^25 + writer slot (earlier layout:
/// the window start, Unix seconds).
pub const SK: &str = "sk";
/// The window length attribute (Number, seconds).
pub const WINDOW_SECONDS: &str = "window_seconds";
/// The TTL attribute (Number, Unix seconds): window end plus the retention.
pub const EXPIRES_AT: &str = "expires_at";
/// The per-outcome counters, for the totals and (prefixed) per key class.
pub const OUTCOMES: [&str; 3] = ["allowed", "blocked", "errors"];
/// The totals' request counter (per key class it is the sum of the outcomes).
pub const REQUESTS: &str = "requests";

/// The attribute holding the last flush number its writer applied to an item.
pub const SEQ: &str = "seq";

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
#[cfg(feature = "dynamodb-core")]
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
