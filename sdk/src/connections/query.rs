//! Lookups through the sparse indexes (by user within a tenant, by tenant), every page
//! followed, expired items filtered out on the server and checked again on the client;
//! and the erasure of everything stored for a user.

use std::time::SystemTime;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::StoreError;
use super::item::{from_item, tenant_key, user_key};
use super::model::Connection;
use super::schema::{EXPIRES_AT, TENANT_INDEX, TENANT_KEY, USER_INDEX, USER_KEY};
use super::{ConnectionStore, Removed, now_secs};

/// How many times [`ConnectionStore::delete_user`] queries the user index: the index is
/// eventually consistent, so a connection saved just before may show up only in a later
/// pass; passes stop as soon as one finds nothing.
const ERASURE_PASSES: usize = 3;

/// What [`ConnectionStore::delete_user`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Live connections deleted (the counter went down by this much).
    pub deleted: usize,
    /// Expired items deleted (not counted).
    pub expired: usize,
}

/// Which index to query, and which items belong to the caller's scope.
struct Lookup<'a> {
    index: &'static str,
    key_attribute: &'static str,
    key: String,
    tenant: Option<&'a str>,
    user: Option<&'a str>,
}

impl Lookup<'_> {
    /// The client-side isolation check: the item's own tenant (and user) must be the ones
    /// asked for, whatever the index returned.
    fn owns(&self, connection: &Connection) -> bool {
        connection.tenant_id.as_deref() == self.tenant
            && self
                .user
                .is_none_or(|user| connection.user_id.as_deref() == Some(user))
    }
}

impl ConnectionStore {
    /// The live connections of `user_id` in `tenant` (`None`: the connections saved
    /// without a tenant). A user id that exists in another tenant is another user.
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// for connection in store.list_by_user(Some("acme"), "user-42").await? {
    ///     println!("{}", connection.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_by_user(
        &self,
        tenant: Option<&str>,
        user_id: &str,
    ) -> Result<Vec<Connection>, StoreError> {
        self.lookup(&user_lookup(tenant, user_id), true).await
    }

    /// The live connections of `tenant`, oldest first.
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// let ids: Vec<String> = store.list_by_tenant("acme").await?.into_iter().map(|c| c.id).collect();
    /// # let _ = ids;
    /// # Ok(()) }
    /// ```
    pub async fn list_by_tenant(&self, tenant: &str) -> Result<Vec<Connection>, StoreError> {
        let lookup = Lookup {
            index: TENANT_INDEX,
            key_attribute: TENANT_KEY,
            key: tenant_key(tenant),
            tenant: Some(tenant),
            user: None,
        };
        self.lookup(&lookup, true).await
    }

    /// Erases everything stored for `user_id` in `tenant`: every connection item of the
    /// user, live or expired, each deleted as [`delete`](Self::delete) does (a live one
    /// lowers the counter). Other tenants' users with the same id are untouched.
    ///
    /// ```no_run
    /// # async fn f(store: liftwatch::connections::ConnectionStore) -> Result<(), liftwatch::connections::StoreError> {
    /// let erased = store.delete_user(Some("acme"), "user-42").await?;
    /// assert_eq!(store.list_by_user(Some("acme"), "user-42").await?.len(), 0);
    /// # let _ = erased;
    /// # Ok(()) }
    /// ```
    pub async fn delete_user(
        &self,
        tenant: Option<&str>,
        user_id: &str,
    ) -> Result<Erasure, StoreError> {
        let lookup = user_lookup(tenant, user_id);
        let mut erasure = Erasure::default();
        for _ in 0..ERASURE_PASSES {
            let found = self.lookup(&lookup, false).await?;
            if found.is_empty() {
                break;
            }
            for connection in found {
                match self.delete(&connection.id).await? {
                    Removed::Deleted => erasure.deleted += 1,
                    Removed::Expired => erasure.expired += 1,
                    Removed::AlreadyGone => {}
                }
            }
        }
        Ok(erasure)
    }

    /// Queries one index partition page by page (following `LastEvaluatedKey`); with
    /// `live_only`, expired items are filtered out by the server and again here.
    async fn lookup(
        &self,
        lookup: &Lookup<'_>,
        live_only: bool,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(lookup.index)
                .key_condition_expression("#key = :key")
                .expression_attribute_names("#key", lookup.key_attribute)
                .expression_attribute_values(":key", AttributeValue::S(lookup.key.clone()))
                .set_limit(self.page_size)
                .set_exclusive_start_key(start);
            if live_only {
                query = query
                    .filter_expression("#expires > :now")
                    .expression_attribute_names("#expires", EXPIRES_AT)
                    .expression_attribute_values(":now", now_secs());
            }
            let out = query
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", e))?;
            let now = SystemTime::now();
            for item in out.items() {
                let connection = from_item(item)?;
                if lookup.owns(&connection) && !(live_only && connection.is_expired(now)) {
                    found.push(connection);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }
}

fn user_lookup<'a>(tenant: Option<&'a str>, user: &'a str) -> Lookup<'a> {
    Lookup {
        index: USER_INDEX,
        key_attribute: USER_KEY,
        key: user_key(tenant, user),
        tenant,
        user: Some(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_side_check_rejects_other_tenants_and_users() {
        let lookup = user_lookup(Some("acme"), "u1");
        assert!(lookup.owns(&Connection::new("a").tenant("acme").user("u1")));
        assert!(!lookup.owns(&Connection::new("b").tenant("globex").user("u1")));
        assert!(!lookup.owns(&Connection::new("c").user("u1")));
        assert!(!lookup.owns(&Connection::new("d").tenant("acme").user("u2")));
        let untenanted = user_lookup(None, "u1");
        assert!(untenanted.owns(&Connection::new("e").user("u1")));
        assert!(!untenanted.owns(&Connection::new("f").tenant("acme").user("u1")));
    }
}
