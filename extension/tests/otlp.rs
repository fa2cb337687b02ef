//! OTLP/HTTP end to end: `OtlpExporter` against a scripted collector on 127.0.0.1
//! (fields as decoded by `opentelemetry-proto`, retries on 503 and 429 with `Retry-After`,
//! no retry on 400, partial success, deadlines), and the OTLP intake receiving spans from
//! the real OpenTelemetry SDK (`opentelemetry-otlp`, HTTP/protobuf).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "otlp/collector.rs"]
#[allow(dead_code)] // shared with traces_sandbox and real_runtimes, which use other parts
mod collector;

use std::sync::Arc;
use std::time::{Duration, Instant};

use collector::{Collector, Reply};
use liftwatch::retry::Backoff;
use liftwatch_extension::traces::otlp::{
    IntakeCounters, OtlpConfig, OtlpExporter, OtlpIntake, OtlpListener, StatsSource,
};
use liftwatch_extension::traces::{
    AttributeValue, Resource, Span, SpanExporter, SpanId, SpanKind, SpanReport, SpanStatus, TraceId,
};
use opentelemetry_otlp::Protocol;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::mpsc;

/// Lateness allowed past a deadline for the runtime to schedule the returning task.
const SCHEDULING_SLACK: Duration = Duration::from_millis(150);
const START: u64 = 1_700_000_000_000_000_000;

fn parent_and_child() -> Vec<Span> {
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let root = Span {
        trace_id,
        span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        parent_span_id: None,
        name: "invoke".into(),
        kind: SpanKind::Server,
        start_unix_nanos: START,
        end_unix_nanos: START + 80_000_000,
        status: SpanStatus::Ok,
        attributes: vec![("faas.coldstart".into(), AttributeValue::Bool(true))],
        sampled: true,
        detail: None,
    };
    let child = Span {
        span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
        parent_span_id: Some(root.span_id),
        name: "dynamodb.GetItem".into(),
        kind: SpanKind::Client,
        start_unix_nanos: START + 10_000_000,
        end_unix_nanos: START + 30_000_000,
        status: SpanStatus::Error("ProvisionedThroughputExceeded".into()),
        attributes: vec![("aws.retries".into(), AttributeValue::Int(2))],
        ..root.clone()
    };
    vec![root, child]
}

fn exporter(endpoint: &str) -> OtlpExporter {
    let mut config = OtlpConfig::new(endpoint).unwrap();
    config.timeout = Duration::from_secs(2);
    OtlpExporter::new(config).with_backoff(Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
    })
}

fn resource() -> Resource {
    Resource::function("orders", "7", "eu-west-1", Some(256))
}

fn in_ms(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

/// [`parent_and_child`] exported to `endpoint` by the test [`exporter`] before `deadline`.
async fn export_pair(endpoint: &str, deadline: Instant) -> SpanReport {
    exporter(endpoint)
        .export(&parent_and_child(), &resource(), deadline)
        .await
}

#[tokio::test]
async fn parent_and_child_arrive_with_ids_times_status_resource_and_headers() {
    let collector = Collector::start(vec![]).await;
    let vars = [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.endpoint()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=s3cr%3Dt,broken".into(),
        ),
    ];
    let config =
        OtlpConfig::from_lookup(|key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
            .unwrap()
            .unwrap();
    assert_eq!(config.skipped_headers, 1);
    let mut exporter = OtlpExporter::new(config);

    let spans = parent_and_child();
    let report = exporter.export(&spans, &resource(), in_ms(2000)).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 2,
            dropped: 0,
            truncated: 0,
        }
    );

    let received = collector.received();
    assert_eq!(received.len(), 1);
    let headers = &received[0].headers;
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["x-api-key"], "s3cr=t");
    let resource_spans = &received[0].request.resource_spans[0];
    let attributes = &resource_spans.resource.as_ref().unwrap().attributes;
    let faas_name = attributes.iter().find(|kv| kv.key == "faas.name").unwrap();
    assert_eq!(
        faas_name.value.as_ref().unwrap().value,
        Some(Value::StringValue("orders".into()))
    );
    let scope_spans = &resource_spans.scope_spans[0];
    assert_eq!(scope_spans.scope.as_ref().unwrap().name, "liftwatch");
    let [root, child] = scope_spans.spans.as_slice() else {
        panic!("two spans expected, got {:?}", scope_spans.spans);
    };
    assert_eq!(root.trace_id, spans[0].trace_id.0);
    assert_eq!(child.trace_id, spans[0].trace_id.0);
    assert_eq!(root.span_id, spans[0].span_id.0);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(child.span_id, spans[1].span_id.0);
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(
        (root.start_time_unix_nano, root.end_time_unix_nano),
        (START, START + 80_000_000)
    );
    assert_eq!(
        (child.start_time_unix_nano, child.end_time_unix_nano),
        (START + 10_000_000, START + 30_000_000)
    );
    assert_eq!((root.kind, child.kind), (2, 3));
    let status = child.status.as_ref().unwrap();
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "ProvisionedThroughputExceeded")
    );
    assert_eq!(
        child.attributes[0].value.as_ref().unwrap().value,
        Some(Value::IntValue(2))
    );
}

