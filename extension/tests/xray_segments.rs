//! The X-Ray exporter against moto's X-Ray API (`scripts/moto.sh start`): a UDP socket in
//! the test plays the daemon, every datagram the exporter sends is checked (header line,
//! size) and its document submitted with `PutTraceSegments` through the real AWS SDK
//! client; nothing may come back unprocessed, and the traces are read back with
//! `GetTraceSummaries` and `BatchGetTraces`. Documents moto does reject are shown to come
//! back unprocessed, so the check can fail.
//!
//! moto checks only that `id`, `name`, `trace_id`, `start_time` and `end_time` or
//! `in_progress` are there (not their formats, nor names, annotations or subsegments); the
//! unit tests in `traces::xray` check the documents against the schema's other rules.
//! Each test uses trace ids of its own, so tests share one moto without resetting it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_xray::Client;
use aws_sdk_xray::error::SdkError;
use aws_sdk_xray::primitives::DateTime;
use liftwatch_extension::traces::xray::{HEADER, MAX_DATAGRAM_BYTES};
use liftwatch_extension::traces::{
    AttributeValue, Resource, Span, SpanExporter, SpanId, SpanKind, SpanReport, SpanStatus,
    TraceId, XrayExporter,
};
use liftwatch_sandbox::moto::{REGION, moto_url, sdk_config};
use serde_json::{Value, json};
use tokio::net::UdpSocket;

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A fresh X-Ray trace id: the current time, then bits of its own.
fn new_trace_id() -> TraceId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = now_nanos();
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&((nanos / 1_000_000_000) as u32).to_be_bytes());
    id[4..12].copy_from_slice(&nanos.to_be_bytes());
    id[12..].copy_from_slice(&(NEXT.fetch_add(1, Ordering::Relaxed) as u32).to_be_bytes());
    TraceId(id)
}

fn new_span_id() -> SpanId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    SpanId((now_nanos() ^ NEXT.fetch_add(1, Ordering::Relaxed) << 48).to_be_bytes())
}

fn span(trace_id: TraceId, parent: Option<SpanId>, name: &str, start: u64) -> Span {
    Span {
        trace_id,
        span_id: new_span_id(),
        parent_span_id: parent,
        name: name.to_owned(),
        kind: SpanKind::Internal,
        start_unix_nanos: start,
        end_unix_nanos: start + 2_000_000,
        status: SpanStatus::Unset,
        attributes: Vec::new(),
        sampled: true,
        detail: None,
    }
}

fn resource() -> Resource {
    Resource::function("xray-test-fn", "$LATEST", REGION, Some(256))
}

/// Exports `spans` to a fake daemon and returns the report and every datagram received.
async fn export_to_fake_daemon(spans: &[Span]) -> (SpanReport, Vec<Vec<u8>>) {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .unwrap();
    // Room for a burst of 64 kB datagrams while the receiver task catches up.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.set_nonblocking(true).unwrap();
    let daemon = UdpSocket::from_std(socket.into()).unwrap();
    let address = daemon.local_addr().unwrap();
    let receiver = tokio::spawn(async move {
        let mut datagrams = Vec::new();
        let mut buf = vec![0u8; 70_000];
        while let Ok(received) =
            tokio::time::timeout(Duration::from_millis(1_500), daemon.recv_from(&mut buf)).await
        {
            let (n, _) = received.unwrap();
            datagrams.push(buf[..n].to_vec());
        }
        datagrams
    });
    let mut exporter = XrayExporter::new(address);
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = exporter.export(spans, &resource(), deadline).await;
    (report, receiver.await.unwrap())
}

/// The documents in `datagrams`, each checked for the header line and the size limit.
fn documents(datagrams: &[Vec<u8>]) -> Vec<String> {
    datagrams
        .iter()
        .map(|datagram| {
            assert!(
                datagram.len() <= MAX_DATAGRAM_BYTES,
                "{} bytes",
                datagram.len()
            );
            let document = datagram
                .strip_prefix(HEADER)
                .expect("a datagram starts with the header line");
            String::from_utf8(document.to_vec()).unwrap()
        })
        .collect()
}

/// The ids of a document and of its nested subsegments.
fn ids(doc: &Value, out: &mut Vec<String>) {
    out.push(doc["id"].as_str().unwrap().to_owned());
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        ids(sub, out);
    }
}

