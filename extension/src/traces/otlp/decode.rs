//! OTLP request bodies into our spans, for the intake: protobuf (prost) or OTLP/JSON
//! (`opentelemetry-proto`'s serde mapping: hex ids, enums as integers, 64-bit integers as
//! strings or numbers), optionally gzip-compressed, then `ExportTraceServiceRequest` →
//! `Vec<Span>`.
//!
//! Mapping rules:
//! - A span whose trace id is not 16 bytes or span id not 8 bytes (or all zero), or whose
//!   parent id is neither empty nor 8 bytes, is rejected (reported back as a partial
//!   success). An all-zero parent id means a root span.
//! - `sampled` is the W3C sampled bit of `flags` when the sender wrote any W3C trace flag
//!   (the low byte); with none written it did not say, and the span counts as sampled
//!   (exporters send sampled spans). The OpenTelemetry Python SDK writes `0x100` (only
//!   "is-remote known") on the spans it samples: a missing bit decides nothing. The
//!   collector then applies the trace's decision (the invocation's X-Ray header).
//! - Attribute values: string, int, double and bool as they are, arrays of them as typed
//!   arrays; other arrays and key-value lists as compact JSON strings; bytes as lowercase
//!   hex.
//! - Events (at most 128 per span) and links (at most 128) are kept, in the span's
//!   `detail`, as are the sender's resource and scope: one `Origin` shared by every span of
//!   a `ScopeSpans` (no copies), exported as the sender's own `ResourceSpans`.

use std::io::Read;
use std::sync::Arc;

use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

use super::encode::FLAG_SAMPLED;
use crate::traces::span::{
    AttributeValue, MAX_SPAN_EVENTS, MAX_SPAN_LINKS, Origin, Span, SpanDetail, SpanId, SpanKind,
    SpanLink, SpanStatus, TimedEvent, TraceId,
};

/// The W3C trace flags: the low byte of OTLP's `Span.flags` (bits 8-9 say whether the
/// parent is remote).
const TRACE_FLAGS: u32 = 0xff;

/// The two OTLP/HTTP body encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters such as `charset` ignored).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// A body that is not the OTLP request its path expects.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not a protobuf OTLP export request")]
    Protobuf(#[source] prost::DecodeError),
    #[error("the body is not an OTLP/JSON export request")]
    Json(#[source] serde_json::Error),
    #[error("the gzip body is corrupt")]
    Gzip(#[source] std::io::Error),
    #[error("the body is larger than {limit} bytes once decompressed")]
    TooLarge { limit: usize },
}

/// Decompresses a gzip body, refusing to grow past `limit` bytes.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(DecodeError::Gzip)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// Parses an (uncompressed) traces request body.
pub fn decode_request(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_body(body, encoding)
}

/// Parses an (uncompressed) OTLP request body of any signal.
pub fn decode_body<M>(body: &[u8], encoding: Encoding) -> Result<M, DecodeError>
where
    M: Message + Default + serde::de::DeserializeOwned,
{
    match encoding {
        Encoding::Protobuf => M::decode(body).map_err(DecodeError::Protobuf),
        Encoding::Json => {
            // serde would also read a struct from a JSON array (`[]` as an empty request).
            if body.trim_ascii_start().first() != Some(&b'{') {
                let error = <serde_json::Error as serde::de::Error>::custom("not a json object");
                return Err(DecodeError::Json(error));
            }
            serde_json::from_slice(body).map_err(DecodeError::Json)
        }
    }
}

/// The spans of one request, and how many were rejected as invalid.
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    pub spans: Vec<Span>,
    pub rejected: u64,
}

/// Converts every span of `request` (rules in the module doc).
pub fn spans_from_request(request: ExportTraceServiceRequest) -> Decoded {
    let mut decoded = Decoded::default();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(r.attributes))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.unwrap_or_default();
            let origin = Arc::new(Origin {
                resource: resource.clone(),
                scope_name: scope.name,
                scope_version: scope.version,
            });
            for proto in scope_spans.spans {
                match span(proto, &origin) {
                    Some(span) => decoded.spans.push(span),
                    None => decoded.rejected += 1,
                }
            }
        }
    }
    decoded
}

