//! The `ratelimit` event of protocol version 1: one rate-limit decision made by a handler
//! (rule, outcome, key class, limit, remaining, window), validated here on both sides
//! before the extension aggregates it per (rule, window, key class).

use super::check::{check_key_class, check_rule, check_window_seconds};
use super::{ProtocolError, invalid};

/// What a rate limiter decided for one request.
///
/// ```
/// use liftwatch::Outcome;
/// assert_eq!(Outcome::Blocked.as_str(), "blocked");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The request was within the limit and let through.
    Allowed,
    /// The request was over the limit and refused (HTTP 429).
    Blocked,
    /// The limiter could not decide (its store failed); the request went through or not
    /// depending on the limiter's fail-open or fail-closed setting.
    Error,
}

impl Outcome {
    /// The wire name.
    ///
    /// ```
    /// assert_eq!(liftwatch::Outcome::Allowed.as_str(), "allowed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Blocked => "blocked",
            Outcome::Error => "error",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Outcome::Allowed),
            "blocked" => Some(Outcome::Blocked),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

/// One rate-limit decision sent by a handler. The key is never sent: only its class
/// (a hash bucket such as `h07`, a named class, or none for "all keys"), so the number of
/// series stays bounded by rules × classes. See [`crate::KeyClass`].
///
/// ```
/// use liftwatch::protocol::RateLimitEvent;
/// use liftwatch::Outcome;
/// let event = RateLimitEvent {
///     rule: "login".into(),
///     outcome: Outcome::Allowed,
///     key_class: Some("h07".into()),
///     limit: Some(100),
///     remaining: Some(42),
///     window_seconds: 60,
///     window_start: Some(1_764_300_000),
/// };
/// assert_eq!(event.clone().validate(), Ok(event));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitEvent {
    /// The rule's name: 1–255 characters, not blank, no control characters, no `#`.
    pub rule: String,
    /// What was decided.
    pub outcome: Outcome,
    /// The key's class, 1–64 characters of `[A-Za-z0-9_.:-]`; `None` means all keys.
    pub key_class: Option<String>,
    /// The number of requests the rule allows per window.
    pub limit: Option<u64>,
    /// Requests left in the window after this decision; at most `limit`.
    pub remaining: Option<u64>,
    /// The window's length in seconds, 1–86,400.
    pub window_seconds: u32,
    /// The window's start in Unix seconds, a multiple of `window_seconds`; `None` means
    /// the window containing the time the extension receives the event.
    pub window_start: Option<u64>,
}

impl RateLimitEvent {
    /// Validates every field, as the extension does on receipt. Checks run in wire order:
    /// rule, key class, limit and remaining, window length, window start.
    ///
    /// ```
    /// use liftwatch::protocol::{ProtocolError, RateLimitEvent};
    /// use liftwatch::Outcome;
    /// let event = RateLimitEvent {
    ///     rule: "login".into(),
    ///     outcome: Outcome::Blocked,
    ///     key_class: None,
    ///     limit: Some(10),
    ///     remaining: Some(11),
    ///     window_seconds: 60,
    ///     window_start: None,
    /// };
    /// assert!(matches!(event.validate(), Err(ProtocolError::InvalidField { field: "remaining", .. })));
    /// ```
    pub fn validate(self) -> Result<Self, ProtocolError> {
        check_rule(&self.rule)?;
        if let Some(class) = &self.key_class {
            check_key_class(class)?;
        }
        if let (Some(limit), Some(remaining)) = (self.limit, self.remaining)
            && remaining > limit
        {
            return Err(invalid("remaining", "must not exceed limit"));
        }
        check_window_seconds(u64::from(self.window_seconds))?;
        if let Some(start) = self.window_start
            && start % u64::from(self.window_seconds) != 0
        {
            return Err(invalid(
                "window_start",
                "must be a multiple of window_seconds",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn event() -> RateLimitEvent {
        RateLimitEvent {
            rule: "login".into(),
            outcome: Outcome::Allowed,
            key_class: None,
            limit: None,
            remaining: None,
            window_seconds: 60,
            window_start: None,
        }
    }

    fn field(event: RateLimitEvent) -> (&'static str, &'static str) {
        match event.validate() {
            Err(ProtocolError::InvalidField { field, reason }) => (field, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn optional_fields_are_checked_only_when_present() {
        assert_eq!(event().validate(), Ok(event()));
        let at_limit = RateLimitEvent {
            limit: Some(5),
            remaining: Some(5),
            ..event()
        };
        assert!(at_limit.validate().is_ok());
        let remaining_only = RateLimitEvent {
            remaining: Some(7),
            ..event()
        };
        assert!(remaining_only.validate().is_ok());
        let over = RateLimitEvent {
            limit: Some(0),
            remaining: Some(1),
            ..event()
        };
        assert_eq!(field(over), ("remaining", "must not exceed limit"));
        let unaligned = RateLimitEvent {
            window_start: Some(1_764_300_030),
            ..event()
        };
        assert_eq!(
            field(unaligned),
            ("window_start", "must be a multiple of window_seconds")
        );
        let zero_window = RateLimitEvent {
            window_seconds: 0,
            window_start: Some(0),
            ..event()
        };
        assert_eq!(field(zero_window), ("window_seconds", "must be 1-86400"));
        let class = RateLimitEvent {
            key_class: Some("user@example.com".into()),
            ..event()
        };
        assert_eq!(field(class).0, "key_class");
    }

    #[test]
    fn outcomes_round_trip() {
        for outcome in [Outcome::Allowed, Outcome::Blocked, Outcome::Error] {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("Allowed"), None);
    }
}
