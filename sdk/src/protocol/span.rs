//! The `span` event: a span a handler timed (a database call, a step of its work), sent
//! when it ends. The extension makes it a child of the invocation's trace and exports it
//! with the platform's spans (OTLP, X-Ray).
//!
//! Wire form (ids as lowercase hex; times as Unix nanoseconds):
//!
//! ```text
//! {"v":1,"type":"span","name":"db.query","trace_id":"5759e988bd862e3fe1be46a994272793",
//!  "span_id":"53995c3f42cd8ad8","parent_span_id":"a1b2c3d4e5f60718","start_unix_nano":1764300000000000000,
//!  "end_unix_nano":1764300000012000000,"kind":"client","error":"timeout","sampled":true,
//!  "attributes":{"db.system":"dynamodb","rows":3}}
//! ```

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::check::check_name;
use super::{ProtocolError, invalid};

/// Attributes one span may carry.
pub const MAX_SPAN_ATTRIBUTES: usize = 64;
/// Characters in an attribute's string value or in an error message.
pub const MAX_SPAN_TEXT_CHARS: usize = 4_096;

/// What a span stands for (OpenTelemetry's span kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanKind {
    /// Work inside the handler (the default).
    #[default]
    Internal,
    /// Serving a request.
    Server,
    /// A call to another service.
    Client,
    /// Sending a message.
    Producer,
    /// Handling a message.
    Consumer,
}

impl SpanKind {
    /// The wire name.
    ///
    /// ```
    /// assert_eq!(liftwatch::protocol::SpanKind::Client.as_str(), "client");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            SpanKind::Internal,
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Producer,
            SpanKind::Consumer,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A span attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A string, up to [`MAX_SPAN_TEXT_CHARS`] characters.
    Str(String),
    /// An integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An array of strings, numbers or booleans (no nesting), at most
    /// [`MAX_SPAN_ARRAY_ITEMS`] items: OpenTelemetry's array attributes.
    Array(Vec<AttributeValue>),
}

impl<T: Into<AttributeValue>> From<Vec<T>> for AttributeValue {
    fn from(items: Vec<T>) -> Self {
        AttributeValue::Array(items.into_iter().map(Into::into).collect())
    }
}

/// The most items an array attribute holds.
pub const MAX_SPAN_ARRAY_ITEMS: usize = 128;

impl AttributeValue {
    /// The JSON form the protocol writes.
    fn to_json(&self) -> Value {
        match self {
            AttributeValue::Str(s) => Value::String(s.clone()),
            AttributeValue::Int(i) => Value::from(*i),
            AttributeValue::Float(f) => Value::from(*f),
            AttributeValue::Bool(b) => Value::Bool(*b),
            AttributeValue::Array(items) => Value::Array(items.iter().map(Self::to_json).collect()),
        }
    }

    /// A scalar from its JSON form; `None` for anything else.
    fn scalar(value: Value) -> Option<AttributeValue> {
        Some(match value {
            Value::String(s) => AttributeValue::Str(s),
            Value::Bool(b) => AttributeValue::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => AttributeValue::Int(i),
                None => AttributeValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            _ => return None,
        })
    }

