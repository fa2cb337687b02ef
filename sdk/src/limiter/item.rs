//! The one conditional `UpdateItem` both limiters decide with: `ADD 1` to a window's
//! counter under `count < budget`, the TTL set with it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// What the counter said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// Counted; the window's count is now this.
    Allowed(u64),
    /// The budget was spent; nothing was written.
    Refused,
    /// DynamoDB failed.
    Failed,
}

/// The partition key of `key` under `rule`.
pub(super) fn partition_key(rule: &str, key: &str) -> String {
    format!("limit#{rule}#{key}")
}

/// Adds one to `(pk, window_start)` if its count is below `budget`.
pub(super) async fn count_if_below(
    client: &Client,
    table: &str,
    pk: &str,
    window_start: u64,
    budget: u64,
    expires_at: u64,
) -> Counted {
    if budget == 0 {
        return Counted::Refused;
    }
    let result = client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::N(window_start.to_string()))
        .update_expression("ADD #count :one SET expires_at = :expires")
        .condition_expression("attribute_not_exists(#count) OR #count < :budget")
        .expression_attribute_names("#count", "count")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":budget", AttributeValue::N(budget.to_string()))
        .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await;
    match result {
        Ok(out) => Counted::Allowed(
            out.attributes()
                .and_then(|a| a.get("count"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(budget),
        ),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            Counted::Refused
        }
        Err(_) => Counted::Failed,
    }
}

/// The count stored for `(pk, window_start)` (0 when absent), read consistently.
pub(super) async fn read_count(
    client: &Client,
    table: &str,
    pk: &str,
    window_start: u64,
) -> Option<u64> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::N(window_start.to_string()))
        .consistent_read(true)
        .projection_expression("#count")
        .expression_attribute_names("#count", "count")
        .send()
        .await
        .ok()?;
    Some(
        out.item()
            .and_then(|item| item.get("count"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    )
}
