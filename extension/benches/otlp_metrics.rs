//! OTLP metrics intake throughput, end to end over loopback HTTP: a client posts protobuf
//! `ExportMetricsServiceRequest`s (keep-alive, one at a time, as an SDK's reader exports)
//! for 3 s to `OtlpListener` on 127.0.0.1, while a task does what the pipeline does with
//! every point (cumulative → delta per stream, histogram buckets → weighted values, the
//! custom aggregator's record, a flush every 100 requests). Then the same decode and
//! conversion in process, without HTTP. Prints data points/s for both and the ratio to a
//! 100,000 points/s target (a function exporting 100 points per invocation at 1,000
//! invocations/s per sandbox).
//!
//! `cargo bench -p liftwatch-extension --bench otlp_metrics` (`BENCH_POINTS_PER_REQUEST`,
//! default 100: half cumulative counters, half cumulative 16-bucket histograms, over 25
//! attribute sets).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::hash::RandomState;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use liftwatch_extension::aggregate::CustomAggregator;
use liftwatch_extension::otlp_metrics::decode::DimensionRule;
use liftwatch_extension::otlp_metrics::delta::Outcome;
use liftwatch_extension::otlp_metrics::{
    Point, Streams, decode_request, events_from, points_from_request,
};
use liftwatch_extension::traces::otlp::decode::Encoding;
use liftwatch_extension::traces::otlp::{IntakeCounters, OtlpIntake, OtlpListener};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use prost::Message;
use tokio::sync::mpsc;

const TARGET: f64 = 100_000.0;
const CUMULATIVE: i32 = 2;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn attributes(i: u64) -> Vec<KeyValue> {
    let kv = |key: &str, value: String| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    };
    vec![
        kv("http.route", format!("/orders/{}", i % 25)),
        kv("http.request.method", "GET".into()),
    ]
}

/// `points` data points: counters and histograms in turn, each on its own stream.
fn request(points: u64, round: u64) -> ExportMetricsServiceRequest {
    let start = 1_764_300_000_000_000_000;
    let metrics = (0..points)
        .map(|i| {
            let data = if i % 2 == 0 {
                Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        attributes: attributes(i),
                        start_time_unix_nano: start,
                        time_unix_nano: start + round,
                        value: Some(Value::AsInt((round * (i + 1)) as i64)),
                        ..Default::default()
                    }],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                })
            } else {
                let counts: Vec<u64> = (0..16).map(|b| round * (b % 3)).collect();
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: attributes(i),
                        start_time_unix_nano: start,
                        time_unix_nano: start + round,
                        count: counts.iter().sum(),
                        sum: Some(round as f64 * 100.0),
                        explicit_bounds: (1..16).map(|b| f64::from(b) * 10.0).collect(),
                        bucket_counts: counts,
                        ..Default::default()
                    }],
                    aggregation_temporality: CUMULATIVE,
                })
            };
            Metric {
                name: format!("app.metric.{}", i / 25),
                unit: if i % 2 == 0 { "{request}" } else { "ms" }.into(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// What the pipeline does with a batch; the number of events recorded.
fn record(points: Vec<Point>, streams: &mut Streams, custom: &mut CustomAggregator) -> u64 {
    let mut events = 0;
    for point in points {
        if let Outcome::Send(delta) = streams.delta(point) {
            events_from(delta, |event| {
                custom.record(event);
                events += 1;
            });
        }
    }
    events
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let per_request = env_or("BENCH_POINTS_PER_REQUEST", 100);
    let bodies: Vec<Bytes> = (1..=64)
        .map(|round| Bytes::from(request(per_request, round).encode_to_vec()))
        .collect();
    println!(
        "{per_request} points per request, {} bytes of protobuf",
        bodies[0].len()
    );

    // In process: decode, convert, aggregate.
    let keys = RandomState::new();
    let mut streams = Streams::new(0);
    let mut custom = CustomAggregator::default();
    let mut series = Vec::new();
    let started = Instant::now();
    let mut points = 0u64;
    let mut events = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        for body in &bodies {
            let request = decode_request(body, Encoding::Protobuf).unwrap();
            let decoded = points_from_request(request, &DimensionRule::Attributes, &keys);
            points += decoded.points.len() as u64;
            events += record(decoded.points, &mut streams, &mut custom);
        }
        custom.flush_into("bench", &mut series);
        series.clear();
    }
    let rate = points as f64 / started.elapsed().as_secs_f64();
    println!(
        "in process: {rate:.0} points/s ({events} events) = {:.1}x the target; {:.2} µs per point",
        rate / TARGET,
        1e6 / rate
    );

    // Over loopback HTTP, with the pipeline's work in the draining task.
    let (tx, mut rx) = mpsc::channel::<Vec<Point>>(64);
    let (spans, _spans_rx) = mpsc::channel(1);
    let counters = Arc::new(IntakeCounters::default());
    let intake = OtlpIntake::new(
        spans,
        Arc::clone(&counters),
        Arc::new(|| serde_json::json!({})),
    )
    .with_metrics(tx, DimensionRule::Attributes);
    let listener = OtlpListener::bind(0).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(listener.serve(intake));
    let received = Arc::new(AtomicU64::new(0));
    let drained = Arc::clone(&received);
    tokio::spawn(async move {
        let mut streams = Streams::new(0);
        let mut custom = CustomAggregator::default();
        let mut series = Vec::new();
        let mut batches = 0u64;
        while let Some(batch) = rx.recv().await {
            drained.fetch_add(batch.len() as u64, Ordering::Relaxed);
            record(batch, &mut streams, &mut custom);
            batches += 1;
            if batches.is_multiple_of(100) {
                custom.flush_into("bench", &mut series);
                series.clear();
            }
        }
    });
    let url = format!("http://{addr}/v1/metrics");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let started = Instant::now();
    let (mut requests, mut busy) = (0u64, 0u64);
    while started.elapsed() < Duration::from_secs(3) {
        let body = bodies[(requests % bodies.len() as u64) as usize].clone();
        let request = Request::post(&url)
            .header("content-type", "application/x-protobuf")
            .body(Full::new(body))
            .unwrap();
        let response = client.request(request).await.unwrap();
        match response.status().as_u16() {
            200 => {}
            // The pipeline's queue is full: an SDK would retry later.
            503 => busy += 1,
            other => panic!("answered {other}"),
        }
        requests += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let points = received.load(Ordering::Relaxed);
    let rate = points as f64 / elapsed;
    let snapshot = counters.snapshot();
    println!(
        "http: {requests} requests ({busy} answered 503), points received {points} (counted {}, dropped {}, rejected {})",
        snapshot.points_received, snapshot.points_dropped, snapshot.points_rejected
    );
    println!(
        "http: {rate:.0} points/s = {:.1}x the target; {:.0} µs per request",
        rate / TARGET,
        elapsed * 1e6 / requests as f64
    );
}