    /// Why the value breaks the protocol's rules, if it does.
    fn problem(&self, nested: bool) -> Option<&'static str> {
        match self {
            AttributeValue::Str(s) if too_long(s) => Some("a value longer than 4096 characters"),
            AttributeValue::Float(f) if !f.is_finite() => Some("a value that is not finite"),
            AttributeValue::Array(_) if nested => Some("arrays must not nest"),
            AttributeValue::Array(items) if items.len() > MAX_SPAN_ARRAY_ITEMS => {
                Some("an array of more than 128 items")
            }
            AttributeValue::Array(items) => items.iter().find_map(|item| item.problem(true)),
            _ => None,
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(s: &str) -> Self {
        AttributeValue::Str(s.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(s: String) -> Self {
        AttributeValue::Str(s)
    }
}

impl From<i64> for AttributeValue {
    fn from(n: i64) -> Self {
        AttributeValue::Int(n)
    }
}

impl From<f64> for AttributeValue {
    fn from(n: f64) -> Self {
        AttributeValue::Float(n)
    }
}

impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}

/// One finished span sent by a handler.
///
/// ```
/// use liftwatch::protocol::{decode_line, Event};
/// let line = r#"{"v":1,"type":"span","name":"db.query","trace_id":"5759e988bd862e3fe1be46a994272793","span_id":"53995c3f42cd8ad8","start_unix_nano":10,"end_unix_nano":20,"attributes":{"rows":3}}"#;
/// let Ok(Event::Span(span)) = decode_line(line) else { unreachable!() };
/// assert_eq!((span.name.as_str(), span.end_unix_nano - span.start_unix_nano), ("db.query", 10));
/// assert!(span.sampled && span.parent_span_id.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// 1–255 characters, no control characters.
    pub name: String,
    /// The trace (16 bytes, not all zero).
    pub trace_id: [u8; 16],
    /// This span (8 bytes, not all zero).
    pub span_id: [u8; 8],
    /// The parent span; `None` for a root.
    pub parent_span_id: Option<[u8; 8]>,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// End, Unix nanoseconds, not before the start.
    pub end_unix_nano: u64,
    /// The span's kind.
    pub kind: SpanKind,
    /// The error message when the span failed.
    pub error: Option<String>,
    /// At most [`MAX_SPAN_ATTRIBUTES`], names 1–255 characters, unique.
    pub attributes: Vec<(String, AttributeValue)>,
    /// Whether the trace is sampled (exported); unsampled spans are only counted.
    pub sampled: bool,
}

impl SpanEvent {
    /// Validates every field, as the extension does on receipt.
    ///
    /// ```
    /// use liftwatch::protocol::{SpanEvent, SpanKind};
    /// let span = SpanEvent {
    ///     name: "step".into(), trace_id: [1; 16], span_id: [2; 8], parent_span_id: None,
    ///     start_unix_nano: 20, end_unix_nano: 10, kind: SpanKind::Internal, error: None,
    ///     attributes: Vec::new(), sampled: true,
    /// };
    /// assert!(span.validate().is_err(), "ends before it starts");
    /// ```
    pub fn validate(self) -> Result<Self, ProtocolError> {
        check_name("name", &self.name)?;
        if self.trace_id == [0; 16] {
            return Err(invalid("trace_id", "must not be all zero"));
        }
        if self.span_id == [0; 8] || self.parent_span_id == Some([0; 8]) {
            return Err(invalid("span_id", "must not be all zero"));
        }
        if self.end_unix_nano < self.start_unix_nano {
            return Err(invalid(
                "end_unix_nano",
                "must not be before start_unix_nano",
            ));
        }
        if self.error.as_deref().is_some_and(too_long) {
            return Err(invalid("error", "longer than 4096 characters"));
        }
        if self.attributes.len() > MAX_SPAN_ATTRIBUTES {
            return Err(invalid("attributes", "more than 64 attributes"));
        }
        for (i, (name, value)) in self.attributes.iter().enumerate() {
            check_name("attributes", name)?;
            if self.attributes[..i].iter().any(|(n, _)| n == name) {
                return Err(invalid("attributes", "repeats a name"));
            }
            if let Some(reason) = value.problem(false) {
                return Err(invalid("attributes", reason));
            }
        }
        Ok(self)
    }
}

fn too_long(s: &str) -> bool {
    s.len() > MAX_SPAN_TEXT_CHARS && s.chars().count() > MAX_SPAN_TEXT_CHARS
}

#[derive(Deserialize)]
struct WireSpan<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    span_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_span_id: Option<Cow<'a, str>>,
    start_unix_nano: Option<u64>,
    end_unix_nano: Option<u64>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    error: Option<String>,
    attributes: Option<serde_json::Map<String, Value>>,
    sampled: Option<bool>,
}

/// Reads a `span` line (its header already checked).
pub(super) fn span_from_line(line: &str) -> Result<SpanEvent, ProtocolError> {
    let wire: WireSpan<'_> =
        serde_json::from_str(line).map_err(|e| ProtocolError::Json(e.to_string()))?;
    let name = wire.name.ok_or_else(|| invalid("name", "is required"))?;
    let trace_id = wire
        .trace_id
        .as_deref()
        .and_then(hex::<16>)
        .ok_or_else(|| invalid("trace_id", "must be 32 hex digits"))?;
    let span_id = wire
        .span_id
        .as_deref()
        .and_then(hex::<8>)
        .ok_or_else(|| invalid("span_id", "must be 16 hex digits"))?;
    let parent_span_id = match wire.parent_span_id.as_deref() {
        None => None,
        Some(parent) => Some(
            hex::<8>(parent).ok_or_else(|| invalid("parent_span_id", "must be 16 hex digits"))?,
        ),
    };
    let start_unix_nano = wire
        .start_unix_nano
        .ok_or_else(|| invalid("start_unix_nano", "is required"))?;
    let end_unix_nano = wire
        .end_unix_nano
        .ok_or_else(|| invalid("end_unix_nano", "is required"))?;
    let kind = match wire.kind.as_deref() {
        None => SpanKind::default(),
        Some(kind) => SpanKind::parse(kind)
            .ok_or_else(|| invalid("kind", "not internal|server|client|producer|consumer"))?,
    };
    let mut attributes = Vec::new();
    for (key, value) in wire.attributes.unwrap_or_default() {
        let refused = || {
            invalid(
                "attributes",
                "values must be strings, numbers, booleans or arrays of them",
            )
        };
        let value = match value {
            Value::Array(items) => AttributeValue::Array(
                items
                    .into_iter()
                    .map(|item| AttributeValue::scalar(item).ok_or_else(refused))
                    .collect::<Result<_, _>>()?,
            ),
            scalar => AttributeValue::scalar(scalar).ok_or_else(refused)?,
        };
        attributes.push((key, value));
    }
    SpanEvent {
        name: name.into_owned(),
        trace_id,
        span_id,
        parent_span_id,
        start_unix_nano,
        end_unix_nano,
        kind,
        error: wire.error,
        attributes,
        sampled: wire.sampled.unwrap_or(true),
    }
    .validate()
}

