//! Tests for `decode`: protobuf and OTLP/JSON bodies into spans, the id, flag and
//! attribute rules, gzip limits.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

use super::*;
use crate::traces::otlp::encode;
use crate::traces::span::Resource;

/// The trace example of the OTLP specification (examples/trace.json), with more attribute
/// forms, a status and flags added.
const SPEC_JSON: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "x"}}]},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "flags": 257,
        "status": {"code": 2, "message": "boom"},
        "attributes": [
          {"key": "my.span.attr", "value": {"stringValue": "some value"}},
          {"key": "http.status_code", "value": {"intValue": "503"}},
          {"key": "retries", "value": {"intValue": 2}},
          {"key": "ratio", "value": {"doubleValue": 0.5}},
          {"key": "cached", "value": {"boolValue": false}},
          {"key": "service.name", "value": {"stringValue": "span wins"}}
        ],
        "events": [{"timeUnixNano": "1544712660500000000", "name": "ignored"}],
        "unknownField": {"is": "ignored"}
      }, {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b173",
        "parentSpanId": "",
        "name": "root"
      }]
    }]
  }]
}"#;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn request(spans: Vec<ProtoSpan>, resource: Vec<KeyValue>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(ProtoResource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn proto(trace: Vec<u8>, id: Vec<u8>, parent: Vec<u8>) -> ProtoSpan {
    ProtoSpan {
        trace_id: trace,
        span_id: id,
        parent_span_id: parent,
        name: "s".into(),
        ..Default::default()
    }
}

#[test]
fn the_spec_json_example_decodes_with_every_field() {
    let request = decode_request(SPEC_JSON.as_bytes(), Encoding::Json).unwrap();
    let Decoded { spans, rejected } = spans_from_request(request);
    assert_eq!(rejected, 0);
    assert_eq!(spans.len(), 2);
    let server = &spans[0];
    assert_eq!(server.trace_id.to_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(server.span_id.to_hex(), "eee19b7ec3c1b174");
    assert_eq!(
        server.parent_span_id.map(|p| p.to_hex()).as_deref(),
        Some("eee19b7ec3c1b173")
    );
    assert_eq!(server.name, "I'm a server span");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.start_unix_nanos, 1_544_712_660_000_000_000);
    assert_eq!(server.end_unix_nanos, 1_544_712_661_000_000_000);
    assert_eq!(server.status, SpanStatus::Error("boom".into()));
    assert!(server.sampled);
    assert_eq!(
        server.attributes,
        vec![
            (
                "my.span.attr".into(),
                AttributeValue::Str("some value".into())
            ),
            ("http.status_code".into(), AttributeValue::Int(503)),
            ("retries".into(), AttributeValue::Int(2)),
            ("ratio".into(), AttributeValue::Float(0.5)),
            ("cached".into(), AttributeValue::Bool(false)),
            (
                "service.name".into(),
                AttributeValue::Str("span wins".into())
            ),
        ]
    );
    let origin = server.detail.as_ref().unwrap().origin.as_ref().unwrap();
    assert_eq!(
        (origin.scope_name.as_str(), origin.scope_version.as_str()),
        ("my.library", "1.0.0")
    );
    let root = &spans[1];
    assert_eq!(root.trace_id, server.trace_id);
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.kind, SpanKind::Internal);
    assert_eq!(root.status, SpanStatus::Unset);
    let origin = root.detail.as_ref().unwrap().origin.as_ref().unwrap();
    assert_eq!(
        origin.resource[0],
        (
            "service.name".into(),
            AttributeValue::Str("my.service".into())
        )
    );
}

