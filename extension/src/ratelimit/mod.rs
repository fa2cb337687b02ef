//! Rate-limit statistics: decisions reported by handlers are aggregated per (rule, window,
//! key class) by `aggregate` (bounded, no I/O) into a `batch`, flushed as one idempotent
//! `UpdateItem` per (rule, window) to this sandbox's own item in the statistics table by
//! `store` (layout in `liftwatch::stats`), and read
//! back by `liftwatch::stats::query_totals`. The same totals become `RateLimit*` CloudWatch series.
//!
//! `update` builds the requests (the DynamoDB client is `crate::aws::dynamodb`), the workspace's
//! `liftwatch::retry` the loop inside the flush deadline; `liftwatch::stats::create_table`
//! (re-exported here) creates the table.

pub mod aggregate;
pub mod batch;
pub mod store;
mod table_schedule;
pub mod update;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

pub use crate::aws::ClientOptions;
pub use aggregate::{
    Counts, Decision, MAX_KEY_CLASSES, MAX_RULE_WINDOWS, OTHER_CLASS, Outcome, RateLimitAggregator,
    RateLimitBatch, WindowDelta, WindowKey,
};
pub use liftwatch::stats::{
    QueryError, TableError, Totals, create_table, query_totals, query_totals_at,
};
pub use store::{DEFAULT_RETENTION, MAX_KEPT_UPDATES, RateLimitWriter, WriteReport};
pub use table_schedule::{TABLE_INTERVAL, TableSchedule};

/// Why rate-limit statistics could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// An `UpdateItem` call failed.
    #[error("updateitem failed")]
    Update(#[source] Box<SdkError<UpdateItemError, HttpResponse>>),
    /// The AWS configuration did not load before the deadline.
    #[error("the aws configuration did not load before the deadline")]
    ConfigTimeout,
    /// The deadline left no time to write.
    #[error("the deadline left no time to write")]
    Deadline,
    /// A window starting past the year 2286 has no sort key (38 digits at most).
    #[error("window start {0} is out of range")]
    WindowOutOfRange(u64),
}
