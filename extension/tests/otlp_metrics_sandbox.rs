//! OpenTelemetry metrics end to end: the real OpenTelemetry SDK (`opentelemetry_sdk`'s
//! meter provider with `opentelemetry-otlp`'s HTTP exporter, cumulative temporality, the
//! SDKs' default) exports to the built extension's receiver while invocations run in the
//! local sandbox, and the EMF it publishes holds each interval's increase: exact sums for
//! counters across several exports, every histogram observation, the gauge's last value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use liftwatch_sandbox::emf::{summarize, total};
use liftwatch_sandbox::ports::PortPicker;
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use serde_json::json;

const FUNCTION: &str = "metered";

/// A meter provider exporting to the extension's receiver on `port` only when flushed (its
/// periodic reader's interval is longer than the test).
fn provider(port: u16, protocol: Protocol, temporality: Temporality) -> SdkMeterProvider {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("http://127.0.0.1:{port}/v1/metrics"))
        .with_temporality(temporality)
        .build()
        .unwrap();
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3_600))
        .build();
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("orders")
        .with_attribute(KeyValue::new("service.instance.id", "sandbox-1"))
        .build();
    SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource)
        .build()
}

/// POSTs an OTLP/JSON metrics body over HTTP/1.0; the answer's status line and body.
fn post_json(port: u16, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let head = format!(
        "POST /v1/metrics HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A Summary (refused: quantiles cannot be added up) beside a valid gauge.
const SUMMARY_AND_GAUGE: &str = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
  {"name":"rpc.latency","summary":{"dataPoints":[{"count":"2","sum":3}]}},
  {"name":"raw.gauge","gauge":{"dataPoints":[{"asDouble":4.5}]}}]}]}]}"#;

async fn run(protocol: Protocol, temporality: Temporality) {
    let port = PortPicker::new().tcp().unwrap();
    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_OTLP_PORT", port.to_string());
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let provider = provider(port, protocol, temporality);
    let meter = provider.meter("checkout");
    let orders = meter
        .u64_counter("shop.orders")
        .with_unit("{order}")
        .build();
    let latency = meter
        .f64_histogram("checkout.duration")
        .with_unit("ms")
        .with_boundaries(vec![10.0, 100.0, 1_000.0])
        .build();
    let inflight = meter.i64_up_down_counter("checkout.inflight").build();
    let gauge = meter.f64_gauge("queue.depth").with_unit("1").build();
    let shop = [KeyValue::new("shop", "x")];
    // Three invocations, each recording, then flushing the provider (as a handler calls
    // force_flush before it returns) while the sandbox is thawed.
    for round in 1..=3_u64 {
        let handler = {
            let (orders, latency, inflight, gauge) = (
                orders.clone(),
                latency.clone(),
                inflight.clone(),
                gauge.clone(),
            );
            let (provider, shop) = (provider.clone(), shop.clone());
            move || {
                std::thread::sleep(Duration::from_millis(100));
                orders.add(round, &shop);
                for ms in [5.0, 50.0, 500.0, 5_000.0] {
                    latency.record(ms * round as f64, &shop);
                }
                inflight.add(2, &[]);
                gauge.record(round as f64 * 10.0, &[]);
                provider.force_flush().unwrap();
                if round == 1 {
                    let answer = post_json(port, SUMMARY_AND_GAUGE);
                    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
                    assert!(answer.contains(r#""rejectedDataPoints":1,"#), "{answer}");
                }
            }
        };
        let invoke = sandbox.invoke(json!({"sleep_ms": 700}));
        let (outcome, flushed) = tokio::join!(invoke, tokio::task::spawn_blocking(handler));
        assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
        flushed.unwrap();
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    let metrics = sandbox.emf().metrics;
    let function = ("FunctionName", FUNCTION);
    assert_eq!(
        total(&metrics, "shop.orders", &[function, ("shop", "x")]),
        6.0
    );
    let summaries = summarize(&metrics);
    let find = |name: &str| {
        summaries
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not published: {summaries:#?}"))
    };
    assert_eq!(find("shop.orders").unit, "Count");
    let latency = find("checkout.duration");
    assert_eq!(
        (latency.samples, latency.unit.as_str()),
        (12, "Milliseconds")
    );
    assert!(
        latency.dimensions.get("shop").is_some_and(|v| v == "x")
            && !latency.dimensions.contains_key("service.instance.id"),
        "{latency:?}"
    );
    assert!(latency.max > 1_000.0 && latency.min < 10.0, "{latency:?}");
    // The up-down counter stays cumulative under the SDK's delta preference too (the
    // specification's rule): a level, published as a gauge per flush (2, 4, 6).
    let inflight = find("checkout.inflight");
    assert_eq!((inflight.samples, inflight.max), (3, 6.0), "{inflight:?}");
    assert_eq!(find("queue.depth").max, 30.0);
    assert_eq!(find("raw.gauge").max, 4.5);
    assert_eq!(
        total(&metrics, "EventsMalformed", &[function]),
        1.0,
        "the summary"
    );
    provider.shutdown().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_protobuf_metrics_from_the_opentelemetry_sdk_publish_each_increase() {
    run(Protocol::HttpBinary, Temporality::Cumulative).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_json_metrics_from_the_opentelemetry_sdk_publish_exact_sums() {
    run(Protocol::HttpJson, Temporality::Delta).await;
}
