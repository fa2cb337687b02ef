//! The wire protocol between handlers and the extension (version 1), the single source of
//! truth for both sides: the SDK encodes with it and the extension's intake decodes with it.
//!
//! A datagram is UTF-8 text holding one or more JSON objects separated by `\n`; each
//! object is one event. `docs/PROTOCOL.md` is the language-neutral description, and
//! `testdata/golden/` pins the exact bytes.
//!
//! ```
//! use liftwatch::protocol::{self, Event};
//! let mut events = Vec::new();
//! protocol::decode_datagram(br#"{"v":1,"type":"metric","name":"Orders","value":2,"kind":"count"}"#, |e| {
//!     events.push(e)
//! });
//! let Ok(Event::Metric(metric)) = &events[0] else { unreachable!() };
//! assert_eq!((metric.name.as_str(), metric.value), ("Orders", 2.0));
//!
//! let mut line = Vec::new();
//! protocol::encode(&Event::Metric(metric.clone()), &mut line);
//! assert_eq!(line, br#"{"v":1,"type":"metric","name":"Orders","value":2,"unit":"None","kind":"count"}"#);
//! ```

mod canonical;
mod check;
mod connection;
mod decode;
mod encode;
pub mod names;
mod ratelimit;
mod sequence;
mod span;

use std::fmt;

use crate::unit::Unit;

pub use check::{
    MAX_COUNT, check_count, check_dimension, check_dimensions, check_key_class, check_metric_name,
    check_rule, check_value, check_window_seconds,
};
pub(crate) use check::{check_dimension_count, check_simple, duplicate_dimension};
pub use connection::ConnectionEvent;
pub(crate) use connection::write_connection;
pub use decode::{decode_datagram, decode_line, decode_line_general};
pub use encode::encode;
pub(crate) use encode::{write_metric, write_rate_limit};
pub use names::{MAX_DIMENSION_NAME_CHARS, MAX_DIMENSION_VALUE_CHARS, MAX_NAME_CHARS};
pub use ratelimit::{Outcome, RateLimitEvent};
pub(crate) use sequence::write_sequence;
pub use sequence::{MAX_SENDER_CHARS, Sequence};
pub(crate) use span::write_span;
pub use span::{
    AttributeValue, MAX_SPAN_ARRAY_ITEMS, MAX_SPAN_ATTRIBUTES, MAX_SPAN_TEXT_CHARS, SpanEvent,
    SpanKind, hex, to_hex,
};