#[tokio::test]
async fn a_503_is_retried_and_the_second_attempt_delivers() {
    let collector = Collector::start(vec![Reply::Status(503), Reply::Ok]).await;
    let report = export_pair(&collector.endpoint(), in_ms(2000)).await;
    assert_eq!(report.exported, 2);
    assert_eq!(report.dropped, 0);
    let received = collector.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].request, received[1].request);
}

#[tokio::test]
async fn retry_after_is_honoured_when_it_fits_and_gives_up_when_it_does_not() {
    let collector = Collector::start(vec![Reply::RetryAfter(429, 1), Reply::Ok]).await;
    let report = export_pair(&collector.endpoint(), in_ms(3000)).await;
    assert_eq!(report.exported, 2);
    let received = collector.received();
    let waited = received[1].at - received[0].at;
    assert!(waited >= Duration::from_millis(950), "{waited:?}");

    // Retry-After beyond the deadline: no waiting until the deadline for nothing.
    let collector = Collector::start(vec![Reply::RetryAfter(503, 30)]).await;
    let started = Instant::now();
    let report = export_pair(&collector.endpoint(), in_ms(2000)).await;
    assert_eq!(report.dropped, 2);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(collector.received().len(), 1);
}

#[tokio::test]
async fn a_400_is_not_retried_and_its_spans_are_dropped() {
    let collector = Collector::start(vec![Reply::Status(400), Reply::Ok]).await;
    let report = export_pair(&collector.endpoint(), in_ms(2000)).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 0,
            dropped: 2,
            truncated: 0,
        }
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(collector.received().len(), 1);
}

#[tokio::test]
async fn a_partial_success_counts_its_rejected_spans_as_dropped() {
    let collector = Collector::start(vec![Reply::Partial(1)]).await;
    let report = export_pair(&collector.endpoint(), in_ms(2000)).await;
    assert_eq!(
        report,
        SpanReport {
            exported: 1,
            dropped: 1,
            truncated: 0,
        }
    );
}

#[tokio::test]
async fn a_silent_collector_costs_no_more_than_the_deadline() {
    let collector = Collector::start(vec![Reply::Hang, Reply::Hang, Reply::Hang]).await;
    let deadline = in_ms(400);
    let report = export_pair(&collector.endpoint(), deadline).await;
    let late = Instant::now().saturating_duration_since(deadline);
    assert!(
        late < SCHEDULING_SLACK,
        "returned {late:?} after the deadline"
    );
    assert_eq!(report.dropped, 2);
    // Half the time went to the first attempt, and a retry got the rest.
    assert!(collector.received().len() >= 2);
}

