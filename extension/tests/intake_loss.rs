//! Exact loss accounting with the built extension in the local sandbox: a burst of SDK
//! batches far faster than the intake drains loses datagrams in the kernel, and the
//! extension counts the lost events exactly from the batches' `sequence` lines
//! (docs/PROTOCOL.md): every event sent is either received or in `EventsDropped`, and
//! none of it is an estimate. Unnumbered single-event datagrams lost the same way are
//! counted as an estimate, named as such. A million calls folded by the SDK's aggregate
//! arrive whole: counts, every distribution sample with its count, the last gauge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use liftwatch::Client;
use liftwatch_sandbox::emf::{EmfMetric, summarize, total};
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary};
use serde_json::json;

const FUNCTION: &str = "loss-fn";

fn config() -> SandboxConfig {
    SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_RESOURCES", "off")
}

/// Shuts the sandbox down (the extension exits cleanly) and reads what it published.
async fn published(sandbox: &mut Sandbox) -> Vec<EmfMetric> {
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    sandbox.emf().metrics
}

/// Sends `events` counts of `name` in batches as fast as one thread can, then one more
/// batch after the intake had time to drain, so the gaps before it are all seen.
fn burst(client: &Client, name: &str, events: u64) {
    let mut batch = client.batch();
    for _ in 0..events - 1 {
        batch.count(name, 1.0);
    }
    drop(batch);
    std::thread::sleep(Duration::from_millis(300));
    client.batch().count(name, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_receive_buffer_is_counted_exactly_from_the_sequence_lines() {
    const EVENTS: u64 = 1_000_000;
    let mut sandbox = Sandbox::start(config()).await.unwrap();
    let port = sandbox.ports().intake;
    let client = Client::new(port);
    tokio::task::spawn_blocking(move || {
        burst(&client, "Burst", EVENTS);
        assert_eq!(client.sent(), EVENTS, "every batch handed to the kernel");
    })
    .await
    .unwrap();
    let outcome = sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    assert_eq!(outcome.status, InvokeStatus::Success);
    let metrics = published(&mut sandbox).await;
    let dims = [("FunctionName", FUNCTION)];
    let received = total(&metrics, "Burst", &dims);
    let dropped = total(&metrics, "EventsDropped", &dims);
    let estimated = total(&metrics, "EventsDroppedEstimated", &dims);
    assert!(dropped > 0.0, "the burst overflowed the receive buffer");
    assert_eq!(estimated, 0.0, "every lost datagram was numbered");
    assert_eq!(
        received + dropped,
        EVENTS as f64,
        "received {received}, dropped {dropped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnumbered_datagrams_lost_are_an_estimate_named_as_such() {
    const EVENTS: u64 = 200_000;
    let mut sandbox = Sandbox::start(config()).await.unwrap();
    let port = sandbox.ports().intake;
    let sent = tokio::task::spawn_blocking(move || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let line = br#"{"v":1,"type":"metric","name":"Single","value":1,"kind":"count"}"#;
        (0..EVENTS)
            .filter(|_| socket.send_to(line, ("127.0.0.1", port)).is_ok())
            .count() as f64
    })
    .await
    .unwrap();
    // Two flushes: the estimate waits one flush for numbered senders' gaps to show.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    }
    let metrics = published(&mut sandbox).await;
    let dims = [("FunctionName", FUNCTION)];
    let received = total(&metrics, "Single", &dims);
    let dropped = total(&metrics, "EventsDropped", &dims);
    let estimated = total(&metrics, "EventsDroppedEstimated", &dims);
    assert_eq!(
        dropped, estimated,
        "all of it estimated: nothing was numbered"
    );
    if received < sent {
        // One event per datagram: the estimate is the kernel's count, exact here.
        assert_eq!(received + estimated, sent, "received {received}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_aggregated_sdk_calls_in_one_burst_lose_nothing() {
    const CALLS: u32 = 1_000_000;
    let mut sandbox = Sandbox::start(config()).await.unwrap();
    let port = sandbox.ports().intake;
    let client = Client::new(port);
    let sent = tokio::task::spawn_blocking(move || {
        let mut metrics = client.aggregate();
        for i in 0..CALLS {
            metrics.count("Burst", 1.0);
            metrics.timing("BurstLatency", f64::from(i % 500));
            metrics.gauge("BurstDepth", f64::from(i));
        }
        drop(metrics);
        (client.sent(), client.failed())
    })
    .await
    .unwrap();
    // 1 count, 500 distinct latencies and 1 gauge: a few numbered datagrams.
    assert_eq!(sent, (502, 0));
    let outcome = sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    assert_eq!(outcome.status, InvokeStatus::Success);
    let metrics = published(&mut sandbox).await;
    let dims = [("FunctionName", FUNCTION)];
    assert_eq!(total(&metrics, "EventsDropped", &dims), 0.0);
    assert_eq!(total(&metrics, "Burst", &dims), f64::from(CALLS));
    assert_eq!(total(&metrics, "BurstDepth", &dims), f64::from(CALLS - 1));
    let latency = summarize(&metrics)
        .into_iter()
        .find(|s| s.matches("BurstLatency", &dims))
        .expect("latency published");
    let expected_sum: f64 = (0..CALLS).map(|i| f64::from(i % 500)).sum();
    assert_eq!(
        (latency.samples, latency.sum, latency.min, latency.max),
        (CALLS as usize, expected_sum, 0.0, 499.0)
    );
}
