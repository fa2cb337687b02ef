//! The connection table's layout as constants (keys, indexes, attribute names), and
//! [`create_table`], which creates it with both sparse indexes and TTL enabled. Users who
//! create the table with their own IaC tools copy these names (see the module docs).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::error::StoreError;

/// Partition key attribute (String) of every item.
pub const PK: &str = "pk";
/// Sort key attribute (Number) of every item: [`CONNECTION_SK`] or a counter shard number.
pub const SK: &str = "sk";
/// Prefix of a connection item's partition key: `conn#<connection id>`.
pub const CONNECTION_PREFIX: &str = "conn#";
/// Sort key of every connection item.
pub const CONNECTION_SK: u32 = 0;

/// Partition key of the active-connection counter: `counter#active`.
pub const COUNTER_PK: &str = "counter#active";
/// Sort key of the unsharded counter (and of shard 0 when sharded). The extension reads the
/// fleet-wide count with one `GetItem` on ([`COUNTER_PK`], `COUNTER_SK`) and takes
/// [`COUNT_ATTR`]; with sharding, shards are sort keys `0..n` and the count is the sum over
/// a `Query` on the partition [`COUNTER_PK`].
pub const COUNTER_SK: u32 = 0;
/// The counter's value (Number), changed only inside connection transactions and by
/// `reconcile`.
pub const COUNT_ATTR: &str = "count";
/// Bumped with every change of a counter item; `reconcile` writes only if it is unchanged.
pub const VERSION_ATTR: &str = "version";

/// Sparse index of connections by user: partition [`USER_KEY`], sort [`CREATED_AT`].
pub const USER_INDEX: &str = "by_user";
/// The user index key (String), written only when the connection has a user; it holds
/// the tenant too (`user#<tenant length>:<tenant>#<user>`, `user#-#<user>` without tenant).
pub const USER_KEY: &str = "user_key";
/// Sparse index of connections by tenant: partition [`TENANT_KEY`], sort [`CREATED_AT`].
pub const TENANT_INDEX: &str = "by_tenant";
/// The tenant index key (String), `tenant#<tenant>`, written only when there is a tenant.
pub const TENANT_KEY: &str = "tenant_key";

/// The connection id (String).
pub const CONNECTION_ID: &str = "connection_id";
/// The user id (String), when set.
pub const USER_ID: &str = "user_id";
/// The tenant id (String), when set.
pub const TENANT_ID: &str = "tenant_id";
/// When the connection was saved, Unix milliseconds (Number); the indexes' sort key.
pub const CREATED_AT: &str = "created_at";
/// When the connection was last seen, Unix milliseconds (Number).
pub const LAST_SEEN: &str = "last_seen";
/// Free-form string metadata (Map of String).
pub const METADATA: &str = "metadata";
/// The TTL attribute, Unix seconds (Number). DynamoDB deletes expired items up to 48 h
/// late; reads of this module skip them as soon as the time has passed.
pub const EXPIRES_AT: &str = "expires_at";

/// How long [`create_table`] waits for the new table to become active.
const ACTIVE_WAIT: Duration = Duration::from_secs(300);

/// Creates `table` on demand (pay per request) with the keys and both sparse indexes
/// (projecting all attributes), waits until it is active, and enables TTL on
/// [`EXPIRES_AT`]. An existing table is an error (`ResourceInUseException`).
///
/// ```no_run
/// # async fn setup(client: aws_sdk_dynamodb::Client) -> Result<(), liftwatch::connections::StoreError> {
/// liftwatch::connections::create_table(&client, "connections").await?;
/// # Ok(()) }
/// ```
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(SK, ScalarAttributeType::N)?)
        .attribute_definitions(attribute(USER_KEY, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(TENANT_KEY, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(CREATED_AT, ScalarAttributeType::N)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(index(USER_INDEX, USER_KEY)?)
        .global_secondary_indexes(index(TENANT_INDEX, TENANT_KEY)?)
        .send()
        .await
        .map_err(|e| StoreError::dynamo("CreateTable", e))?;
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(ACTIVE_WAIT)
        .await
        .map_err(|e| StoreError::Setup {
            step: "waiting for the table to become active",
            source: Box::new(e),
        })?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(StoreError::build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| StoreError::dynamo("UpdateTimeToLive", e))?;
    Ok(())
}

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(StoreError::build)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(StoreError::build)
}

fn index(name: &str, partition: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(partition, KeyType::Hash)?)
        .key_schema(key(CREATED_AT, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(StoreError::build)
}
