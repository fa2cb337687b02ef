//! Real Lambda runtimes in the local sandbox, beside the built extension: a Python function
//! (examples/python-function) on AWS's runtime interface client `awslambdaric` with the
//! OpenTelemetry Python SDK, and a Node.js one (examples/node-function) on `aws-lambda-ric`
//! with the OpenTelemetry JS SDK 2.x, each with the SDK at its defaults (batch span
//! processor, periodic metric reader, cumulative temporality, OTLP/HTTP protobuf) and the
//! language's liftwatch client. The spans reach the collector under each invocation's
//! trace, the counter is published in the EMF with the exact sum of its increases, and so
//! are the client's counts.
//!
//! The runtimes come from `LIFTWATCH_TEST_PYTHON` and `LIFTWATCH_TEST_NODE_RUNTIME`, which
//! scripts/test.sh sets from scripts/python-runtime.sh and scripts/node-runtime.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "otlp/collector.rs"]
#[allow(dead_code)]
mod collector;

use std::path::{Path, PathBuf};

use collector::Collector;
use liftwatch_sandbox::emf::total;
use liftwatch_sandbox::ports::PortPicker;
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use serde_json::json;

/// `var`, which names an installed runtime, or a failure saying how to install it.
fn installed(var: &str, script: &str) -> PathBuf {
    let path = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run `export {var}=$(bash scripts/{script})` (scripts/test.sh \
             does) to install the runtime these tests run"
        )
    });
    let path = PathBuf::from(path);
    assert!(
        path.exists(),
        "{var}={} does not exist: run scripts/{script}",
        path.display()
    );
    path
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_handler_spans_counter_and_client_counts_are_exact() {
    let python = installed("LIFTWATCH_TEST_PYTHON", "python-runtime.sh");
    let dir = example("python-function");
    let env = [
        ("LIFTWATCH_TEST_PYTHON", python.display().to_string()),
        ("PYTHONPATH", dir.display().to_string()),
    ];
    shop_handler_is_observed_exactly("python-shop", &dir, &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_handler_spans_counter_and_client_counts_are_exact() {
    let runtime = installed("LIFTWATCH_TEST_NODE_RUNTIME", "node-runtime.sh");
    let dir = example("node-function");
    let env = [
        (
            "NODE_PATH",
            runtime.join("node_modules").display().to_string(),
        ),
        ("LIFTWATCH_TEST_NODE_FUNCTION", dir.display().to_string()),
    ];
    shop_handler_is_observed_exactly("node-shop", &dir, &env).await;
}

/// The 16 bytes of an X-Ray header's `Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`.
fn root_trace_id(header: &str) -> Vec<u8> {
    let root = header
        .split(';')
        .find_map(|f| f.strip_prefix("Root="))
        .unwrap();
    let hex: String = root.split('-').skip(1).collect();
    assert_eq!(hex.len(), 32, "{header}");
    (0..32)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn int_attribute(span: &ProtoSpan, key: &str) -> Option<i64> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::IntValue(v) => Some(*v),
            _ => None,
        }
    })
}

/// Runs the shop handler in `dir` (its `bootstrap`, with `env`) for four invocations and
/// checks what the extension published and exported.
async fn shop_handler_is_observed_exactly(function: &str, dir: &Path, env: &[(&str, String)]) {
    let collector = Collector::start(Vec::new()).await;
    let otlp_port = PortPicker::new().tcp().unwrap();
    let mut config = SandboxConfig::new(built_binary("liftwatch"), dir.join("bootstrap"))
        .function_name(function)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_OTLP_PORT", otlp_port.to_string())
        // The extension's own exports (this wins over every OTEL_* endpoint).
        .env(
            "LIFTWATCH_OTLP_ENDPOINT",
            format!("http://{}", collector.addr),
        )
        // The function's SDK, at its default endpoint's host but on this test's port: the
        // default, 4318, may be held by another sandbox running at the same time.
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://localhost:{otlp_port}"),
        );
    for (key, value) in env {
        config = config.env(*key, value.as_str());
    }
    let mut sandbox = Sandbox::start(config).await.unwrap_or_else(|e| {
        panic!("the {function} function did not start: {e}");
    });

    let events = [(3, 2), (5, 0), (11, 7), (1, 4)];
    let mut request_ids = Vec::new();
    for (orders, items) in events {
        let outcome = sandbox
            .invoke(json!({"orders": orders, "items": items}))
            .await
            .unwrap();
        assert_eq!(
            outcome.status,
            InvokeStatus::Success,
            "{outcome:?}\n{}",
            sandbox.function_stderr().join("\n")
        );
        assert_eq!(
            outcome.response,
            Some(json!({"orders": orders, "items": items}))
        );
        request_ids.push(outcome.request_id);
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    let stderr = || {
        format!(
            "extension stderr:\n{}\nfunction stderr:\n{}",
            sandbox.extension_stderr().join("\n"),
            sandbox.function_stderr().join("\n")
        )
    };

    // EMF: the OpenTelemetry counter's increases and the client's counts, exact.
    let metrics = sandbox.emf().metrics;
    let function = ("FunctionName", function);
    let orders: i64 = events.iter().map(|e| e.0).sum();
    let items: i64 = events.iter().map(|e| e.1).sum();
    assert_eq!(
        total(&metrics, "shop.orders", &[function, ("shop", "x")]),
        orders as f64,
        "{}",
        stderr()
    );
    assert_eq!(
        total(&metrics, "Orders", &[function, ("Shop", "x")]),
        orders as f64
    );
    assert_eq!(total(&metrics, "ItemsPacked", &[function]), items as f64);
    assert_eq!(
        total(&metrics, "Invocations", &[function]),
        4.0,
        "{}",
        stderr()
    );
    assert_eq!(total(&metrics, "EventsMalformed", &[function]), 0.0);
    assert_eq!(total(&metrics, "EventsDropped", &[function]), 0.0);

    // Traces: each invocation's `checkout` and `charge` under its trace, below `Invocation`.
    let spans: Vec<ProtoSpan> = collector.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let starts = sandbox.platform_records("platform.start").await;
    for ((orders, _), request_id) in events.iter().zip(&request_ids) {
        let header = starts
            .iter()
            .find(|r| r["requestId"] == request_id.as_str())
            .and_then(|r| r["tracing"]["value"].as_str())
            .unwrap();
        let trace_id = root_trace_id(header);
        let in_trace = |name: &str| {
            let found: Vec<&ProtoSpan> = spans
                .iter()
                .filter(|s| s.trace_id == trace_id && s.name == name)
                .collect();
            assert_eq!(
                found.len(),
                1,
                "{name} in {header}: {names:?}\n{}",
                stderr()
            );
            found[0]
        };
        let invocation = in_trace("Invocation");
        let checkout = in_trace("checkout");
        let charge = in_trace("charge");
        assert_eq!(checkout.parent_span_id, invocation.span_id);
        assert_eq!(charge.parent_span_id, checkout.span_id);
        assert_eq!(int_attribute(checkout, "shop.orders"), Some(*orders));
    }
    let exported = total(&metrics, "SpansExported", &[function]);
    assert_eq!(exported, spans.len() as f64, "{names:?}");
    assert_eq!(
        total(&metrics, "SpansDropped", &[function]),
        0.0,
        "{}",
        stderr()
    );
}
