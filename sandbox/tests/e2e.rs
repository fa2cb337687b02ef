//! End-to-end: the built `liftwatch` extension and `hello-function` run in the local
//! Lambda sandbox (real Extensions, Telemetry and Runtime APIs, processes frozen between
//! invocations, SHUTDOWN with a deadline), and the EMF the extension printed is compared
//! with what the platform reported. Build the binaries first: `cargo build --workspace`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use liftwatch_sandbox::emf::{EmfMetric, total};
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, ShutdownOutcome};
use serde_json::{Value, json};

const FUNCTION: &str = "e2e-fn";

fn binary(name: &str) -> PathBuf {
    liftwatch_sandbox::built_binary(name)
}

fn sandbox(env: &[(&str, &str)]) -> SandboxConfig {
    let mut config = SandboxConfig::new(binary("liftwatch"), binary("hello-function"))
        .function_name(FUNCTION)
        .memory_mb(256);
    for (key, value) in env {
        config = config.env(*key, *value);
    }
    config
}

fn fn_dims() -> [(&'static str, &'static str); 1] {
    [("FunctionName", FUNCTION)]
}

/// Every value the extension published for `name` with only the FunctionName dimension.
fn published(metrics: &[EmfMetric], name: &str) -> Vec<f64> {
    let mut values: Vec<f64> = metrics
        .iter()
        .filter(|m| {
            m.name == name
                && m.dimensions.len() == 1
                && m.dimensions.get("FunctionName").map(String::as_str) == Some(FUNCTION)
        })
        .flat_map(|m| m.values.iter().copied())
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

fn reported(records: &[Value], field: &str) -> Vec<f64> {
    let mut values: Vec<f64> = records
        .iter()
        .map(|r| r["metrics"][field].as_f64().unwrap())
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn assert_clean_shutdown(outcome: &ShutdownOutcome) {
    assert!(outcome.delivered, "SHUTDOWN was not delivered: {outcome}");
    assert!(
        !outcome.extension.killed,
        "the extension had to be killed: {outcome}"
    );
    assert_eq!(outcome.extension.exit_code(), Some(0), "{outcome}");
    let exit = outcome.extension_exit_after_delivery.expect("exit time");
    assert!(
        exit < outcome.deadline,
        "exited after the deadline: {outcome}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_mode_publishes_each_invocation_before_next_and_matches_the_platform() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let invocations = 6;
    for i in 0..invocations {
        let fail = i == 3;
        let outcome = sandbox
            .invoke(json!({ "items": 7, "fail": fail }))
            .await
            .unwrap();
        let expected = if fail {
            InvokeStatus::Error
        } else {
            InvokeStatus::Success
        };
        assert_eq!(outcome.status, expected);
        // End mode: the handler's events were flushed before the extension called /next.
        let want = 7.0 * f64::from(i + 1);
        wait_until(
            "this invocation's handler events on stdout",
            Duration::from_secs(2),
            || total(&sandbox.emf().metrics, "ItemsProcessed", &fn_dims()) == want,
        )
        .await;
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_clean_shutdown(&shutdown);

    let scan = sandbox.emf();
    assert!(scan.rejected.is_empty(), "invalid EMF: {:?}", scan.rejected);
    assert!(
        sandbox
            .extension_stdout()
            .iter()
            .all(|l| l.starts_with('{')),
        "stdout holds only EMF"
    );
    let m = &scan.metrics;
    assert!(m.iter().all(|m| m.namespace == "Liftwatch"));

    let reports = sandbox.platform_reports().await;
    assert_eq!(reports.len(), invocations as usize);
    assert_eq!(
        published(m, "Invocations").iter().sum::<f64>(),
        6.0,
        "each invocation once"
    );
    assert_eq!(published(m, "Errors").iter().sum::<f64>(), 1.0);
    assert_eq!(published(m, "Timeouts").iter().sum::<f64>(), 0.0);
    assert_eq!(
        published(m, "ColdStarts").iter().sum::<f64>(),
        1.0,
        "one cold start"
    );
    assert_eq!(published(m, "Duration"), reported(&reports, "durationMs"));
    assert_eq!(
        published(m, "BilledDuration"),
        reported(&reports, "billedDurationMs")
    );
    assert_eq!(
        published(m, "MaxMemoryUsed"),
        reported(&reports, "maxMemoryUsedMB")
    );
    let utilization: Vec<f64> = reports
        .iter()
        .map(|r| {
            100.0 * r["metrics"]["maxMemoryUsedMB"].as_f64().unwrap()
                / r["metrics"]["memorySizeMB"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(published(m, "MemoryUtilization").len(), 6);
    assert!(
        published(m, "MemoryUtilization")
            .iter()
            .zip(&utilization)
            .all(|(a, b)| (a - b).abs() < 1e-9)
    );
    assert!(published(m, "MemorySize").iter().all(|v| *v == 256.0));
    let runtime_done = sandbox.runtime_done_records().await;
    assert_eq!(
        published(m, "RuntimeDuration"),
        reported(&runtime_done, "durationMs")
    );
    // Per request: the report's duration minus the runtime's own.
    let mut post_runtime: Vec<f64> = reports
        .iter()
        .map(|report| {
            let id = &report["requestId"];
            let done = runtime_done.iter().find(|r| &r["requestId"] == id).unwrap();
            let post = report["metrics"]["durationMs"].as_f64().unwrap()
                - done["metrics"]["durationMs"].as_f64().unwrap();
            post.max(0.0)
        })
        .collect();
    post_runtime.sort_by(f64::total_cmp);
    assert_eq!(published(m, "PostRuntimeDuration"), post_runtime);
    assert_eq!(published(m, "OutOfMemory").iter().sum::<f64>(), 0.0);
    assert_eq!(
        published(m, "EstimatedCost").len(),
        6,
        "one sum per end-mode flush"
    );
    let init = sandbox.init_reports().await;
    assert_eq!(published(m, "InitDuration"), reported(&init, "durationMs"));
    // Every flush that published data is timed and published with the next one: the six
    // end-mode flushes at least (the last with SHUTDOWN's flush).
    let flushes = published(m, "FlushDuration");
    assert!(flushes.len() >= 6, "{flushes:?}");
    assert!(
        flushes.iter().all(|ms| ms.is_finite() && *ms > 0.0),
        "{flushes:?}"
    );

    // Handler events: all of them, with their own dimensions.
    assert_eq!(total(m, "ItemsProcessed", &fn_dims()), 42.0);
    let item_sizes: usize = m
        .iter()
        .filter(|x| {
            x.name == "ItemSize" && x.dimensions.get("Shop").map(String::as_str) == Some("demo")
        })
        .map(|x| x.values.len())
        .sum();
    assert_eq!(
        item_sizes, 42,
        "every distribution sample sent before the handler returned"
    );
    assert_eq!(total(m, "Failures", &fn_dims()), 1.0);
    assert_eq!(published(m, "HandlerLatency").len(), 5);
    assert_eq!(total(m, "EventsMalformed", &fn_dims()), 0.0);
    assert_eq!(total(m, "EventsDropped", &fn_dims()), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_mode_keeps_everything_across_freezes_until_shutdown() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "periodic:600")]))
        .await
        .unwrap();
    for _ in 0..8 {
        let outcome = sandbox.invoke(json!({ "items": 3 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
    }
    assert_eq!(
        total(&sandbox.emf().metrics, "Invocations", &fn_dims()),
        0.0,
        "periodic:600 has not flushed yet"
    );
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_clean_shutdown(&shutdown);
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        8.0,
        "the last report too, exactly once"
    );
    assert_eq!(total(&m, "ColdStarts", &fn_dims()), 1.0);
    assert_eq!(total(&m, "ItemsProcessed", &fn_dims()), 24.0);
    assert_eq!(
        published(&m, "Duration"),
        reported(&sandbox.platform_reports().await, "durationMs")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_adaptive_mode_counts_every_invocation_once() {
    let mut sandbox = Sandbox::start(sandbox(&[])).await.unwrap();
    for _ in 0..10 {
        sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(total(&m, "Invocations", &fn_dims()), 10.0);
    assert_eq!(total(&m, "ItemsProcessed", &fn_dims()), 10.0);
    assert_eq!(published(&m, "Duration").len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_unknown_and_malformed_records_loses_nothing_else() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let port = sandbox.ports().telemetry;
    let batch = json!([
        {"time": "2026-11-28T00:00:00.000Z", "type": "platform.somethingNew", "record": {"requestId": "x"}},
        {"time": "2026-11-28T00:00:00.001Z", "type": "platform.report", "record": {"requestId": "bad", "status": "success"}},
        {"time": "2026-11-28T00:00:00.002Z", "type": "platform.report", "record": {"requestId": "injected", "status": "success",
            "metrics": {"durationMs": 77.7, "billedDurationMs": 78, "memorySizeMB": 256, "maxMemoryUsedMB": 99}}},
    ]);
    // Post while the sandbox is thawed: during a slow invocation, to the path the
    // extension subscribed with (its per-process secret, as the platform knows it).
    let path = subscribed_path(&sandbox);
    let post = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        post_batch(port, &path, &batch.to_string()).await
    };
    let (outcome, status) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 600 })), post);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    assert_eq!(status, 200, "a batch with bad records is still accepted");
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        1.0,
        "the real one: the injected report names a request never invoked here"
    );
    assert!(!published(&m, "Duration").contains(&77.7));
    assert!(!published(&m, "MaxMemoryUsed").contains(&99.0));
    assert_eq!(
        total(&m, "EventsMalformed", &fn_dims()),
        3.0,
        "one unknown type, one malformed report, one report for an unknown request"
    );
}

/// The path of the destination the extension subscribed with, from the subscription
/// document the proxy saw during init (before the relay rewrote it).
fn subscribed_path(sandbox: &Sandbox) -> String {
    let subscription = sandbox
        .proxy_observations()
        .subscriptions
        .into_iter()
        .find(|s| s.status == 200)
        .expect("the extension subscribed during init");
    let body: Value = serde_json::from_str(&subscription.body).unwrap();
    let uri = body["destination"]["URI"].as_str().unwrap().to_owned();
    let path = uri.splitn(4, '/').nth(3).unwrap_or_default();
    format!("/{path}")
}

/// Posts a Telemetry API batch to the extension's listener at `path`; returns the status.
async fn post_batch(port: u16, path: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_telemetry_subscription_does_not_block_invocations() {
    let config = sandbox(&[("LIFTWATCH_FLUSH", "end")]).refuse_telemetry_subscription(true);
    let mut sandbox = Sandbox::start(config).await.unwrap();
    for _ in 0..4 {
        let outcome = sandbox.invoke(json!({ "items": 2 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
        assert!(
            outcome.wall_time < Duration::from_secs(5),
            "invocation stalled: {:?}",
            outcome.wall_time
        );
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        0.0,
        "no telemetry, no invocation metrics"
    );
    let documents = sandbox.extension_stdout().len();
    assert!(
        documents >= 4,
        "each INVOKE flushed the previous invocation's events: {documents}"
    );
    assert_eq!(
        total(&m, "ItemsProcessed", &fn_dims()),
        8.0,
        "handler events still flow"
    );
    let stderr = sandbox.extension_stderr().join("\n");
    assert_eq!(
        stderr.matches("telemetry subscription refused").count(),
        1,
        "logged once: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_port_in_use_degrades_to_telemetry_only() {
    let blocker = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port().to_string();
    let mut sandbox = Sandbox::start(sandbox(&[
        ("LIFTWATCH_FLUSH", "end"),
        ("LIFTWATCH_PORT", &port),
    ]))
    .await
    .unwrap();
    for _ in 0..3 {
        assert_eq!(
            sandbox.invoke(json!({})).await.unwrap().status,
            InvokeStatus::Success
        );
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(total(&m, "Invocations", &fn_dims()), 3.0);
    assert_eq!(
        total(&m, "ItemsProcessed", &fn_dims()),
        0.0,
        "the blocker got the events"
    );
    assert!(
        sandbox
            .extension_stderr()
            .join("\n")
            .contains("cannot bind the udp intake")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telemetry_port_in_use_does_not_block_invocations() {
    let blocker = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = blocker.local_addr().unwrap().port().to_string();
    let env = [
        ("LIFTWATCH_FLUSH", "end"),
        ("LIFTWATCH_TELEMETRY_PORT", port.as_str()),
    ];
    let mut sandbox = Sandbox::start(sandbox(&env)).await.unwrap();
    for _ in 0..3 {
        let outcome = sandbox.invoke(json!({ "items": 4 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(total(&m, "Invocations", &fn_dims()), 0.0);
    assert_eq!(
        total(&m, "ItemsProcessed", &fn_dims()),
        12.0,
        "handler events still flow"
    );
    let stderr = sandbox.extension_stderr().join("\n");
    assert_eq!(
        stderr.matches("cannot bind the telemetry listener").count(),
        1,
        "{stderr}"
    );
    let subscriptions = sandbox.proxy_observations().subscriptions;
    assert!(
        subscriptions.is_empty(),
        "no subscription without a listener: {subscriptions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_sent_nowhere_does_not_hold_invocations_until_their_deadline() {
    // The subscription succeeds, but the platform posts to an address nobody listens on.
    let env = [
        ("LIFTWATCH_FLUSH", "end"),
        ("LIFTWATCH_TELEMETRY_HOST", "127.0.0.9"),
    ];
    let mut sandbox = Sandbox::start(sandbox(&env)).await.unwrap();
    let mut walls = Vec::new();
    for i in 0..4 {
        let outcome = sandbox.invoke(json!({ "items": 1 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
        walls.push(outcome.wall_time);
        // From the second invocation on, each INVOKE flushes the previous one's events.
        if i > 0 {
            let want = f64::from(i);
            wait_until(
                "the previous invocation's events",
                Duration::from_secs(2),
                || total(&sandbox.emf().metrics, "ItemsProcessed", &fn_dims()) >= want,
            )
            .await;
        }
    }
    // The first invocation waits for platform.start (buffer 25 ms + 1 s grace), not for the
    // function's timeout; the later ones do not wait at all.
    assert!(walls[0] < Duration::from_secs(5), "{walls:?}");
    assert!(
        walls[1..].iter().all(|w| *w < Duration::from_secs(1)),
        "{walls:?}"
    );
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    assert_eq!(
        total(&sandbox.emf().metrics, "ItemsProcessed", &fn_dims()),
        4.0
    );
    let stderr = sandbox.extension_stderr().join("\n");
    assert_eq!(
        stderr.matches("no telemetry arrived").count(),
        1,
        "logged once: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_decisions_become_per_rule_metrics() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let decisions = [
        ("login", "alice", false),
        ("login", "bob", true),
        ("login", "alice", true),
        ("search", "carol", false),
        ("login", "dave", false),
    ];
    for (rule, user, blocked) in decisions {
        let payload = json!({ "rule": rule, "user": user, "blocked": blocked });
        assert_eq!(
            sandbox.invoke(payload).await.unwrap().status,
            InvokeStatus::Success
        );
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    let login = [("FunctionName", FUNCTION), ("Rule", "login")];
    let search = [("FunctionName", FUNCTION), ("Rule", "search")];
    assert_eq!(total(&m, "RateLimitRequests", &login), 4.0);
    assert_eq!(total(&m, "RateLimitAllowed", &login), 2.0);
    assert_eq!(total(&m, "RateLimitBlocked", &login), 2.0);
    assert_eq!(total(&m, "RateLimitErrors", &login), 0.0);
    assert_eq!(total(&m, "RateLimitRequests", &search), 1.0);
    assert_eq!(total(&m, "RateLimitAllowed", &search), 1.0);
    assert_eq!(total(&m, "EventsDropped", &fn_dims()), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_metric_named_like_a_builtin_is_refused_and_counted() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let intake = sandbox.ports().intake;
    // A sender that skips the SDK's check, as any language's ten-line sender can.
    let forge = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let lines = [
            r#"{"v":1,"type":"metric","name":"Invocations","value":1000,"kind":"count"}"#,
            r#"{"v":1,"type":"metric","name":"Duration","value":999999,"kind":"distribution","unit":"Milliseconds"}"#,
            r#"{"v":1,"type":"metric","name":"Orders","value":2,"kind":"count"}"#,
        ];
        socket
            .send_to(lines.join("\n").as_bytes(), ("127.0.0.1", intake))
            .unwrap();
    };
    let (outcome, ()) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 600 })), forge);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        2.0,
        "only the platform's"
    );
    assert!(!published(&m, "Duration").contains(&999_999.0));
    assert_eq!(
        total(&m, "Orders", &fn_dims()),
        2.0,
        "the rest of the datagram kept"
    );
    assert_eq!(
        total(&m, "EventsMalformed", &fn_dims()),
        2.0,
        "both reserved names counted"
    );
}

/// SnapStart with the real runtime (`lambda_runtime` calls `/runtime/restore/next` when
/// `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`) and the real extension: the runtime's
/// restore call is held through the pause and answered, the extension gets the restore
/// records and no init records, and the first report carries the restore durations.
#[tokio::test(flavor = "multi_thread")]
async fn snap_start_restores_the_real_runtime_and_the_extension_gets_the_restore_records() {
    let pause = Duration::from_millis(500);
    let moto = liftwatch_sandbox::moto::moto_url();
    // A UDP socket standing in for the X-Ray daemon: the traces, Restore span included.
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let daemon_address = daemon.local_addr().unwrap().to_string();
    // Both tables configured (never created: nothing here writes before the restore), so
    // the statistics writer and the lease holder have ids to draw again.
    let mut sandbox = sandbox(&[
        ("LIFTWATCH_FLUSH", "end"),
        ("LIFTWATCH_LOG_LEVEL", "info"),
        ("LIFTWATCH_RATELIMIT_TABLE", "snapstart-stats"),
        ("LIFTWATCH_CONNECTIONS_TABLE", "snapstart-connections"),
        ("AWS_REGION", liftwatch_sandbox::moto::REGION),
        ("AWS_ENDPOINT_URL", &moto),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_XRAY_DAEMON_ADDRESS", &daemon_address),
        ("LIFTWATCH_OTLP_PORT", "off"),
    ])
    .snap_start(pause)
    .start()
    .await
    .expect("start");
    let seen = sandbox.proxy_observations();
    assert!(seen.restore_polled, "the runtime asked for /restore/next");
    assert!(seen.restore_released && seen.runtime_polled_after_restore);
    let restore = sandbox.restore_timing().expect("restored");
    assert!((restore.started_at - restore.frozen_at).to_std().unwrap() >= pause);

    let first = sandbox
        .invoke(json!({"name": "snap"}))
        .await
        .expect("invoke");
    let second = sandbox
        .invoke(json!({"name": "start"}))
        .await
        .expect("invoke");
    assert!(first.is_success() && second.is_success());
    let metrics = &first.report["metrics"];
    let restore_ms = (restore.duration_ms * 1_000.0).round() / 1_000.0;
    assert_eq!(metrics["restoreDurationMs"], json!(restore_ms));
    assert_eq!(
        metrics["billedRestoreDurationMs"].as_f64(),
        Some(restore.duration_ms.ceil())
    );
    assert!(metrics.get("initDurationMs").is_none());
    assert!(second.report["metrics"].get("restoreDurationMs").is_none());

    let shutdown = sandbox.shutdown().await.expect("shutdown");
    assert_clean_shutdown(&shutdown);
    let relayed = sandbox.relayed_telemetry();
    assert!(relayed.iter().all(|b| b.status == 200), "{relayed:?}");
    let types: Vec<String> = relayed
        .iter()
        .flat_map(|b| b.records.clone().unwrap_or_default())
        .filter_map(|r| r["type"].as_str().map(str::to_owned))
        .collect();
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("platform.initStart"), 0, "{types:?}");
    assert_eq!(count("platform.initReport"), 0, "{types:?}");
    assert_eq!(count("platform.restoreStart"), 1, "{types:?}");
    assert_eq!(count("platform.restoreReport"), 1, "{types:?}");
    assert_eq!(count("platform.report"), 2, "{types:?}");
    let metrics = sandbox.emf().metrics;
    assert_eq!(total(&metrics, "Invocations", &fn_dims()), 2.0);
    // The extension: a restore is a cold start, with the platform's restore figures.
    assert_eq!(total(&metrics, "ColdStarts", &fn_dims()), 1.0);
    assert_eq!(total(&metrics, "Restores", &fn_dims()), 1.0);
    assert_eq!(published(&metrics, "RestoreDuration"), [restore_ms]);
    assert_eq!(
        published(&metrics, "BilledRestoreDuration"),
        [restore.duration_ms.ceil()]
    );
    assert!(published(&metrics, "InitDuration").is_empty());
    assert_eq!(total(&metrics, "ProactiveInitializations", &fn_dims()), 0.0);
    // The first trace has a Restore span with the platform's figures, and no
    // Initialization (that init ran in the snapshot's sandbox).
    let mut documents = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = daemon.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        documents.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
    }
    let named = |name: &str| {
        let mut found = Vec::new();
        documents
            .iter()
            .for_each(|d| collect_named(d, name, &mut found));
        found
    };
    let restores = named("Restore");
    assert_eq!(restores.len(), 1, "{documents:#?}");
    let seconds = |key: &str| restores[0][key].as_f64().unwrap();
    let span_ms = (seconds("end_time") - seconds("start_time")) * 1_000.0;
    assert!(
        (span_ms - restore_ms).abs() < 0.01,
        "{span_ms} vs {restore_ms}"
    );
    assert!(named("Initialization").is_empty());
    // Every id unique to the sandbox was drawn again after the restore, once.
    let stderr = sandbox.extension_stderr();
    let redrawn: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("restored from a snapshot"))
        .collect();
    assert_eq!(redrawn.len(), 1, "{stderr:#?}");
    let field = |name: &str| {
        let start = redrawn[0].find(&format!("{name}=")).expect(name) + name.len() + 1;
        redrawn[0][start..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    for id in ["statistics_writer", "lease_holder"] {
        let (before, after) = (
            field(&format!("{id}.before")),
            field(&format!("{id}.after")),
        );
        assert!(!before.is_empty() && !after.is_empty(), "{}", redrawn[0]);
        assert_ne!(before, after, "{id} drawn again: {}", redrawn[0]);
    }
}

/// Every object under `value` whose `name` is `name` (X-Ray segments and subsegments).
fn collect_named(value: &Value, name: &str, found: &mut Vec<Value>) {
    match value {
        Value::Object(fields) => {
            if fields.get("name").and_then(Value::as_str) == Some(name) {
                found.push(value.clone());
            }
            fields.values().for_each(|v| collect_named(v, name, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_named(v, name, found)),
        _ => {}
    }
}

/// Lambda gives a sandbox 1,024 file descriptors. 1,100 idle connections to the OTLP
/// receiver no longer starve the Telemetry API listener: the receiver holds 64 at most
/// (the rest are closed at once and counted in `EventsDropped`), no telemetry is lost, and
/// an idle connection is closed once its request head is overdue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_local_connections_cannot_starve_the_telemetry_listener() {
    let otlp_port = liftwatch_sandbox::ports::PortPicker::new().tcp().unwrap();
    let mut sandbox = Sandbox::start(sandbox(&[
        ("LIFTWATCH_FLUSH", "end"),
        ("LIFTWATCH_OTLP_PORT", &otlp_port.to_string()),
    ]))
    .await
    .unwrap();
    let pid = sandbox.extension_pid().to_string();
    let limited = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=1024:1024"])
        .status()
        .expect("prlimit (util-linux) sets the extension's descriptor limit");
    assert!(limited.success());
    // Connect while an invocation runs: the extension must be thawed to accept (a frozen
    // one leaves the kernel's backlog full and a connect waits for minutes), so the
    // invocation lasts long enough for a loaded machine too.
    let flood = async {
        let mut held = Vec::new();
        for _ in 0..1_100 {
            let connect = tokio::net::TcpStream::connect(("127.0.0.1", otlp_port));
            match tokio::time::timeout(Duration::from_secs(10), connect).await {
                Ok(Ok(stream)) => held.push(stream),
                Ok(Err(error)) => panic!("connect: {error}"),
                Err(_) => panic!("connect: no answer after {} connections", held.len()),
            }
        }
        held
    };
    let (outcome, held) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 4_000 })), flood);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    for _ in 0..3 {
        let outcome = sandbox.invoke(json!({ "items": 1 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
    }
    // The first connections got a slot: each is closed once its head is 5 s overdue (of
    // thawed time: timers stand still while the sandbox is frozen, so read while an
    // invocation runs).
    let mut first = held.into_iter().next().unwrap();
    let started = Instant::now();
    let closed = async {
        let mut byte = [0u8; 1];
        tokio::time::timeout(
            Duration::from_secs(6),
            tokio::io::AsyncReadExt::read(&mut first, &mut byte),
        )
        .await
    };
    let (outcome, read) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 6_500 })), closed);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "an idle connection is closed: {read:?} after {:?}",
        started.elapsed()
    );
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        5.0,
        "no telemetry lost"
    );
    assert_eq!(published(&m, "Duration").len(), 5);
    assert_eq!(
        total(&m, "ItemsProcessed", &fn_dims()),
        5.0,
        "every handler's events"
    );
    let refused = total(&m, "EventsDropped", &fn_dims());
    assert!(
        refused >= 1_036.0,
        "connections over the cap counted: {refused}"
    );
}

/// Code in the sandbox (the function, say) cannot forge platform telemetry: the listener
/// accepts batches only on the secret path the extension subscribed with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_telemetry_post_is_refused_and_counted() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let port = sandbox.ports().telemetry;
    let path = subscribed_path(&sandbox);
    assert_eq!(path.len(), 33, "128 random bits as hex: {path}");
    let forged = json!([
        {"time": "2026-11-28T00:00:00.000Z", "type": "platform.report", "record": {"requestId": "forged", "status": "timeout",
            "metrics": {"durationMs": 999999, "billedDurationMs": 999999, "memorySizeMB": 256, "maxMemoryUsedMB": 99}}},
        {"time": "2026-11-28T00:00:00.000Z", "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "status": "success", "metrics": {"durationMs": 5555}}},
    ])
    .to_string();
    let post = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let root = post_batch(port, "/", &forged).await;
        let guessed = post_batch(port, "/00000000000000000000000000000000", &forged).await;
        (root, guessed)
    };
    let (outcome, (root, guessed)) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 600 })), post);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    assert_eq!((root, guessed), (404, 404));
    for _ in 0..2 {
        sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        3.0,
        "the platform's only"
    );
    assert_eq!(total(&m, "Errors", &fn_dims()), 0.0);
    assert_eq!(total(&m, "Timeouts", &fn_dims()), 0.0);
    assert!(!published(&m, "Duration").contains(&999_999.0));
    assert!(!published(&m, "InitDuration").contains(&5_555.0));
    assert_eq!(
        total(&m, "EventsMalformed", &fn_dims()),
        2.0,
        "both forged posts counted"
    );
}

/// Records posted on the real (secret) path for a request id that never had an INVOKE
/// here are held for a flush cycle, then dropped and counted; a second `initReport` is
/// ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_an_unknown_request_and_a_second_init_report_change_nothing() {
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let port = sandbox.ports().telemetry;
    let path = subscribed_path(&sandbox);
    let forged = json!([
        {"time": "2026-11-28T00:00:00.000Z", "type": "platform.start", "record": {"requestId": "never-invoked"}},
        {"time": "2026-11-28T00:00:00.000Z", "type": "platform.report", "record": {"requestId": "never-invoked", "status": "timeout",
            "metrics": {"durationMs": 999999, "billedDurationMs": 999999, "memorySizeMB": 256, "maxMemoryUsedMB": 99}}},
        {"time": "2026-11-28T00:00:00.000Z", "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "status": "success", "metrics": {"durationMs": 5555}}},
    ])
    .to_string();
    let post = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        post_batch(port, &path, &forged).await
    };
    let (outcome, status) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 600 })), post);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    assert_eq!(status, 200, "the real path takes the batch");
    for _ in 0..3 {
        sandbox.invoke(json!({ "items": 1 })).await.unwrap();
    }
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
    let m = sandbox.emf().metrics;
    assert_eq!(
        total(&m, "Invocations", &fn_dims()),
        4.0,
        "the platform's only"
    );
    assert_eq!(total(&m, "Timeouts", &fn_dims()), 0.0);
    assert!(!published(&m, "Duration").contains(&999_999.0));
    assert_eq!(published(&m, "InitDuration").len(), 1, "one Init phase");
    assert!(!published(&m, "InitDuration").contains(&5_555.0));
    assert_eq!(
        total(&m, "EventsMalformed", &fn_dims()),
        2.0,
        "the two records of the unknown request, counted"
    );
}

