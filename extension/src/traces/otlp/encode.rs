//! Our spans and `Resource` as an OTLP `ExportTraceServiceRequest` (the official messages
//! from `opentelemetry-proto`, encoded with prost): the extension's own spans in one
//! `ResourceSpans` for its resource with the `liftwatch` scope; spans an OpenTelemetry SDK
//! sent under that sender's resource (completed with the extension's attributes it lacks,
//! such as `cloud.region`) and scope; the spans of each trace together; events and links
//! as received. The exporter posts the bytes; tests decode them back.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::span as proto_span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan, Status};
use prost::Message;

use std::sync::Arc;

use crate::traces::span::{AttributeValue, Origin, Resource, Span, SpanKind, SpanStatus};

/// The instrumentation scope every exported span carries.
pub const SCOPE_NAME: &str = "liftwatch";
/// The scope's version: this crate's.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// W3C trace flags' `sampled` bit, in the low byte of OTLP's `Span.flags`.
pub const FLAG_SAMPLED: u32 = 0x01;

/// `spans` of the extension described by `resource` as one OTLP export request. Spans are
/// grouped by trace id; within a trace they keep their order.
pub fn export_request(spans: &[Span], resource: &Resource) -> ExportTraceServiceRequest {
    let mut ordered: Vec<&Span> = spans.iter().collect();
    ordered.sort_by_key(|span| span.trace_id);
    // Spans by sender: `None` is the extension itself. Few senders: a linear search.
    let mut groups: Vec<(Option<&Arc<Origin>>, Vec<ProtoSpan>)> = Vec::new();
    for span in ordered {
        let origin = span.detail.as_ref().and_then(|d| d.origin.as_ref());
        let same = |other: &Option<&Arc<Origin>>| match (other, origin) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == *b,
            _ => false,
        };
        match groups.iter_mut().find(|(other, _)| same(other)) {
            Some((_, spans)) => spans.push(proto_span(span)),
            None => groups.push((origin, vec![proto_span(span)])),
        }
    }
    let resource_spans = groups
        .into_iter()
        .map(|(origin, spans)| {
            let (attributes, scope) = match origin {
                None => (
                    key_values(&resource.attributes),
                    InstrumentationScope {
                        name: SCOPE_NAME.to_owned(),
                        version: SCOPE_VERSION.to_owned(),
                        ..Default::default()
                    },
                ),
                Some(origin) => {
                    let mut attributes = origin.resource.clone();
                    for (key, value) in &resource.attributes {
                        if attributes.iter().all(|(k, _)| k != key) {
                            attributes.push((key.clone(), value.clone()));
                        }
                    }
                    let scope = InstrumentationScope {
                        name: origin.scope_name.clone(),
                        version: origin.scope_version.clone(),
                        ..Default::default()
                    };
                    (key_values(&attributes), scope)
                }
            };
            ResourceSpans {
                resource: Some(ProtoResource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// The protobuf bytes of [`export_request`].
pub fn encode(spans: &[Span], resource: &Resource) -> Vec<u8> {
    export_request(spans, resource).encode_to_vec()
}

fn proto_span(span: &Span) -> ProtoSpan {
    let status = match &span.status {
        SpanStatus::Unset => None,
        SpanStatus::Ok => Some(Status {
            code: StatusCode::Ok as i32,
            message: String::new(),
        }),
        SpanStatus::Error(message) => Some(Status {
            code: StatusCode::Error as i32,
            message: message.clone(),
        }),
    };
    ProtoSpan {
        trace_id: span.trace_id.0.to_vec(),
        span_id: span.span_id.0.to_vec(),
        parent_span_id: span
            .parent_span_id
            .map(|id| id.0.to_vec())
            .unwrap_or_default(),
        flags: if span.sampled { FLAG_SAMPLED } else { 0 },
        name: span.name.clone(),
        kind: proto_kind(span.kind) as i32,
        start_time_unix_nano: span.start_unix_nanos,
        end_time_unix_nano: span.end_unix_nanos.max(span.start_unix_nanos),
        attributes: key_values(&span.attributes),
        status,
        events: span.detail.as_ref().map_or_else(Vec::new, |d| {
            d.events
                .iter()
                .map(|event| proto_span::Event {
                    time_unix_nano: event.time_unix_nanos,
                    name: event.name.clone(),
                    attributes: key_values(&event.attributes),
                    dropped_attributes_count: 0,
                })
                .collect()
        }),
        links: span.detail.as_ref().map_or_else(Vec::new, |d| {
            d.links
                .iter()
                .map(|link| proto_span::Link {
                    trace_id: link.trace_id.0.to_vec(),
                    span_id: link.span_id.0.to_vec(),
                    attributes: key_values(&link.attributes),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    }
}

fn proto_kind(kind: SpanKind) -> ProtoKind {
    match kind {
        SpanKind::Internal => ProtoKind::Internal,
        SpanKind::Server => ProtoKind::Server,
        SpanKind::Client => ProtoKind::Client,
        SpanKind::Producer => ProtoKind::Producer,
        SpanKind::Consumer => ProtoKind::Consumer,
    }
}

fn key_values(attributes: &[(String, AttributeValue)]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: Some(AnyValue {
                value: Some(any_value(value)),
            }),
            ..Default::default()
        })
        .collect()
}

fn any_value(value: &AttributeValue) -> any_value::Value {
    match value {
        AttributeValue::Str(s) => any_value::Value::StringValue(s.clone()),
        AttributeValue::Int(i) => any_value::Value::IntValue(*i),
        AttributeValue::Float(f) => any_value::Value::DoubleValue(*f),
        AttributeValue::Bool(b) => any_value::Value::BoolValue(*b),
        AttributeValue::Array(items) => any_value::Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|item| AnyValue {
                    value: Some(any_value(item)),
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::traces::span::{SpanId, TraceId};

    fn span(trace: u8, id: u8, parent: Option<u8>, name: &str) -> Span {
        Span {
            trace_id: TraceId([trace; 16]),
            span_id: SpanId([id; 8]),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            name: name.to_owned(),
            kind: SpanKind::Internal,
            start_unix_nanos: 1_700_000_000_000_000_000,
            end_unix_nanos: 1_700_000_000_250_000_000,
            status: SpanStatus::Unset,
            attributes: Vec::new(),
            sampled: true,
            detail: None,
        }
    }

    fn value(kv: &KeyValue) -> &any_value::Value {
        kv.value.as_ref().unwrap().value.as_ref().unwrap()
    }

    #[test]
    fn the_bytes_decode_back_to_every_field() {
        let mut root = span(1, 0xaa, None, "invoke");
        root.kind = SpanKind::Server;
        root.status = SpanStatus::Ok;
        let mut child = span(1, 0xbb, Some(0xaa), "dynamodb.query");
        child.kind = SpanKind::Client;
        child.start_unix_nanos = 1_700_000_000_010_000_000;
        child.end_unix_nanos = 1_700_000_000_020_000_000;
        child.status = SpanStatus::Error("throttled".into());
        child.sampled = false;
        child.attributes = vec![
            ("db.system".into(), AttributeValue::Str("dynamodb".into())),
            ("retries".into(), AttributeValue::Int(-2)),
            ("ratio".into(), AttributeValue::Float(0.25)),
            ("cached".into(), AttributeValue::Bool(true)),
        ];
        let resource = Resource::function("orders", "$LATEST", "eu-west-1", Some(128));

        let bytes = encode(&[root, child], &resource);
        let request = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();

        assert_eq!(request.resource_spans.len(), 1);
        let resource_spans = &request.resource_spans[0];
        let attributes = &resource_spans.resource.as_ref().unwrap().attributes;
        assert_eq!(attributes[0].key, "service.name");
        assert_eq!(
            value(&attributes[0]),
            &any_value::Value::StringValue("orders".into())
        );
        let memory = attributes
            .iter()
            .find(|kv| kv.key == "faas.max_memory")
            .unwrap();
        assert_eq!(value(memory), &any_value::Value::IntValue(134_217_728));
        assert_eq!(resource_spans.scope_spans.len(), 1);
        let scope = resource_spans.scope_spans[0].scope.as_ref().unwrap();
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("liftwatch", SCOPE_VERSION)
        );

        let spans = &resource_spans.scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        let (root, child) = (&spans[0], &spans[1]);
        assert_eq!(root.trace_id, vec![1; 16]);
        assert_eq!(root.span_id, vec![0xaa; 8]);
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.name, "invoke");
        assert_eq!(root.kind, ProtoKind::Server as i32);
        assert_eq!(root.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(root.end_time_unix_nano, 1_700_000_000_250_000_000);
        assert_eq!(root.status.as_ref().unwrap().code, StatusCode::Ok as i32);
        assert_eq!(root.flags, FLAG_SAMPLED);

        assert_eq!(child.parent_span_id, vec![0xaa; 8]);
        assert_eq!(child.kind, ProtoKind::Client as i32);
        assert_eq!(child.start_time_unix_nano, 1_700_000_000_010_000_000);
        assert_eq!(child.end_time_unix_nano, 1_700_000_000_020_000_000);
        let status = child.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (StatusCode::Error as i32, "throttled")
        );
        assert_eq!(child.flags, 0);
        let attributes: Vec<(&str, &any_value::Value)> = child
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), value(kv)))
            .collect();
        assert_eq!(
            attributes,
            vec![
                (
                    "db.system",
                    &any_value::Value::StringValue("dynamodb".into())
                ),
                ("retries", &any_value::Value::IntValue(-2)),
                ("ratio", &any_value::Value::DoubleValue(0.25)),
                ("cached", &any_value::Value::BoolValue(true)),
            ]
        );
    }

    #[test]
    fn spans_of_a_trace_are_grouped_in_their_order_and_unset_status_is_absent() {
        let spans = [
            span(2, 1, None, "b-root"),
            span(1, 2, None, "a-root"),
            span(2, 3, Some(1), "b-child"),
            span(1, 4, Some(2), "a-child"),
        ];
        let request = export_request(&spans, &Resource::default());
        let names: Vec<&str> = request.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["a-root", "a-child", "b-root", "b-child"]);
        assert!(
            request.resource_spans[0].scope_spans[0]
                .spans
                .iter()
                .all(|s| s.status.is_none())
        );
    }

    #[test]
    fn an_end_before_the_start_is_clamped_to_the_start() {
        let mut odd = span(1, 1, None, "odd");
        odd.end_unix_nanos = odd.start_unix_nanos - 1;
        let request = export_request(&[odd], &Resource::default());
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.end_time_unix_nano, span.start_time_unix_nano);
    }

    #[test]
    fn a_senders_spans_keep_their_resource_scope_events_and_links() {
        use crate::traces::span::{Origin, SpanDetail, SpanLink, TimedEvent};
        let origin = Arc::new(Origin {
            resource: vec![("service.name".into(), AttributeValue::Str("shop".into()))],
            scope_name: "shop.handler".into(),
            scope_version: "2".into(),
        });
        let mut sent = span(1, 2, None, "handler");
        sent.detail = Some(Box::new(SpanDetail {
            events: vec![TimedEvent {
                name: "retry".into(),
                time_unix_nanos: 5,
                attributes: vec![("n".into(), AttributeValue::Int(1))],
            }],
            links: vec![SpanLink {
                trace_id: TraceId([3; 16]),
                span_id: SpanId([4; 8]),
                attributes: Vec::new(),
            }],
            origin: Some(origin),
        }));
        let resource = Resource::function("f", "1", "eu-west-1", None);
        let request = export_request(&[span(1, 1, None, "platform"), sent], &resource);
        assert_eq!(
            request.resource_spans.len(),
            2,
            "the extension's and the sender's"
        );
        let theirs = &request.resource_spans[1];
        let scope = theirs.scope_spans[0].scope.as_ref().unwrap();
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("shop.handler", "2")
        );
        let attributes = &theirs.resource.as_ref().unwrap().attributes;
        assert_eq!(
            value(&attributes[0]),
            &any_value::Value::StringValue("shop".into())
        );
        assert!(
            attributes.iter().any(|kv| kv.key == "cloud.region"),
            "completed with the extension's attributes"
        );
        assert_eq!(
            attributes
                .iter()
                .filter(|kv| kv.key == "service.name")
                .count(),
            1,
            "the sender's service.name wins"
        );
        let proto = &theirs.scope_spans[0].spans[0];
        assert_eq!(
            (
                proto.events[0].name.as_str(),
                proto.events[0].time_unix_nano
            ),
            ("retry", 5)
        );
        assert_eq!(proto.links[0].span_id, vec![4; 8]);
    }
}
