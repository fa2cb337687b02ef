//! The document builder (`encode`) and the exporter, end to end on spans: ids, times,
//! nesting, errors, sanitizing and the datagrams on a local socket (the size limit is in
//! `size_tests`). The helpers here are shared with `size_tests`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::schema::assert_valid;
use super::*;
use crate::traces::span::{AttributeValue, SpanId, SpanKind, SpanStatus, TraceId};

pub(super) const T0: u64 = 1_700_000_000_123_456_789;
pub(super) const LIMIT: usize = MAX_DATAGRAM_BYTES - HEADER.len();

pub(super) fn trace(n: u8) -> TraceId {
    let mut id = [0x5a; 16];
    id[15] = n;
    TraceId(id)
}

pub(super) fn id(n: u64) -> SpanId {
    SpanId((0x1000_0000_0000_0000 | n).to_be_bytes())
}

pub(super) fn span(trace_n: u8, n: u64, parent: Option<u64>, name: &str) -> Span {
    Span {
        trace_id: trace(trace_n),
        span_id: id(n),
        parent_span_id: parent.map(id),
        name: name.to_owned(),
        kind: SpanKind::Internal,
        start_unix_nanos: T0 + n * 1_000,
        end_unix_nanos: T0 + 5_000_000 + n * 1_000,
        status: SpanStatus::Unset,
        attributes: Vec::new(),
        sampled: true,
        detail: None,
    }
}

pub(super) fn resource() -> Resource {
    Resource::function("my-fn", "7", "eu-west-1", Some(128))
}

pub(super) fn valid_docs(encoded: &Encoded) -> Vec<Value> {
    encoded
        .documents
        .iter()
        .map(|d| {
            assert!(d.json.len() <= LIMIT, "{} bytes", d.json.len());
            let doc: Value = serde_json::from_slice(&d.json).unwrap();
            assert_valid(&doc);
            assert_eq!(doc["id"], d.id.to_hex());
            assert_eq!(doc["trace_id"], d.trace_id.to_xray());
            doc
        })
        .collect()
}

/// Every id in `doc` and its nested subsegments.
pub(super) fn ids(doc: &Value, out: &mut Vec<String>) {
    out.push(doc["id"].as_str().unwrap().to_owned());
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        ids(sub, out);
    }
}

#[test]
fn a_root_span_is_a_segment_with_ids_times_and_the_resource() {
    let mut root = span(1, 1, None, "invoke");
    root.kind = SpanKind::Server;
    root.attributes = vec![
        ("faas.coldstart".into(), AttributeValue::Bool(true)),
        (
            "faas.invocation_id".into(),
            AttributeValue::Str("req-1".into()),
        ),
    ];
    let encoded = encode(&[root], &resource(), LIMIT);
    assert_eq!(encoded.dropped, 0);
    let docs = valid_docs(&encoded);
    assert_eq!(docs.len(), 1);
    assert_eq!(encoded.documents[0].spans, 1);
    let doc = &docs[0];
    assert_eq!(doc["name"], "my-fn");
    assert_eq!(doc["id"], "1000000000000001");
    assert_eq!(doc["trace_id"], "1-5a5a5a5a-5a5a5a5a5a5a5a5a5a5a5a01");
    assert_eq!(doc["start_time"].as_f64(), Some(1_700_000_000.123_457));
    assert_eq!(doc["end_time"].as_f64(), Some(1_700_000_000.128_457));
    assert_eq!(doc["origin"], "AWS::Lambda::Function");
    assert_eq!(doc["service"], json!({"version": "7"}));
    assert_eq!(doc["aws"]["xray"]["sdk"], "liftwatch");
    assert_eq!(doc.get("in_progress"), None);
    assert_eq!(doc.get("parent_id"), None);
    assert_eq!(doc.get("type"), None);
    assert_eq!(
        doc["annotations"],
        json!({"faas_coldstart": true, "faas_invocation_id": "req-1"})
    );
    let metadata = &doc["metadata"]["default"];
    assert_eq!(metadata["span.name"], "invoke");
    assert_eq!(metadata["otel.resource.cloud.region"], "eu-west-1");
    assert_eq!(metadata["otel.resource.faas.max_memory"], 134_217_728);
    // The text holds the microseconds, not a float's noise.
    let text = String::from_utf8(encoded.documents[0].json.clone()).unwrap();
    assert!(text.contains("\"start_time\":1700000000.123457"), "{text}");
}