/// The telemetry listener closes every connection after its batch, even when the client
/// asks to keep it: a kept connection that the listener closes when idle could take the
/// platform's next batch down with it (seen as a lost `platform.report`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_telemetry_batch_gets_a_connection_of_its_own() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sandbox = Sandbox::start(sandbox(&[("LIFTWATCH_FLUSH", "end")]))
        .await
        .unwrap();
    let port = sandbox.ports().telemetry;
    let path = subscribed_path(&sandbox);
    let exchange = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n[]"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        // The server closes the connection after the response: reading ends.
        tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut response))
            .await
            .map(|read| read.map(|_| String::from_utf8_lossy(&response).into_owned()))
    };
    let (outcome, answer) = tokio::join!(sandbox.invoke(json!({ "sleep_ms": 400 })), exchange);
    assert_eq!(outcome.unwrap().status, InvokeStatus::Success);
    let answer = answer.expect("closed, not kept open").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert_clean_shutdown(&sandbox.shutdown().await.unwrap());
}

/// A function timeout as Lambda handles it: the runtime is stopped at the deadline, the
/// extension is sent the invocation's `timeout` records and a SHUTDOWN with reason
/// `timeout`, counts it, and the sandbox takes no more invocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_timeout_is_counted_and_resets_the_sandbox() {
    let mut sandbox = sandbox(&[("LIFTWATCH_FLUSH", "end")])
        .invocation_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let fine = sandbox.invoke(json!({"items": 1})).await.unwrap();
    assert_eq!(fine.status, InvokeStatus::Success);
    let started = Instant::now();
    let slow = sandbox.invoke(json!({"sleep_ms": 5_000})).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "not waited out: {:?}",
        started.elapsed()
    );
    assert_eq!(slow.status, InvokeStatus::Timeout);
    let error = slow.error.clone().unwrap();
    assert_eq!(error.error_type, liftwatch_sandbox::TIMEOUT_ERROR_TYPE);
    assert_eq!(error.error_message, "Task timed out after 1.00 seconds");
    assert_eq!(slow.report["status"], "timeout");
    assert!(sandbox.needs_reset());
    let refused = sandbox.invoke(json!({})).await.unwrap_err();
    assert!(refused.to_string().contains("timed out"), "{refused}");

    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    let deliveries = sandbox.proxy_observations().shutdown_deliveries;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].reason.as_deref(), Some("timeout"));
    let metrics = sandbox.emf().metrics;
    assert_eq!(total(&metrics, "Invocations", &fn_dims()), 2.0);
    assert_eq!(total(&metrics, "Timeouts", &fn_dims()), 1.0);
    assert_eq!(total(&metrics, "Errors", &fn_dims()), 1.0);
    assert_eq!(published(&metrics, "Duration").last(), Some(&1000.0));
    // The sandbox's own view has the records it sent the extension.
    let reports = sandbox.platform_reports().await;
    assert_eq!(
        reports.iter().filter(|r| r["status"] == "timeout").count(),
        1
    );
}
