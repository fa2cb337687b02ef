//! Start-up, memory and response-path latency next to a bare extension: the release build
//! of `liftwatch` and of `examples/bare-extension` (std only), built with the same profile,
//! run in turn on a Lambda-like platform (Extensions and Telemetry APIs over HTTP, SIGSTOP
//! freezes between invocations) and compared. The bare extension runs twice: registering
//! and calling `/next`, nothing else (the floor for ready and peak RSS), and also
//! subscribing to telemetry and calling `/next` once each invocation's runtimeDone is in
//! (the floor for runtimeDone → `/next`).
//!
//! For each extension and configuration, each round runs a fresh process through
//! BENCH_INVOCATIONS invocations (default 20) and takes
//!
//! - ready: spawn to the first `/next` call (init done),
//! - peak RSS: `VmHWM` after the last invocation,
//! - runtimeDone → `/next`: from posting `platform.runtimeDone` to the extension's next
//!   `/next` call, in `end` mode (the platform's buffering excluded); p99 of the round,
//!
//! and prints the median of BENCH_ROUNDS rounds (default 21), with ratios to the bare
//! extension. Configurations: `defaults` (EMF, resources on; `LIFTWATCH_FLUSH=end` so the
//! response-path figure is the end mode's), `all-sinks` (EMF and CloudWatch, OTLP and X-Ray
//! span exporters, both DynamoDB tables, pointed at a local endpoint that answers `{}`, or at
//! moto when LIFTWATCH_TEST_MOTO_URL is set). Extra builds to compare in the same run:
//! BENCH_LIFTWATCH="before=/path/to/liftwatch,..." (each runs the `defaults` configuration).
//! BENCH_SMAPS=<dir> writes each subject's `/proc/<pid>/smaps` there after its last round.
//!
//! Run with `cargo bench -p liftwatch-extension --bench startup`. Prints figures; never
//! asserts on time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "support/platform.rs"]
mod platform;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use platform::{
    Platform, free_ports, freeze, peak_rss, published_invocations, report, runtime_done,
};

/// How long the function "runs" between INVOKE and runtimeDone.
const HANDLER_TIME: Duration = Duration::from_millis(2);
/// How long the sandbox stays frozen between invocations.
const FROZEN_TIME: Duration = Duration::from_millis(5);

/// One round's figures.
struct Round {
    ready: Duration,
    /// Minor page faults taken by the time of the first `/next`.
    ready_faults: u64,
    peak_rss: u64,
    done_to_next_p99: Duration,
    invocations_published: f64,
}

/// An extension binary with the environment of one configuration.
struct Subject {
    name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    kind: Kind,
}

/// What a subject's binary is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The bare extension: register and `/next`.
    Bare,
    /// The bare extension subscribed to telemetry, waiting for each runtimeDone.
    BareWaiting,
    /// liftwatch, which publishes EMF.
    Liftwatch,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds both binaries with the release profile and the features of the layer's build,
/// and returns their paths.
fn build() -> (PathBuf, PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            "-p",
            "liftwatch-extension",
            "-p",
            "bare-extension",
            "--bins",
            // As layer-build.sh builds the layer: the extension without the `cli` tools.
            "--no-default-features",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo build --release failed");
    let mut found = (None, None);
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let message: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        match message["target"]["name"].as_str() {
            Some("liftwatch") => found.0 = Some(PathBuf::from(executable)),
            Some("bare-extension") => found.1 = Some(PathBuf::from(executable)),
            _ => {}
        }
    }
    (found.0.unwrap(), found.1.unwrap())
}

/// Answers every request with 200 `{}`: the AWS APIs and the OTLP collector of the
/// all-sinks configuration when no moto server is given.
async fn stub_endpoint() -> String {
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_request| async {
                    hyper::Response::builder()
                        .header("content-type", "application/x-amz-json-1.0")
                        .body(Full::new(bytes::Bytes::from_static(b"{}")))
                });
                let _ = http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

