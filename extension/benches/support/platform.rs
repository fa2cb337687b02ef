//! A minimal Lambda platform for the benches that run a built extension: the Extensions API
//! (register, `/next`) and the Telemetry API subscription over real HTTP on 127.0.0.1, with
//! the platform's side of each call under the bench's control: it hands out events, notes
//! when each `/next` arrives, posts telemetry batches to the subscribed destination, and
//! freezes the extension (SIGSTOP) between invocations as Lambda does.
#![allow(dead_code, reason = "each bench uses part of it")]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

struct Shared {
    events: Mutex<mpsc::Receiver<String>>,
    next_calls: mpsc::Sender<Instant>,
    /// The subscription's destination URI (its path is the extension's secret).
    destination: std::sync::Mutex<Option<String>>,
}

/// The platform one extension process talks to.
pub struct Platform {
    api: String,
    shared: Arc<Shared>,
    events: mpsc::Sender<String>,
    next_calls: mpsc::Receiver<Instant>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Platform {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> Platform {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let (events, events_rx) = mpsc::channel(4);
        let (next_tx, next_calls) = mpsc::channel(4);
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            next_calls: next_tx,
            destination: std::sync::Mutex::default(),
        });
        let server = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = Arc::clone(&server);
                tokio::spawn(async move {
                    let service = service_fn(move |r| handle(Arc::clone(&shared), r));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Platform {
            api,
            shared,
            events,
            next_calls,
            client,
        }
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the extension.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// When the extension's next `/next` call arrived.
    pub async fn next_call(&mut self) -> Instant {
        self.next_calls.recv().await.unwrap()
    }

    /// Answers the pending (or the next) `/next` with an INVOKE for `request_id`.
    pub async fn invoke(&self, request_id: &str) {
        let deadline = now_ms() + 30_000;
        self.events
            .send(format!(r#"{{"eventType":"INVOKE","deadlineMs":{deadline},"requestId":"{request_id}","invokedFunctionArn":"arn"}}"#))
            .await
            .unwrap();
    }

    /// Answers `/next` with SHUTDOWN and a 2-s deadline, as Lambda gives extensions.
    pub async fn shutdown(&self) {
        self.events
            .send(format!(
                r#"{{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":{}}}"#,
                now_ms() + 2_000
            ))
            .await
            .unwrap();
    }

    /// The telemetry destination the extension subscribed, if it did.
    pub fn destination(&self) -> Option<String> {
        self.shared.destination.lock().unwrap().clone()
    }

    /// Posts one telemetry batch of `(type, record)` pairs to the subscribed destination.
    pub async fn telemetry(&self, records: &[(&str, String)]) {
        let Some(uri) = self.destination() else {
            return;
        };
        let items: Vec<String> = records
            .iter()
            .map(|(kind, record)| {
                format!(
                    r#"{{"time":"2026-01-01T00:00:00.000Z","type":"{kind}","record":{record}}}"#
                )
            })
            .collect();
        let body = format!("[{}]", items.join(","));
        let request = Request::post(uri).body(Full::from(body)).unwrap();
        self.client.request(request).await.unwrap();
    }
}

/// `platform.runtimeDone` of a successful invocation.
pub fn runtime_done(request_id: &str) -> (&'static str, String) {
    (
        "platform.runtimeDone",
        format!(
            r#"{{"requestId":"{request_id}","status":"success","metrics":{{"durationMs":10.0,"producedBytes":10}}}}"#
        ),
    )
}

/// `platform.report` of a successful invocation.
pub fn report(request_id: &str) -> (&'static str, String) {
    (
        "platform.report",
        format!(
            r#"{{"requestId":"{request_id}","status":"success","metrics":{{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":40}}}}"#
        ),
    )
}

/// Stops (`true`) or resumes (`false`) a process, as Lambda freezes and thaws a sandbox.
pub fn freeze(pid: u32, frozen: bool) {
    let signal = if frozen {
        nix::sys::signal::Signal::SIGSTOP
    } else {
        nix::sys::signal::Signal::SIGCONT
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    nix::sys::signal::kill(pid, signal).unwrap();
}

/// Sums `Invocations` over the EMF documents an extension writes to `stdout` (each line
/// must be a JSON document), as CloudWatch Logs would take them, until it exits.
pub fn published_invocations(stdout: tokio::process::ChildStdout) -> tokio::task::JoinHandle<f64> {
    use tokio::io::AsyncBufReadExt;
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut invocations = 0.0;
        while let Ok(Some(line)) = lines.next_line().await {
            let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
            invocations += doc["Invocations"].as_f64().unwrap_or(0.0);
        }
        invocations
    })
}

/// `VmHWM` (peak resident set) of a running process, in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `N` distinct ports of 127.0.0.1 free for TCP and UDP: the listeners are held until all
/// are drawn, since the kernel may hand out a port just released again.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let mut held = Vec::with_capacity(N);
    std::array::from_fn(|_| {
        loop {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = tcp.local_addr().unwrap().port();
            if let Ok(udp) = std::net::UdpSocket::bind(("127.0.0.1", port)) {
                held.push((tcp, udp));
                return port;
            }
        }
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn handle(
    shared: Arc<Shared>,
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
            *shared.destination.lock().unwrap() = uri;
            Response::builder().body(Full::from("OK"))
        }
        "/2020-01-01/extension/event/next" => {
            let _ = shared.next_calls.send(Instant::now()).await;
            let event = shared.events.lock().await.recv().await.unwrap_or_default();
            Response::builder().body(Full::from(event))
        }
        _ => Response::builder().status(404).body(Full::default()),
    };
    Ok(response.unwrap())
}
