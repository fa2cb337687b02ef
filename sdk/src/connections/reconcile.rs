//! Correcting the counter's drift: TTL deletions never lower it, so from time to time the
//! live connection items are recounted and the counter set to that number, with a
//! version check so a save or delete that lands meanwhile is never overwritten.

use std::time::SystemTime;

use aws_sdk_dynamodb::types::{AttributeValue, Select, TransactWriteItem, Update};

use super::ConnectionStore;
use super::counter::{
    self, MAX_ATTEMPTS, Shard, Transacted, counter_key, transact, with_contention_retry,
};
use super::error::StoreError;
use super::model::unix_secs;
use super::schema::{CONNECTION_PREFIX, COUNT_ATTR, EXPIRES_AT, PK, VERSION_ATTR};
use crate::retry::Attempt;

/// What [`ConnectionStore::reconcile`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// The counter before (summed over its shards).
    pub previous: i64,
    /// The live connection items counted; the counter now holds this.
    pub counted: i64,
}

impl Reconciled {
    /// How far the counter was off (positive: it was too high).
    pub fn drift(&self) -> i64 {
        self.previous - self.counted
    }
}

impl ConnectionStore {
    /// Recounts the live connection items and sets the counter to that number: the
    /// correction for the drift TTL expiry causes (an expired connection that never
    /// disconnected stays counted until this runs).
    ///
    /// It reads the counter (with its version), counts the items with a strongly
    /// consistent `Scan` (filtered to `conn#` items not yet expired), then writes the
    /// count to shard 0 and zero to every other shard in one transaction conditioned on
    /// the versions read. A save or delete that lands in between bumps a version, so the
    /// write is refused and the whole pass starts again (up to 10 times, then
    /// [`StoreError::Contended`]). The scan reads the whole table: run this on a
    /// schedule (hourly, say), not per request.
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// let fixed = store.reconcile().await?;
    /// println!("counter was off by {}", fixed.drift());
    /// # Ok(()) }
    /// ```
    pub async fn reconcile(&self) -> Result<Reconciled, StoreError> {
        let contended = || StoreError::Contended {
            operation: "reconcile",
            attempts: MAX_ATTEMPTS,
        };
        with_contention_retry(&self.client, "reconcile", || async {
            match self.reconcile_once().await {
                Ok(Some(reconciled)) => Attempt::Done(reconciled),
                Ok(None) => Attempt::Retry {
                    error: contended(),
                    after: None,
                },
                Err(error) => Attempt::Rejected(error),
            }
        })
        .await
    }

    /// One pass: `None` when the counter changed between the read and the write.
    async fn reconcile_once(&self) -> Result<Option<Reconciled>, StoreError> {
        let shards = counter::read_shards(&self.client, &self.table, true).await?;
        let previous = shards.iter().map(|s| s.count).sum();
        let counted = self.count_live_items().await?;
        let writes = corrections(&self.table, &shards, counted)?;
        Ok(match transact(&self.client, "reconcile", writes).await? {
            Transacted::Committed => Some(Reconciled { previous, counted }),
            Transacted::ConditionFailed => None,
        })
    }

    /// Counts the connection items not yet expired, every page of the scan.
    async fn count_live_items(&self) -> Result<i64, StoreError> {
        let now = AttributeValue::N(unix_secs(SystemTime::now()).to_string());
        let mut total = 0i64;
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .select(Select::Count)
                .filter_expression("begins_with(#pk, :prefix) AND #expires > :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#expires", EXPIRES_AT)
                .expression_attribute_values(":prefix", AttributeValue::S(CONNECTION_PREFIX.into()))
                .expression_attribute_values(":now", now.clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Scan", e))?;
            total += i64::from(out.count);
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(total),
            }
        }
    }
}

/// Shard 0 set to `counted`, every other existing shard (of this layout or an earlier
/// one) to 0, each only if its version is still the one read (or, for an item without
/// one, still absent).
fn corrections(
    table: &str,
    shards: &[Shard],
    counted: i64,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut targets: Vec<Shard> = shards.to_vec();
    if !targets.iter().any(|s| s.primary) {
        targets.push(Shard {
            key: counter_key(0),
            primary: true,
            count: 0,
            version: None,
        });
    }
    targets
        .iter()
        .map(|shard| {
            let value = if shard.primary { counted } else { 0 };
            let next = shard.version.unwrap_or(0) + 1;
            let mut update = Update::builder()
                .table_name(table)
                .set_key(Some(shard.key.clone()))
                .update_expression("SET #count = :value, #version = :next")
                .expression_attribute_names("#count", COUNT_ATTR)
                .expression_attribute_names("#version", VERSION_ATTR)
                .expression_attribute_values(":value", AttributeValue::N(value.to_string()))
                .expression_attribute_values(":next", AttributeValue::N(next.to_string()));
            update = match shard.version {
                Some(version) => update
                    .condition_expression("#version = :seen")
                    .expression_attribute_values(":seen", AttributeValue::N(version.to_string())),
                None => update.condition_expression("attribute_not_exists(#version)"),
            };
            let update = update.build().map_err(StoreError::build)?;
            Ok(TransactWriteItem::builder().update(update).build())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn corrections_zero_every_shard_but_the_first_under_version_checks() {
        let shards = [
            Shard {
                key: counter_key(2),
                primary: false,
                count: 5,
                version: Some(7),
            },
            Shard {
                key: counter_key(1),
                primary: false,
                count: 3,
                version: None,
            },
        ];
        let writes = corrections("t", &shards, 4).unwrap();
        assert_eq!(writes.len(), 3, "shard 0 is created when missing");
        let update = |i: usize| writes[i].update().unwrap();
        let value = |i: usize| update(i).expression_attribute_values().unwrap()[":value"].clone();
        assert_eq!(value(0), AttributeValue::N("0".into()));
        assert_eq!(update(0).condition_expression(), Some("#version = :seen"));
        assert_eq!(
            update(1).condition_expression(),
            Some("attribute_not_exists(#version)")
        );
        assert_eq!(value(2), AttributeValue::N("4".into()));
        assert_eq!(update(2).key(), &counter_key(0));
        assert_eq!(update(0).key(), &counter_key(2));
    }
}
