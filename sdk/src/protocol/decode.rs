//! Decoding datagrams into validated events: the extension's intake calls
//! [`decode_datagram`] once per received datagram. Each line is decoded on its own, so a
//! bad line is reported alone and never hides the others.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::canonical;
use super::connection::connection_from_line;
use super::sequence::sequence_from_line;
use super::span::span_from_line;
use super::{
    Event, MAX_DATAGRAM_BYTES, MetricEvent, MetricKind, Outcome, PROTOCOL_VERSION, ProtocolError,
    RateLimitEvent, Resolution, check_window_seconds, invalid,
};
use crate::unit::Unit;

/// The fields every event carries, whatever its type or version.
#[derive(Deserialize)]
struct Header<'a> {
    v: u64,
    #[serde(rename = "type", borrow)]
    kind_of_event: Cow<'a, str>,
}

/// The fields of a `metric` event, borrowed from the datagram where possible. Unknown
/// fields are ignored (forward compatibility); `null` means absent. Every line is read
/// with this first: the common case is decoded in one pass.
#[derive(Deserialize)]
struct WireEvent<'a> {
    v: u64,
    #[serde(rename = "type", borrow)]
    kind_of_event: Cow<'a, str>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    value: Option<f64>,
    count: Option<u64>,
    #[serde(borrow)]
    unit: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "dimensions_in_order")]
    dimensions: Option<Vec<(String, String)>>,
    resolution: Option<u32>,
}

/// The fields of a `ratelimit` event, read on their own so that each event type ignores
/// the fields of the others (a metric's `limit` is not a rate-limit field, and the other
/// way round). Unknown fields are ignored; `null` means absent.
#[derive(Deserialize)]
struct WireRateLimit<'a> {
    #[serde(borrow)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key_class: Option<Cow<'a, str>>,
    limit: Option<u64>,
    remaining: Option<u64>,
    window_seconds: Option<u64>,
    window_start: Option<u64>,
}

/// The event types of version 1.
const METRIC: &str = "metric";
const RATE_LIMIT: &str = "ratelimit";
const CONNECTION: &str = "connection";
const SPAN: &str = "span";
const SEQUENCE: &str = "sequence";

/// Reads the `dimensions` object keeping every entry, repeated names included, so that
/// `check_dimensions` rejects a repeated name instead of a map silently keeping one.
fn dimensions_in_order<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<(String, String)>>, D::Error> {
    struct Dimensions;

    impl<'de> Visitor<'de> for Dimensions {
        type Value = Option<Vec<(String, String)>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of string values")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut dimensions = Vec::with_capacity(map.size_hint().unwrap_or(4).min(32));
            while let Some(entry) = map.next_entry::<String, String>()? {
                dimensions.push(entry);
            }
            Ok(Some(dimensions))
        }
    }

    deserializer.deserialize_option(Dimensions)
}

fn check_header(v: u64, kind_of_event: &str) -> Result<(), ProtocolError> {
    if v != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion(v));
    }
    if ![METRIC, RATE_LIMIT, CONNECTION, SPAN, SEQUENCE].contains(&kind_of_event) {
        return Err(ProtocolError::UnknownType(kind_of_event.to_owned()));
    }
    Ok(())
}

fn metric_from_wire(wire: WireEvent<'_>) -> Result<MetricEvent, ProtocolError> {
    let name = wire.name.ok_or_else(|| invalid("name", "is required"))?;
    let value = wire.value.ok_or_else(|| invalid("value", "is required"))?;
    let unit = match wire.unit {
        None => Unit::None,
        Some(u) => u
            .parse()
            .map_err(|_| invalid("unit", "not a cloudwatch unit name"))?,
    };
    let kind = match wire.kind {
        None => MetricKind::default(),
        Some(k) => {
            MetricKind::parse(&k).ok_or_else(|| invalid("kind", "not count|gauge|distribution"))?
        }
    };
    let count = match wire.count {
        None => 1,
        Some(n) => u32::try_from(n).map_err(|_| invalid("count", "at most 4294967295"))?,
    };
    let resolution = match wire.resolution {
        None | Some(60) => Resolution::Standard,
        Some(1) => Resolution::High,
        Some(_) => return Err(invalid("resolution", "must be 1 or 60")),
    };
    MetricEvent {
        name: name.into_owned(),
        value,
        count,
        unit,
        kind,
        dimensions: wire.dimensions.unwrap_or_default(),
        resolution,
    }
    .validate()
}