/// The protocol version this crate speaks; carried in every event as `"v"`.
///
/// ```
/// assert_eq!(liftwatch::protocol::PROTOCOL_VERSION, 1);
/// ```
pub const PROTOCOL_VERSION: u64 = 1;
/// The default UDP port of the extension's intake on 127.0.0.1 (`LIFTWATCH_PORT`).
///
/// ```
/// assert_eq!(liftwatch::protocol::DEFAULT_PORT, 9325);
/// ```
pub const DEFAULT_PORT: u16 = 9325;
/// The largest datagram the intake reads (the largest UDP payload over IPv4); longer ones
/// are counted and dropped.
///
/// ```
/// use liftwatch::protocol::{decode_datagram, ProtocolError, MAX_DATAGRAM_BYTES};
/// let mut errors = Vec::new();
/// decode_datagram(&vec![b' '; MAX_DATAGRAM_BYTES + 1], |r| errors.push(r));
/// assert_eq!(errors, [Err(ProtocolError::TooLong(MAX_DATAGRAM_BYTES + 1))]);
/// ```
pub const MAX_DATAGRAM_BYTES: usize = 65_507;
/// The datagram size senders should stay under when they pack several events together.
///
/// ```
/// assert_eq!(liftwatch::protocol::RECOMMENDED_DATAGRAM_BYTES, 8192);
/// ```
pub const RECOMMENDED_DATAGRAM_BYTES: usize = 8 * 1024;
/// Dimensions a handler may attach to one metric; CloudWatch allows 30 and the
/// extension always adds `FunctionName`.
///
/// ```
/// use liftwatch::Metric;
/// let wide = (0..=liftwatch::protocol::MAX_DIMENSIONS)
///     .fold(Metric::count("M", 1.0), |m, i| m.dimension(&format!("D{i}"), "v"));
/// assert!(wide.into_event().is_err(), "30 dimensions");
/// ```
pub const MAX_DIMENSIONS: usize = 29;
/// The dimension the extension adds to every metric; handlers may not set it.
///
/// ```
/// use liftwatch::{protocol::RESERVED_DIMENSION, Metric};
/// assert!(Metric::count("M", 1.0).dimension(RESERVED_DIMENSION, "f").into_event().is_err());
/// ```
pub const RESERVED_DIMENSION: &str = "FunctionName";
/// The largest magnitude CloudWatch accepts.
///
/// ```
/// use liftwatch::protocol::{check_value, MAX_MAGNITUDE};
/// assert!(check_value(MAX_MAGNITUDE).is_ok() && check_value(MAX_MAGNITUDE * 1.01).is_err());
/// ```
pub const MAX_MAGNITUDE: f64 = 1.174_271e108;
/// The smallest non-zero magnitude CloudWatch accepts.
///
/// ```
/// use liftwatch::protocol::{check_value, MIN_MAGNITUDE};
/// assert!(check_value(MIN_MAGNITUDE).is_ok() && check_value(MIN_MAGNITUDE / 2.0).is_err());
/// ```
pub const MIN_MAGNITUDE: f64 = 8.515_920e-109;
/// The longest rate-limit window, in seconds (one day).
///
/// ```
/// use liftwatch::protocol::{check_window_seconds, MAX_WINDOW_SECONDS};
/// assert!(check_window_seconds(u64::from(MAX_WINDOW_SECONDS) + 1).is_err());
/// ```
pub const MAX_WINDOW_SECONDS: u32 = 86_400;
/// Characters in a rate-limit key class (all ASCII).
///
/// ```
/// use liftwatch::protocol::{check_key_class, MAX_KEY_CLASS_CHARS};
/// assert!(check_key_class(&"k".repeat(MAX_KEY_CLASS_CHARS)).is_ok());
/// ```
pub const MAX_KEY_CLASS_CHARS: usize = 64;

/// How the extension aggregates a metric's values within one flush.
///
/// ```
/// use liftwatch::MetricKind;
/// assert_eq!(MetricKind::default(), MetricKind::Distribution);
/// assert_eq!(MetricKind::Count.as_str(), "count");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricKind {
    /// Values are summed; one data point per flush.
    Count,
    /// The last value wins; one data point per flush.
    Gauge,
    /// Every value is kept as a sample (percentiles work in CloudWatch).
    #[default]
    Distribution,
}

impl MetricKind {
    /// The wire name.
    ///
    /// ```
    /// assert_eq!(liftwatch::MetricKind::Gauge.as_str(), "gauge");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Count => "count",
            MetricKind::Gauge => "gauge",
            MetricKind::Distribution => "distribution",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "count" => Some(MetricKind::Count),
            "gauge" => Some(MetricKind::Gauge),
            "distribution" => Some(MetricKind::Distribution),
            _ => None,
        }
    }
}

/// CloudWatch storage resolution: standard (60 s) or high (1 s).
///
/// ```
/// use liftwatch::Resolution;
/// assert_eq!(Resolution::default().seconds(), 60);
/// assert_eq!(Resolution::High.seconds(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Resolution {
    /// 60-second resolution, the CloudWatch default.
    #[default]
    Standard,
    /// 1-second resolution (billed as a high-resolution metric).
    High,
}

impl Resolution {
    /// The resolution in seconds, as written on the wire and in EMF.
    ///
    /// ```
    /// assert_eq!(liftwatch::Resolution::Standard.seconds(), 60);
    /// ```
    pub fn seconds(self) -> u32 {
        match self {
            Resolution::Standard => 60,
            Resolution::High => 1,
        }
    }
}

