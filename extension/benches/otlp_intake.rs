//! The OTLP/HTTP receiver's throughput over real loopback HTTP: a client posts protobuf
//! requests of 100 spans (keep-alive, one at a time, like an OpenTelemetry batch span
//! processor) for 3 s to `OtlpListener` on 127.0.0.1, while a task drains the pipeline
//! channel the way the pipeline does. Prints spans/s received and the ratio to the
//! 50,000 spans/s target.
//!
//! `cargo bench -p liftwatch-extension --bench otlp_intake` (`BENCH_SPANS_PER_REQUEST`,
//! default 100; `BENCH_CONNECTIONS`, default 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use liftwatch_extension::traces::otlp::encode::encode;
use liftwatch_extension::traces::otlp::{IntakeCounters, OtlpIntake, OtlpListener};
use liftwatch_extension::traces::{
    AttributeValue, Resource, Span, SpanId, SpanKind, SpanStatus, TraceId,
};
use tokio::sync::mpsc;

const TARGET: f64 = 50_000.0;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spans(n: u64) -> Vec<Span> {
    (0..n)
        .map(|i| Span {
            trace_id: TraceId([7; 16]),
            span_id: SpanId((i + 1).to_be_bytes()),
            parent_span_id: (i > 0).then_some(SpanId(1u64.to_be_bytes())),
            name: format!("db.query.{}", i % 8),
            kind: SpanKind::Client,
            start_unix_nanos: 1_764_300_000_000_000_000 + i * 1_000,
            end_unix_nanos: 1_764_300_000_000_500_000 + i * 1_000,
            status: SpanStatus::Ok,
            attributes: vec![
                ("db.system".into(), AttributeValue::Str("dynamodb".into())),
                ("rows".into(), AttributeValue::Int(i as i64)),
            ],
            sampled: true,
            detail: None,
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let per_request = env_or("BENCH_SPANS_PER_REQUEST", 100);
    let connections = env_or("BENCH_CONNECTIONS", 1);
    let resource = Resource::function("bench", "$LATEST", "eu-west-1", None);
    let body = Bytes::from(encode(&spans(per_request), &resource));
    let (tx, mut rx) = mpsc::channel::<Vec<Span>>(64);
    let counters = Arc::new(IntakeCounters::default());
    let intake = OtlpIntake::new(
        tx,
        Arc::clone(&counters),
        Arc::new(|| serde_json::json!({})),
    );
    let listener = OtlpListener::bind(0).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(listener.serve(intake));
    let received = Arc::new(AtomicU64::new(0));
    let drained = Arc::clone(&received);
    tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            drained.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    });
    let url = format!("http://{addr}/v1/traces");
    let started = Instant::now();
    let until = started + Duration::from_secs(3);
    let mut senders = Vec::new();
    for _ in 0..connections {
        let (url, body) = (url.clone(), body.clone());
        senders.push(tokio::spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let mut sent = 0u64;
            while Instant::now() < until {
                let request = Request::post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(Full::new(body.clone()))
                    .unwrap();
                let response = client.request(request).await.unwrap();
                assert_eq!(response.status(), 200);
                sent += 1;
            }
            sent
        }));
    }
    let mut requests = 0;
    for sender in senders {
        requests += sender.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let spans = received.load(Ordering::Relaxed);
    let rate = spans as f64 / elapsed;
    let snapshot = counters.snapshot();
    println!(
        "requests {requests} of {per_request} spans over {connections} connection(s) in {elapsed:.2} s"
    );
    println!(
        "spans received {spans} (intake counted {}, dropped {})",
        snapshot.spans_received, snapshot.spans_dropped
    );
    println!(
        "{rate:.0} spans/s = {:.1}x the 50,000 spans/s target; {:.0} µs per request",
        rate / TARGET,
        elapsed * 1e6 / requests as f64
    );
}
