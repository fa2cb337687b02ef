//! The never-block rule, in process: `lifecycle::run` against the lambda-simulator's
//! Extensions and Telemetry APIs, with this test playing the runtime. A sink that panics
//! kills the pipeline task at the first flush; the extension must log it once, keep
//! calling `/next` for every later invocation, and still exit cleanly at SHUTDOWN.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_simulator::{InvocationStatus, ShutdownReason, Simulator};
use liftwatch_extension::config::Config;
use liftwatch_extension::lifecycle;
use liftwatch_extension::metrics::MetricBatch;
use liftwatch_extension::sink::{ExportReport, Sink, SinkError, SinkFuture};
use liftwatch_sandbox::ports::PortPicker;
use serde_json::json;

/// A sink that panics on every export and counts the attempts.
#[derive(Debug)]
struct PanickingSink(Arc<AtomicUsize>);

impl Sink for PanickingSink {
    fn name(&self) -> &'static str {
        "panicking"
    }

    fn export<'a>(
        &'a mut self,
        _batch: &'a MetricBatch,
        _deadline: Instant,
    ) -> SinkFuture<'a, Result<ExportReport, SinkError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("sink bug");
    }

    fn shutdown(&mut self, _deadline: Instant) -> SinkFuture<'_, u64> {
        Box::pin(async { 0 })
    }
}

/// Plays the runtime: takes `count` invocations from the Runtime API and answers each.
async fn runtime(api: String, count: usize) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for _ in 0..count {
        let next = Request::get(format!("http://{api}/2018-06-01/runtime/invocation/next"))
            .body(Full::default())
            .unwrap();
        let response = client.request(next).await.unwrap();
        let id = response.headers()["Lambda-Runtime-Aws-Request-Id"]
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.into_body().collect().await;
        let answer = Request::post(format!(
            "http://{api}/2018-06-01/runtime/invocation/{id}/response"
        ))
        .header("Content-Type", "application/json")
        .body(Full::from("{\"ok\":true}"))
        .unwrap();
        client.request(answer).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_pipeline_degrades_to_calling_next() {
    let simulator = Simulator::builder()
        .function_name("degraded")
        .extension_ready_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let api = simulator.addr().to_string();
    let env = [
        ("AWS_LAMBDA_RUNTIME_API", api.clone()),
        ("LIFTWATCH_FLUSH", "end".to_owned()),
        (
            "LIFTWATCH_PORT",
            PortPicker::new().tcp().unwrap().to_string(),
        ),
        (
            "LIFTWATCH_TELEMETRY_PORT",
            PortPicker::new().tcp().unwrap().to_string(),
        ),
        ("LIFTWATCH_TELEMETRY_BIND", "127.0.0.1".to_owned()),
        ("LIFTWATCH_TELEMETRY_HOST", "127.0.0.1".to_owned()),
    ];
    let (config, warnings) =
        Config::from_lookup(|key| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
            .unwrap();
    assert!(warnings.is_empty());
    let exports = Arc::new(AtomicUsize::new(0));
    let sink = PanickingSink(Arc::clone(&exports));
    let extension = tokio::spawn(lifecycle::run(config, "liftwatch", vec![Box::new(sink)]));

    simulator
        .wait_for(
            || async { simulator.extension_count().await == 1 },
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let invocations = 4;
    let runtime = tokio::spawn(runtime(api, invocations));
    for _ in 0..invocations {
        let id = simulator.enqueue_payload(json!({})).await;
        let state = simulator
            .wait_for_invocation_complete(&id, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(state.status, InvocationStatus::Success);
        // The platform waits for the extension's /next before it reports the invocation.
        assert!(
            simulator
                .wait_for_extensions_ready(&id, Duration::from_secs(5))
                .await
                .is_ok(),
            "the extension stopped calling /next"
        );
    }
    runtime.await.unwrap();
    assert_eq!(
        exports.load(Ordering::SeqCst),
        1,
        "the first flush panicked; no flush after it"
    );

    let started = Instant::now();
    simulator.graceful_shutdown(ShutdownReason::Spindown).await;
    let result = tokio::time::timeout(Duration::from_secs(2), extension).await;
    let finished = result
        .expect("the extension did not stop within SHUTDOWN's 2 s")
        .unwrap();
    assert!(finished.is_ok(), "{finished:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