/// One custom metric value sent by a handler.
///
/// ```
/// use liftwatch::protocol::MetricEvent;
/// use liftwatch::{MetricKind, Resolution, Unit};
/// let event = MetricEvent {
///     name: "Orders".into(),
///     value: 1.0,
///     count: 1,
///     unit: Unit::Count,
///     kind: MetricKind::Count,
///     dimensions: vec![("Tenant".into(), "acme".into())],
///     resolution: Resolution::Standard,
/// };
/// assert_eq!(event.clone().validate(), Ok(event));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MetricEvent {
    /// Metric name, 1–255 characters.
    pub name: String,
    /// A finite value within CloudWatch's range.
    pub value: f64,
    /// How many times `value` was observed: 1, or up to [`MAX_COUNT`] for a distribution
    /// aggregated by its sender (the SDK's [`Aggregate`](crate::Aggregate)).
    pub count: u32,
    /// CloudWatch unit.
    pub unit: Unit,
    /// How values are aggregated per flush.
    pub kind: MetricKind,
    /// Dimensions, sorted by name, unique, at most [`MAX_DIMENSIONS`].
    pub dimensions: Vec<(String, String)>,
    /// Storage resolution.
    pub resolution: Resolution,
}

impl MetricEvent {
    /// Validates every field, as the extension does on receipt, and sorts the dimensions
    /// by name. Checks run in wire order: name, value, dimensions.
    ///
    /// ```
    /// use liftwatch::protocol::{MetricEvent, ProtocolError};
    /// use liftwatch::{MetricKind, Resolution, Unit};
    /// let event = MetricEvent {
    ///     name: "Orders".into(),
    ///     value: f64::NAN,
    ///     count: 1,
    ///     unit: Unit::Count,
    ///     kind: MetricKind::Count,
    ///     dimensions: Vec::new(),
    ///     resolution: Resolution::Standard,
    /// };
    /// assert!(matches!(event.validate(), Err(ProtocolError::InvalidField { field: "value", .. })));
    /// ```
    pub fn validate(mut self) -> Result<Self, ProtocolError> {
        check_metric_name(&self.name)?;
        check_value(self.value)?;
        check_count(self.count, self.kind)?;
        self.dimensions = check_dimensions(self.dimensions)?;
        // In EMF a metric and its dimensions are members of one JSON object.
        if self.dimensions.iter().any(|(name, _)| *name == self.name) {
            return Err(ProtocolError::InvalidField {
                field: "name",
                reason: "a metric cannot share its name with one of its dimensions",
            });
        }
        Ok(self)
    }
}

/// One event on the wire.
///
/// ```
/// use liftwatch::protocol::{decode_line, Event};
/// let event = decode_line(r#"{"v":1,"type":"metric","name":"A","value":1}"#);
/// assert!(matches!(event, Ok(Event::Metric(m)) if m.name == "A"));
/// let event = decode_line(r#"{"v":1,"type":"ratelimit","rule":"login","outcome":"blocked","window_seconds":60}"#);
/// assert!(matches!(event, Ok(Event::RateLimit(r)) if r.rule == "login"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A custom metric value.
    Metric(MetricEvent),
    /// A rate-limit decision.
    RateLimit(RateLimitEvent),
    /// A WebSocket connection opened or closed, or a message handled.
    Connection(ConnectionEvent),
    /// A span a handler timed.
    Span(SpanEvent),
    /// Not an event: the line that numbers its datagram, for exact loss accounting.
    Sequence(Sequence),
}

/// Why an event was rejected. The extension counts these as `EventsMalformed`.
///
/// ```
/// use liftwatch::protocol::{decode_line, ProtocolError};
/// assert_eq!(
///     decode_line(r#"{"v":2,"type":"metric"}"#),
///     Err(ProtocolError::UnsupportedVersion(2))
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The line (or, for a one-line datagram, the datagram) is not UTF-8.
    NotUtf8,
    /// The datagram is longer than [`MAX_DATAGRAM_BYTES`].
    TooLong(usize),
    /// A line is not a JSON object of the expected shape.
    Json(String),
    /// The event's `v` is not a version this side speaks.
    UnsupportedVersion(u64),
    /// The event's `type` is unknown.
    UnknownType(String),
    /// A field is missing or its value is out of range.
    InvalidField {
        /// The field's wire name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::NotUtf8 => f.write_str("event is not utf-8"),
            ProtocolError::TooLong(n) => write!(f, "datagram of {n} bytes is too long"),
            ProtocolError::Json(e) => write!(f, "event is not valid json: {e}"),
            ProtocolError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            ProtocolError::UnknownType(t) => write!(f, "unknown event type {t:?}"),
            ProtocolError::InvalidField { field, reason } => {
                write!(f, "invalid field {field:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

fn invalid(field: &'static str, reason: &'static str) -> ProtocolError {
    ProtocolError::InvalidField { field, reason }
}
