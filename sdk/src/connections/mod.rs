//! The WebSocket connection store for API Gateway WebSocket APIs (feature `dynamodb`): one
//! DynamoDB item per connection plus an atomic active-connection counter, changed in the
//! same transaction as the put or delete, which the extension reads and publishes as the
//! fleet-wide `ActiveConnections` gauge. The broadcast helper (feature `websocket`) posts
//! to stored connections and removes the ones API Gateway reports gone.
//!
//! ```no_run
//! # async fn handler(client: aws_sdk_dynamodb::Client) -> Result<(), liftwatch::connections::StoreError> {
//! use liftwatch::connections::{Connection, ConnectionStore};
//! let store = ConnectionStore::new(client, "connections");
//! // $connect
//! store.save(&Connection::new("L0SM9cOFvHcCIhw=").user("user-42").tenant("acme")).await?;
//! let open = store.list_by_tenant("acme").await?;
//! let mine = store.list_by_user(Some("acme"), "user-42").await?;
//! let active = store.count_active().await?;
//! // $disconnect
//! store.delete("L0SM9cOFvHcCIhw=").await?;
//! # let _ = (open, mine, active); Ok(()) }
//! ```
//!
//! # Table schema
//!
//! [`create_table`] makes it; with your own IaC tools, use these names (the constants in
//! this module). The key shape is the one of the extension's statistics table.
//!
//! | what | value |
//! |---|---|
//! | partition key | `pk` (String) |
//! | sort key | `sk` (Number) |
//! | connection item | `pk` = `conn#<connection id>`, `sk` = `0`; attributes `connection_id` (S), `user_id` (S, optional), `tenant_id` (S, optional), `created_at` and `last_seen` (N, Unix milliseconds), `metadata` (M of S, optional), `expires_at` (N, Unix seconds) |
//! | counter shard | `pk` = `counter#active` for shard 0, `counter#active#<k>` for shard `k` ([`counter_partition_key`]), `sk` = `0`; `count` (N), `version` (N) |
//! | GSI `by_user` | partition `user_key` (S), sort `created_at` (N), projection ALL; sparse: `user_key` is written only for a connection with a user, as `user#<tenant length>:<tenant>#<user>` (or `user#-#<user>` without tenant) |
//! | GSI `by_tenant` | partition `tenant_key` (S), sort `created_at` (N), projection ALL; sparse: `tenant_key` = `tenant#<tenant>`, written only with a tenant |
//! | TTL | enabled on `expires_at` |
//!
//! # The active count
//!
//! [`save`](ConnectionStore::save) puts the item with `attribute_not_exists(pk)` (or over
//! an expired leftover) and adds 1 to the counter in one `TransactWriteItems`;
//! [`delete`](ConnectionStore::delete) deletes it with `attribute_exists(pk)` (and not
//! expired) and adds −1 in one transaction. A repeated save or a delete of a missing
//! connection fails its condition, so the transaction is cancelled whole and the counter
//! does not move: it is reported as [`Saved::AlreadySaved`] / [`Removed::AlreadyGone`],
//! not as an error. Conflicts with concurrent transactions are retried with backoff.
//!
//! The counter is spread over [`DEFAULT_COUNTER_SHARDS`] items (8; up to
//! [`MAX_COUNTER_SHARDS`] with [`ConnectionStore::with_counter_shards`]), each under a
//! partition key of its own, picked by a hash of the connection id: every change is a
//! transaction (2 write units on the counter), and one partition takes at most 1,000 write
//! units a second. The count is the sum of every shard: [`read_count`] (what the extension
//! and [`ConnectionStore::count_active`] use) reads shard 0 and any shard of earlier
//! versions (sort keys of `counter#active`) with one `Query` and the other shards with one
//! `BatchGetItem`. See `docs/SCALING.md` for the figures.
//!
//! # Expiry and drift
//!
//! Every item carries `expires_at`. DynamoDB deletes expired items up to 48 hours late, so
//! every read here skips them (a `FilterExpression` on queries, and a check of each item
//! on the client). TTL deletions do not touch the counter: a connection that expires
//! without a `$disconnect` leaves it one too high, and deleting an already expired item
//! does not lower it either. [`reconcile`](ConnectionStore::reconcile) recounts the live
//! items and sets the counter to that number (run it on a schedule, e.g. hourly; it scans
//! the table).
//!
//! # Tenant isolation
//!
//! The tenant index partition *is* the tenant (`tenant#<tenant>`), and the user index
//! partition holds the tenant and the user, length-prefixed, so a user id that exists in
//! two tenants is two partitions: [`list_by_user`](ConnectionStore::list_by_user) and
//! [`delete_user`](ConnectionStore::delete_user) take the tenant and only ever see that
//! tenant's connections. Every returned item is checked again on the client.

