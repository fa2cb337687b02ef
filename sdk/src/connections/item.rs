//! A [`Connection`] as a DynamoDB item and back: its key, the sparse index keys (written
//! only when the user or tenant is set, and holding the tenant so lookups cannot cross
//! tenants), and the attribute conversions.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::StoreError;
use super::model::{Connection, from_millis, from_secs, unix_millis, unix_secs};
use super::schema::{
    CONNECTION_ID, CONNECTION_PREFIX, CONNECTION_SK, CREATED_AT, EXPIRES_AT, LAST_SEEN, METADATA,
    PK, SK, TENANT_ID, TENANT_KEY, USER_ID, USER_KEY,
};

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The partition key value of a connection item.
pub(crate) fn connection_pk(id: &str) -> String {
    format!("{CONNECTION_PREFIX}{id}")
}

/// The primary key of a connection item.
pub(crate) fn connection_key(id: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(connection_pk(id))),
        (SK.to_owned(), AttributeValue::N(CONNECTION_SK.to_string())),
    ])
}

/// The user index partition key. The tenant is length-prefixed, so no pair of (tenant,
/// user) ids can produce the key of another pair, whatever characters they contain.
pub(crate) fn user_key(tenant: Option<&str>, user: &str) -> String {
    match tenant {
        Some(tenant) => format!("user#{}:{tenant}#{user}", tenant.len()),
        None => format!("user#-#{user}"),
    }
}

/// The tenant index partition key.
pub(crate) fn tenant_key(tenant: &str) -> String {
    format!("tenant#{tenant}")
}

/// The item for `connection`.
pub(crate) fn to_item(connection: &Connection) -> Item {
    let mut item = connection_key(&connection.id);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(CONNECTION_ID, AttributeValue::S(connection.id.clone()));
    let tenant = connection.tenant_id.as_deref();
    if let Some(user) = &connection.user_id {
        put(USER_ID, AttributeValue::S(user.clone()));
        put(USER_KEY, AttributeValue::S(user_key(tenant, user)));
    }
    if let Some(tenant) = tenant {
        put(TENANT_ID, AttributeValue::S(tenant.to_owned()));
        put(TENANT_KEY, AttributeValue::S(tenant_key(tenant)));
    }
    let millis = |at| AttributeValue::N(unix_millis(at).to_string());
    put(CREATED_AT, millis(connection.created_at));
    put(LAST_SEEN, millis(connection.last_seen));
    put(
        EXPIRES_AT,
        AttributeValue::N(unix_secs(connection.expires_at).to_string()),
    );
    if !connection.metadata.is_empty() {
        let map = connection
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
            .collect();
        put(METADATA, AttributeValue::M(map));
    }
    item
}

/// The connection stored in `item`.
pub(crate) fn from_item(item: &Item) -> Result<Connection, StoreError> {
    let key = item
        .get(PK)
        .and_then(|v| v.as_s().ok())
        .map_or("?", String::as_str);
    let string = |name: &'static str| -> Result<Option<String>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
            Some(_) => Err(StoreError::malformed(key, name)),
        }
    };
    let number = |name: &'static str| -> Result<u64, StoreError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| StoreError::malformed(key, name))
    };
    let id = string(CONNECTION_ID)?.ok_or_else(|| StoreError::malformed(key, CONNECTION_ID))?;
    let metadata = match item.get(METADATA) {
        None => BTreeMap::new(),
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(k, v)| match v {
                AttributeValue::S(s) => Ok((k.clone(), s.clone())),
                _ => Err(StoreError::malformed(key, METADATA)),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(StoreError::malformed(key, METADATA)),
    };
    Ok(Connection {
        id,
        user_id: string(USER_ID)?,
        tenant_id: string(TENANT_ID)?,
        created_at: from_millis(number(CREATED_AT)?),
        last_seen: from_millis(number(LAST_SEEN)?),
        expires_at: from_secs(number(EXPIRES_AT)?),
        metadata,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_connection_round_trips_through_its_item() {
        let connection = Connection::new("abc=")
            .user("u1")
            .tenant("acme")
            .metadata("ip", "203.0.113.7");
        let item = to_item(&connection);
        assert_eq!(item[PK], AttributeValue::S("conn#abc=".into()));
        assert_eq!(item[SK], AttributeValue::N("0".into()));
        assert_eq!(item[USER_KEY], AttributeValue::S("user#4:acme#u1".into()));
        assert_eq!(item[TENANT_KEY], AttributeValue::S("tenant#acme".into()));
        assert_eq!(from_item(&item).unwrap(), connection);
    }

    #[test]
    fn index_keys_are_sparse() {
        let item = to_item(&Connection::new("a"));
        for name in [USER_KEY, TENANT_KEY, USER_ID, TENANT_ID, METADATA] {
            assert!(!item.contains_key(name), "{name} written without a value");
        }
        let user_only = to_item(&Connection::new("a").user("u"));
        assert_eq!(user_only[USER_KEY], AttributeValue::S("user#-#u".into()));
        assert!(!user_only.contains_key(TENANT_KEY));
    }

    #[test]
    fn user_keys_of_different_tenant_user_pairs_never_collide() {
        let pairs = [
            (Some("a#u"), "b"),
            (Some("a"), "u#b"),
            (Some("a"), "b"),
            (None, "b"),
            (Some("-"), "b"),
            (Some(""), "b"),
            (Some("1:a"), "b"),
            (Some("a"), "1:a#b"),
        ];
        let keys: std::collections::HashSet<_> =
            pairs.iter().map(|(t, u)| user_key(*t, u)).collect();
        assert_eq!(keys.len(), pairs.len());
    }

    #[test]
    fn a_malformed_item_names_the_attribute() {
        let mut item = to_item(&Connection::new("a"));
        item.insert(CREATED_AT.into(), AttributeValue::S("yesterday".into()));
        let error = from_item(&item).unwrap_err();
        assert!(matches!(
            error,
            StoreError::Malformed {
                attribute: CREATED_AT,
                ..
            }
        ));
    }
}
