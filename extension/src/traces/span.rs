//! The span model every part of tracing shares: built from platform telemetry, received
//! from handlers (SDK span events, OTLP), buffered, and encoded by the exporters (OTLP,
//! X-Ray). Ids are raw bytes; times are Unix nanoseconds.

use std::fmt;

/// A 16-byte trace id (OpenTelemetry and X-Ray; the X-Ray form is
/// `1-<first 8 hex digits>-<last 24 hex digits>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id (an X-Ray segment id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The X-Ray form: `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn to_xray(&self) -> String {
        let hex = self.to_hex();
        format!("1-{}-{}", &hex[..8], &hex[8..])
    }

    /// Reads 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut id = [0u8; 16];
        unhex(s, &mut id)?;
        (id != [0; 16]).then_some(TraceId(id))
    }

    /// Reads the X-Ray form `1-<8 hex>-<24 hex>`.
    pub fn from_xray(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("1-")?;
        let (time, random) = rest.split_once('-')?;
        if time.len() != 8 || random.len() != 24 {
            return None;
        }
        Self::from_hex(&format!("{time}{random}"))
    }
}

impl SpanId {
    /// 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Reads 16 hex digits; the all-zero id is invalid.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut id = [0u8; 8];
        unhex(s, &mut id)?;
        (id != [0; 8]).then_some(SpanId(id))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The span kinds and attribute values are the wire protocol's own types: a handler's
/// span event becomes a [`Span`] without translation.
pub use liftwatch::protocol::{AttributeValue, SpanKind};

/// How a span ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpanStatus {
    /// Not set.
    #[default]
    Unset,
    /// Succeeded.
    Ok,
    /// Failed, with a message.
    Error(String),
}

/// One finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` for a trace's root span.
    pub parent_span_id: Option<SpanId>,
    pub name: String,
    pub kind: SpanKind,
    /// Unix nanoseconds.
    pub start_unix_nanos: u64,
    /// Unix nanoseconds, at or after the start.
    pub end_unix_nanos: u64,
    pub status: SpanStatus,
    pub attributes: Vec<(String, AttributeValue)>,
    /// Whether the trace is sampled (exported); unsampled spans only count.
    pub sampled: bool,
    /// What an OpenTelemetry SDK sent beyond that (events, links, its resource and scope);
    /// `None` for the platform's and the protocol's spans.
    pub detail: Option<Box<SpanDetail>>,
}

/// The parts of an OTLP span kept apart from the fields every span has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanDetail {
    /// Timed events, at most [`MAX_SPAN_EVENTS`] (an `exception` event is how the SDKs
    /// record an error).
    pub events: Vec<TimedEvent>,
    /// Links to other spans, at most [`MAX_SPAN_LINKS`].
    pub links: Vec<SpanLink>,
    /// The sender's resource and instrumentation scope, shared by the spans of one request.
    pub origin: Option<std::sync::Arc<Origin>>,
}

/// Events kept per span; more are dropped (OpenTelemetry SDKs keep 128 by default).
pub const MAX_SPAN_EVENTS: usize = 128;
/// Links kept per span.
pub const MAX_SPAN_LINKS: usize = 128;

/// A timed event within a span.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    pub name: String,
    pub time_unix_nanos: u64,
    pub attributes: Vec<(String, AttributeValue)>,
}

/// A link to another span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub attributes: Vec<(String, AttributeValue)>,
}

/// Who sent a span: its SDK's resource and instrumentation scope.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    pub resource: Vec<(String, AttributeValue)>,
    pub scope_name: String,
    pub scope_version: String,
}

impl Span {
    /// The attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// What every span of this extension shares: the function it describes, as OpenTelemetry
/// resource attributes (`service.name`, `cloud.provider`, `cloud.region`, `faas.name`,
/// `faas.version`, `faas.max_memory`, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    pub attributes: Vec<(String, AttributeValue)>,
}

impl Resource {
    /// The resource of function `name` (`version`) in `region`.
    pub fn function(name: &str, version: &str, region: &str, memory_mb: Option<u64>) -> Self {
        let mut attributes = vec![
            (
                "service.name".to_owned(),
                AttributeValue::Str(name.to_owned()),
            ),
            (
                "cloud.provider".to_owned(),
                AttributeValue::Str("aws".to_owned()),
            ),
            (
                "cloud.platform".to_owned(),
                AttributeValue::Str("aws_lambda".to_owned()),
            ),
            (
                "cloud.region".to_owned(),
                AttributeValue::Str(region.to_owned()),
            ),
            ("faas.name".to_owned(), AttributeValue::Str(name.to_owned())),
            (
                "faas.version".to_owned(),
                AttributeValue::Str(version.to_owned()),
            ),
        ];
        if let Some(mb) = memory_mb {
            let bytes = i64::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX);
            attributes.push(("faas.max_memory".to_owned(), AttributeValue::Int(bytes)));
        }
        Resource { attributes }
    }

    /// The attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    if s.len() != out.len() * 2 || !s.is_ascii() {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_read_and_write_hex_and_the_xray_form() {
        let trace = TraceId::from_xray("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(trace.to_hex(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(trace.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(TraceId::from_hex(&trace.to_hex()), Some(trace));
        let span = SpanId::from_hex("53995c3f42cd8ad8").unwrap();
        assert_eq!(span.to_string(), "53995c3f42cd8ad8");
        for bad in [
            "",
            "1-5759e988",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759e98-8bd862e3fe1be46a994272793",
            "1-zzzzzzzz-bd862e3fe1be46a994272793",
            "1-00000000-000000000000000000000000",
            "1-é759e988-bd862e3fe1be46a99427279",
        ] {
            assert_eq!(TraceId::from_xray(bad), None, "{bad}");
        }
        assert_eq!(SpanId::from_hex("0000000000000000"), None);
        assert_eq!(SpanId::from_hex("53995c3f42cd8ad"), None);
    }
}