/// Reads a `ratelimit` line (its header already checked) into a validated event.
fn rate_limit_from_line(line: &str) -> Result<RateLimitEvent, ProtocolError> {
    let wire: WireRateLimit<'_> =
        serde_json::from_str(line).map_err(|e| ProtocolError::Json(e.to_string()))?;
    let rule = wire.rule.ok_or_else(|| invalid("rule", "is required"))?;
    let outcome = wire
        .outcome
        .ok_or_else(|| invalid("outcome", "is required"))?;
    let outcome =
        Outcome::parse(&outcome).ok_or_else(|| invalid("outcome", "not allowed|blocked|error"))?;
    let window_seconds = wire
        .window_seconds
        .ok_or_else(|| invalid("window_seconds", "is required"))?;
    check_window_seconds(window_seconds)?;
    RateLimitEvent {
        rule: rule.into_owned(),
        outcome,
        key_class: wire.key_class.map(Cow::into_owned),
        limit: wire.limit,
        remaining: wire.remaining,
        window_seconds: u32::try_from(window_seconds)
            .map_err(|_| invalid("window_seconds", "must be 1-86400"))?,
        window_start: wire.window_start,
    }
    .validate()
}

/// Decodes one line (one JSON object) into a validated event.
///
/// A line whose `v` or `type` this side does not know is reported as such even when its
/// other fields do not fit the version-1 shape.
///
/// ```
/// use liftwatch::protocol::{decode_line, Event, ProtocolError};
/// let Ok(Event::Metric(m)) = decode_line(r#"{"v":1,"type":"metric","name":"A","value":3,"new":true}"#) else {
///     unreachable!()
/// };
/// assert_eq!(m.value, 3.0);
/// assert_eq!(
///     decode_line(r#"{"v":1,"type":"profile","name":{"future":"shape"}}"#),
///     Err(ProtocolError::UnknownType("profile".into()))
/// );
/// ```
pub fn decode_line(line: &str) -> Result<Event, ProtocolError> {
    match canonical::metric(line) {
        Some(metric) => metric.validate().map(Event::Metric),
        None => decode_line_general(line),
    }
}

/// [`decode_line`] without the fast path for the SDK's own encoding: every line through
/// serde_json. Public for the fuzz target that checks both paths agree.
#[doc(hidden)]
pub fn decode_line_general(line: &str) -> Result<Event, ProtocolError> {
    let wire: WireEvent<'_> = match serde_json::from_str(line) {
        Ok(wire) => wire,
        Err(error) => {
            // Only on the error path: say "unknown version/type" rather than "bad json"
            // when the header is readable, and read a rate-limit event whose fields
            // named like a metric's have another shape with its own fields only.
            let header: Result<Header<'_>, _> = serde_json::from_str(line);
            return match header {
                Ok(h) => match check_header(h.v, &h.kind_of_event) {
                    Err(unknown) => Err(unknown),
                    Ok(()) if h.kind_of_event == RATE_LIMIT => {
                        rate_limit_from_line(line).map(Event::RateLimit)
                    }
                    Ok(()) if h.kind_of_event == CONNECTION => {
                        connection_from_line(line).map(Event::Connection)
                    }
                    Ok(()) if h.kind_of_event == SPAN => span_from_line(line).map(Event::Span),
                    Ok(()) if h.kind_of_event == SEQUENCE => {
                        sequence_from_line(line).map(Event::Sequence)
                    }
                    Ok(()) => Err(ProtocolError::Json(error.to_string())),
                },
                Err(_) => Err(ProtocolError::Json(error.to_string())),
            };
        }
    };
    check_header(wire.v, &wire.kind_of_event)?;
    if wire.kind_of_event == RATE_LIMIT {
        // The second read of a short line; metrics, the common case, take one.
        return rate_limit_from_line(line).map(Event::RateLimit);
    }
    if wire.kind_of_event == CONNECTION {
        return connection_from_line(line).map(Event::Connection);
    }
    if wire.kind_of_event == SPAN {
        return span_from_line(line).map(Event::Span);
    }
    if wire.kind_of_event == SEQUENCE {
        return sequence_from_line(line).map(Event::Sequence);
    }
    metric_from_wire(wire).map(Event::Metric)
}

