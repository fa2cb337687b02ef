//! The active-connection counter: its items (`n` shards picked by a hash of the connection
//! id, each under a partition key of its own), the counter update that rides in the same
//! `TransactWriteItems` as a connection's put or delete, the transaction runner (conflicts
//! retried with backoff, failed conditions reported as such), and reading the count back.
//!
//! Shard 0 is (`counter#active`, 0), shard `k` is (`counter#active#<k>`, 0): a partition
//! serves at most 1,000 write units a second and each change costs 2 (a transaction), so
//! shards under one partition key would not add throughput. Earlier versions kept shards
//! as sort keys of `counter#active`; those items are still read and reconciled.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, TransactWriteItem, Update,
};

use super::error::StoreError;
use super::item::Item;
use super::schema::{COUNT_ATTR, COUNTER_PK, PK, SK, VERSION_ATTR};
use crate::ratelimit::fnv1a_64;
use crate::retry::{self, Attempt, Backoff, Failed, Policy};

/// The most counter shards a store can use. Readers look for every one of them (one
/// `BatchGetItem`), and 16 shards take 4 times API Gateway's default of 500 new
/// connections a second at a quarter of a partition's write limit (`docs/SCALING.md`).
pub const MAX_COUNTER_SHARDS: u32 = 16;

/// The shards a store uses unless told otherwise: API Gateway's default quota (500 new
/// connections a second, as many disconnects) costs 2,000 write units a second, 250 per
/// shard, a quarter of a partition's limit.
pub const DEFAULT_COUNTER_SHARDS: u32 = 8;

/// How many times a transaction is tried while it conflicts with concurrent ones.
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// The counter shard a connection's put and delete change.
pub(crate) fn shard_of(connection_id: &str, shards: u32) -> u32 {
    let shards = u64::from(shards.max(1));
    u32::try_from(fnv1a_64(connection_id.as_bytes()) % shards).unwrap_or(0)
}

/// The partition key of counter shard `shard`: [`COUNTER_PK`] for shard 0,
/// `counter#active#<shard>` for the others (sort key 0 for all).
pub fn counter_partition_key(shard: u32) -> String {
    match shard {
        0 => COUNTER_PK.to_owned(),
        shard => format!("{COUNTER_PK}#{shard}"),
    }
}

/// The key of counter shard `shard`.
pub(crate) fn counter_key(shard: u32) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(counter_partition_key(shard)),
        ),
        (SK.to_owned(), AttributeValue::N("0".to_owned())),
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
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shard {
    /// Its primary key.
    pub(crate) key: Item,
    /// Shard 0, the one `reconcile` sets to the live count.
    pub(crate) primary: bool,
    pub(crate) count: i64,
    pub(crate) version: Option<i64>,
}

impl Shard {
    fn from_item(item: &Item) -> Self {
        let key: Item = [PK, SK]
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), item.get(*name)?.clone())))
            .collect();
        Shard {
            primary: key == counter_key(0),
            key,
            count: number(item, COUNT_ATTR).unwrap_or(0),
            version: number(item, VERSION_ATTR),
        }
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// Rounds of `BatchGetItem` for the keys DynamoDB left unprocessed.
const BATCH_ROUNDS: u32 = 5;

/// Every counter item: a `Query` of the [`COUNTER_PK`] partition (shard 0, and the shards
/// of earlier versions) and a `BatchGetItem` of shards 1 to [`MAX_COUNTER_SHARDS`] − 1.
pub(crate) async fn read_shards(
    client: &Client,
    table: &str,
    consistent: bool,
) -> Result<Vec<Shard>, StoreError> {
    let mut shards = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .consistent_read(consistent)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(COUNTER_PK.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", e))?;
        shards.extend(out.items().iter().map(Shard::from_item));
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    let keys = KeysAndAttributes::builder()
        .set_keys(Some((1..MAX_COUNTER_SHARDS).map(counter_key).collect()))
        .consistent_read(consistent)
        .build()
        .map_err(StoreError::build)?;
    let mut wanted = HashMap::from([(table.to_owned(), keys)]);
    for _ in 0..BATCH_ROUNDS {
        let out = client
            .batch_get_item()
            .set_request_items(Some(wanted))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
        if let Some(items) = out.responses().and_then(|r| r.get(table)) {
            shards.extend(items.iter().map(Shard::from_item));
        }
        match out.unprocessed_keys {
            Some(left) if !left.is_empty() => wanted = left,
            _ => return Ok(shards),
        }
    }
    Err(StoreError::Contended {
        operation: "BatchGetItem",
        attempts: BATCH_ROUNDS,
    })
}

/// The active count: the sum of every shard's `count`, read strongly consistently when
/// `consistent` (else at half the read units).
pub async fn read_count(client: &Client, table: &str, consistent: bool) -> Result<i64, StoreError> {
    Ok(read_shards(client, table, consistent)
        .await?
        .iter()
        .map(|s| s.count)
        .sum())
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
    fn each_shard_has_a_partition_key_of_its_own_and_shard_0_keeps_the_old_key() {
        assert_eq!(counter_partition_key(0), COUNTER_PK);
        assert_eq!(counter_partition_key(7), "counter#active#7");
        assert_eq!(counter_key(3)[SK], AttributeValue::N("0".into()));
        assert!(Shard::from_item(&counter_key(0)).primary);
        assert!(!Shard::from_item(&counter_key(1)).primary);
        let mut legacy = counter_key(0);
        legacy.insert(SK.to_owned(), AttributeValue::N("2".into()));
        assert!(
            !Shard::from_item(&legacy).primary,
            "an earlier version's shard 2"
        );
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
