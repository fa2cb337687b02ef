//! The simulator on a thread of its own, driven by a single-threaded tokio runtime.
//!
//! `lambda-simulator` 0.2 emits `platform.report` from a task that waits for every
//! extension's next `/next` (`ExtensionReadinessTracker::wait_for_all_ready`, spawned by
//! the runtime's response handler): it checks readiness, and only if not ready creates a
//! `Notified` future and waits on it, with the extension-ready timeout (the function
//! timeout, 30 s) beside it. The extension's `/next` handler marks it ready and calls
//! `Notify::notify_waiters`, which wakes only futures that already exist. On a
//! multi-threaded runtime that handler can run on the other worker between the report
//! task's check and the creation of its future (the worker is preempted there on a busy
//! machine): the wake-up is lost and the invocation ends 30 s later, its report saying the
//! extension was ready a few ms after the runtime ("extension overhead: 9ms") though it
//! came after the readiness timeout. There is no call that wakes the task again.
//!
//! Here every task of the simulator (its HTTP server, each connection's handler, the
//! report tasks, telemetry delivery) runs on one thread. A task runs until it awaits, and
//! the report task does not await between the check and creating its future, so the
//! notification comes either before the check (which then sees the extension ready) or
//! after the future exists (which it then wakes). The sandbox's own tasks keep the
//! caller's runtime; the simulator's shared state is tokio's `Mutex` and `Notify`, which
//! work from any runtime.

use std::thread::JoinHandle;

use lambda_simulator::{Simulator, SimulatorBuilder};
use tokio::sync::oneshot;

use crate::error::SandboxError;

/// Keeps the simulator's thread running; dropping it (or [`SimulatorThread::stop`]) ends
/// the thread's runtime, which cancels every task the simulator still has.
#[derive(Debug)]
pub(crate) struct SimulatorThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SimulatorThread {
    /// Builds the simulator on a new thread and returns it with the thread's guard.
    pub(crate) async fn start(
        builder: SimulatorBuilder,
    ) -> Result<(Simulator, SimulatorThread), SandboxError> {
        let (built_tx, built_rx) = oneshot::channel::<Result<Simulator, SandboxError>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("lambda-simulator".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = built_tx
                            .send(Err(SandboxError::io("starting the simulator's runtime", e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let built = builder.build().await.map_err(SandboxError::Simulator);
                    let serving = built.is_ok();
                    if built_tx.send(built).is_err() || !serving {
                        return;
                    }
                    // Until `stop` is sent or dropped; meanwhile the runtime drives the
                    // simulator's tasks.
                    let _ = stopped.await;
                });
            })
            .map_err(|e| SandboxError::io("starting the simulator's thread", e))?;
        let guard = SimulatorThread {
            stop: Some(stop),
            thread: Some(thread),
        };
        match built_rx.await {
            Ok(Ok(simulator)) => Ok((simulator, guard)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SandboxError::SimulatorPanicked(
                "starting the simulator".to_owned(),
            )),
        }
    }

    /// Ends the thread's runtime (call once the simulator's shutdown is over: nothing
    /// answers on its port afterwards) and returns the thread's handle, for a caller that
    /// wants to join it.
    pub(crate) fn stop(mut self) -> Option<JoinHandle<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take()
    }
}

