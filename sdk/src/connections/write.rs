//! The two writes: `save` and `delete`, each one `TransactWriteItems` holding the
//! connection item's conditional put or delete and the counter change, so the counter
//! moves exactly when the item appears or disappears.

use std::time::SystemTime;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::counter::{Transacted, counter_change, shard_of, transact};
use super::error::StoreError;
use super::item::{connection_key, to_item};
use super::model::Connection;
use super::schema::{EXPIRES_AT, PK};
use super::{ConnectionStore, now_secs};

/// What [`ConnectionStore::save`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// The connection was stored and counted.
    Created,
    /// A live item with this id was already there (a repeated save): nothing changed.
    AlreadySaved,
}

/// What [`ConnectionStore::delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The live connection was deleted and the counter lowered.
    Deleted,
    /// An expired item was still there and was deleted; the counter was left alone
    /// (expired items are [`reconcile`](ConnectionStore::reconcile)'s business).
    Expired,
    /// No such connection (a repeated delete): nothing changed.
    AlreadyGone,
}

impl ConnectionStore {
    /// Stores `connection` and counts it, atomically (see the module docs). Saving a
    /// connection that is already stored and live changes nothing, not even its attributes,
    /// and answers [`Saved::AlreadySaved`]. A connection whose `expires_at` has passed is
    /// refused ([`StoreError::AlreadyExpired`]).
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// use liftwatch::connections::{Connection, Saved};
    /// // $connect: requestContext.connectionId, plus what the authorizer said
    /// let connection = Connection::new("L0SM9cOFvHcCIhw=").user("user-42").tenant("acme");
    /// if store.save(&connection).await? == Saved::AlreadySaved {
    ///     // a retried $connect: counted once all the same
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn save(&self, connection: &Connection) -> Result<Saved, StoreError> {
        if connection.id.is_empty() {
            return Err(StoreError::EmptyConnectionId);
        }
        if connection.is_expired(SystemTime::now()) {
            return Err(StoreError::AlreadyExpired);
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(connection)))
            .condition_expression("attribute_not_exists(#pk) OR #expires <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", now_secs())
            .build()
            .map_err(StoreError::build)?;
        let shard = shard_of(&connection.id, self.shards);
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            counter_change(&self.table, shard, 1)?,
        ];
        Ok(match transact(&self.client, "save", items).await? {
            Transacted::Committed => Saved::Created,
            Transacted::ConditionFailed => Saved::AlreadySaved,
        })
    }

    /// Deletes connection `id` and uncounts it, atomically. An expired leftover is deleted
    /// without touching the counter; a missing one is [`Removed::AlreadyGone`].
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// // $disconnect (a repeated one is harmless)
    /// store.delete("L0SM9cOFvHcCIhw=").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: &str) -> Result<Removed, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(connection_key(id)))
            .condition_expression("attribute_exists(#pk) AND #expires > :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", now_secs())
            .build()
            .map_err(StoreError::build)?;
        let shard = shard_of(id, self.shards);
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            counter_change(&self.table, shard, -1)?,
        ];
        if transact(&self.client, "delete", items).await? == Transacted::Committed {
            return Ok(Removed::Deleted);
        }
        // Missing or expired. Only an expired item is removed here, so a live one saved
        // meanwhile is never deleted without being uncounted.
        let expired = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(id)))
            .condition_expression("attribute_exists(#pk) AND #expires <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", now_secs())
            .send()
            .await;
        match expired {
            Ok(_) => Ok(Removed::Expired),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(Removed::AlreadyGone)
            }
            Err(e) => Err(StoreError::dynamo("DeleteItem", e)),
        }
    }
}