#[tokio::test]
async fn refused_connections_are_retried_until_the_deadline() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let deadline = in_ms(300);
    let endpoint = format!("http://127.0.0.1:{port}/v1/traces");
    let report = export_pair(&endpoint, deadline).await;
    assert_eq!(report.dropped, 2);
    let late = Instant::now().saturating_duration_since(deadline);
    assert!(
        late < SCHEDULING_SLACK,
        "returned {late:?} after the deadline"
    );
}

/// Spans made by the OpenTelemetry SDK on a plain thread (its blocking reqwest client must
/// not run on a runtime thread), exported with `opentelemetry-otlp` over HTTP in `protocol`
/// (set explicitly: with both encodings compiled in, the default is JSON).
fn sdk_spans(endpoint: String, protocol: Protocol) -> String {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer, TracerProvider};
    use opentelemetry_otlp::WithExportConfig;

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(endpoint)
        .build()
        .unwrap();
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("checkout")
        .with_attribute(KeyValue::new("deployment.environment", "test"))
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("checkout-handler");
    let trace_id = tracer.in_span("handle-order", |cx| {
        let mut child = tracer
            .span_builder("charge-card")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("payment.amount", 42.5),
                KeyValue::new("payment.attempt", 1_i64),
                KeyValue::new("payment.provider", "stripe"),
            ])
            .start_with_context(&tracer, &cx);
        child.set_attribute(KeyValue::new("payment.approved", true));
        child.end();
        cx.span().span_context().trace_id().to_string()
    });
    provider.shutdown().unwrap();
    trace_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_spans_from_the_opentelemetry_sdk_arrive_on_the_channel() {
    sdk_round_trip(Protocol::HttpBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_spans_from_the_opentelemetry_sdk_arrive_on_the_channel() {
    sdk_round_trip(Protocol::HttpJson).await;
}

async fn sdk_round_trip(protocol: Protocol) {
    let listener = OtlpListener::bind(0).await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let (tx, mut rx) = mpsc::channel(16);
    let counters = Arc::new(IntakeCounters::default());
    let stats: StatsSource = Arc::new(|| serde_json::json!({}));
    let server = tokio::spawn(listener.serve(OtlpIntake::new(tx, Arc::clone(&counters), stats)));

    let endpoint = format!("http://{addr}/v1/traces");
    let thread = std::thread::spawn(move || sdk_spans(endpoint, protocol));
    let trace_id = tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();

    // The simple processor exports each span as it ends: the child first.
    let mut spans = Vec::new();
    while spans.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        spans.extend(batch);
    }
    let child = spans.iter().find(|s| s.name == "charge-card").unwrap();
    let parent = spans.iter().find(|s| s.name == "handle-order").unwrap();
    assert_eq!(parent.trace_id.to_hex(), trace_id);
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(parent.parent_span_id, None);
    assert_eq!(child.parent_span_id, Some(parent.span_id));
    assert_eq!(child.kind, SpanKind::Client);
    assert_eq!(parent.kind, SpanKind::Internal);
    assert!(parent.sampled && child.sampled);
    assert!(child.start_unix_nanos >= parent.start_unix_nanos);
    assert!(child.end_unix_nanos <= parent.end_unix_nanos);
    for (key, value) in [
        ("payment.amount", AttributeValue::Float(42.5)),
        ("payment.attempt", AttributeValue::Int(1)),
        ("payment.provider", AttributeValue::Str("stripe".into())),
        ("payment.approved", AttributeValue::Bool(true)),
    ] {
        assert_eq!(child.attribute(key), Some(&value), "{key}");
    }
    // The SDK's resource and scope, kept apart from the span's attributes.
    assert_eq!(child.attribute("service.name"), None);
    let origin = child.detail.as_ref().unwrap().origin.as_ref().unwrap();
    assert_eq!(origin.scope_name, "checkout-handler");
    for (key, value) in [
        ("service.name", "checkout"),
        ("deployment.environment", "test"),
    ] {
        let found = origin
            .resource
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v);
        assert_eq!(found, Some(&AttributeValue::Str(value.into())), "{key}");
    }
    assert_eq!(counters.snapshot().spans_received, 2);
    assert_eq!(counters.snapshot().malformed_requests, 0);
    server.abort();
}