#[cfg(feature = "websocket")]
mod broadcast;
mod counter;
#[cfg(feature = "websocket")]
mod endpoint;
mod error;
mod item;
mod model;
mod query;
mod reconcile;
pub mod region;
mod schema;
mod write;

use std::time::SystemTime;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

#[cfg(feature = "websocket")]
pub use broadcast::{
    BroadcastError, BroadcastFailure, BroadcastReport, Broadcaster, DEFAULT_BROADCAST_CONCURRENCY,
};
pub use counter::{DEFAULT_COUNTER_SHARDS, MAX_COUNTER_SHARDS, counter_partition_key, read_count};
#[cfg(feature = "websocket")]
pub use endpoint::ManagementEndpoint;
pub use error::StoreError;
pub use model::{Connection, DEFAULT_TTL};
pub use query::Erasure;
pub use reconcile::Reconciled;
pub use schema::*;
pub use write::{Removed, Saved};

use item::{connection_key, from_item};
use model::unix_secs;

/// Connections of one WebSocket API in one DynamoDB table (see the module docs for the
/// schema). Cheap to clone.
///
/// ```no_run
/// # fn build(client: aws_sdk_dynamodb::Client) {
/// use liftwatch::connections::ConnectionStore;
/// let store = ConnectionStore::new(client, "connections").with_counter_shards(16);
/// # let _ = store; }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionStore {
    client: Client,
    table: String,
    shards: u32,
    page_size: Option<i32>,
}

impl ConnectionStore {
    /// A store on `table` with the counter spread over [`DEFAULT_COUNTER_SHARDS`] shards.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ConnectionStore {
            client,
            table: table.into(),
            shards: DEFAULT_COUNTER_SHARDS,
            page_size: None,
        }
    }

    /// Spreads the counter over `shards` items (1 to [`MAX_COUNTER_SHARDS`]), picked by a
    /// hash of the connection id. Readers sum every shard whatever this is, so stores with
    /// different shard counts can share a table and the number can change at any time.
    #[must_use]
    pub fn with_counter_shards(mut self, shards: u32) -> Self {
        self.shards = shards.clamp(1, MAX_COUNTER_SHARDS);
        self
    }

    /// Caps each page of a query at `items` (DynamoDB's `Limit`); pages are followed
    /// until `LastEvaluatedKey` is absent either way.
    #[must_use]
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items.max(1));
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The live connection `id`, or `None` if it is not stored or has expired.
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// if let Some(connection) = store.get("L0SM9cOFvHcCIhw=").await? {
    ///     let user = connection.user_id.as_deref().unwrap_or("anonymous");
    ///     # let _ = user;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let connection = from_item(item)?;
        Ok((!connection.is_expired(SystemTime::now())).then_some(connection))
    }

    /// The active count from the counter (see the module docs for what readers do). It can
    /// be above the number of live connections after TTL expiries, until
    /// [`reconcile`](Self::reconcile).
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// let active = store.count_active().await?;
    /// # let _ = active;
    /// # Ok(()) }
    /// ```
    pub async fn count_active(&self) -> Result<i64, StoreError> {
        counter::read_count(&self.client, &self.table, true).await
    }
}

/// Now in Unix seconds, as the TTL attribute stores it.
fn now_secs() -> AttributeValue {
    AttributeValue::N(unix_secs(SystemTime::now()).to_string())
}
