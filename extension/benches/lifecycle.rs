//! Lifecycle benchmark: runs the built `liftwatch` binary against a minimal in-process
//! Lambda platform (benches/support/platform.rs: Extensions + Telemetry APIs over real HTTP)
//! for many invocations without freezes, and prints
//!
//! - start-up: process spawn to the first `/next` call,
//! - end-mode latency: `platform.runtimeDone` delivered (POST sent) to the next `/next`,
//!   p50 / p99 / max over many invocations (the platform's own buffering excluded),
//! - peak RSS (VmHWM) after the run, and the shutdown time.
//!
//! BENCH_RESOURCES=off|on|local sets `LIFTWATCH_RESOURCES` (default on), BENCH_LOG the log
//! level. `benches/startup.rs` compares start-up and memory with a bare extension.
//!
//! Run with `cargo bench -p liftwatch-extension --bench lifecycle`. Prints figures; never
//! asserts on time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "support/platform.rs"]
mod platform;

use std::process::Stdio;
use std::time::{Duration, Instant};

use platform::{Platform, free_ports, peak_rss, published_invocations, report, runtime_done};

const INVOCATIONS: usize = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut platform = Platform::start().await;
    let [intake, telemetry] = free_ports();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_liftwatch"))
        .env("AWS_LAMBDA_RUNTIME_API", platform.api())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_PORT", intake.to_string())
        .env("LIFTWATCH_TELEMETRY_PORT", telemetry.to_string())
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
    let emf_lines = published_invocations(child.stdout.take().unwrap());
    let startup = platform.next_call().await - started;
    let telemetry_uri = platform
        .destination()
        .expect("the extension subscribed during init");
    assert!(telemetry_uri.starts_with(&format!("http://127.0.0.1:{telemetry}/")));
    let mut latencies = Vec::with_capacity(INVOCATIONS);
    for i in 0..INVOCATIONS {
        let id = format!("req-{i}");
        platform.invoke(&id).await;
        if i > 0 {
            // Lambda delivers the previous invocation's report after the thaw.
            platform
                .telemetry(&[report(&format!("req-{}", i - 1))])
                .await;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
        let sent = Instant::now();
        platform.telemetry(&[runtime_done(&id)]).await;
        let next = platform.next_call().await;
        latencies.push(next.saturating_duration_since(sent));
    }
    platform
        .telemetry(&[report(&format!("req-{}", INVOCATIONS - 1))])
        .await;
    let hwm = peak_rss(pid);

    let shutdown_sent = Instant::now();
    platform.shutdown().await;
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
        "peak RSS:                        {:.2} MB",
        hwm as f64 / 1e6
    );
    println!(
        "shutdown to exit:                {:>9.3} ms ({exit})",
        shutdown.as_secs_f64() * 1e3
    );
    println!("Invocations published:           {invocations} of {INVOCATIONS}");
}
