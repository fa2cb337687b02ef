//! Rate-limit decisions as handlers report them: [`RateLimitDecision`] builds the
//! `ratelimit` event that [`Client::rate_limit`](crate::Client::rate_limit) sends, and
//! [`KeyClass`] turns a caller's key into a bounded class so raw user keys never leave the
//! handler.
//!
//! Why classes: the extension keeps one series per (rule, window, key class), publishes
//! one CloudWatch series per rule and writes one DynamoDB item per series and window. A raw
//! key (a user id, an IP address) would make that unbounded and would put personal data
//! into metrics. A hashed class caps the series at rules × buckets and still shows whether
//! blocks are spread out or concentrated on a few keys.

use crate::protocol::{
    MAX_WINDOW_SECONDS, Outcome, ProtocolError, RateLimitEvent, check_key_class,
};

/// Hash buckets used by [`KeyClass::hashed_default`].
///
/// ```
/// assert_eq!(liftwatch::DEFAULT_KEY_BUCKETS, 16);
/// ```
pub const DEFAULT_KEY_BUCKETS: u16 = 16;
/// The most hash buckets [`KeyClass::hashed`] accepts.
///
/// ```
/// assert_eq!(liftwatch::MAX_KEY_BUCKETS, 256);
/// ```
pub const MAX_KEY_BUCKETS: u16 = 256;

/// FNV-1a, 64-bit, of `bytes`: offset basis `0xcbf29ce484222325`, prime `0x100000001b3`,
/// each byte XORed in before the multiplication (wrapping). Stable across processes,
/// platforms and languages, which is what [`KeyClass::hashed`] needs; it is not a
/// cryptographic hash (a class is a bucket, not a secret).
///
/// ```
/// assert_eq!(liftwatch::fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(liftwatch::fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// The class of a rate-limit key: what the event carries instead of the key itself.
///
/// - [`KeyClass::hashed`]: `h` and the bucket `fnv1a_64(key) % buckets` in decimal, at
///   least two digits (`h00`…`h15` for 16 buckets; `h00`…`h255` for 256);
/// - [`KeyClass::named`]: one of a small, closed set you choose (`free`, `paid`,
///   `internal`), 1–64 characters of `[A-Za-z0-9_.:-]`;
/// - [`KeyClass::all`]: no class (the field is omitted): every key counts together.
///
/// An invalid class (buckets out of 1–256, a bad name) makes the send fail with
/// `SendError::Invalid`, like an invalid metric.
///
/// ```
/// use liftwatch::KeyClass;
/// assert_eq!(KeyClass::hashed("user-42", 16).as_str(), Some("h11"));
/// assert_eq!(KeyClass::named("paid").as_str(), Some("paid"));
/// assert_eq!(KeyClass::all().as_str(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KeyClass(Result<Option<String>, ProtocolError>);

impl Default for KeyClass {
    /// [`KeyClass::all`].
    fn default() -> Self {
        Self::all()
    }
}

impl KeyClass {
    /// The hash bucket of `key` among `buckets` (1–256): `h` followed by
    /// `fnv1a_64(key as UTF-8) % buckets`, at least two digits. The key itself is not kept.
    ///
    /// ```
    /// use liftwatch::{fnv1a_64, KeyClass};
    /// let bucket = fnv1a_64("alice@example.com".as_bytes()) % 16;
    /// assert_eq!(KeyClass::hashed("alice@example.com", 16).as_str(), Some(format!("h{bucket:02}").as_str()));
    /// assert_eq!(KeyClass::hashed("anyone", 1).as_str(), Some("h00"));
    /// assert_eq!(KeyClass::hashed("anyone", 0).as_str(), None, "invalid: refused at send");
    /// ```
    pub fn hashed(key: &str, buckets: u16) -> Self {
        if buckets == 0 || buckets > MAX_KEY_BUCKETS {
            return KeyClass(Err(ProtocolError::InvalidField {
                field: "key_class",
                reason: "hash buckets must be 1-256",
            }));
        }
        let bucket = fnv1a_64(key.as_bytes()) % u64::from(buckets);
        KeyClass(Ok(Some(format!("h{bucket:02}"))))
    }