impl Drop for SimulatorThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::{Method, Request, StatusCode};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use serde_json::Value;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::watch;

    async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    /// An in-process runtime and extension for `sim`, with the sandbox's order: the
    /// extension's `/next` after an INVOKE goes out once the runtime's answer got its 202
    /// (the proxy's hold). Runs `invocations` one after the other while `spinners` threads
    /// keep the cores busy (a preempted worker opens the window), and returns how many
    /// `platform.report`s came only after the readiness timeout, with the slowest wait.
    async fn stalls(sim: Arc<Simulator>, invocations: usize, spinners: usize) -> (usize, Duration) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let base = format!("http://{}", sim.addr());
        let send = move |method: Method,
                         path: String,
                         headers: Vec<(&'static str, String)>,
                         body: &'static str| {
            let client = client.clone();
            let url = format!("{base}{path}");
            async move {
                let mut request = Request::builder().method(method).uri(url);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let response = client
                    .request(
                        request
                            .body(Full::new(Bytes::from_static(body.as_bytes())))
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                let (parts, body) = response.into_parts();
                (parts, body.collect().await.unwrap().to_bytes())
            }
        };
        let (registered, _) = send(
            Method::POST,
            "/2020-01-01/extension/register".into(),
            vec![
                ("Lambda-Extension-Name", "probe".into()),
                ("Content-Type", "application/json".into()),
            ],
            r#"{"events":["INVOKE"]}"#,
        )
        .await;
        let id = registered.headers["lambda-extension-identifier"]
            .to_str()
            .unwrap()
            .to_owned();
        let (answered_tx, answered) = watch::channel(String::new());
        let extension = tokio::spawn({
            let send = send.clone();
            async move {
                loop {
                    let (_, body) = send(
                        Method::GET,
                        "/2020-01-01/extension/event/next".into(),
                        vec![("Lambda-Extension-Identifier", id.clone())],
                        "",
                    )
                    .await;
                    let event: Value = serde_json::from_slice(&body).unwrap();
                    let request = event["requestId"].as_str().unwrap_or_default().to_owned();
                    let mut answered = answered.clone();
                    answered.wait_for(|id| *id == request).await.unwrap();
                }
            }
        });
        let runtime = tokio::spawn({
            let send = send.clone();
            async move {
                loop {
                    let (next, _) = send(
                        Method::GET,
                        "/2018-06-01/runtime/invocation/next".into(),
                        vec![],
                        "",
                    )
                    .await;
                    let request = next.headers["lambda-runtime-aws-request-id"]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let (done, _) = send(
                        Method::POST,
                        format!("/2018-06-01/runtime/invocation/{request}/response"),
                        vec![],
                        "{}",
                    )
                    .await;
                    assert_eq!(done.status, StatusCode::ACCEPTED);
                    answered_tx.send_replace(request);
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;

        let stop = Arc::new(AtomicBool::new(false));
        let spinning: Vec<_> = (0..spinners)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let (mut stalled, mut slowest) = (0, Duration::ZERO);
        for _ in 0..invocations {
            let started = Instant::now();
            let request = sim.enqueue_payload(serde_json::json!({})).await;
            loop {
                let reports = sim.get_telemetry_events_by_type("platform.report").await;
                if reports
                    .iter()
                    .any(|r| r.record["requestId"].as_str() == Some(request.as_str()))
                {
                    break;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            sim.clear_telemetry_events().await;
            let took = started.elapsed();
            slowest = slowest.max(took);
            if took >= READY_TIMEOUT {
                stalled += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for spinner in spinning {
            spinner.join().unwrap();
        }
        extension.abort();
        runtime.abort();
        (stalled, slowest)
    }

    const READY_TIMEOUT: Duration = Duration::from_secs(1);

    fn builder() -> SimulatorBuilder {
        Simulator::builder().extension_ready_timeout(READY_TIMEOUT)
    }

    /// `STALL_INVOCATIONS` and `STALL_SPINNERS` override a test's run.
    fn knob(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    }

    /// The stall itself, on the simulator as the crate runs it (on the caller's
    /// multi-threaded runtime): a report waits for the readiness timeout although the
    /// extension was ready in time. Rare (1 in 20,000 invocations with 6 spinners on 2
    /// cores here), so not run by default:
    /// `cargo test -p liftwatch-sandbox --lib -- --ignored --nocapture stalls_on_a_multi`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "shows the simulator's lost wake-up; rare and timing-dependent"]
    async fn stalls_on_a_multi_threaded_runtime() {
        let sim = builder().build().await.unwrap();
        sim.enable_telemetry_capture().await;
        let (invocations, spinners) =
            (knob("STALL_INVOCATIONS", 20_000), knob("STALL_SPINNERS", 6));
        let (stalled, slowest) = stalls(Arc::new(sim), invocations, spinners).await;
        eprintln!("multi-threaded runtime: {stalled} stalls in {invocations}, slowest {slowest:?}");
        assert!(stalled > 0, "no stall this time (slowest {slowest:?})");
    }

    /// The same lifecycle with the simulator on its own thread: every report follows the
    /// extension's `/next`, none waits for the readiness timeout. (The stall is too rare
    /// for a short run to prove its absence: run it long with the knobs above.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_report_waits_for_the_readiness_timeout_on_its_own_thread() {
        let (sim, _thread) = SimulatorThread::start(builder()).await.unwrap();
        sim.enable_telemetry_capture().await;
        let (invocations, spinners) = (knob("STALL_INVOCATIONS", 500), knob("STALL_SPINNERS", 0));
        let (stalled, slowest) = stalls(Arc::new(sim), invocations, spinners).await;
        eprintln!("own thread: {stalled} stalls in {invocations}, slowest {slowest:?}");
        assert_eq!(stalled, 0, "slowest {slowest:?}");
    }

    /// The simulator's server runs on its own thread, answers while the caller's
    /// single-threaded runtime is parked in this test, and is gone once stopped.
    #[tokio::test(flavor = "current_thread")]
    async fn serves_from_its_own_thread_until_stopped() {
        let (simulator, thread) = SimulatorThread::start(Simulator::builder()).await.unwrap();
        let addr = simulator.addr();
        // The caller's thread is blocked outright: only the simulator's thread can answer.
        let blocked = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(get(addr, "/2020-01-01/extension/event/next"))
        })
        .join()
        .unwrap()
        .unwrap();
        assert!(
            blocked.starts_with("HTTP/1.1 400"),
            "missing identifier header: {blocked}"
        );
        let handle = thread.stop().unwrap();
        tokio::task::spawn_blocking(move || handle.join().unwrap())
            .await
            .unwrap();
        drop(simulator);
        let refused = tokio::time::timeout(Duration::from_secs(5), get(addr, "/")).await;
        assert!(
            matches!(refused, Ok(Err(_))),
            "nothing serves after stop: {refused:?}"
        );
    }
}
