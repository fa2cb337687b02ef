//! Lifecycle benchmark: runs the built `liftwatch` binary against a minimal in-process
//! Lambda platform (Extensions + Telemetry APIs over real HTTP) and prints
//!
//! - start-up: process spawn to the first `/next` call,
//! - end-mode latency: `platform.runtimeDone` delivered (POST sent) to the next `/next`,
//!   p50 / p99 / max over many invocations (the platform's own buffering excluded),
//! - peak RSS (VmHWM) after the run, and the shutdown time.
//!
//! Run with `cargo bench -p liftwatch-extension --bench lifecycle`. Prints figures; never
//! asserts on time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::convert::Infallible;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

const INVOCATIONS: usize = 1_000;

struct Platform {
    events: Mutex<mpsc::Receiver<String>>,
    next_calls: mpsc::Sender<Instant>,
    /// The subscription's destination URI (its path is the extension's secret).
    destination: std::sync::Mutex<Option<String>>,
}

async fn handle(
    platform: Arc<Platform>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let response = match path.as_str() {
        "/2020-01-01/extension/register" => Response::builder()
            .header("Lambda-Extension-Identifier", "bench-id")
            .body(Full::from(
                r#"{"functionName":"bench","functionVersion":"$LATEST","handler":"x"}"#,
            )),
        "/2022-07-01/telemetry" => {
            let subscription: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let uri = subscription["destination"]["URI"]
                .as_str()
                .map(str::to_owned);
            *platform.destination.lock().unwrap() = uri;
            Response::builder().body(Full::from("OK"))
        }
        "/2020-01-01/extension/event/next" => {
            let _ = platform.next_calls.send(Instant::now()).await;
            let event = platform
                .events
                .lock()
                .await
                .recv()
                .await
                .unwrap_or_default();
            Response::builder().body(Full::from(event))
        }
        _ => Response::builder().status(404).body(Full::default()),
    };
    Ok(response.unwrap())
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn batch(records: &[(&str, String)]) -> String {
    let items: Vec<String> = records
        .iter()
        .map(|(kind, record)| {
            format!(r#"{{"time":"2026-01-01T00:00:00.000Z","type":"{kind}","record":{record}}}"#)
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    let (events_tx, events_rx) = mpsc::channel(4);
    let (next_tx, mut next_rx) = mpsc::channel(4);
    let platform = Arc::new(Platform {
        events: Mutex::new(events_rx),
        next_calls: next_tx,
        destination: std::sync::Mutex::default(),
    });
    let platform_for_server = Arc::clone(&platform);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let platform = Arc::clone(&platform_for_server);
            tokio::spawn(async move {
                let service = service_fn(move |r| handle(Arc::clone(&platform), r));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let telemetry_port = free_port();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_liftwatch"))
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_PORT", free_port().to_string())
        .env("LIFTWATCH_TELEMETRY_PORT", telemetry_port.to_string())
        .env("LIFTWATCH_TELEMETRY_BIND", "127.0.0.1")
        .env("LIFTWATCH_TELEMETRY_HOST", "127.0.0.1")
        .env(
            "LIFTWATCH_LOG_LEVEL",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env(
            "LIFTWATCH_RESOURCES",
            std::env::var("BENCH_RESOURCES").unwrap_or_else(|_| "on".into()),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let stdout = child.stdout.take().unwrap();
    let emf_lines = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut invocations = 0.0;
        while let Ok(Some(line)) = lines.next_line().await {
            let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
            invocations += doc
                .get("Invocations")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
        }
        invocations
    });
    let first_next = next_rx.recv().await.unwrap();
    let startup = first_next - started;

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let telemetry_uri = platform
        .destination
        .lock()
        .unwrap()
        .clone()
        .expect("the extension subscribed during init");
    assert!(telemetry_uri.starts_with(&format!("http://127.0.0.1:{telemetry_port}/")));
    let post = |body: String| {
        let request = Request::post(&telemetry_uri)
            .body(Full::from(body))
            .unwrap();
        client.request(request)
    };
    let mut latencies = Vec::with_capacity(INVOCATIONS);
    for i in 0..INVOCATIONS {
        let id = format!("req-{i}");
        let deadline = now_ms() + 30_000;
        events_tx
            .send(format!(r#"{{"eventType":"INVOKE","deadlineMs":{deadline},"requestId":"{id}","invokedFunctionArn":"arn"}}"#))
            .await
            .unwrap();
        if i > 0 {
            // Lambda delivers the previous invocation's report after the thaw.
            let prev = format!("req-{}", i - 1);
            let report = format!(
                r#"{{"requestId":"{prev}","status":"success","metrics":{{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":40}}}}"#
            );
            post(batch(&[("platform.report", report)])).await.unwrap();
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
        let done = format!(
            r#"{{"requestId":"{id}","status":"success","metrics":{{"durationMs":10.0,"producedBytes":10}}}}"#
        );
        let body = batch(&[("platform.runtimeDone", done)]);
        let sent = Instant::now();
        post(body).await.unwrap();
        let next = next_rx.recv().await.unwrap();
        latencies.push(next.saturating_duration_since(sent));
    }
    let last = format!(
        r#"{{"requestId":"req-{}","status":"success","metrics":{{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":40}}}}"#,
        INVOCATIONS - 1
    );
    post(batch(&[("platform.report", last)])).await.unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_owned();

    let shutdown_sent = Instant::now();
    events_tx
        .send(format!(
            r#"{{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":{}}}"#,
            now_ms() + 2_000
        ))
        .await
        .unwrap();
    let exit = child.wait().await.unwrap();
    let shutdown = shutdown_sent.elapsed();
    let invocations = emf_lines.await.unwrap();

    latencies.sort();
    println!(
        "start-up to first /next:        {:>9.3} ms",
        startup.as_secs_f64() * 1e3
    );
    println!(
        "runtimeDone -> /next (end mode): p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  (n={INVOCATIONS})",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "peak RSS:                        {}",
        hwm.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!(
        "shutdown to exit:                {:>9.3} ms ({exit})",
        shutdown.as_secs_f64() * 1e3
    );
    println!("Invocations published:           {invocations} of {INVOCATIONS}");
}
