//! `liftwatch-sandbox`: runs the liftwatch extension beside a function in the local
//! Lambda sandbox, invokes it N times, shuts it down, and prints the metrics it published
//! (a table, on stdout) and the SHUTDOWN timings. Progress goes to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use liftwatch_sandbox::config::FLUSH_VAR;
use liftwatch_sandbox::{Sandbox, SandboxConfig, emf, table};
use serde_json::Value;

const USAGE: &str = "\
usage: liftwatch-sandbox --invocations N [options]

options:
  --invocations N        how many invocations to run (required)
  --extension PATH       extension binary (default: liftwatch next to this executable)
  --function PATH        function binary (default: hello-function next to this executable)
  --flush STRATEGY       LIFTWATCH_FLUSH for the extension: end | periodic:<secs> | adaptive
  --payload JSON         event payload (default: {})
  --memory MB            function memory size (default: 128)
  --function-name NAME   function name (default: liftwatch-sandbox-function)
  --env KEY=VALUE        extra environment variable for both processes (repeatable)
  --no-freeze            do not freeze the processes between invocations
  --refuse-telemetry     answer the extension's Telemetry API subscription with 500
  --snapstart[=SECS]     SnapStart: after init, freeze both processes for SECS (default 2)
                         standing for the snapshot, then restore (restore telemetry)
  --verbose              echo the processes' logs and the simulator's lifecycle to stderr
  --help                 print this help";

#[derive(Debug)]
struct Args {
    invocations: usize,
    extension: Option<PathBuf>,
    function: Option<PathBuf>,
    flush: Option<String>,
    payload: Value,
    memory_mb: Option<u32>,
    function_name: Option<String>,
    env: Vec<(String, String)>,
    freeze: bool,
    refuse_telemetry: bool,
    snap_start: Option<Duration>,
    verbose: bool,
}

/// The pause `--snapstart` stands for the snapshot with, unless given.
const DEFAULT_SNAPSTART_PAUSE: Duration = Duration::from_secs(2);

fn parse_args(raw: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        invocations: 0,
        extension: None,
        function: None,
        flush: None,
        payload: Value::Object(Default::default()),
        memory_mb: None,
        function_name: None,
        env: Vec::new(),
        freeze: true,
        refuse_telemetry: false,
        snap_start: None,
        verbose: false,
    };
    let mut invocations = None;
    let mut raw = raw.into_iter();
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--invocations" | "-n" => {
                let v = value()?;
                invocations = Some(
                    v.parse()
                        .with_context(|| format!("bad --invocations {v}"))?,
                );
            }
            "--extension" => args.extension = Some(value()?.into()),
            "--function" => args.function = Some(value()?.into()),
            "--flush" => args.flush = Some(value()?),
            "--payload" => {
                let v = value()?;
                args.payload =
                    serde_json::from_str(&v).with_context(|| format!("bad --payload {v}"))?;
            }
            "--memory" => {
                let v = value()?;
                args.memory_mb = Some(v.parse().with_context(|| format!("bad --memory {v}"))?);
            }
            "--function-name" => args.function_name = Some(value()?),
            "--env" => {
                let v = value()?;
                let (k, val) = v
                    .split_once('=')
                    .with_context(|| format!("bad --env {v}, want KEY=VALUE"))?;
                args.env.push((k.to_owned(), val.to_owned()));
            }
            "--no-freeze" => args.freeze = false,
            "--refuse-telemetry" => args.refuse_telemetry = true,
            "--snapstart" => args.snap_start = Some(DEFAULT_SNAPSTART_PAUSE),
            _ if flag.starts_with("--snapstart=") => {
                let secs = &flag["--snapstart=".len()..];
                let pause = secs
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .with_context(|| format!("bad {flag}, want --snapstart=SECONDS"))?;
                args.snap_start = Some(pause);
            }
            "--verbose" | "-v" => args.verbose = true,
            other => bail!("unknown argument {other}\n\n{USAGE}"),
        }
    }
    args.invocations =
        invocations.with_context(|| format!("--invocations is required\n\n{USAGE}"))?;
    Ok(Some(args))
}

