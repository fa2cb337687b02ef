//! The connection table's layout as constants (keys, indexes, attribute names), and
//! [`create_table`], which creates it with both sparse indexes and TTL enabled (through the
//! crate's one table-creation helper). Users who create the table with their own IaC tools
//! copy these names (see the module docs).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    GlobalSecondaryIndex, KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::error::StoreError;
use crate::dynamodb_table::{self, Layout, TableError, key};

/// Partition key attribute (String) of every item.
pub const PK: &str = "pk";
/// Sort key attribute (Number) of every item: [`CONNECTION_SK`] or [`COUNTER_SK`] (both 0).
pub const SK: &str = "sk";
/// Prefix of a connection item's partition key: `conn#<connection id>`.
pub const CONNECTION_PREFIX: &str = "conn#";
/// Sort key of every connection item.
pub const CONNECTION_SK: u32 = 0;

/// Partition key of the active-connection counter's shard 0: `counter#active`.
pub const COUNTER_PK: &str = "counter#active";
/// Sort key of every counter shard (shard `k` > 0 has the partition key
/// `counter#active#<k>`): the count is the sum over all of them (see `read_count`).
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
    let layout = Layout {
        partition_key: PK,
        sort_key: SK,
        index_attributes: &[
            (USER_KEY, ScalarAttributeType::S),
            (TENANT_KEY, ScalarAttributeType::S),
            (CREATED_AT, ScalarAttributeType::N),
        ],
        indexes: vec![
            index(USER_INDEX, USER_KEY)?,
            index(TENANT_INDEX, TENANT_KEY)?,
        ],
        ttl_attribute: EXPIRES_AT,
    };
    Ok(dynamodb_table::create(client, table, layout).await?)
}

fn index(name: &str, partition: &str) -> Result<GlobalSecondaryIndex, TableError> {
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
        .map_err(TableError::Build)
}
