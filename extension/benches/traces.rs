//! Tracing hot paths, per invocation and per span:
//! - the platform spans of one warm invocation (platform.start, runtimeDone with its two
//!   measured spans, report → 5 spans) built by the collector;
//! - the same spans encoded for OTLP/HTTP (protobuf) and for X-Ray (segment documents);
//! - the OTLP receiver's decoding of a 100-span protobuf request into our spans.
//!
//! Target: platform spans + one export encoding < 20 µs per invocation; decoding fast
//! enough for 50,000 spans/s on one core. `cargo bench -p liftwatch-extension --bench traces`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liftwatch_extension::telemetry::Record;
use liftwatch_extension::telemetry::record::{Span as PlatformSpan, Status, TraceContext};
use liftwatch_extension::traces::otlp::decode::{Encoding, decode_request, spans_from_request};
use liftwatch_extension::traces::otlp::encode::encode as otlp_encode;
use liftwatch_extension::traces::{Resource, Span, TraceCollector, xray};

const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn invocation(id: &str) -> [Record; 3] {
    let tracing = Some(TraceContext {
        kind: "X-Amzn-Trace-Id".into(),
        value: HEADER.into(),
        span_id: None,
    });
    [
        Record::Start {
            request_id: id.into(),
            tracing: tracing.clone(),
            time_unix_nanos: Some(1_764_300_000_000_000_000),
        },
        Record::RuntimeDone {
            request_id: id.into(),
            status: Status::Success,
            error_type: None,
            duration_ms: Some(12.5),
            produced_bytes: Some(120),
            spans: vec![
                PlatformSpan {
                    name: "responseLatency".into(),
                    start: "2025-11-28T03:20:00.010Z".into(),
                    duration_ms: 11.0,
                },
                PlatformSpan {
                    name: "responseDuration".into(),
                    start: "2025-11-28T03:20:00.021Z".into(),
                    duration_ms: 0.2,
                },
            ],
            tracing: tracing.clone(),
        },
        Record::Report {
            request_id: id.into(),
            status: Status::Success,
            error_type: None,
            duration_ms: 14.0,
            billed_duration_ms: 15.0,
            memory_size_mb: 128.0,
            max_memory_used_mb: 30.0,
            init_duration_ms: None,
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            tracing,
        },
    ]
}

fn platform_spans() -> Vec<Span> {
    let mut collector = TraceCollector::new("orders-api", true);
    for record in &invocation("r1") {
        collector.record_telemetry(record, 0);
    }
    collector.take_spans()
}

fn bench(c: &mut Criterion) {
    let resource = Resource::function("orders-api", "$LATEST", "eu-west-1", Some(512));
    let records = invocation("8a1b2c3d-95b1-4643-9700-2807f4e68189");
    let mut group = c.benchmark_group("per_invocation");
    group.bench_function("platform_spans", |b| {
        let mut collector = TraceCollector::new("orders-api", true);
        b.iter(|| {
            for record in &records {
                collector.record_telemetry(black_box(record), 0);
            }
            black_box(collector.take_spans())
        });
    });
    let spans = platform_spans();
    println!("spans per invocation: {}", spans.len());
    group.bench_function("otlp_encode", |b| {
        b.iter(|| black_box(otlp_encode(black_box(&spans), &resource)))
    });
    group.bench_function("xray_encode", |b| {
        b.iter(|| black_box(xray::encode(black_box(&spans), &resource, 64 * 1024)))
    });
    group.finish();

    let mut many = Vec::new();
    for i in 0..20 {
        let mut invocation_spans = platform_spans();
        for span in &mut invocation_spans {
            span.span_id.0[0] = i;
        }
        many.extend(invocation_spans);
    }
    let body = otlp_encode(&many, &resource);
    let mut group = c.benchmark_group("otlp_intake");
    group.throughput(Throughput::Elements(many.len() as u64));
    group.bench_function("decode_100_spans", |b| {
        b.iter(|| {
            let request = decode_request(black_box(&body), Encoding::Protobuf).unwrap();
            black_box(spans_from_request(request))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
