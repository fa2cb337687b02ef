//! The statistics table writer: each flush's (rule, window) deltas become one conditional
//! `UpdateItem` each, retried within the flush's deadline, kept (bounded) when they could
//! not be written, and never applied twice.
//!
//! # Item layout (table `LIFTWATCH_RATELIMIT_TABLE`)
//!
//! One item per writer (sandbox), rule and window, so no item grows with the fleet (the
//! whole table in `liftwatch::stats`, the figures in `docs/SCALING.md`):
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S, HASH | `stats#<shard>#<rule>`, shard = the writer's slot % 32 |
//! | `sk` | N, RANGE | window start × 10^25 + the writer's slot (80 bits of its id) |
//! | `window_seconds` | N | window length |
//! | `requests`, `allowed`, `blocked`, `errors` | N | this writer's totals over every key class |
//! | `kc#<class>#allowed`, `kc#<class>#blocked`, `kc#<class>#errors` | N | per key class (its requests are their sum); absent when 0 |
//! | `expires_at` | N, TTL | window end + retention (30 days by default), set on every write |
//! | `seq` | N | the last flush sequence number this writer applied to the item |
//!
//! A rule is expected to keep one window length: two lengths whose windows start at the
//! same second share an item (totals stay right; `window_seconds` is the last written).
//!
//! # Idempotence
//!
//! Each writer has a random id and numbers its flushes. An update `ADD`s the deltas to
//! the writer's own item and `SET`s `seq` to the flush number under the condition
//! `attribute_not_exists(seq) OR seq < :seq`; a `ConditionalCheckFailedException`
//! therefore means this very update (or a later one) was applied already, for instance
//! before an answer was lost, and counts as success. An update that fails is kept and
//! retried at the next flush with its original number; a later flush's update of the same
//! item waits behind it, so no number is ever applied out of order.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use futures_util::stream::{self, StreamExt};
use liftwatch::retry::{self, Attempt, Failed, Policy};

use super::RateLimitError;
use super::aggregate::{RateLimitBatch, WindowDelta, WindowKey};
use super::update::update_spec;
use crate::aws::dynamodb::{ClientOptions, Connection, attempt_override, open};
use liftwatch::stats::layout::writer_slot;

/// The default retention past a window's end: 30 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3_600);
/// Updates kept for the next flush at most; the oldest flush's go first past it.
pub const MAX_KEPT_UPDATES: usize = 8_192;
/// Updates in flight at once.
const CONCURRENCY: usize = 16;

/// What one [`RateLimitWriter::write`] achieved.
#[derive(Debug, Default)]
pub struct WriteReport {
    /// Updates DynamoDB applied.
    pub applied: usize,
    /// Updates found applied already (a lost answer, retried).
    pub already_applied: usize,
    /// Updates kept for the next flush.
    pub kept: usize,
    /// Updates dropped: refused for good, or past [`MAX_KEPT_UPDATES`].
    pub dropped: usize,
    /// The last failure, if any.
    pub error: Option<RateLimitError>,
}

/// One flush's updates still to write.
#[derive(Debug)]
struct Pending {
    seq: u64,
    windows: Vec<WindowDelta>,
}

/// How one update ended.
enum Written {
    Applied,
    AlreadyApplied,
    Kept(WindowDelta, RateLimitError),
    Dropped(RateLimitError),
}

/// Writes flushed deltas to the statistics table.
#[derive(Debug)]
pub struct RateLimitWriter {
    table: String,
    retention_secs: u64,
    sandbox_id: String,
    next_seq: u64,
    options: ClientOptions,
    connection: Option<Connection>,
    pending: VecDeque<Pending>,
}

impl RateLimitWriter {
    /// A writer to `table`, keeping items `retention` past their window; the client is
    /// built at the first write.
    pub fn new(table: String, retention: Duration, options: ClientOptions) -> Self {
        RateLimitWriter {
            table,
            retention_secs: retention.as_secs(),
            sandbox_id: liftwatch::random::hex_id(128),
            next_seq: 1,
            options,
            connection: None,
            pending: VecDeque::new(),
        }
    }

    /// After a SnapStart restore: every sandbox restored from one snapshot holds the same
    /// id, and their updates would land on the same items and pass for each other's (`seq`
    /// already at that number: "applied", and dropped). A new id from the kernel makes this writer one of its own;
    /// kept updates keep their numbers, valid under the new id. The connection opened
    /// before the snapshot is dropped.
    pub fn restored(&mut self) {
        self.sandbox_id = liftwatch::random::hex_id(128);
        self.connection = None;
    }

    /// A writer that starts as `sandbox_id` (tests play two copies of one snapshot).
    pub fn with_sandbox_id(mut self, sandbox_id: impl Into<String>) -> Self {
        self.sandbox_id = sandbox_id.into();
        self
    }

    /// This writer's random id, whose first 80 bits are its items' slot.
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    /// Updates kept from earlier flushes.
    pub fn kept(&self) -> usize {
        self.pending.iter().map(|p| p.windows.len()).sum()
    }