/// Decodes a datagram, calling `each` once per event line, in order. Lines are split on
/// `\n`; lines that are empty or only whitespace are skipped. Each line is checked for
/// UTF-8 and decoded on its own: a bad line is reported alone and never hides the other
/// lines of the datagram. A datagram over [`MAX_DATAGRAM_BYTES`] is one `TooLong` error.
///
/// ```
/// use liftwatch::protocol::{decode_datagram, ProtocolError};
/// let mut results = Vec::new();
/// decode_datagram(b"{\"v\":1,\"type\":\"metric\",\"name\":\"A\",\"value\":1}\n\xff\n\n{\"v\":9,\"type\":\"x\"}", |r| {
///     results.push(r.map(|_| ()))
/// });
/// assert_eq!(results, [Ok(()), Err(ProtocolError::NotUtf8), Err(ProtocolError::UnsupportedVersion(9))]);
/// ```
pub fn decode_datagram(bytes: &[u8], mut each: impl FnMut(Result<Event, ProtocolError>)) {
    if bytes.len() > MAX_DATAGRAM_BYTES {
        return each(Err(ProtocolError::TooLong(bytes.len())));
    }
    for line in bytes.split(|&b| b == b'\n') {
        match std::str::from_utf8(line) {
            Err(_) => each(Err(ProtocolError::NotUtf8)),
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => each(decode_line(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn metric(line: &str) -> MetricEvent {
        match decode_line(line) {
            Ok(Event::Metric(m)) => m,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn field(line: &str) -> (&'static str, &'static str) {
        match decode_line(line) {
            Err(ProtocolError::InvalidField { field, reason }) => (field, reason),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn all(bytes: &[u8]) -> Vec<Result<String, ProtocolError>> {
        let mut out = Vec::new();
        decode_datagram(bytes, |r| {
            out.push(r.map(|e| match e {
                Event::Metric(m) => m.name,
                Event::RateLimit(r) => r.rule,
                Event::Connection(c) => c.as_str().to_owned(),
                Event::Span(s) => s.name,
                Event::Sequence(s) => s.sender,
            }))
        });
        out
    }

    #[test]
    fn defaults_and_nulls() {
        let m = metric(r#"{"v":1,"type":"metric","name":"A","value":2}"#);
        assert_eq!(
            (m.unit, m.kind, m.resolution, m.dimensions.len()),
            (
                Unit::None,
                MetricKind::Distribution,
                Resolution::Standard,
                0
            )
        );
        let nulls = r#"{"v":1,"type":"metric","name":"A","value":2,"unit":null,"kind":null,"dimensions":null,"resolution":null}"#;
        assert_eq!(metric(nulls), m);
        let empty = r#"{"v":1,"type":"metric","name":"A","value":2,"dimensions":{}}"#;
        assert_eq!(metric(empty), m);
    }

    #[test]
    fn field_errors() {
        let base = |rest: &str| format!(r#"{{"v":1,"type":"metric"{rest}}}"#);
        assert_eq!(field(&base(r#","value":1"#)), ("name", "is required"));
        assert_eq!(field(&base(r#","name":"A""#)), ("value", "is required"));
        assert_eq!(
            field(&base(r#","name":"A","value":1,"unit":"ms""#)),
            ("unit", "not a cloudwatch unit name")
        );
        assert_eq!(
            field(&base(r#","name":"A","value":1,"kind":"Count""#)),
            ("kind", "not count|gauge|distribution")
        );
        assert_eq!(
            field(&base(r#","name":"A","value":1,"resolution":30"#)),
            ("resolution", "must be 1 or 60")
        );
        assert_eq!(
            field(&base(
                r#","name":"A","value":1,"dimensions":{"a":"1","a":"2"}"#
            )),
            ("dimensions", "duplicate dimension name")
        );
    }

    #[test]
    fn header_errors_win_over_shape_errors() {
        assert_eq!(
            decode_line(r#"{"v":2,"type":"metric","value":"two"}"#),
            Err(ProtocolError::UnsupportedVersion(2))
        );
        assert_eq!(
            decode_line(r#"{"v":1,"type":"profile","value":[1]}"#),
            Err(ProtocolError::UnknownType("profile".into()))
        );
        for json in [
            r#"{"v":1,"type":"metric","name":"A","value":"1"}"#,
            r#"{"type":"metric"}"#,
            "[1]",
            "{",
            "",
        ] {
            assert!(
                matches!(decode_line(json), Err(ProtocolError::Json(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn a_bad_line_never_hides_the_others() {
        let good = br#"{"v":1,"type":"metric","name":"A","value":1}"#;
        let mut datagram = Vec::new();
        for part in [&good[..], b"\xff\xfe", b"not json", b"  \t", b"", &good[..]] {
            datagram.extend_from_slice(part);
            datagram.extend_from_slice(b"\r\n");
        }
        let results = all(&datagram);
        assert_eq!(results.len(), 4, "{results:?}");
        assert_eq!(results[0], Ok("A".to_owned()));
        assert_eq!(results[1], Err(ProtocolError::NotUtf8));
        assert!(
            matches!(results[2], Err(ProtocolError::Json(_))),
            "{results:?}"
        );
        assert_eq!(results[3], Ok("A".to_owned()));
    }

    fn rate_limit(line: &str) -> RateLimitEvent {
        match decode_line(line) {
            Ok(Event::RateLimit(r)) => r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn rate_limit_defaults_nulls_and_errors() {
        let minimal = rate_limit(
            r#"{"v":1,"type":"ratelimit","rule":"login","outcome":"error","window_seconds":60}"#,
        );
        assert_eq!(
            (
                minimal.outcome,
                minimal.key_class.as_deref(),
                minimal.limit,
                minimal.remaining
            ),
            (Outcome::Error, None, None, None)
        );
        assert_eq!(minimal.window_start, None);
        let nulls = r#"{"v":1,"type":"ratelimit","rule":"login","outcome":"error","window_seconds":60,"key_class":null,"limit":null,"remaining":null,"window_start":null}"#;
        assert_eq!(rate_limit(nulls), minimal);
        let base = |rest: &str| format!(r#"{{"v":1,"type":"ratelimit"{rest}}}"#);
        assert_eq!(
            field(&base(r#","outcome":"allowed","window_seconds":60"#)),
            ("rule", "is required")
        );
        assert_eq!(
            field(&base(r#","rule":"r","window_seconds":60"#)),
            ("outcome", "is required")
        );
        assert_eq!(
            field(&base(r#","rule":"r","outcome":"allowed""#)),
            ("window_seconds", "is required")
        );
        assert_eq!(
            field(&base(
                r#","rule":"r","outcome":"allowed","window_seconds":86401"#
            )),
            ("window_seconds", "must be 1-86400")
        );
        assert_eq!(
            field(&base(
                r#","rule":"r","outcome":"allowed","window_seconds":18446744073709551615"#
            )),
            ("window_seconds", "must be 1-86400")
        );
        for json in [
            base(r#","rule":"r","outcome":"allowed","window_seconds":60,"limit":-1"#),
            base(r#","rule":"r","outcome":"allowed","window_seconds":60.0"#),
            base(r#","rule":"r","rule":"s","outcome":"allowed","window_seconds":60"#),
        ] {
            assert!(
                matches!(decode_line(&json), Err(ProtocolError::Json(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn each_type_ignores_the_fields_of_the_other() {
        let metric_line = r#"{"v":1,"type":"metric","name":"A","value":1,"limit":"x","rule":7}"#;
        assert_eq!(metric(metric_line).name, "A");
        let rate_limit_line = r#"{"v":1,"type":"ratelimit","rule":"r","outcome":"allowed","window_seconds":1,"name":7,"value":"x"}"#;
        assert_eq!(rate_limit(rate_limit_line).rule, "r");
        assert_eq!(
            decode_line(r#"{"v":2,"type":"ratelimit","rule":5}"#),
            Err(ProtocolError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn datagram_size_limit() {
        let mut ok = vec![b' '; MAX_DATAGRAM_BYTES];
        assert!(all(&ok).is_empty(), "whitespace only");
        ok.push(b' ');
        assert_eq!(
            all(&ok),
            [Err(ProtocolError::TooLong(MAX_DATAGRAM_BYTES + 1))]
        );
    }
}
