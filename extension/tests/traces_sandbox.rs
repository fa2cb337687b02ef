//! Tracing end to end: the built extension beside the example function in the local
//! sandbox, exporting to an OTLP/HTTP collector (decoding with the official protobuf
//! definitions) and to a UDP socket standing in for the X-Ray daemon. The function's SDK
//! spans join the invocation's trace under its `Invocation` span; the statistics come out
//! in the EMF and at `GET /v1/stats`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "otlp/collector.rs"]
#[allow(dead_code)]
mod collector;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use collector::Collector;
use liftwatch_sandbox::emf::total;
use liftwatch_sandbox::ports::PortPicker;
use liftwatch_sandbox::proxy::silent::{only_the_first_waits, silent_server};
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary};
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::{Value, json};

const FUNCTION: &str = "traced";

/// `GET /v1/stats` over a plain HTTP/1.0 connection.
fn stats(port: u16) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream
        .write_all(b"GET /v1/stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

/// A trace collector that accepts connections and holds them, reading and answering
/// nothing: its OTLP endpoint, and the task to abort when done.
async fn silent_collector() -> (String, tokio::task::JoinHandle<()>) {
    let (url, held) = silent_server().await.unwrap();
    (format!("{url}/v1/traces"), held)
}

/// The example function beside the extension flushing with `flush`, exporting spans to
/// the OTLP `endpoint` and to the X-Ray `daemon`, its own receiver off.
fn otlp_and_xray(flush: &str, endpoint: &str, daemon: &UdpSocket) -> SandboxConfig {
    SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", flush)
        .env("LIFTWATCH_OTLP_PORT", "off")
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            daemon.local_addr().unwrap().to_string(),
        )
}

/// `/v1/stats` read 250 ms into an invocation with `payload` (which must last longer),
/// while the extension is thawed.
async fn stats_during(sandbox: &Sandbox, payload: Value, otlp_port: u16) -> Value {
    let slow = sandbox.invoke(payload);
    let read = async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        tokio::task::spawn_blocking(move || stats(otlp_port))
            .await
            .unwrap()
    };
    let (outcome, live) = tokio::join!(slow, read);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_and_handler_spans_reach_otlp_and_xray() {
    let collector = Collector::start(Vec::new()).await;
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let otlp_port = PortPicker::new().tcp().unwrap();
    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_OTLP_PORT", otlp_port.to_string())
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.endpoint())
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            daemon.local_addr().unwrap().to_string(),
        );
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let mut request_ids = Vec::new();
    for payload in [
        json!({"span": "checkout", "items": 2}),
        json!({"span": "checkout", "fail": true}),
        json!({"span": "checkout"}),
    ] {
        let outcome = sandbox.invoke(payload).await.unwrap();
        request_ids.push(outcome.request_id.clone());
    }
    // While a fourth invocation runs (the extension is thawed), read the statistics.
    let live = stats_during(
        &sandbox,
        json!({"span": "checkout", "sleep_ms": 600}),
        otlp_port,
    )
    .await;
    assert!(live["traces_generated"].as_u64().unwrap() >= 3, "{live}");
    assert!(live["traces_sampled"].as_u64().unwrap() >= 3, "{live}");
    assert!(live["last_trace_unix_ms"].as_u64().is_some(), "{live}");
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    // OTLP: every invocation is a tree, with the SDK spans inside it.
    let spans: Vec<ProtoSpan> = collector.spans();
    let by_id: HashMap<Vec<u8>, &ProtoSpan> =
        spans.iter().map(|s| (s.span_id.clone(), s)).collect();
    let roots: Vec<&ProtoSpan> = spans.iter().filter(|s| s.name == FUNCTION).collect();
    assert_eq!(
        roots.len(),
        4,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // Lambda's header names the facade segment (`Parent=`): the function span hangs below it.
    let facade_parents: Vec<Vec<u8>> = sandbox
        .platform_records("platform.start")
        .await
        .iter()
        .filter_map(|r| r["tracing"]["value"].as_str().map(str::to_owned))
        .filter_map(|header| {
            let parent = header.split(';').find_map(|f| f.strip_prefix("Parent="))?;
            Some(u64::from_str_radix(parent, 16).ok()?.to_be_bytes().to_vec())
        })
        .collect();
    assert_eq!(facade_parents.len(), 4);
    for root in &roots {
        assert!(
            facade_parents.contains(&root.parent_span_id),
            "the function span's parent is its invocation's Parent= segment"
        );
        let children: Vec<&str> = spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_id)
            .map(|s| s.name.as_str())
            .collect();
        assert!(children.contains(&"Invocation"), "{children:?}");
        let runtime = spans
            .iter()
            .find(|s| s.parent_span_id == root.span_id && s.name == "Invocation")
            .unwrap();
        let checkout = spans
            .iter()
            .find(|s| s.trace_id == root.trace_id && s.name == "checkout")
            .unwrap();
        assert_eq!(
            checkout.parent_span_id, runtime.span_id,
            "re-parented under Invocation"
        );
        let work = spans
            .iter()
            .find(|s| s.trace_id == root.trace_id && s.name == "work")
            .unwrap();
        assert_eq!(work.parent_span_id, checkout.span_id);
        assert!(root.start_time_unix_nano <= runtime.start_time_unix_nano);
        assert!(runtime.end_time_unix_nano <= root.end_time_unix_nano);
        assert!(checkout.start_time_unix_nano >= root.start_time_unix_nano - 5_000_000);
        assert!(
            spans.iter().all(|s| by_id.contains_key(&s.parent_span_id)
                || facade_parents.contains(&s.parent_span_id))
        );
    }
    let invocation_ids: Vec<String> = roots
        .iter()
        .filter_map(|root| {
            root.attributes
                .iter()
                .find(|a| a.key == "faas.invocation_id")
                .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => {
                        Some(s.clone())
                    }
                    _ => None,
                })
        })
        .collect();
    for id in &request_ids {
        assert!(invocation_ids.contains(id), "{id} in {invocation_ids:?}");
    }
    let failed = roots
        .iter()
        .filter(|r| {
            r.status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32)
        })
        .count();
    assert_eq!(failed, 1);

    // X-Ray: datagrams with the daemon header and documents naming the same traces.
    daemon.set_nonblocking(true).unwrap();
    let mut documents = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(len) = daemon.recv(&mut buf) {
        let text = std::str::from_utf8(&buf[..len]).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        documents.push(serde_json::from_str::<Value>(body).unwrap());
    }
    let xray_roots = documents.iter().filter(|d| d["name"] == FUNCTION).count();
    assert_eq!(xray_roots, 4, "{documents:?}");
    assert!(
        documents
            .iter()
            .all(|d| d["trace_id"].as_str().unwrap().starts_with("1-"))
    );

    // Statistics in the EMF.
    let metrics = sandbox.emf().metrics;
    let dims = [("FunctionName", FUNCTION)];
    assert_eq!(total(&metrics, "TracesGenerated", &dims), 4.0);
    assert_eq!(total(&metrics, "TracesSampled", &dims), 4.0);
    assert_eq!(total(&metrics, "TraceErrors", &dims), 1.0);
    let exported = total(&metrics, "SpansExported", &dims);
    assert_eq!(
        exported,
        2.0 * spans.len() as f64,
        "each span to both exporters"
    );
    assert_eq!(total(&metrics, "SpansDropped", &dims), 0.0);
}