    /// Writes what earlier flushes kept, then `batch` as the next flush, by `deadline`.
    pub async fn write(&mut self, batch: RateLimitBatch, deadline: Instant) -> WriteReport {
        let mut report = WriteReport::default();
        if !batch.is_empty() {
            self.pending.push_back(Pending {
                seq: self.next_seq,
                windows: batch.windows,
            });
            self.next_seq += 1;
        }
        report.dropped += self.trim();
        if self.pending.is_empty() {
            return report;
        }
        let client = match self.client(deadline).await {
            Ok(client) => client,
            Err(error) => {
                report.kept = self.kept();
                report.error = Some(error);
                return report;
            }
        };
        let mut waiting: HashSet<WindowKey> = HashSet::new();
        let mut still = VecDeque::new();
        for Pending { seq, windows } in std::mem::take(&mut self.pending) {
            let (blocked, ready): (Vec<_>, Vec<_>) =
                windows.into_iter().partition(|w| waiting.contains(&w.key));
            let mut kept = blocked;
            let ctx = (
                &client,
                self.table.as_str(),
                writer_slot(&self.sandbox_id),
                self.retention_secs,
            );
            let results: Vec<Written> = stream::iter(ready)
                .map(|delta| write_one(ctx, delta, seq, deadline))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for result in results {
                match result {
                    Written::Applied => report.applied += 1,
                    Written::AlreadyApplied => report.already_applied += 1,
                    Written::Kept(delta, error) => {
                        waiting.insert(delta.key.clone());
                        kept.push(delta);
                        report.error = Some(error);
                    }
                    Written::Dropped(error) => {
                        report.dropped += 1;
                        report.error = Some(error);
                    }
                }
            }
            // Entries that waited behind a kept one stay behind it.
            waiting.extend(kept.iter().map(|w| w.key.clone()));
            if !kept.is_empty() {
                still.push_back(Pending { seq, windows: kept });
            }
        }
        self.pending = still;
        report.kept = self.kept();
        report
    }

    /// Drops the oldest kept flushes' updates past [`MAX_KEPT_UPDATES`]; returns how many.
    fn trim(&mut self) -> usize {
        let mut dropped = 0;
        while self.kept() > MAX_KEPT_UPDATES {
            let excess = self.kept() - MAX_KEPT_UPDATES;
            let Some(oldest) = self.pending.front_mut() else {
                break;
            };
            let n = excess.min(oldest.windows.len());
            oldest.windows.drain(..n);
            dropped += n;
            if oldest.windows.is_empty() {
                self.pending.pop_front();
            }
        }
        dropped
    }

    /// The client, built (with the configuration loaded) by `deadline` the first time.
    async fn client(&mut self, deadline: Instant) -> Result<Client, RateLimitError> {
        if self.connection.is_none() {
            let at = tokio::time::Instant::from_std(deadline);
            let opened = tokio::time::timeout_at(at, open(&self.options)).await;
            self.connection = Some(opened.map_err(|_| RateLimitError::ConfigTimeout)?);
        }
        match self.connection.as_mut() {
            Some(connection) => Ok(connection.client(Instant::now())),
            None => Err(RateLimitError::ConfigTimeout),
        }
    }
}

/// One update, retried until `deadline`.
async fn write_one(
    (client, table, slot, retention): (&Client, &str, u128, u64),
    delta: WindowDelta,
    seq: u64,
    deadline: Instant,
) -> Written {
    let Some(spec) = update_spec(&delta, slot, seq, retention) else {
        return Written::Dropped(RateLimitError::WindowOutOfRange(delta.key.window_start));
    };
    let result = retry::run(
        &Policy::until(deadline),
        tokio::time::sleep,
        |_, timeout| {
            let request = client
                .update_item()
                .table_name(table)
                .set_key(Some(spec.key.clone()))
                .update_expression(&spec.update_expression)
                .condition_expression(&spec.condition_expression)
                .set_expression_attribute_names(Some(spec.names.clone()))
                .set_expression_attribute_values(Some(spec.values.clone()))
                .customize()
                .config_override(attempt_override(timeout));
            async move { classify(request.send().await) }
        },
    )
    .await;
    match result {
        Ok(written) => written,
        Err(Failed::Rejected(error)) => Written::Dropped(error),
        Err(Failed::GaveUp(last)) => {
            Written::Kept(delta, last.error().unwrap_or(RateLimitError::Deadline))
        }
    }
}

type UpdateResult<T> =
    Result<T, SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>>;

/// What the retry loop should do about an `UpdateItem` answer.
fn classify<T>(result: UpdateResult<T>) -> Attempt<Written, RateLimitError> {
    let error = match result {
        Ok(_) => return Attempt::Done(Written::Applied),
        Err(error) => error,
    };
    if error
        .as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
    {
        return Attempt::Done(Written::AlreadyApplied);
    }
    let status = error.raw_response().map(|r| r.status().as_u16());
    let retry = match (&error, status) {
        (SdkError::ServiceError(_) | SdkError::ResponseError(_), Some(status)) => {
            retryable(status, error.code())
        }
        _ => true,
    };
    let error = RateLimitError::Update(Box::new(error));
    if retry {
        Attempt::Retry { error, after: None }
    } else {
        Attempt::Rejected(error)
    }
}

/// Error codes that mean "slow down" or "try again", whatever the status.
const RETRYABLE_CODES: [&str; 6] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "LimitExceededException",
];

/// True when an answer with `status` and `code` is worth another attempt.
fn retryable(status: u16, code: Option<&str>) -> bool {
    code.is_some_and(|code| RETRYABLE_CODES.contains(&code))
        || matches!(status, 408 | 429)
        || !(400..=499).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_5xx_are_retried_other_4xx_are_not() {
        assert!(retryable(400, Some("ThrottlingException")));
        assert!(retryable(
            400,
            Some("ProvisionedThroughputExceededException")
        ));
        assert!(retryable(500, None));
        assert!(retryable(429, None));
        assert!(!retryable(400, Some("ValidationException")));
        assert!(!retryable(400, Some("ResourceNotFoundException")));
    }
}