/// Writes a span event (validate it first).
pub(crate) fn write_span(buf: &mut Vec<u8>, span: &SpanEvent) {
    let mut attributes = serde_json::Map::new();
    for (key, value) in &span.attributes {
        attributes.insert(key.clone(), value.to_json());
    }
    let mut line = serde_json::json!({
        "v": 1,
        "type": "span",
        "name": span.name,
        "trace_id": to_hex(&span.trace_id),
        "span_id": to_hex(&span.span_id),
        "start_unix_nano": span.start_unix_nano,
        "end_unix_nano": span.end_unix_nano,
        "kind": span.kind.as_str(),
        "sampled": span.sampled,
    });
    if let Value::Object(map) = &mut line {
        if let Some(parent) = &span.parent_span_id {
            map.insert("parent_span_id".into(), Value::String(to_hex(parent)));
        }
        if let Some(error) = &span.error {
            map.insert("error".into(), Value::String(error.clone()));
        }
        if !attributes.is_empty() {
            map.insert("attributes".into(), Value::Object(attributes));
        }
    }
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(buf, &line);
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// `N` bytes from `2 × N` hex digits (either case).
pub fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let nibble = |c: u8| {
            char::from(c)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        };
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn span() -> SpanEvent {
        SpanEvent {
            name: "db.query".into(),
            trace_id: hex("5759e988bd862e3fe1be46a994272793").unwrap(),
            span_id: hex("53995c3f42cd8ad8").unwrap(),
            parent_span_id: Some([7; 8]),
            start_unix_nano: 1_764_300_000_000_000_000,
            end_unix_nano: 1_764_300_000_012_000_000,
            kind: SpanKind::Client,
            error: Some("timeout".into()),
            attributes: vec![
                ("db.system".into(), AttributeValue::Str("dynamodb".into())),
                ("rows".into(), AttributeValue::Int(3)),
                ("ratio".into(), AttributeValue::Float(0.5)),
                ("cached".into(), AttributeValue::Bool(false)),
            ],
            sampled: false,
        }
    }

    #[test]
    fn a_span_round_trips() {
        let mut buf = Vec::new();
        write_span(&mut buf, &span());
        let line = std::str::from_utf8(&buf).unwrap();
        let mut back = span_from_line(line).unwrap();
        back.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected = span();
        expected.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(back, expected);
    }

    #[test]
    fn bad_spans_say_which_field() {
        let good = r#""name":"a","trace_id":"5759e988bd862e3fe1be46a994272793","span_id":"53995c3f42cd8ad8","start_unix_nano":1,"end_unix_nano":2"#;
        assert!(span_from_line(&format!("{{{good}}}")).is_ok());
        let cases = [
            (
                r#""trace_id":"1-5759e988-bd862e3fe1be46a994272793""#,
                "trace_id",
            ),
            (
                r#""trace_id":"00000000000000000000000000000000""#,
                "trace_id",
            ),
            (r#""span_id":"xyz""#, "span_id"),
            (r#""parent_span_id":"0000000000000000""#, "span_id"),
            (r#""end_unix_nano":0"#, "end_unix_nano"),
            (r#""kind":"sideways""#, "kind"),
            (r#""name":"""#, "name"),
            (r#""attributes":{"a":[[1]]}"#, "attributes"),
            (r#""attributes":{"a":[{"b":1}]}"#, "attributes"),
            (r#""attributes":{"a":{"b":1}}"#, "attributes"),
            (r#""attributes":{"":1}"#, "attributes"),
        ];
        for (field_json, field) in cases {
            let key = field_json.split(':').next().unwrap();
            let kept: Vec<&str> = good.split(',').filter(|p| !p.starts_with(key)).collect();
            let line = format!("{{{},{field_json}}}", kept.join(","));
            match span_from_line(&line) {
                Err(ProtocolError::InvalidField { field: f, .. }) => assert_eq!(f, field, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        let many: Vec<String> = (0..=MAX_SPAN_ATTRIBUTES)
            .map(|i| format!(r#""k{i}":1"#))
            .collect();
        let line = format!("{{{good},\"attributes\":{{{}}}}}", many.join(","));
        assert!(matches!(
            span_from_line(&line),
            Err(ProtocolError::InvalidField {
                field: "attributes",
                ..
            })
        ));
    }
}
