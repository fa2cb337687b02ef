//! End-to-end through the CloudWatch API: the built extension, with
//! `LIFTWATCH_SINKS=emf,cloudwatch`, runs in the local sandbox against moto's server; the
//! metrics are read back with the real `GetMetricStatistics` and compared with what the
//! platform reported. A CloudWatch endpoint that is down for a while must not hold up the
//! function, and what could not be sent arrives once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use liftwatch_sandbox::moto::{self, Stats};
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const FUNCTION: &str = "e2e-cw-fn";

fn binary(name: &str) -> PathBuf {
    liftwatch_sandbox::built_binary(name)
}

fn config(namespace: &str, endpoint: &str) -> SandboxConfig {
    SandboxConfig::new(binary("liftwatch"), binary("hello-function"))
        .function_name(FUNCTION)
        .memory_mb(512)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_SINKS", "emf,cloudwatch")
        .env("LIFTWATCH_NAMESPACE", namespace)
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
}

fn reported(records: &[Value], field: &str) -> Vec<f64> {
    records
        .iter()
        .map(|r| r["metrics"][field].as_f64().unwrap())
        .collect()
}

fn summary(values: &[f64]) -> Stats {
    moto::stat(
        values.len() as f64,
        values.iter().sum(),
        values.iter().copied().fold(f64::INFINITY, f64::min),
        values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

async fn read(namespace: &str, name: &str) -> Stats {
    let reader = moto::reader(&moto::moto_url());
    moto::stats(&reader, namespace, name, FUNCTION).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_holds_what_the_platform_reported() {
    let url = moto::moto_url();
    let namespace = moto::namespace("e2e");
    let mut sandbox = Sandbox::start(config(&namespace, &url)).await.unwrap();
    for _ in 0..5 {
        let outcome = sandbox
            .invoke(json!({ "items": 2, "sleep_ms": 20 }))
            .await
            .unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    let reports = sandbox.platform_reports().await;
    assert_eq!(reports.len(), 5);
    assert_eq!(
        read(&namespace, "Duration").await,
        summary(&reported(&reports, "durationMs"))
    );
    assert_eq!(
        read(&namespace, "BilledDuration").await,
        summary(&reported(&reports, "billedDurationMs"))
    );
    assert_eq!(
        read(&namespace, "MaxMemoryUsed").await,
        summary(&reported(&reports, "maxMemoryUsedMB"))
    );
    let invocations = read(&namespace, "Invocations").await;
    assert_eq!(invocations.sum, 5.0, "{invocations:?}");
    assert_eq!(read(&namespace, "ColdStarts").await.sum, 1.0);
    assert_eq!(read(&namespace, "ItemsProcessed").await.sum, 10.0);
    let cpu = read(&namespace, "CpuTotalTime").await;
    assert_eq!(
        cpu.count, 5.0,
        "one resource sample per invocation: {cpu:?}"
    );
}

/// A TCP forwarder to `upstream` that refuses connections (closes them at once) until
/// switched on.
async fn switchable_forwarder(upstream: String) -> (String, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let on = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&on);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !switch.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{addr}"), on)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudwatch_outage_keeps_invocations_flowing_and_the_data_arrives_later() {
    let url = moto::moto_url();
    let namespace = moto::namespace("outage");
    let (endpoint, on) = switchable_forwarder(url.trim_start_matches("http://").to_owned()).await;
    // Every flush sends (no send interval), so the first flush meets the outage.
    let config = config(&namespace, &endpoint).env("LIFTWATCH_CLOUDWATCH_INTERVAL", "0");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    // From the runtime's answer to the platform's report: the extension's part.
    let mut after_response = Vec::new();
    for _ in 0..3 {
        let outcome = sandbox.invoke(json!({ "items": 1 })).await.unwrap();
        after_response.push(outcome.wall_time.saturating_sub(outcome.response_time));
        assert_eq!(outcome.status, InvokeStatus::Success);
        // The response is never held; the extension's retries end at its flush budget.
        assert!(
            outcome.response_time < Duration::from_millis(500),
            "{:?}",
            outcome.response_time
        );
        assert!(
            outcome.wall_time < Duration::from_secs(3),
            "{:?}",
            outcome.wall_time
        );
    }
    assert_eq!(
        read(&namespace, "Invocations").await.sum,
        0.0,
        "nothing got through yet"
    );
    // The first failed flush waits out its budget; the breaker then opens and later
    // invocations reach `/next` without waiting for CloudWatch.
    assert!(
        after_response[1..]
            .iter()
            .all(|d| *d < after_response[0] / 2),
        "{after_response:?}"
    );
    on.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    assert_eq!(
        read(&namespace, "Invocations").await.sum,
        5.0,
        "kept data arrived, once"
    );
    assert_eq!(read(&namespace, "ItemsProcessed").await.sum, 5.0);
    let emf = sandbox.emf().metrics;
    let sink_errors: f64 = emf
        .iter()
        .filter(|m| m.name == "SinkErrors")
        .flat_map(|m| m.values.iter())
        .sum();
    assert!(
        sink_errors >= 1.0,
        "the failed exports were counted: {sink_errors}"
    );
}

/// CloudWatch unreachable until SHUTDOWN, with a send interval that never came due: the
/// final flush's last try fails, and the values it had to drop are published in the last
/// local document (`EventsDropped`, `SinkErrors`), not lost silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_cloudwatch_never_took_are_counted_at_shutdown() {
    let namespace = moto::namespace("dropped-at-shutdown");
    // A port nothing listens on: every connection is refused at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let config = config(&namespace, &endpoint).env("LIFTWATCH_CLOUDWATCH_INTERVAL", "900");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    for _ in 0..3 {
        let outcome = sandbox.invoke(json!({ "items": 1 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    let emf = sandbox.emf().metrics;
    let sum = |name: &str| -> f64 {
        emf.iter()
            .filter(|m| m.name == name)
            .flat_map(|m| m.values.iter())
            .sum()
    };
    assert_eq!(sum("Invocations"), 3.0, "EMF has everything");
    // At least the three flushes' Invocations, Duration and ItemsProcessed values.
    assert!(sum("EventsDropped") >= 9.0, "{}", sum("EventsDropped"));
    assert!(sum("SinkErrors") >= 1.0);
}