fn span(proto: ProtoSpan, origin: &Arc<Origin>) -> Option<Span> {
    let trace_id = TraceId(proto.trace_id.as_slice().try_into().ok()?);
    let span_id = SpanId(proto.span_id.as_slice().try_into().ok()?);
    if trace_id.0 == [0; 16] || span_id.0 == [0; 8] {
        return None;
    }
    let parent_span_id = match proto.parent_span_id.len() {
        0 => None,
        8 => {
            Some(SpanId(proto.parent_span_id.as_slice().try_into().ok()?)).filter(|p| p.0 != [0; 8])
        }
        _ => return None,
    };
    let status = match proto.status {
        Some(status) if status.code == StatusCode::Ok as i32 => SpanStatus::Ok,
        Some(status) if status.code == StatusCode::Error as i32 => {
            SpanStatus::Error(status.message)
        }
        _ => SpanStatus::Unset,
    };
    let events = proto
        .events
        .into_iter()
        .take(MAX_SPAN_EVENTS)
        .map(|event| TimedEvent {
            name: event.name,
            time_unix_nanos: event.time_unix_nano,
            attributes: attributes(event.attributes),
        })
        .collect();
    let links = proto
        .links
        .into_iter()
        .filter_map(|link| {
            let trace_id = TraceId(link.trace_id.as_slice().try_into().ok()?);
            let span_id = SpanId(link.span_id.as_slice().try_into().ok()?);
            Some(SpanLink {
                trace_id,
                span_id,
                attributes: attributes(link.attributes),
            })
        })
        .take(MAX_SPAN_LINKS)
        .collect();
    Some(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: proto.name,
        kind: kind(proto.kind),
        start_unix_nanos: proto.start_time_unix_nano,
        end_unix_nanos: proto.end_time_unix_nano.max(proto.start_time_unix_nano),
        status,
        attributes: attributes(proto.attributes),
        sampled: proto.flags & TRACE_FLAGS == 0 || proto.flags & FLAG_SAMPLED != 0,
        detail: Some(Box::new(SpanDetail {
            events,
            links,
            origin: Some(Arc::clone(origin)),
        })),
    })
}

fn kind(value: i32) -> SpanKind {
    match ProtoKind::try_from(value) {
        Ok(ProtoKind::Server) => SpanKind::Server,
        Ok(ProtoKind::Client) => SpanKind::Client,
        Ok(ProtoKind::Producer) => SpanKind::Producer,
        Ok(ProtoKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn attributes(key_values: Vec<KeyValue>) -> Vec<(String, AttributeValue)> {
    key_values
        .into_iter()
        .filter_map(|kv| {
            let value = attribute_value(kv.value?.value?)?;
            Some((kv.key, value))
        })
        .collect()
}

fn attribute_value(value: any_value::Value) -> Option<AttributeValue> {
    Some(match value {
        any_value::Value::StringValue(s) => AttributeValue::Str(s),
        any_value::Value::BoolValue(b) => AttributeValue::Bool(b),
        any_value::Value::IntValue(i) => AttributeValue::Int(i),
        any_value::Value::DoubleValue(d) => AttributeValue::Float(d),
        any_value::Value::BytesValue(b) => AttributeValue::Str(hex(&b)),
        any_value::Value::StringValueStrindex(_) => return None,
        any_value::Value::ArrayValue(array) if array.values.iter().all(is_scalar) => {
            AttributeValue::Array(
                array
                    .values
                    .into_iter()
                    .filter_map(|v| attribute_value(v.value?))
                    .collect(),
            )
        }
        nested => AttributeValue::Str(json(Some(nested)).to_string()),
    })
}

/// A string, boolean, integer or double: what an array attribute may hold.
fn is_scalar(value: &AnyValue) -> bool {
    matches!(
        value.value,
        Some(
            any_value::Value::StringValue(_)
                | any_value::Value::BoolValue(_)
                | any_value::Value::IntValue(_)
                | any_value::Value::DoubleValue(_)
        )
    )
}

/// A nested value as JSON, for the arrays and key-value lists our model cannot hold.
fn json(value: Option<any_value::Value>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        None | Some(any_value::Value::StringValueStrindex(_)) => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s),
        Some(any_value::Value::BoolValue(b)) => J::Bool(b),
        Some(any_value::Value::IntValue(i)) => J::from(i),
        Some(any_value::Value::DoubleValue(d)) => J::from(d),
        Some(any_value::Value::BytesValue(b)) => J::String(hex(&b)),
        Some(any_value::Value::ArrayValue(array)) => {
            J::Array(array.values.into_iter().map(|v| json(v.value)).collect())
        }
        Some(any_value::Value::KvlistValue(list)) => J::Object(
            list.values
                .into_iter()
                .map(|kv| (kv.key, json(kv.value.and_then(|v| v.value))))
                .collect(),
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests;