/// A collector that accepts connections and never answers: the last metrics are written
/// at SHUTDOWN all the same (EMF goes out before any network I/O), in every run, and the
/// spans it never took are counted as dropped (each one: the X-Ray exporter beside it
/// takes the same spans).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_costs_no_metrics_at_shutdown() {
    let (endpoint, held) = silent_collector().await;
    // A UDP socket standing in for the X-Ray daemon: that exporter works.
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    for run in 0..3 {
        // Nothing is flushed before SHUTDOWN: all of it rides on the final flush.
        let config = otlp_and_xray("periodic:600", &endpoint, &daemon);
        let mut sandbox = Sandbox::start(config).await.unwrap();
        for _ in 0..6 {
            let outcome = sandbox.invoke(json!({"items": 1})).await.unwrap();
            assert_eq!(outcome.status, InvokeStatus::Success);
        }
        let shutdown = sandbox.shutdown().await.unwrap();
        assert_eq!(
            shutdown.extension.exit_code(),
            Some(0),
            "run {run}: {shutdown}"
        );
        let metrics = sandbox.emf().metrics;
        let dims = [("FunctionName", FUNCTION)];
        assert_eq!(total(&metrics, "Invocations", &dims), 6.0, "run {run}");
        assert_eq!(total(&metrics, "ItemsProcessed", &dims), 6.0, "run {run}");
        // The X-Ray exporter beside it took every span: the OTLP side dropped each of them.
        let exported = total(&metrics, "SpansExported", &dims);
        let dropped = total(&metrics, "SpansDropped", &dims);
        assert!(exported >= 12.0, "run {run}: {exported}");
        assert_eq!(
            dropped, exported,
            "run {run}: every span the collector never took"
        );
    }
    held.abort();
}

/// In `end` mode a collector that never answers costs the first invocation the flush's
/// budget once; its breaker then opens and later invocations reach `/next` without
/// waiting for it, while the spans wait and are counted as dropped at SHUTDOWN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_collector_holds_only_the_first_end_mode_invocation() {
    let (endpoint, held) = silent_collector().await;
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = otlp_and_xray("end", &endpoint, &daemon);
    let mut sandbox = Sandbox::start(config).await.unwrap();
    // From the runtime's answer to the platform's report: the extension's part.
    let mut after_response = Vec::new();
    for _ in 0..8 {
        let outcome = sandbox.invoke(json!({"items": 1})).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
        after_response.push(outcome.wall_time.saturating_sub(outcome.response_time));
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    held.abort();

    // The first flush with spans waits out the budget; every later one does not wait.
    only_the_first_waits(&after_response).unwrap();
    let metrics = sandbox.emf().metrics;
    let dims = [("FunctionName", FUNCTION)];
    assert_eq!(total(&metrics, "Invocations", &dims), 8.0);
    let exported = total(&metrics, "SpansExported", &dims);
    let dropped = total(&metrics, "SpansDropped", &dims);
    assert!(exported >= 16.0, "X-Ray took every span: {exported}");
    assert_eq!(
        dropped, exported,
        "the OTLP side dropped each span, counted"
    );
}

/// `/v1/stats` counts handler spans as they arrive, not at the next flush: with nothing
/// flushed before SHUTDOWN, the SDK spans of three invocations show while a fourth runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_handler_spans_before_any_flush() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let otlp_port = PortPicker::new().tcp().unwrap();
    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "periodic:600")
        .env("LIFTWATCH_OTLP_PORT", otlp_port.to_string())
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            daemon.local_addr().unwrap().to_string(),
        );
    let mut sandbox = Sandbox::start(config).await.unwrap();
    for _ in 0..3 {
        sandbox.invoke(json!({"span": "checkout"})).await.unwrap();
    }
    let live = stats_during(&sandbox, json!({"sleep_ms": 600}), otlp_port).await;
    // `checkout` and its child `work`, per invocation.
    assert_eq!(live["handler_spans_received"], 6, "{live}");
    assert!(live["spans_buffered"].as_u64().unwrap() >= 6, "{live}");
    sandbox.shutdown().await.unwrap();
}
