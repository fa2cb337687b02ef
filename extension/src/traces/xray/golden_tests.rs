//! Golden documents: fixed batches encoded and compared byte for byte with
//! `testdata/xray/<case>.jsonl` (one document per line) and `<case>.summary.json` (span
//! counts, ids and drops). They pin the exact output, key order and number formatting
//! included. `XRAY_GOLDEN_BLESS=1 cargo test ... golden` rewrites the files from the
//! current code; do that only for an intended change of output (the documents hold the
//! crate's version in `aws.xray.sdk_version`, so a version bump is one), and review the diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{Value, json};

use super::tests::{id, resource, span, valid_docs};
use super::*;
use crate::traces::span::{AttributeValue, SpanKind, SpanStatus};

fn s(text: &str) -> AttributeValue {
    AttributeValue::Str(text.to_owned())
}

fn with(mut span: Span, attributes: Vec<(&str, AttributeValue)>) -> Span {
    span.attributes = attributes
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    span
}

/// Compares (or, blessing, writes) the documents of `encoded` with the case's files.
fn check(case: &str, encoded: &Encoded) {
    valid_docs(encoded);
    let mut lines = Vec::new();
    for document in &encoded.documents {
        lines.extend_from_slice(&document.json);
        lines.push(b'\n');
    }
    let summary = json!({
        "dropped": encoded.dropped,
        "documents": encoded.documents.iter().map(|d| json!({
            "id": d.id.to_hex(),
            "trace_id": d.trace_id.to_xray(),
            "spans": d.spans,
            "bytes": d.json.len(),
        })).collect::<Vec<Value>>(),
    });
    let summary = format!("{}\n", serde_json::to_string_pretty(&summary).unwrap());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/xray");
    let (docs_path, summary_path) = (
        dir.join(format!("{case}.jsonl")),
        dir.join(format!("{case}.summary.json")),
    );
    if std::env::var_os("XRAY_GOLDEN_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&docs_path, &lines).unwrap();
        std::fs::write(&summary_path, &summary).unwrap();
        return;
    }
    let expected = std::fs::read(&docs_path).unwrap();
    let expected_lines: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let actual_lines: Vec<&[u8]> = lines.split(|&b| b == b'\n').collect();
    for (i, (want, got)) in expected_lines.iter().zip(&actual_lines).enumerate() {
        assert!(
            want == got,
            "{case}: document {i} differs\nwant {}\ngot  {}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(got)
        );
    }
    assert_eq!(
        expected_lines.len(),
        actual_lines.len(),
        "{case}: documents"
    );
    assert_eq!(
        std::fs::read_to_string(&summary_path).unwrap(),
        summary,
        "{case}"
    );
}

/// The platform's tree for a cold invocation under Lambda's segment (a parent outside the
/// batch), with handler spans below `Invocation`: every attribute kind, semantic HTTP and
/// AWS attributes, errors, an open span and text that needs escaping.
fn cold_invocation() -> Vec<Span> {
    let mut invoke = with(
        span(1, 1, Some(0xabc), "orders-api"),
        vec![
            (
                "faas.invocation_id",
                s("8a1b2c3d-95b1-4643-9700-2807f4e68189"),
            ),
            ("faas.coldstart", AttributeValue::Bool(true)),
            ("faas.trigger", s("other")),
            ("aws.lambda.status", s("error")),
            ("aws.lambda.billed_duration_ms", AttributeValue::Float(15.0)),
            ("aws.lambda.max_memory_used_mb", AttributeValue::Float(30.5)),
            ("retries", AttributeValue::Int(-3)),
            ("big", AttributeValue::Int(i64::MAX)),
            ("tiny", AttributeValue::Float(1e-7)),
            ("huge", AttributeValue::Float(1.5e300)),
            ("whole", AttributeValue::Float(-0.0)),
            ("nan", AttributeValue::Float(f64::NAN)),
            ("inf", AttributeValue::Float(f64::NEG_INFINITY)),
            ("faas_coldstart", AttributeValue::Bool(false)),
            ("long", s(&"λ".repeat(1_001))),
            ("otel.resource.cloud.region", s(&"r".repeat(1_200))),
            (
                "quote\"d key",
                s("line\nbreak \"quoted\" \\ tab\t \u{1} é 日本"),
            ),
            ("exception.message", s("handler threw: \"boom\"")),
            ("exception.type", s("Runtime.HandlerError")),
        ],
    );
    invoke.kind = SpanKind::Server;
    invoke.status = SpanStatus::Error("Runtime.HandlerError".into());
    let init = span(1, 2, Some(1), "Initialization");
    let invocation = span(1, 3, Some(1), "Invocation");
    let latency = span(1, 4, Some(3), "responseLatency");
    let duration = span(1, 5, Some(3), "responseDuration");
    let mut overhead = span(1, 6, Some(1), "Overhead");
    overhead.status = SpanStatus::Ok;
    let mut put = with(
        span(1, 7, Some(3), "DynamoDB.PutItem"),
        vec![
            ("rpc.system", s("aws-api")),
            ("rpc.service", s("DynamoDB")),
            ("rpc.method", s("PutItem")),
            ("aws.region", s("eu-west-1")),
            ("aws.request_id", s("ABCDEF")),
            ("cloud.account.id", s("123456789012")),
            ("http.status_code", AttributeValue::Int(200)),
        ],
    );
    put.kind = SpanKind::Client;
    let mut get = with(
        span(1, 8, Some(3), "GET api.example.com"),
        vec![
            ("http.method", s("HEAD")),
            ("http.request.method", s("GET")),
            ("url.full", s("https://api.example.com/items?q=a&b=\"c\"")),
            ("user_agent.original", s("liftwatch/1.0")),
            ("http.response.status_code", AttributeValue::Int(429)),
        ],
    );
    get.kind = SpanKind::Client;
    let mut step = with(
        span(1, 9, Some(3), "validate <order> ✓"),
        vec![("exception.type", s("KeyError"))],
    );
    step.status = SpanStatus::Error(String::new());
    let mut open = span(1, 10, Some(3), "\t");
    open.end_unix_nanos = 0;
    let mut backwards = with(
        span(1, 11, Some(3), "backwards"),
        vec![("http.status_code", AttributeValue::Int(502))],
    );
    backwards.end_unix_nanos = 1;
    let mut unsampled = span(1, 12, Some(3), "unsampled");
    unsampled.sampled = false;
    vec![
        overhead, put, invoke, init, invocation, latency, duration, get, step, open, backwards,
        unsampled,
    ]
}

