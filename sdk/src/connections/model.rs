//! [`Connection`]: one WebSocket connection as the store keeps it, and the time conversions
//! of its timestamps (Unix milliseconds for `created_at`/`last_seen`, Unix seconds for the
//! TTL, as stored).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a connection lives by default: API Gateway closes a WebSocket connection after
/// two hours at most; five minutes more cover clock skew.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 3_600 + 300);

/// One WebSocket connection.
///
/// Timestamps are [`SystemTime`]s. `created_at` and `last_seen` are stored as Unix
/// milliseconds and `expires_at` as Unix seconds (the DynamoDB TTL unit), so the builder
/// methods truncate to those precisions and what [`get`](super::ConnectionStore::get)
/// returns equals what was saved.
///
/// ```
/// use std::time::Duration;
/// use liftwatch::connections::Connection;
/// let connection = Connection::new("L0SM9cOFvHcCIhw=")
///     .user("user-42")
///     .tenant("acme")
///     .metadata("ip", "203.0.113.7")
///     .ttl(Duration::from_secs(600));
/// assert_eq!(connection.user_id.as_deref(), Some("user-42"));
/// assert!(connection.expires_at > connection.created_at);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The API Gateway connection id (`requestContext.connectionId`).
    pub id: String,
    /// The authenticated user, if any.
    pub user_id: Option<String>,
    /// The tenant the connection belongs to, if any.
    pub tenant_id: Option<String>,
    /// When the connection was opened (millisecond precision).
    pub created_at: SystemTime,
    /// When the connection was last seen (millisecond precision).
    pub last_seen: SystemTime,
    /// When the item expires (second precision): after this it is never returned, and
    /// DynamoDB's TTL deletes it (up to 48 h later).
    pub expires_at: SystemTime,
    /// Free-form string metadata.
    pub metadata: BTreeMap<String, String>,
}

impl Connection {
    /// A connection opened now, with no user or tenant, expiring after [`DEFAULT_TTL`].
    pub fn new(id: impl Into<String>) -> Self {
        let now = truncate_millis(SystemTime::now());
        Connection {
            id: id.into(),
            user_id: None,
            tenant_id: None,
            created_at: now,
            last_seen: now,
            expires_at: truncate_secs(now + DEFAULT_TTL),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the user.
    #[must_use]
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets when the connection was opened; `last_seen` follows if it was earlier.
    #[must_use]
    pub fn created_at(mut self, at: SystemTime) -> Self {
        self.created_at = truncate_millis(at);
        self.last_seen = self.last_seen.max(self.created_at);
        self
    }

    /// Sets when the connection was last seen.
    #[must_use]
    pub fn last_seen(mut self, at: SystemTime) -> Self {
        self.last_seen = truncate_millis(at);
        self
    }

    /// Sets the expiry time.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = truncate_secs(at);
        self
    }

    /// Expires `ttl` after `created_at`.
    #[must_use]
    pub fn ttl(self, ttl: Duration) -> Self {
        let at = self.created_at + ttl;
        self.expires_at(at)
    }

    /// Whether the connection has expired at `now` (expiry at or before `now`).
    pub fn is_expired(&self, now: SystemTime) -> bool {
        unix_secs(self.expires_at) <= unix_secs(now)
    }
}

pub(crate) use crate::clock::{unix_ms as unix_millis, unix_secs};

/// The time `millis` after the epoch.
pub(crate) fn from_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

/// The time `secs` after the epoch.
pub(crate) fn from_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn truncate_millis(at: SystemTime) -> SystemTime {
    from_millis(unix_millis(at))
}

fn truncate_secs(at: SystemTime) -> SystemTime {
    from_secs(unix_secs(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_truncated_to_their_stored_precision() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let connection = Connection::new("c").created_at(at).expires_at(at);
        assert_eq!(unix_millis(connection.created_at), 1_700_000_000_123);
        assert_eq!(connection.created_at, from_millis(1_700_000_000_123));
        assert_eq!(connection.expires_at, from_secs(1_700_000_000));
        assert!(connection.last_seen >= connection.created_at);
    }

    #[test]
    fn expiry_is_inclusive_at_second_precision() {
        let at = from_secs(1_000);
        let connection = Connection::new("c").expires_at(at);
        assert!(!connection.is_expired(from_secs(999)));
        assert!(connection.is_expired(at));
        assert!(connection.is_expired(at + Duration::from_millis(999)));
    }

    #[test]
    fn the_default_ttl_outlives_api_gateways_two_hour_limit() {
        let connection = Connection::new("c");
        let lifetime = connection
            .expires_at
            .duration_since(connection.created_at)
            .unwrap_or_default();
        assert!(lifetime > Duration::from_secs(2 * 3_600));
    }
}