/// `explicit`, or `name` in the directory of this executable (`target/debug`).
fn binary(explicit: Option<PathBuf>, name: &str) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating this executable")?
            .parent()
            .context("this executable has no parent directory")?
            .join(name),
    };
    if !path.is_file() {
        bail!(
            "{} not found; build the workspace first with `cargo build --workspace` \
             (or pass --extension/--function)",
            path.display()
        );
    }
    Ok(path)
}

#[tokio::main]
async fn main() -> ExitCode {
    match cli().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn cli() -> anyhow::Result<()> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        eprintln!("{USAGE}");
        return Ok(());
    };
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::INFO)
            .init();
    }
    let extension = binary(args.extension.clone(), "liftwatch")?;
    let function = binary(args.function.clone(), "hello-function")?;
    let mut config = SandboxConfig::new(extension, function)
        .freeze(args.freeze)
        .refuse_telemetry_subscription(args.refuse_telemetry)
        .verbose(args.verbose)
        .envs(args.env.clone());
    if let Some(flush) = &args.flush {
        config = config.env(FLUSH_VAR, flush.clone());
    }
    if let Some(mb) = args.memory_mb {
        config = config.memory_mb(mb);
    }
    if let Some(name) = &args.function_name {
        config = config.function_name(name.clone());
    }
    if let Some(pause) = args.snap_start {
        config = config.snap_start(pause);
    }
    tokio::select! {
        result = run(config, &args) => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; the sandbox's processes were killed");
            std::process::exit(130);
        }
    }
}

async fn run(config: SandboxConfig, args: &Args) -> anyhow::Result<()> {
    let mut sandbox = config.start().await.context("starting the sandbox")?;
    let ports = sandbox.ports();
    eprintln!(
        "sandbox started in {}: runtime API {}, telemetry port {}, intake port {}",
        sandbox.root_dir().display(),
        ports.runtime_api,
        ports.telemetry,
        ports.intake
    );
    if let Some(restore) = sandbox.restore_timing() {
        eprintln!(
            "snapstart: frozen for {} ms after init, restored in {:.3} ms",
            (restore.started_at - restore.frozen_at).num_milliseconds(),
            restore.duration_ms
        );
    }
    for i in 1..=args.invocations {
        let outcome = sandbox
            .invoke(args.payload.clone())
            .await
            .with_context(|| format!("invocation {i}"))?;
        eprintln!(
            "invocation {i}/{}: {} {:?} response {} ms, done {} ms",
            args.invocations,
            outcome.request_id,
            outcome.status,
            outcome.response_time.as_millis(),
            outcome.wall_time.as_millis()
        );
        if let Some(error) = &outcome.error {
            eprintln!(
                "  function error {}: {}",
                error.error_type, error.error_message
            );
        }
    }
    eprintln!("shutting down");
    let shutdown = sandbox.shutdown().await.context("shutting down")?;
    report(&sandbox, &shutdown, args.invocations);
    Ok(())
}

#[allow(
    clippy::print_stdout,
    reason = "the table and timings are the CLI's output"
)]
fn report(sandbox: &Sandbox, shutdown: &liftwatch_sandbox::ShutdownOutcome, invocations: usize) {
    let scan = sandbox.emf();
    let stdout = sandbox.extension_stdout();
    let bytes: usize = stdout.iter().map(|line| line.len() + 1).sum();
    let flushes: std::collections::BTreeSet<u64> =
        scan.metrics.iter().filter_map(|m| m.timestamp_ms).collect();
    let summaries = emf::summarize(&scan.metrics);
    println!(
        "published metrics ({} EMF documents, {} other stdout lines):",
        scan.documents,
        scan.rejected.len()
    );
    print!("{}", table::render(&summaries));
    println!();
    println!(
        "EMF output: {bytes} bytes in {} documents over {} flushes; {:.0} bytes per invocation",
        scan.documents,
        flushes.len(),
        bytes as f64 / invocations.max(1) as f64
    );
    println!("{shutdown}");
}
