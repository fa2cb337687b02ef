//! Creating the statistics table: `pk` (String, HASH), `sk` (Number, RANGE), on-demand
//! billing, TTL on `expires_at`. For tests and for users setting the table up by hand.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};

use super::RateLimitError;
use super::update::{EXPIRES_AT, PK, SK};

/// How long [`create_table`] waits for the table to become active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(120);

/// Creates `table`, waits until it is active, and turns TTL on for `expires_at`.
pub async fn create_table(client: &Client, table: &str) -> Result<(), RateLimitError> {
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(attribute(PK, ScalarAttributeType::S).map_err(build)?)
        .attribute_definitions(attribute(SK, ScalarAttributeType::N).map_err(build)?)
        .key_schema(key(PK, KeyType::Hash).map_err(build)?)
        .key_schema(key(SK, KeyType::Range).map_err(build)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| RateLimitError::Table(Box::new(e.into())))?;
    let start = Instant::now();
    loop {
        let described = client.describe_table().table_name(table).send().await;
        let status = described
            .map_err(|e| RateLimitError::Table(Box::new(e.into())))?
            .table()
            .and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            break;
        }
        if start.elapsed() > ACTIVE_WITHIN {
            return Err(RateLimitError::NotActive(table.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(EXPIRES_AT)
        .enabled(true)
        .build()
        .map_err(build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| RateLimitError::Table(Box::new(e.into())))?;
    Ok(())
}

fn build(error: aws_sdk_dynamodb::error::BuildError) -> RateLimitError {
    RateLimitError::Table(Box::new(error.into()))
}