#[test]
fn a_cold_invocation_under_lambdas_segment() {
    let encoded = encode(&cold_invocation(), &resource(), tests::LIMIT);
    assert_eq!((encoded.documents.len(), encoded.dropped), (1, 0));
    check("cold_invocation", &encoded);
}

/// True roots (no parent): segments named after the service, with the resource, and one
/// whose resource lacks the service and account.
fn roots() -> Vec<Span> {
    let mut root = with(
        span(2, 1, None, "handler"),
        vec![
            ("span.name", AttributeValue::Float(f64::INFINITY)),
            ("aws.request_id", s("segment-keeps-this")),
            ("rpc.system", s("aws-api")),
            ("rpc.method", s("Invoke")),
            ("http.method", s("POST")),
            ("http.status_code", AttributeValue::Int(503)),
        ],
    );
    root.status = SpanStatus::Error("timeout".into());
    let mut child = with(
        span(2, 2, Some(1), "child"),
        vec![("cloud.account.id", s("999999999999"))],
    );
    child.kind = SpanKind::Producer;
    let own_account = with(
        span(3, 3, None, "my-fn"),
        vec![("cloud.account.id", s("111111111111"))],
    );
    vec![root, child, own_account]
}

#[test]
fn true_roots_are_segments_with_the_resource() {
    let mut resource = resource();
    resource
        .attributes
        .push(("cloud.account.id".into(), s("123456789012")));
    resource
        .attributes
        .push(("service.version".into(), s("2.1.0")));
    let encoded = encode(&roots(), &resource, tests::LIMIT);
    check("roots", &encoded);

    let bare = Resource {
        attributes: vec![("faas.version".into(), s("$LATEST"))],
    };
    check(
        "roots_bare_resource",
        &encode(&roots(), &bare, tests::LIMIT),
    );
    check(
        "roots_no_resource",
        &encode(&roots(), &Resource::default(), tests::LIMIT),
    );
}

#[test]
fn many_children_with_a_small_limit_are_split() {
    let mut spans = vec![with(
        span(4, 1, Some(0xabc), "invoke"),
        vec![("faas.coldstart", AttributeValue::Bool(false))],
    )];
    for n in 2..=40 {
        let parent = if n % 4 == 0 { n - 1 } else { 1 };
        let payload = "x".repeat((n as usize * 37) % 300);
        spans.push(with(
            span(4, n, Some(parent), "child"),
            vec![
                ("payload", s(&payload)),
                ("n", AttributeValue::Int(n as i64)),
            ],
        ));
    }
    check("split", &encode(&spans, &resource(), 2_000));
    let tight = encode(&spans, &resource(), 700);
    assert!(tight.documents.len() > 20);
    check("split_tight", &tight);
}

#[test]
fn oversized_spans_are_trimmed_or_dropped() {
    let mut huge = span(5, 1, Some(9), "huge");
    huge.status = SpanStatus::Error("é".repeat(400));
    let mut attributes = vec![("exception.type".to_owned(), s(&"T".repeat(300)))];
    for i in 0..30 {
        attributes.push((format!("blob{i}"), s(&"b".repeat(1_100 + i % 3))));
        attributes.push((format!("note{i}"), s(&"n".repeat(20 + i))));
    }
    attributes.push(("http.method".to_owned(), s("GET")));
    attributes.push(("cloud.account.id".to_owned(), s("123456789012")));
    huge.attributes = attributes;
    let spans = [huge, span(5, 2, Some(1), "child")];
    for (case, limit) in [
        ("trim_metadata", 20_000),
        ("trim_metadata_tight", 2_700),
        ("trim_then_detach", 3_950),
        ("trim_annotations", 1_700),
        ("trim_fields", 1_100),
        ("trim_drop", 300),
    ] {
        check(case, &encode(&spans, &resource(), limit));
    }
}

#[test]
fn deep_chains_cycles_and_duplicates_are_pinned() {
    let mut spans: Vec<Span> = (1..=20).map(|n| span(6, n, Some(n - 1), "link")).collect();
    spans[0].parent_span_id = None;
    spans.extend([
        span(7, 1, Some(2), "a"),
        span(7, 2, Some(1), "b"),
        span(7, 3, Some(3), "self"),
        span(8, 1, None, "twice"),
        span(8, 1, None, "twice"),
    ]);
    let encoded = encode(&spans, &resource(), tests::LIMIT);
    assert_eq!(encoded.documents.iter().map(|d| d.spans).sum::<u64>(), 25);
    assert!(encoded.documents.iter().any(|d| d.id == id(17)));
    check("malformed", &encoded);
}
