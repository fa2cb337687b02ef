//! The requests of an attempt, against the connection table the SDK's
//! `liftwatch::connections::ConnectionStore` maintains: a conditional write of the fleet
//! lease item (preceded by a read of it when another sandbox held it last time), then (for
//! the holder only) the counter's shards, summed (one `Query` and one `BatchGetItem`).
//! Never a scan.
//!
//! The lease item: `pk` = [`LEASE_PK`], `sk` = 0, `holder` (a sandbox id), `lease_until`
//! (Unix milliseconds) and `expires_at` (TTL, a day after the lease ends, so the item goes
//! away when the feature is turned off).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use liftwatch::connections::{EXPIRES_AT, PK, SK, read_count};

use super::schedule::Attempt;
use crate::aws::dynamodb::attempt_override;

/// The partition key of the fleet lease item.
pub const LEASE_PK: &str = "lease#active-connections";
const HOLDER: &str = "holder";
const LEASE_UNTIL: &str = "lease_until";

/// Takes or renews the lease for `lease` as `holder` at `now_ms`, and reads the count when
/// this sandbox holds it. With `peek`, reads the lease first and writes only when it has
/// run out. Each request has `timeout`.
pub async fn attempt(
    client: &Client,
    table: &str,
    holder: &str,
    now_ms: u64,
    (lease, timeout, peek): (Duration, Duration, bool),
) -> Attempt {
    if peek {
        match lease_until(client, table, timeout).await {
            Some(Some(until)) if until >= now_ms => return Attempt::HeldElsewhere(Some(until)),
            Some(_) => {}
            None => return Attempt::Failed,
        }
    }
    let until = now_ms.saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX));
    let result = client
        .update_item()
        .table_name(table)
        .key(PK, AttributeValue::S(LEASE_PK.to_owned()))
        .key(SK, AttributeValue::N("0".to_owned()))
        .update_expression("SET #holder = :me, #until = :until, #exp = :exp")
        .condition_expression("attribute_not_exists(#holder) OR #until < :now OR #holder = :me")
        .expression_attribute_names("#holder", HOLDER)
        .expression_attribute_names("#until", LEASE_UNTIL)
        .expression_attribute_names("#exp", EXPIRES_AT)
        .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
        .expression_attribute_values(":until", number(until))
        .expression_attribute_values(":now", number(now_ms))
        .expression_attribute_values(":exp", number(until / 1_000 + 86_400))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .customize()
        .config_override(attempt_override(timeout))
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(SdkError::ServiceError(e)) => {
            return match e.err() {
                UpdateItemError::ConditionalCheckFailedException(refused) => {
                    let until = refused
                        .item()
                        .and_then(|item| item.get(LEASE_UNTIL))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok());
                    Attempt::HeldElsewhere(until)
                }
                other => {
                    tracing::debug!(error = %other, "connection lease write failed");
                    Attempt::Failed
                }
            };
        }
        Err(error) => {
            tracing::debug!(%error, "connection lease write failed");
            return Attempt::Failed;
        }
    }
    match count(client, table, timeout).await {
        Some(active) => Attempt::Published(active),
        None => Attempt::Failed,
    }
}

/// When the lease runs out (`Some(None)`: no lease), read eventually consistently.
async fn lease_until(client: &Client, table: &str, timeout: Duration) -> Option<Option<u64>> {
    let item = client
        .get_item()
        .table_name(table)
        .key(PK, AttributeValue::S(LEASE_PK.to_owned()))
        .key(SK, AttributeValue::N("0".to_owned()))
        .customize()
        .config_override(attempt_override(timeout))
        .send()
        .await
        .map_err(|error| tracing::debug!(%error, "connection lease read failed"))
        .ok()?;
    Some(
        item.item()
            .and_then(|item| item.get(LEASE_UNTIL))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok()),
    )
}

/// The fleet-wide count: the sum of the counter's shards (`liftwatch::connections::read_count`:
/// one `Query` and one `BatchGetItem`, eventually consistent), within `timeout`.
async fn count(client: &Client, table: &str, timeout: Duration) -> Option<u64> {
    let total = tokio::time::timeout(timeout, read_count(client, table, false))
        .await
        .map_err(|_| tracing::debug!("connection count read timed out"))
        .ok()?
        .map_err(|error| tracing::debug!(%error, "connection count read failed"))
        .ok()?;
    // A counter can dip below zero briefly (a delete applied before its save's retry).
    Some(u64::try_from(total).unwrap_or(0))
}

/// Gives the lease up (at SHUTDOWN) if `holder` still has it, so the next sandbox takes
/// over at its next attempt instead of after the lease runs out.
pub async fn release(client: &Client, table: &str, holder: &str, timeout: Duration) -> bool {
    client
        .delete_item()
        .table_name(table)
        .key(PK, AttributeValue::S(LEASE_PK.to_owned()))
        .key(SK, AttributeValue::N("0".to_owned()))
        .condition_expression("#holder = :me")
        .expression_attribute_names("#holder", HOLDER)
        .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
        .customize()
        .config_override(attempt_override(timeout))
        .send()
        .await
        .is_ok()
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}