    /// [`KeyClass::hashed`] with [`DEFAULT_KEY_BUCKETS`] (16) buckets.
    ///
    /// ```
    /// use liftwatch::KeyClass;
    /// assert_eq!(KeyClass::hashed_default("user-42"), KeyClass::hashed("user-42", 16));
    /// ```
    pub fn hashed_default(key: &str) -> Self {
        Self::hashed(key, DEFAULT_KEY_BUCKETS)
    }

    /// A named class from a small, closed set (plans, tenant tiers, `anonymous`): 1–64
    /// characters of `[A-Za-z0-9_.:-]`. Never pass a raw user key here.
    ///
    /// ```
    /// use liftwatch::KeyClass;
    /// assert_eq!(KeyClass::named("tier:free").as_str(), Some("tier:free"));
    /// assert_eq!(KeyClass::named("no spaces").as_str(), None, "invalid: refused at send");
    /// ```
    pub fn named(class: &str) -> Self {
        KeyClass(check_key_class(class).map(|()| Some(class.to_owned())))
    }

    /// No class: all keys count together (`key_class` is omitted on the wire).
    ///
    /// ```
    /// assert_eq!(liftwatch::KeyClass::all(), liftwatch::KeyClass::default());
    /// ```
    pub fn all() -> Self {
        KeyClass(Ok(None))
    }

    /// The class as sent, `None` for all keys or an invalid class.
    ///
    /// ```
    /// assert_eq!(liftwatch::KeyClass::named("paid").as_str(), Some("paid"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_ref().ok().and_then(Option::as_deref)
    }

    fn into_wire(self) -> Result<Option<String>, ProtocolError> {
        self.0
    }
}

/// One rate-limit decision to report, built from the outcome, the rule and the window
/// length, then sent with [`Client::rate_limit`](crate::Client::rate_limit).
///
/// ```no_run
/// use liftwatch::{Client, KeyClass, RateLimitDecision};
/// let client = Client::from_env();
/// let user_id = "user-42";
/// client.rate_limit(
///     RateLimitDecision::allowed("login", 60)
///         .key_class(KeyClass::hashed(user_id, 16))
///         .limit(100)
///         .remaining(42),
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitDecision {
    rule: String,
    outcome: Outcome,
    key_class: KeyClass,
    limit: Option<u64>,
    remaining: Option<u64>,
    window_seconds: u32,
    window_start: Option<u64>,
}

impl RateLimitDecision {
    /// A decision with `outcome` for `rule`, in windows of `window_seconds` (1–86,400).
    ///
    /// ```
    /// use liftwatch::{Outcome, RateLimitDecision};
    /// let decision = RateLimitDecision::new("search", Outcome::Error, 1);
    /// assert!(decision.into_event().is_ok());
    /// ```
    pub fn new(rule: &str, outcome: Outcome, window_seconds: u32) -> Self {
        RateLimitDecision {
            rule: rule.to_owned(),
            outcome,
            key_class: KeyClass::all(),
            limit: None,
            remaining: None,
            window_seconds,
            window_start: None,
        }
    }

    /// The request was let through.
    ///
    /// ```
    /// let event = liftwatch::RateLimitDecision::allowed("login", 60).into_event().unwrap();
    /// assert_eq!(event.outcome, liftwatch::Outcome::Allowed);
    /// ```
    pub fn allowed(rule: &str, window_seconds: u32) -> Self {
        Self::new(rule, Outcome::Allowed, window_seconds)
    }

    /// The request was refused (over the limit).
    ///
    /// ```
    /// let event = liftwatch::RateLimitDecision::blocked("login", 60).into_event().unwrap();
    /// assert_eq!(event.outcome, liftwatch::Outcome::Blocked);
    /// ```
    pub fn blocked(rule: &str, window_seconds: u32) -> Self {
        Self::new(rule, Outcome::Blocked, window_seconds)
    }