/// Submits `documents`; returns the unprocessed ones as (id, error code).
async fn put(client: &Client, documents: &[String]) -> Vec<(String, String)> {
    let mut unprocessed = Vec::new();
    for chunk in documents.chunks(50) {
        let out = client
            .put_trace_segments()
            .set_trace_segment_documents(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        unprocessed.extend(out.unprocessed_trace_segments().iter().map(|u| {
            (
                u.id().unwrap_or_default().to_owned(),
                u.error_code().unwrap_or_default().to_owned(),
            )
        }));
    }
    unprocessed
}

/// The trace summaries of the last and next ten minutes (`Id`, `HasFault`, `HasError`).
///
/// moto 5.2.5 answers with `"Users": {}` where the API has a list, which the SDK refuses
/// to parse; the summaries are then read from moto's raw 200 response.
async fn trace_summaries(client: &Client) -> Vec<Value> {
    let now = (now_nanos() / 1_000_000_000) as i64;
    let result = client
        .get_trace_summaries()
        .start_time(DateTime::from_secs(now - 600))
        .end_time(DateTime::from_secs(now + 600))
        .send()
        .await;
    match result {
        Ok(out) => out
            .trace_summaries()
            .iter()
            .map(|s| json!({"Id": s.id(), "HasFault": s.has_fault(), "HasError": s.has_error()}))
            .collect(),
        Err(SdkError::ServiceError(error)) if error.raw().status().as_u16() == 200 => {
            let body = error.raw().body().bytes().unwrap();
            let body: Value = serde_json::from_slice(body).unwrap();
            body["TraceSummaries"].as_array().unwrap().clone()
        }
        Err(error) => panic!("GetTraceSummaries: {error:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_segments_are_accepted_and_read_back() {
    let moto = Client::new(&sdk_config(&moto_url()));
    let t0 = now_nanos() - 1_000_000_000;
    // Under Lambda: the invocation's parent is the function segment Lambda itself sends.
    let lambda = new_trace_id();
    let function_segment = new_span_id();
    let mut invoke = span(lambda, Some(function_segment), "xray-test-fn", t0);
    invoke.kind = SpanKind::Server;
    invoke.end_unix_nanos = t0 + 50_000_000;
    invoke.status = SpanStatus::Error("handler failed".into());
    invoke.attributes = vec![
        (
            "faas.invocation_id".into(),
            AttributeValue::Str("req-1".into()),
        ),
        ("faas.coldstart".into(), AttributeValue::Bool(true)),
    ];
    let mut call = span(lambda, Some(invoke.span_id), "DynamoDB", t0 + 1_000_000);
    call.kind = SpanKind::Client;
    call.attributes = vec![
        ("rpc.system".into(), AttributeValue::Str("aws-api".into())),
        ("rpc.method".into(), AttributeValue::Str("GetItem".into())),
        ("aws.request_id".into(), AttributeValue::Str("R1".into())),
        ("http.response.status_code".into(), AttributeValue::Int(400)),
    ];
    let step = span(lambda, Some(call.span_id), "parse {item}!", t0 + 2_000_000);
    // Without Lambda's context: a trace of the extension's own, rooted in a segment.
    let own = new_trace_id();
    let root = span(own, None, "invoke", t0);
    let child = span(own, Some(root.span_id), "work", t0 + 100_000);
    let mut unsampled = span(own, Some(root.span_id), "unsampled", t0);
    unsampled.sampled = false;
    let spans = [invoke.clone(), call, step, root.clone(), child, unsampled];

    let (report, datagrams) = export_to_fake_daemon(&spans).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 5,
            dropped: 0,
            truncated: 0,
        }
    );
    let documents = documents(&datagrams);
    assert_eq!(documents.len(), 2);
    let parsed: Vec<Value> = documents
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let lambda_doc = parsed
        .iter()
        .find(|d| d["trace_id"] == lambda.to_xray())
        .unwrap();
    assert_eq!(lambda_doc["type"], "subsegment");
    assert_eq!(lambda_doc["parent_id"], function_segment.to_hex());
    assert_eq!(lambda_doc["fault"], true);
    assert_eq!(lambda_doc["subsegments"][0]["namespace"], "aws");
    assert_eq!(lambda_doc["subsegments"][0]["error"], true);
    assert_eq!(
        lambda_doc["subsegments"][0]["subsegments"][0]["name"],
        "parse _item__"
    );

    assert_eq!(put(&moto, &documents).await, Vec::<(String, String)>::new());

    let summaries = trace_summaries(&moto).await;
    let summary = |trace: TraceId| {
        summaries
            .iter()
            .find(|s| s["Id"] == trace.to_xray())
            .unwrap_or_else(|| panic!("no summary of {}", trace.to_xray()))
    };
    assert_eq!(summary(lambda)["HasFault"], true);
    assert_eq!(summary(own)["HasFault"], false);
    assert_eq!(summary(own)["HasError"], false);

    let traces = moto
        .batch_get_traces()
        .trace_ids(lambda.to_xray())
        .trace_ids(own.to_xray())
        .send()
        .await
        .unwrap();
    assert_eq!(traces.unprocessed_trace_ids(), Vec::<String>::new());
    let mut read_back = BTreeSet::new();
    for trace in traces.traces() {
        for segment in trace.segments() {
            let doc: Value = serde_json::from_str(segment.document().unwrap()).unwrap();
            assert_eq!(Some(doc["id"].as_str().unwrap()), segment.id());
            assert_eq!(Some(doc["trace_id"].as_str().unwrap()), trace.id());
            let mut all = Vec::new();
            ids(&doc, &mut all);
            read_back.extend(all);
        }
    }
    let sent: BTreeSet<String> = spans[..5].iter().map(|s| s.span_id.to_hex()).collect();
    assert_eq!(read_back, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_larger_than_a_datagram_arrives_split_and_whole() {
    let moto = Client::new(&sdk_config(&moto_url()));
    let t0 = now_nanos() - 1_000_000_000;
    let trace = new_trace_id();
    let invoke = span(trace, Some(new_span_id()), "invoke", t0);
    let mut spans = vec![invoke.clone()];
    for n in 0..1_500u64 {
        let parent = if n % 4 == 3 {
            spans[spans.len() - 1].span_id
        } else {
            invoke.span_id
        };
        let mut s = span(trace, Some(parent), "step", t0 + n * 1_000);
        s.attributes = vec![("payload".into(), AttributeValue::Str("p".repeat(300)))];
        spans.push(s);
    }

    let (report, datagrams) = export_to_fake_daemon(&spans).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 1_501,
            dropped: 0,
            truncated: 0,
        }
    );
    let documents = documents(&datagrams);
    assert!(documents.len() > 5, "{} documents", documents.len());
    assert_eq!(put(&moto, &documents).await, Vec::<(String, String)>::new());

    let traces = moto
        .batch_get_traces()
        .trace_ids(trace.to_xray())
        .send()
        .await
        .unwrap();
    let segments = traces.traces()[0].segments();
    assert_eq!(segments.len(), documents.len());
    let mut read_back = Vec::new();
    for segment in segments {
        let doc: Value = serde_json::from_str(segment.document().unwrap()).unwrap();
        if doc["id"] != invoke.span_id.to_hex() {
            assert_eq!(doc["type"], "subsegment");
        }
        ids(&doc, &mut read_back);
    }
    read_back.sort();
    let mut sent: Vec<String> = spans.iter().map(|s| s.span_id.to_hex()).collect();
    sent.sort();
    assert_eq!(read_back, sent);
}

#[tokio::test]
async fn moto_reports_the_documents_it_rejects() {
    let moto = Client::new(&sdk_config(&moto_url()));
    let trace = new_trace_id().to_xray();
    let start = now_nanos() as f64 / 1e9;
    let valid = format!(
        r#"{{"name":"ok","id":"00000000000000a1","trace_id":"{trace}","start_time":{start},"end_time":{start}}}"#
    );
    let unfinished = format!(
        r#"{{"name":"x","id":"00000000000000a2","trace_id":"{trace}","start_time":{start}}}"#
    );
    let bad_time = format!(
        r#"{{"name":"x","id":"00000000000000a3","trace_id":"{trace}","start_time":"soon","end_time":{start}}}"#
    );
    let not_json = "{\"name\": ".to_owned();
    let unprocessed = put(&moto, &[valid, unfinished, bad_time, not_json]).await;
    let codes: Vec<&str> = unprocessed.iter().map(|(_, code)| code.as_str()).collect();
    assert_eq!(
        codes,
        ["MissingParam", "InternalFailure", "JSONFormatError"]
    );
    assert_eq!(unprocessed[0].0, "00000000000000a2");
    assert_eq!(unprocessed[1].0, "00000000000000a3");
}
