//! The active-connection counter: its items (one, or `n` shards picked by a hash of the
//! connection id), the counter update that rides in the same `TransactWriteItems` as a
//! connection's put or delete, the transaction runner (conflicts retried with backoff,
//! failed conditions reported as such), and reading the count back.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem, Update};

use super::error::StoreError;
use super::item::Item;
use super::schema::{COUNT_ATTR, COUNTER_PK, PK, SK, VERSION_ATTR};
use crate::ratelimit::fnv1a_64;
use crate::retry::{self, Attempt, Backoff, Failed, Policy};

/// The most counter shards a store can use (one `reconcile` transaction writes them all,
/// and a transaction holds at most 100 items).
pub const MAX_COUNTER_SHARDS: u32 = 64;

/// How many times a transaction is tried while it conflicts with concurrent ones.
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// The counter shard a connection's put and delete change.
pub(crate) fn shard_of(connection_id: &str, shards: u32) -> u32 {
    let shards = u64::from(shards.max(1));
    u32::try_from(fnv1a_64(connection_id.as_bytes()) % shards).unwrap_or(0)
}

/// The key of counter shard `shard`.
pub(crate) fn counter_key(shard: u32) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(COUNTER_PK.to_owned())),
        (SK.to_owned(), AttributeValue::N(shard.to_string())),
    ])
}

/// Adds `delta` to shard `shard` and bumps its version.
pub(crate) fn counter_change(
    table: &str,
    shard: u32,
    delta: i64,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(counter_key(shard)))
        .update_expression("ADD #count :delta, #version :one")
        .expression_attribute_names("#count", COUNT_ATTR)
        .expression_attribute_names("#version", VERSION_ATTR)
        .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .map_err(StoreError::build)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transacted {
    /// Every write was applied.
    Committed,
    /// A condition did not hold; nothing was written.
    ConditionFailed,
}

/// What a cancellation reason list calls for.
#[derive(Debug, PartialEq, Eq)]
enum Cancelled {
    Retry,
    Condition,
    Other,
}

fn classify(reasons: &[CancellationReason]) -> Cancelled {
    let codes = || reasons.iter().filter_map(CancellationReason::code);
    // A conflict first: the condition may have been read while another transaction held
    // the item, so it is evaluated again.
    if codes().any(|c| {
        matches!(
            c,
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
        )
    }) {
        Cancelled::Retry
    } else if codes().any(|c| c == "ConditionalCheckFailed") {
        Cancelled::Condition
    } else {
        Cancelled::Other
    }
}

/// Waits between conflicting transactions: 10 ms doubling up to 1 s, with equal jitter.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(10),
    max: Duration::from_secs(1),
};

/// Runs `attempt` through the workspace's retry loop until it is done or fails for good,
/// at most [`MAX_ATTEMPTS`] times with [`BACKOFF`] between tries, sleeping with the
/// client's own timer (the SDK brings no runtime of its own). Running out of attempts is
/// [`StoreError::Contended`].
pub(crate) async fn with_contention_retry<T, F, Fut>(
    client: &Client,
    operation: &'static str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, StoreError>>,
{
    let policy = Policy::attempts(MAX_ATTEMPTS).with_backoff(BACKOFF);
    let sleep = client.config().sleep_impl();
    let pause = |wait| {
        let sleep = sleep.clone();
        async move {
            if let Some(sleep) = sleep {
                sleep.sleep(wait).await;
            }
        }
    };
    match retry::run(&policy, pause, |_, _| attempt()).await {
        Ok(value) => Ok(value),
        Err(Failed::Rejected(error)) => Err(error),
        Err(Failed::GaveUp(_)) => Err(StoreError::Contended {
            operation,
            attempts: MAX_ATTEMPTS,
        }),
    }
}

/// Runs one transaction: conflicts and throttling are retried with jittered exponential
/// backoff up to [`MAX_ATTEMPTS`] times, a failed condition is [`Transacted::ConditionFailed`].
pub(crate) async fn transact(
    client: &Client,
    operation: &'static str,
    items: Vec<TransactWriteItem>,
) -> Result<Transacted, StoreError> {
    with_contention_retry(client, operation, || {
        let request = client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send();
        async move {
            let error = match request.await {
                Ok(_) => return Attempt::Done(Transacted::Committed),
                Err(error) => error,
            };
            let verdict = match &error {
                SdkError::ServiceError(e) => match e.err() {
                    TransactWriteItemsError::TransactionCanceledException(cancel) => {
                        classify(cancel.cancellation_reasons())
                    }
                    _ => Cancelled::Other,
                },
                _ => Cancelled::Other,
            };
            let error = StoreError::dynamo("TransactWriteItems", error);
            match verdict {
                Cancelled::Condition => Attempt::Done(Transacted::ConditionFailed),
                Cancelled::Other => Attempt::Rejected(error),
                Cancelled::Retry => Attempt::Retry { error, after: None },
            }
        }
    })
    .await
}

/// One counter item as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) shard: u32,
    pub(crate) count: i64,
    pub(crate) version: Option<i64>,
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// Every counter item (a strongly consistent `Query` on [`COUNTER_PK`]).
pub(crate) async fn read_shards(client: &Client, table: &str) -> Result<Vec<Shard>, StoreError> {
    let mut shards = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(COUNTER_PK.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", e))?;
        for item in out.items() {
            let shard = number(item, SK)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| StoreError::malformed(COUNTER_PK, SK))?;
            shards.push(Shard {
                shard,
                count: number(item, COUNT_ATTR).unwrap_or(0),
                version: number(item, VERSION_ATTR),
            });
        }
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(shards),
        }
    }
}

/// The active count: one strongly consistent `GetItem` unsharded, the sum of a `Query`
/// over the counter partition with shards.
pub(crate) async fn read_total(
    client: &Client,
    table: &str,
    shards: u32,
) -> Result<i64, StoreError> {
    if shards > 1 {
        return Ok(read_shards(client, table)
            .await?
            .iter()
            .map(|s| s.count)
            .sum());
    }
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(counter_key(0)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::dynamo("GetItem", e))?;
    Ok(out
        .item()
        .and_then(|item| number(item, COUNT_ATTR))
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect()
    }

    #[test]
    fn cancellations_are_classified_conflicts_first() {
        let cases = [
            (
                &["ConditionalCheckFailed", "None"][..],
                Cancelled::Condition,
            ),
            (&["None", "TransactionConflict"][..], Cancelled::Retry),
            (
                &["ConditionalCheckFailed", "TransactionConflict"][..],
                Cancelled::Retry,
            ),
            (&["ThrottlingError"][..], Cancelled::Retry),
            (&["ValidationError", "None"][..], Cancelled::Other),
            (&[][..], Cancelled::Other),
        ];
        for (codes, expected) in cases {
            assert_eq!(classify(&reasons(codes)), expected, "{codes:?}");
        }
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("abc", 1), 0);
        assert_eq!(shard_of("abc", 0), 0);
        assert_eq!(shard_of("abc", 8), shard_of("abc", 8));
        let used: std::collections::HashSet<_> =
            (0..200).map(|i| shard_of(&format!("c{i}"), 8)).collect();
        assert_eq!(used.len(), 8);
        assert!(used.iter().all(|s| *s < 8));
    }
}