#[test]
fn our_own_encoding_decodes_back_to_the_same_spans_with_their_origin() {
    let span = Span {
        trace_id: TraceId([7; 16]),
        span_id: SpanId([8; 8]),
        parent_span_id: Some(SpanId([9; 8])),
        name: "query".into(),
        kind: SpanKind::Consumer,
        start_unix_nanos: 10,
        end_unix_nanos: 20,
        status: SpanStatus::Ok,
        attributes: vec![("n".into(), AttributeValue::Int(1))],
        sampled: false,
        detail: None,
    };
    let resource = Resource {
        attributes: vec![("faas.name".into(), AttributeValue::Str("f".into()))],
    };
    let bytes = encode::encode(std::slice::from_ref(&span), &resource);
    let decoded = spans_from_request(decode_request(&bytes, Encoding::Protobuf).unwrap());
    let mut expected = span;
    // Unsampled spans are encoded with `flags` 0, which a reader takes as "not said", so
    // sampled; exporters only send sampled spans.
    expected.sampled = true;
    expected.detail = Some(Box::new(SpanDetail {
        origin: Some(std::sync::Arc::new(Origin {
            resource: resource.attributes.clone(),
            scope_name: "liftwatch".into(),
            scope_version: encode::SCOPE_VERSION.into(),
        })),
        ..Default::default()
    }));
    assert_eq!(decoded.spans, vec![expected]);
    // Decoded and exported again: the sender's resource and scope, not the extension's.
    let again = encode::export_request(&decoded.spans, &Resource::default());
    let scope = again.resource_spans[0].scope_spans[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(scope.name, "liftwatch");
    assert_eq!(
        again.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes[0]
            .key,
        "faas.name"
    );
}

#[test]
fn invalid_ids_are_rejected_and_a_zero_parent_is_a_root() {
    let cases = [
        (proto(vec![1; 16], vec![2; 8], vec![]), Some(None)),
        (proto(vec![1; 16], vec![2; 8], vec![0; 8]), Some(None)),
        (
            proto(vec![1; 16], vec![2; 8], vec![3; 8]),
            Some(Some(SpanId([3; 8]))),
        ),
        (proto(vec![1; 15], vec![2; 8], vec![]), None),
        (proto(vec![0; 16], vec![2; 8], vec![]), None),
        (proto(vec![1; 16], vec![0; 8], vec![]), None),
        (proto(vec![1; 16], vec![2; 9], vec![]), None),
        (proto(vec![1; 16], vec![2; 8], vec![3; 4]), None),
        (proto(vec![], vec![], vec![]), None),
    ];
    for (span, expected_parent) in cases {
        let label = format!("{span:?}");
        let decoded = spans_from_request(request(vec![span], vec![]));
        match expected_parent {
            Some(parent) => {
                assert_eq!(decoded.rejected, 0, "{label}");
                assert_eq!(decoded.spans[0].parent_span_id, parent, "{label}");
            }
            None => assert_eq!((decoded.spans.len(), decoded.rejected), (0, 1), "{label}"),
        }
    }
}

#[test]
fn flags_kinds_statuses_and_times_follow_the_rules() {
    let table = [
        // (flags, sampled)
        (0, true),
        (0x01, true),
        (0x101, true),
        // The Python SDK's sampled spans: "is-remote known", no W3C flag written.
        (0x100, true),
        (0x300, true),
        // W3C flags written, the sampled bit clear.
        (0x02, false),
        (0x102, false),
    ];
    for (flags, sampled) in table {
        let mut span = proto(vec![1; 16], vec![2; 8], vec![]);
        span.flags = flags;
        let decoded = spans_from_request(request(vec![span], vec![]));
        assert_eq!(decoded.spans[0].sampled, sampled, "flags {flags:#x}");
    }
    for (value, expected) in [
        (0, SpanKind::Internal),
        (1, SpanKind::Internal),
        (2, SpanKind::Server),
        (3, SpanKind::Client),
        (4, SpanKind::Producer),
        (5, SpanKind::Consumer),
        (99, SpanKind::Internal),
        (-1, SpanKind::Internal),
    ] {
        assert_eq!(kind(value), expected, "kind {value}");
    }
    let mut odd = proto(vec![1; 16], vec![2; 8], vec![]);
    odd.start_time_unix_nano = 50;
    odd.end_time_unix_nano = 40;
    odd.status = Some(Status {
        code: 7,
        message: "unknown code".into(),
    });
    let decoded = spans_from_request(request(vec![odd], vec![]));
    assert_eq!(decoded.spans[0].end_unix_nanos, 50);
    assert_eq!(decoded.spans[0].status, SpanStatus::Unset);
}

#[test]
fn nested_and_bytes_values_become_strings_and_empty_values_are_skipped() {
    let mut span = proto(vec![1; 16], vec![2; 8], vec![]);
    let array = ArrayValue {
        values: vec![
            AnyValue {
                value: Some(any_value::Value::IntValue(1)),
            },
            AnyValue {
                value: Some(any_value::Value::StringValue("a".into())),
            },
        ],
    };
    let list = KeyValueList {
        values: vec![kv("k", any_value::Value::BoolValue(true))],
    };
    span.attributes = vec![
        kv("array", any_value::Value::ArrayValue(array)),
        kv("list", any_value::Value::KvlistValue(list)),
        kv("bytes", any_value::Value::BytesValue(vec![0xde, 0xad])),
        KeyValue {
            key: "empty".into(),
            value: None,
            ..Default::default()
        },
    ];
    let decoded = spans_from_request(request(vec![span], vec![]));
    assert_eq!(
        decoded.spans[0].attributes,
        vec![
            (
                "array".into(),
                AttributeValue::Array(vec![
                    AttributeValue::Int(1),
                    AttributeValue::Str("a".into())
                ])
            ),
            ("list".into(), AttributeValue::Str(r#"{"k":true}"#.into())),
            ("bytes".into(), AttributeValue::Str("dead".into())),
        ]
    );
}

#[test]
fn events_links_and_the_senders_resource_and_scope_are_kept_apart() {
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    let mut first = proto(vec![1; 16], vec![1; 8], vec![]);
    first.events = (0..200)
        .map(|i| Event {
            time_unix_nano: 1_000 + i,
            name: if i == 0 {
                "exception".into()
            } else {
                format!("e{i}")
            },
            attributes: vec![kv(
                "exception.type",
                any_value::Value::StringValue("KeyError".into()),
            )],
            ..Default::default()
        })
        .collect();
    first.links = vec![
        Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            attributes: vec![kv(
                "link.kind",
                any_value::Value::StringValue("batch".into()),
            )],
            ..Default::default()
        },
        Link {
            trace_id: vec![9; 3],
            ..Default::default()
        },
    ];
    let second = proto(vec![1; 16], vec![2; 8], vec![]);
    let decoded = spans_from_request(request(
        vec![first, second],
        vec![kv(
            "service.name",
            any_value::Value::StringValue("checkout".into()),
        )],
    ));
    let [a, b] = &decoded.spans[..] else {
        panic!("two spans: {decoded:?}");
    };
    assert!(
        a.attribute("service.name").is_none(),
        "the resource is not folded in"
    );
    let (da, db) = (a.detail.as_deref().unwrap(), b.detail.as_deref().unwrap());
    assert_eq!(da.events.len(), MAX_SPAN_EVENTS);
    assert_eq!(
        (da.events[0].name.as_str(), da.events[0].time_unix_nanos),
        ("exception", 1_000)
    );
    assert_eq!(da.links.len(), 1, "the link with a bad id is skipped");
    assert_eq!(da.links[0].trace_id, TraceId([9; 16]));
    let (oa, ob) = (da.origin.as_ref().unwrap(), db.origin.as_ref().unwrap());
    assert!(
        std::sync::Arc::ptr_eq(oa, ob),
        "one origin per scope, shared"
    );
    assert_eq!(
        oa.resource,
        [(
            "service.name".to_owned(),
            AttributeValue::Str("checkout".into())
        )]
    );
}

#[test]
fn bad_bodies_are_errors_never_panics() {
    for body in [
        &b"{"[..],
        b"[]",
        b" [1]",
        br#"{"resourceSpans": 5}"#,
        b"\xff\xfe",
        b"null",
    ] {
        assert!(matches!(
            decode_request(body, Encoding::Json),
            Err(DecodeError::Json(_))
        ));
    }
    let bad_hex = SPEC_JSON.replace("EEE19B7EC3C1B174", "not-hex");
    assert!(decode_request(bad_hex.as_bytes(), Encoding::Json).is_err());
    assert!(matches!(
        decode_request(b"\x0a\xff\xff\xff\xff\x0f", Encoding::Protobuf),
        Err(DecodeError::Protobuf(_))
    ));
    // The empty body is a valid, empty protobuf message and an invalid JSON document.
    assert_eq!(
        decode_request(b"", Encoding::Protobuf).unwrap(),
        ExportTraceServiceRequest::default()
    );
    assert!(decode_request(b"", Encoding::Json).is_err());
    assert_eq!(
        decode_request(b"{}", Encoding::Json).unwrap(),
        ExportTraceServiceRequest::default()
    );
}

#[test]
fn gzip_bodies_decompress_within_the_limit() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&[b'a'; 1000]).unwrap();
    let gz = encoder.finish().unwrap();
    assert_eq!(gunzip(&gz, 1000).unwrap(), vec![b'a'; 1000]);
    assert!(matches!(
        gunzip(&gz, 999),
        Err(DecodeError::TooLarge { limit: 999 })
    ));
    assert!(matches!(
        gunzip(b"not gzip", 1000),
        Err(DecodeError::Gzip(_))
    ));
    assert!(matches!(gunzip(&gz[..10], 1000), Err(DecodeError::Gzip(_))));
}

#[test]
fn content_types_name_the_encoding() {
    for (value, expected) in [
        ("application/x-protobuf", Some(Encoding::Protobuf)),
        ("Application/X-Protobuf", Some(Encoding::Protobuf)),
        ("application/json", Some(Encoding::Json)),
        ("application/json; charset=utf-8", Some(Encoding::Json)),
        ("  application/json ;charset=utf-8", Some(Encoding::Json)),
        ("application/protobuf", None),
        ("text/plain", None),
        ("", None),
    ] {
        assert_eq!(Encoding::from_content_type(value), expected, "{value:?}");
    }
    assert_eq!(Encoding::Json.content_type(), "application/json");
}
