//! `liftwatch-sandbox`: runs the liftwatch extension beside a function in the local
//! Lambda sandbox, invokes it once per payload, shows each response, shuts the sandbox
//! down, and prints the metrics it published (a table, or `--json`) and the SHUTDOWN
//! timings. Progress and responses go to stderr; the table or the JSON to stdout.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use liftwatch_sandbox::config::FLUSH_VAR;
use liftwatch_sandbox::events::parse_events;
use liftwatch_sandbox::summary::{EmfOutput, RESPONSE_DISPLAY_LIMIT, RunSummary, pretty_truncated};
use liftwatch_sandbox::{
    InvokeOutcome, InvokeStatus, Sandbox, SandboxConfig, ShutdownOutcome, emf, table,
};
use serde_json::Value;

/// Runs the liftwatch extension beside a function in a local Lambda sandbox (Extensions,
/// Telemetry and Runtime APIs, freezing between invocations, a SHUTDOWN phase), then
/// prints what it published.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "\
Examples:
  liftwatch-sandbox --invocations 20
  liftwatch-sandbox --events conversation.jsonl --json > run.json
  liftwatch-sandbox --function target/debug/my-function --payload '{\"name\":\"x\"}'"
)]
struct Args {
    /// How many invocations to run (default: 1, or one per line of --events)
    #[arg(short = 'n', long, value_name = "N", conflicts_with = "events")]
    invocations: Option<usize>,
    /// Event payload of every invocation
    #[arg(long, value_name = "JSON", default_value = "{}", value_parser = json_value, conflicts_with = "events")]
    payload: Value,
    /// One invocation per line of FILE ('-' for stdin), payloads in order; blank lines
    /// and lines starting with '#' are skipped
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Print a machine-readable summary (invocations with their responses, metrics,
    /// timings) on stdout instead of the table
    #[arg(long)]
    json: bool,
    /// Extension binary [default: liftwatch next to this executable]
    #[arg(long, value_name = "PATH")]
    extension: Option<PathBuf>,
    /// Function binary [default: hello-function next to this executable]
    #[arg(long, value_name = "PATH")]
    function: Option<PathBuf>,
    /// LIFTWATCH_FLUSH for the extension: end | periodic:<secs> | adaptive
    #[arg(long, value_name = "STRATEGY")]
    flush: Option<String>,
    /// The function timeout in seconds: an invocation still running then times out, and
    /// the sandbox is reset (a new init) for the next one [default: 30]
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    timeout: Option<Duration>,
    /// Function memory size in MB [default: 128]
    #[arg(long = "memory", value_name = "MB")]
    memory_mb: Option<u32>,
    /// Function name [default: liftwatch-sandbox-function]
    #[arg(long, value_name = "NAME")]
    function_name: Option<String>,
    /// Extra environment variable for both processes (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// Do not freeze the processes between invocations
    #[arg(long)]
    no_freeze: bool,
    /// Answer the extension's Telemetry API subscription with 500
    #[arg(long)]
    refuse_telemetry: bool,
    /// SnapStart: after init, freeze both processes for SECS standing for the snapshot,
    /// then restore (restore telemetry)
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2", value_parser = seconds)]
    snapstart: Option<Duration>,
    /// The function's tracing mode: `active` (Sampled=1 in every trace header) or
    /// `pass-through` (Sampled=0)
    #[arg(long, value_enum, default_value_t = Tracing::Active)]
    tracing: Tracing,
    /// Echo the processes' logs and the simulator's lifecycle to stderr
    #[arg(short, long)]
    verbose: bool,
}

/// `--tracing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Tracing {
    Active,
    PassThrough,
}

fn json_value(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "want KEY=VALUE".to_owned())?;
    Ok((key.to_owned(), value.to_owned()))
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| "want a number of seconds".to_owned())
}