    /// The limiter could not decide (its store failed).
    ///
    /// ```
    /// let event = liftwatch::RateLimitDecision::error("login", 60).into_event().unwrap();
    /// assert_eq!(event.outcome, liftwatch::Outcome::Error);
    /// ```
    pub fn error(rule: &str, window_seconds: u32) -> Self {
        Self::new(rule, Outcome::Error, window_seconds)
    }

    /// The class of the caller's key (default: [`KeyClass::all`]).
    ///
    /// ```
    /// use liftwatch::{KeyClass, RateLimitDecision};
    /// let event = RateLimitDecision::allowed("login", 60).key_class(KeyClass::named("paid")).into_event().unwrap();
    /// assert_eq!(event.key_class.as_deref(), Some("paid"));
    /// ```
    #[must_use]
    pub fn key_class(mut self, class: KeyClass) -> Self {
        self.key_class = class;
        self
    }

    /// Requests the rule allows per window.
    ///
    /// ```
    /// let event = liftwatch::RateLimitDecision::allowed("login", 60).limit(100).into_event().unwrap();
    /// assert_eq!(event.limit, Some(100));
    /// ```
    #[must_use]
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Requests left in the window after this decision (at most the limit).
    ///
    /// ```
    /// let over = liftwatch::RateLimitDecision::allowed("login", 60).limit(1).remaining(2);
    /// assert!(over.into_event().is_err());
    /// ```
    #[must_use]
    pub fn remaining(mut self, remaining: u64) -> Self {
        self.remaining = Some(remaining);
        self
    }

    /// The window's start in Unix seconds, a multiple of the window length. Without it
    /// the extension counts the decision in the window containing its arrival time.
    ///
    /// ```
    /// let aligned = liftwatch::RateLimitDecision::blocked("login", 60).window_start(1_764_300_000);
    /// assert!(aligned.into_event().is_ok());
    /// let unaligned = liftwatch::RateLimitDecision::blocked("login", 60).window_start(1_764_300_001);
    /// assert!(unaligned.into_event().is_err());
    /// ```
    #[must_use]
    pub fn window_start(mut self, unix_seconds: u64) -> Self {
        self.window_start = Some(unix_seconds);
        self
    }

    /// The validated wire event, as [`Client::rate_limit`](crate::Client::rate_limit)
    /// would send it.
    ///
    /// ```
    /// use liftwatch::RateLimitDecision;
    /// assert!(RateLimitDecision::allowed("login", 0).into_event().is_err());
    /// assert!(RateLimitDecision::allowed("a#b", 60).into_event().is_err());
    /// ```
    pub fn into_event(self) -> Result<RateLimitEvent, ProtocolError> {
        const _: () = assert!(MAX_WINDOW_SECONDS < u32::MAX);
        RateLimitEvent {
            rule: self.rule,
            outcome: self.outcome,
            key_class: self.key_class.into_wire()?,
            limit: self.limit,
            remaining: self.remaining,
            window_seconds: self.window_seconds,
            window_start: self.window_start,
        }
        .validate()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn hashed_classes_are_bounded_by_the_bucket_count() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..10_000 {
            seen.insert(
                KeyClass::hashed(&format!("user-{i}"), 16)
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let expected: std::collections::BTreeSet<String> =
            (0..16).map(|b| format!("h{b:02}")).collect();
        assert_eq!(seen, expected);
        let wide = KeyClass::hashed("x", 256);
        assert!(check_key_class(wide.as_str().unwrap()).is_ok());
        assert!(KeyClass::hashed("x", 257).into_wire().is_err());
    }

    #[test]
    fn an_invalid_class_fails_the_decision() {
        let decision = RateLimitDecision::allowed("login", 60).key_class(KeyClass::named("a b"));
        assert!(matches!(
            decision.into_event(),
            Err(ProtocolError::InvalidField {
                field: "key_class",
                ..
            })
        ));
    }
}