#[test]
fn a_span_without_an_end_is_in_progress_and_an_early_end_is_clamped() {
    let mut open = span(1, 1, Some(99), "open");
    open.end_unix_nanos = 0;
    let mut backwards = span(1, 2, Some(99), "backwards");
    backwards.end_unix_nanos = 1;
    let docs = valid_docs(&encode(&[open, backwards], &resource(), LIMIT));
    assert_eq!(docs[0]["in_progress"], true);
    assert_eq!(docs[0].get("end_time"), None);
    assert_eq!(docs[1]["end_time"], docs[1]["start_time"]);
    assert_eq!(docs[1].get("in_progress"), None);
}

#[test]
fn children_nest_and_spans_under_an_outside_parent_are_independent_subsegments() {
    let spans = [
        span(1, 1, Some(0xabc), "invoke"),
        span(1, 2, Some(1), "handler"),
        span(1, 3, Some(2), "query"),
        span(1, 4, Some(1), "render"),
        span(2, 5, None, "other-trace"),
        span(2, 6, Some(5), "other-child"),
    ];
    let encoded = encode(&spans, &resource(), LIMIT);
    let docs = valid_docs(&encoded);
    assert_eq!(docs.len(), 2);
    assert_eq!(encoded.documents.iter().map(|d| d.spans).sum::<u64>(), 6);
    let invoke = &docs[0];
    assert_eq!(invoke["type"], "subsegment");
    assert_eq!(invoke["parent_id"], id(0xabc).to_hex());
    assert_eq!(invoke["name"], "invoke");
    assert_eq!(invoke.get("origin"), None);
    assert_eq!(
        invoke["metadata"]["default"]["otel.resource.faas.name"],
        "my-fn"
    );
    let names: Vec<&str> = invoke["subsegments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["handler", "render"]);
    let handler = &invoke["subsegments"][0];
    assert_eq!(handler["subsegments"][0]["name"], "query");
    for nested in [handler, &handler["subsegments"][0]] {
        assert_eq!(nested.get("trace_id"), None);
        assert_eq!(nested.get("parent_id"), None);
        assert_eq!(nested.get("metadata"), None);
    }
    let other = &docs[1];
    assert_eq!(other["trace_id"], trace(2).to_xray());
    assert_eq!(other["origin"], "AWS::Lambda::Function");
    assert_eq!(other["subsegments"][0]["id"], id(6).to_hex());
}

#[test]
fn error_status_is_a_fault_on_the_served_span_and_an_error_inside() {
    let mut server = span(1, 1, Some(0xabc), "invoke");
    server.kind = SpanKind::Server;
    server.status = SpanStatus::Error("handler threw".into());
    let mut inner = span(1, 2, Some(1), "step");
    inner.status = SpanStatus::Error(String::new());
    inner.attributes = vec![(
        "exception.type".into(),
        AttributeValue::Str("KeyError".into()),
    )];
    let mut throttled = span(1, 3, Some(1), "GET");
    throttled.kind = SpanKind::Client;
    throttled.attributes = vec![
        (
            "http.request.method".into(),
            AttributeValue::Str("GET".into()),
        ),
        ("http.response.status_code".into(), AttributeValue::Int(429)),
    ];
    let mut failed_call = span(1, 4, Some(1), "PutItem");
    failed_call.kind = SpanKind::Client;
    failed_call.attributes = vec![
        ("rpc.system".into(), AttributeValue::Str("aws-api".into())),
        ("rpc.method".into(), AttributeValue::Str("PutItem".into())),
        ("http.status_code".into(), AttributeValue::Int(503)),
    ];
    let mut fine = span(1, 5, Some(1), "ok");
    fine.status = SpanStatus::Ok;
    let docs = valid_docs(&encode(
        &[server, inner, throttled, failed_call, fine],
        &resource(),
        LIMIT,
    ));
    let invoke = &docs[0];
    assert_eq!(invoke["fault"], true);
    assert_eq!(invoke.get("error"), None);
    assert_eq!(invoke["cause"]["exceptions"][0]["message"], "handler threw");
    assert_eq!(invoke["cause"]["exceptions"][0]["id"], "effffffffffffffe");
    let subs = invoke["subsegments"].as_array().unwrap();
    assert_eq!(
        (subs[0]["error"].clone(), subs[0].get("fault")),
        (json!(true), None)
    );
    assert_eq!(
        subs[0]["cause"]["exceptions"][0],
        json!({"id": "effffffffffffffd", "type": "KeyError"})
    );
    assert_eq!(
        (subs[1]["error"].clone(), subs[1]["throttle"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(subs[1]["namespace"], "remote");
    assert_eq!(
        subs[1]["http"],
        json!({"request": {"method": "GET"}, "response": {"status": 429}})
    );
    assert_eq!(subs[2]["fault"], true);
    assert_eq!(subs[2]["namespace"], "aws");
    assert_eq!(subs[2]["aws"], json!({"operation": "PutItem"}));
    for flag in ["error", "fault", "throttle", "cause"] {
        assert_eq!(subs[3].get(flag), None, "{flag}");
    }
}

#[test]
fn names_and_annotation_keys_are_sanitized() {
    let mut s = span(1, 1, Some(9), "GET /users/{id} <script>");
    s.attributes = vec![
        (
            "http.route".into(),
            AttributeValue::Str("/users/{id}".into()),
        ),
        ("user id!".into(), AttributeValue::Int(42)),
    ];
    let unnamed = span(1, 2, Some(1), "   ");
    let docs = valid_docs(&encode(&[s, unnamed], &resource(), LIMIT));
    assert_eq!(docs[0]["name"], "GET /users/_id_ _script_");
    assert_eq!(
        docs[0]["annotations"],
        json!({"http_route": "/users/{id}", "user_id_": 42})
    );
    assert_eq!(docs[0]["subsegments"][0]["name"], "span");
}

#[test]
fn unsampled_spans_are_skipped_and_not_counted() {
    let mut unsampled = span(1, 1, None, "a");
    unsampled.sampled = false;
    let mut unsampled_child = span(1, 3, Some(1), "c");
    unsampled_child.sampled = false;
    let encoded = encode(
        &[unsampled, span(1, 2, None, "b"), unsampled_child],
        &resource(),
        LIMIT,
    );
    assert_eq!(encoded.dropped, 0);
    assert_eq!(encoded.documents.len(), 1);
    assert_eq!(encoded.documents[0].spans, 1);
    assert_eq!(encoded.documents[0].id, id(2));
}

#[tokio::test]
async fn the_exporter_sends_framed_documents_and_counts_failures() {
    let daemon = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut exporter = XrayExporter::new(daemon.local_addr().unwrap());
    assert_eq!(exporter.name(), "xray");
    let spans = [
        span(1, 1, None, "root"),
        span(1, 2, Some(1), "child"),
        span(2, 3, Some(7), "other"),
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = exporter.export(&spans, &resource(), deadline).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 3,
            dropped: 0,
            truncated: 0,
        }
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut buf = vec![0; 65_536];
        let (n, _) = daemon.recv_from(&mut buf).await.unwrap();
        let document = buf[..n].strip_prefix(HEADER).unwrap();
        let doc: Value = serde_json::from_slice(document).unwrap();
        ids(&doc, &mut seen);
    }
    seen.sort();
    assert_eq!(seen, [id(1).to_hex(), id(2).to_hex(), id(3).to_hex()]);

    let late = exporter.export(&spans, &resource(), Instant::now()).await;
    assert_eq!(
        late,
        SpanReport {
            exported: 0,
            dropped: 3,
            truncated: 0,
        }
    );
    let mut refused = XrayExporter::new("255.255.255.255:2000".parse().unwrap());
    let report = refused.export(&spans, &resource(), deadline).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 0,
            dropped: 3,
            truncated: 0,
        }
    );
}

#[test]
fn an_otel_exception_event_is_the_cause_and_arrays_and_the_origin_are_metadata() {
    use crate::traces::span::{Origin, SpanDetail, TimedEvent};
    let mut failed = span(1, 2, Some(0xabc), "charge");
    failed.status = SpanStatus::Error(String::new());
    failed.attributes = vec![(
        "tags".into(),
        AttributeValue::Array(vec![
            AttributeValue::Str("a".into()),
            AttributeValue::Int(2),
        ]),
    )];
    failed.detail = Some(Box::new(SpanDetail {
        events: vec![TimedEvent {
            name: "exception".into(),
            time_unix_nanos: 1,
            attributes: vec![
                (
                    "exception.type".into(),
                    AttributeValue::Str("KeyError".into()),
                ),
                (
                    "exception.message".into(),
                    AttributeValue::Str("'cart'".into()),
                ),
            ],
        }],
        links: Vec::new(),
        origin: Some(std::sync::Arc::new(Origin {
            resource: vec![("service.name".into(), AttributeValue::Str("shop".into()))],
            scope_name: "shop.handler".into(),
            scope_version: String::new(),
        })),
    }));
    let encoded = encode(&[failed], &resource(), LIMIT);
    let doc = &valid_docs(&encoded)[0];
    let exception = &doc["cause"]["exceptions"][0];
    assert_eq!(
        (&exception["type"], &exception["message"]),
        (&json!("KeyError"), &json!("'cart'"))
    );
    let metadata = &doc["metadata"]["default"];
    assert_eq!(metadata["tags"], json!(["a", 2]));
    assert_eq!(metadata["otel.resource.service.name"], "shop");
    assert_eq!(metadata["otel.scope.name"], "shop.handler");
    assert_eq!(doc.get("annotations"), None, "an array is not indexed");
}