fn liftwatch_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("LIFTWATCH_FLUSH", "end"),
        ("LIFTWATCH_TELEMETRY_BIND", "127.0.0.1"),
        ("LIFTWATCH_TELEMETRY_HOST", "127.0.0.1"),
        ("LIFTWATCH_LOG_LEVEL", "error"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if let Ok(resources) = std::env::var("BENCH_RESOURCES") {
        env.push(("LIFTWATCH_RESOURCES".into(), resources));
    }
    env
}

async fn run(subject: &Subject, invocations: usize) -> Round {
    let mut platform = Platform::start().await;
    let [intake, telemetry, otlp] = free_ports();
    let mut command = tokio::process::Command::new(&subject.binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", platform.api())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("LIFTWATCH_PORT", intake.to_string())
        .env("LIFTWATCH_TELEMETRY_PORT", telemetry.to_string())
        .env("LIFTWATCH_OTLP_PORT", otlp.to_string())
        .envs(
            (subject.kind == Kind::BareWaiting)
                .then(|| ("BARE_TELEMETRY_PORT", telemetry.to_string())),
        )
        .envs(subject.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let started = std::time::Instant::now();
    let mut child = command.spawn().unwrap();
    let pid = child.id().unwrap();
    let published = published_invocations(child.stdout.take().unwrap());
    let ready = platform.next_call().await - started;
    let ready_faults = minor_faults(pid);
    let mut latencies = Vec::with_capacity(invocations);
    for i in 0..invocations {
        let id = format!("req-{i}");
        platform.invoke(&id).await;
        let start = ("platform.start", format!(r#"{{"requestId":"{id}"}}"#));
        if i > 0 {
            // Lambda delivers the previous invocation's report after the thaw.
            platform
                .telemetry(&[report(&format!("req-{}", i - 1)), start])
                .await;
        } else {
            platform.telemetry(&[start]).await;
        }
        tokio::time::sleep(HANDLER_TIME).await;
        let sent = std::time::Instant::now();
        platform.telemetry(&[runtime_done(&id)]).await;
        let next = platform.next_call().await;
        latencies.push(next.saturating_duration_since(sent));
        freeze(pid, true);
        tokio::time::sleep(FROZEN_TIME).await;
        freeze(pid, false);
    }
    platform
        .telemetry(&[report(&format!("req-{}", invocations - 1))])
        .await;
    let peak_rss = peak_rss(pid);
    if let Ok(dir) = std::env::var("BENCH_SMAPS") {
        // Where the resident pages are: one file per subject, the last round's.
        let file = subject
            .name
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
        std::fs::write(Path::new(&dir).join(format!("{file}.smaps")), smaps).unwrap();
    }
    platform.shutdown().await;
    let exit = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the extension exits within SHUTDOWN's deadline")
        .unwrap();
    assert!(exit.success(), "{} exited with {exit}", subject.name);
    latencies.sort();
    Round {
        ready,
        ready_faults,
        peak_rss,
        done_to_next_p99: latencies[((latencies.len() as f64 - 1.0) * 0.99).round() as usize],
        invocations_published: published.await.unwrap(),
    }
}

/// Minor page faults of a process so far (`/proc/<pid>/stat`, field 10).
fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}

fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn size_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = env_or("BENCH_ROUNDS", 21);
    let invocations = env_or("BENCH_INVOCATIONS", 20).max(1);
    let (liftwatch, bare) = build();
    let endpoint = match std::env::var("LIFTWATCH_TEST_MOTO_URL") {
        Ok(url) => url,
        Err(_) => stub_endpoint().await,
    };
    let xray = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let xray = xray.local_addr().unwrap().to_string();
    let all_sinks = [
        ("LIFTWATCH_SINKS", "emf,cloudwatch"),
        ("LIFTWATCH_OTLP_ENDPOINT", endpoint.as_str()),
        ("AWS_XRAY_DAEMON_ADDRESS", xray.as_str()),
        ("LIFTWATCH_RATELIMIT_TABLE", "bench-stats"),
        ("LIFTWATCH_CONNECTIONS_TABLE", "bench-connections"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
    ];
    let mut subjects = vec![
        Subject {
            name: "bare extension (the floor)".into(),
            binary: bare.clone(),
            env: Vec::new(),
            kind: Kind::Bare,
        },
        Subject {
            name: "bare extension + telemetry".into(),
            binary: bare,
            env: Vec::new(),
            kind: Kind::BareWaiting,
        },
        Subject {
            name: "liftwatch, defaults".into(),
            binary: liftwatch.clone(),
            env: liftwatch_env(&[]),
            kind: Kind::Liftwatch,
        },
        Subject {
            name: "liftwatch, all sinks".into(),
            binary: liftwatch,
            env: liftwatch_env(&all_sinks),
            kind: Kind::Liftwatch,
        },
    ];
    for extra in std::env::var("BENCH_LIFTWATCH")
        .unwrap_or_default()
        .split(',')
    {
        if let Some((name, path)) = extra.split_once('=') {
            subjects.push(Subject {
                name: format!("liftwatch {name}, defaults"),
                binary: path.into(),
                env: liftwatch_env(&[]),
                kind: Kind::Liftwatch,
            });
        }
    }
    let mut results: Vec<Vec<Round>> = subjects.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        // In turn, so a noisy moment touches every subject alike.
        for (subject, rounds) in subjects.iter().zip(&mut results) {
            rounds.push(run(subject, invocations).await);
        }
    }
    println!(
        "{rounds} rounds of {invocations} invocations each (median of the rounds; p99 within a round)\n"
    );
    println!(
        "{:<34} {:>9} {:>6} {:>7} {:>12} {:>6} {:>16} {:>6} {:>10} {:>9}",
        "extension",
        "ready ms",
        "x bare",
        "faults",
        "peak RSS MB",
        "x bare",
        "done->/next p99",
        "x bare",
        "binary MB",
        "published"
    );
    // Ready and RSS against the bare extension; runtimeDone -> /next against the one that
    // waits for runtimeDone (the other one calls /next before it is even sent).
    let floor = |kind: Kind, value: fn(&Round) -> f64| {
        let (_, rounds) = subjects
            .iter()
            .zip(&results)
            .find(|(subject, _)| subject.kind == kind)
            .unwrap();
        median(rounds.iter().map(value).collect())
    };
    let ready = |r: &Round| r.ready.as_secs_f64() * 1e3;
    let rss = |r: &Round| r.peak_rss as f64 / 1e6;
    let p99 = |r: &Round| r.done_to_next_p99.as_secs_f64() * 1e3;
    let (floor_ready, floor_rss, floor_p99) = (
        floor(Kind::Bare, ready),
        floor(Kind::Bare, rss),
        floor(Kind::BareWaiting, p99),
    );
    for (subject, rounds) in subjects.iter().zip(&results) {
        let of = |value: fn(&Round) -> f64| median(rounds.iter().map(value).collect::<Vec<_>>());
        let faults = median(rounds.iter().map(|r| r.ready_faults).collect());
        let published = if subject.kind == Kind::Liftwatch {
            let least = rounds
                .iter()
                .map(|r| r.invocations_published)
                .fold(f64::INFINITY, f64::min);
            format!("{least}/{invocations}")
        } else {
            "-".into()
        };
        println!(
            "{:<34} {:>9.3} {:>6.2} {:>7} {:>12.2} {:>6.2} {:>13.3} ms {:>6.2} {:>10.2} {:>9}",
            subject.name,
            of(ready),
            of(ready) / floor_ready,
            faults,
            of(rss),
            of(rss) / floor_rss,
            of(p99),
            of(p99) / floor_p99,
            size_mb(&subject.binary),
            published,
        );
    }
}