/// The payloads to invoke with, in order.
fn payloads(args: &Args) -> anyhow::Result<Vec<Value>> {
    let Some(path) = &args.events else {
        return Ok(vec![args.payload.clone(); args.invocations.unwrap_or(1)]);
    };
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading events from stdin")?;
        text
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading events from {}", path.display()))?
    };
    let events = parse_events(&text).with_context(|| format!("in {}", path.display()))?;
    if events.is_empty() {
        bail!("{} holds no events", path.display());
    }
    Ok(events)
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
    let args = Args::parse();
    match cli(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn cli(args: Args) -> anyhow::Result<()> {
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::INFO)
            .init();
    }
    let payloads = payloads(&args)?;
    let extension = binary(args.extension.clone(), "liftwatch")?;
    let function = binary(args.function.clone(), "hello-function")?;
    let mut config = SandboxConfig::new(extension, function)
        .freeze(!args.no_freeze)
        .refuse_telemetry_subscription(args.refuse_telemetry)
        .active_tracing(args.tracing == Tracing::Active)
        .verbose(args.verbose)
        .envs(args.env.clone());
    if let Some(flush) = &args.flush {
        config = config.env(FLUSH_VAR, flush.clone());
    }
    if let Some(timeout) = args.timeout {
        config = config.invocation_timeout(timeout);
    }
    if let Some(mb) = args.memory_mb {
        config = config.memory_mb(mb);
    }
    if let Some(name) = &args.function_name {
        config = config.function_name(name.clone());
    }
    if let Some(pause) = args.snapstart {
        config = config.snap_start(pause);
    }
    tokio::select! {
        result = run(config, payloads, args.json) => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; the sandbox's processes were killed");
            std::process::exit(130);
        }
    }
}

async fn run(config: SandboxConfig, payloads: Vec<Value>, json: bool) -> anyhow::Result<()> {
    let mut sandbox = start(&config).await?;
    let count = payloads.len();
    let mut outcomes = Vec::with_capacity(count);
    let mut runs = Vec::new();
    for (i, payload) in payloads.into_iter().enumerate() {
        if sandbox.needs_reset() {
            // Lambda resets the execution environment after a timeout: a new init.
            eprintln!("resetting the sandbox after the timeout (SHUTDOWN reason timeout)");
            let shutdown = sandbox.shutdown().await.context("shutting down")?;
            runs.push((sandbox, shutdown));
            sandbox = start(&config).await?;
        }
        let outcome = sandbox
            .invoke(payload)
            .await
            .with_context(|| format!("invocation {}", i + 1))?;
        show(i + 1, count, &outcome);
        outcomes.push(outcome);
    }
    eprintln!("shutting down");
    let shutdown = sandbox.shutdown().await.context("shutting down")?;
    runs.push((sandbox, shutdown));
    if json {
        let summary = RunSummary::new(&outcomes, &runs);
        print_stdout(&serde_json::to_string_pretty(&summary)?);
    } else {
        report(&runs, count);
    }
    Ok(())
}

/// Starts a sandbox and says where.
async fn start(config: &SandboxConfig) -> anyhow::Result<Sandbox> {
    let sandbox = config
        .clone()
        .start()
        .await
        .context("starting the sandbox")?;
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
    Ok(sandbox)
}

/// One invocation's line, then its response (or error object) indented below it.
fn show(number: usize, count: usize, outcome: &InvokeOutcome) {
    let status = match outcome.status {
        InvokeStatus::Success => "ok",
        InvokeStatus::Error => "error",
        InvokeStatus::Timeout => "timed out",
    };
    eprintln!(
        "invocation {number}/{count}: {} {status}, response {} ms, done {} ms",
        outcome.request_id,
        outcome.response_time.as_millis(),
        outcome.wall_time.as_millis()
    );
    let body = match (&outcome.response, &outcome.error) {
        (Some(response), _) => pretty_truncated(response, RESPONSE_DISPLAY_LIMIT),
        (None, Some(error)) => pretty_truncated(
            &serde_json::json!({"errorType": error.error_type, "errorMessage": error.error_message}),
            RESPONSE_DISPLAY_LIMIT,
        ),
        (None, None) => return,
    };
    for line in body.lines() {
        eprintln!("  {line}");
    }
}

#[allow(clippy::print_stdout, reason = "the JSON summary is the CLI's output")]
fn print_stdout(text: &str) {
    println!("{text}");
}

#[allow(
    clippy::print_stdout,
    reason = "the table and timings are the CLI's output"
)]
fn report(runs: &[(Sandbox, ShutdownOutcome)], invocations: usize) {
    let metrics: Vec<_> = runs
        .iter()
        .flat_map(|(sandbox, _)| sandbox.emf().metrics)
        .collect();
    let output = EmfOutput::of(runs.iter().map(|(sandbox, _)| sandbox));
    println!(
        "published metrics ({} EMF documents, {} other stdout lines{}):",
        output.documents,
        output.other_lines,
        if runs.len() > 1 {
            format!(", {} sandboxes", runs.len())
        } else {
            String::new()
        }
    );
    print!("{}", table::render(&emf::summarize(&metrics)));
    println!();
    println!(
        "EMF output: {} bytes in {} documents over {} flushes; {:.0} bytes per invocation",
        output.bytes,
        output.documents,
        output.flushes,
        output.bytes as f64 / invocations.max(1) as f64
    );
    if let Some((_, shutdown)) = runs.last() {
        println!("{shutdown}");
    }
}
