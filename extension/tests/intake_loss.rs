//! Exact loss accounting with the built extension in the local sandbox: a burst of SDK
//! batches far faster than the intake drains loses datagrams in the kernel, and the
//! extension counts the lost events exactly from the batches' `sequence` lines
//! (docs/PROTOCOL.md): every event sent is either received or in `EventsDropped`, and
//! none of it is an estimate. Unnumbered single-event datagrams lost the same way are
//! counted as an estimate, named as such.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use liftwatch::Client;
use liftwatch_sandbox::emf::total;
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary};
use serde_json::json;

const FUNCTION: &str = "loss-fn";

fn config() -> SandboxConfig {
    SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_RESOURCES", "off")
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
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    let metrics = sandbox.emf().metrics;
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
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    let metrics = sandbox.emf().metrics;
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
