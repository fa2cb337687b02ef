//! The `liftwatch` executable: the Lambda extension itself. Lambda starts it from
//! `/opt/extensions/liftwatch` with no arguments; with arguments it is a tool for people
//! (`liftwatch --help`), in builds with the `cli` feature (the default; the layer's build
//! leaves it out).

use std::process::ExitCode;

#[cfg(feature = "cli")]
use liftwatch_extension::cli;
use liftwatch_extension::config::Config;
use liftwatch_extension::emf::EmfEncoder;
use liftwatch_extension::lifecycle;
use liftwatch_extension::sink::{CloudWatchSink, EmfSink, Sink};
use tracing_subscriber::filter::LevelFilter;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    dispatch(&args)
}

/// The extension without arguments, else the command-line tools (`--help` lists them).
#[cfg(feature = "cli")]
#[allow(clippy::print_stdout, reason = "--help prints the usage")]
fn dispatch(args: &[String]) -> ExitCode {
    match cli::parse(args) {
        cli::Command::Extension => extension(),
        cli::Command::RateLimitStats(args) => ratelimit_stats(&args),
        cli::Command::Dashboard(args) => dashboard(&args),
        cli::Command::Usage(None) => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        cli::Command::Usage(Some(reason)) => {
            let reason = liftwatch::error_chain(&reason);
            eprintln!("liftwatch: {reason}\n{}", cli::USAGE);
            ExitCode::from(2)
        }
    }
}

/// The layer's build has no tools: Lambda starts the extension without arguments.
#[cfg(not(feature = "cli"))]
fn dispatch(args: &[String]) -> ExitCode {
    if args.is_empty() {
        return extension();
    }
    eprintln!(
        "liftwatch: this is the Lambda extension alone (built without the `cli` feature); \
         the command-line tools are in a default build: cargo run -p liftwatch-extension -- --help"
    );
    ExitCode::from(2)
}

#[cfg(feature = "cli")]
#[allow(clippy::print_stdout, reason = "the subcommand's output")]
fn ratelimit_stats(args: &cli::ratelimit_stats::Args) -> ExitCode {
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(cli::ratelimit_stats::run(args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("liftwatch: {}", liftwatch::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "cli")]
#[allow(clippy::print_stdout, reason = "the subcommand's output")]
fn dashboard(args: &cli::dashboard::Args) -> ExitCode {
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(cli::dashboard::run(args)) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("liftwatch: {}", liftwatch::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The single-threaded async runtime both modes run on; `None` (said on stderr) when the
/// system refuses one.
fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|error| eprintln!("liftwatch: cannot start the async runtime: {error}"))
        .ok()
}

/// Runs as the Lambda extension until SHUTDOWN.
fn extension() -> ExitCode {
    let (config, warnings) = match Config::from_env() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("liftwatch: {error}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config.log_level);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    // Lambda requires the registered name to equal the executable's file name.
    let name = std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "liftwatch".to_owned());
    let sinks = sinks(&config);
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(lifecycle::run(config, &name, sinks)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, source = ?std::error::Error::source(&error), "liftwatch stopped");
            ExitCode::FAILURE
        }
    }
}

/// The sinks `LIFTWATCH_SINKS` asks for. The CloudWatch client is built at its first flush.
fn sinks(config: &Config) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if config.sinks.emf {
        match EmfEncoder::new(&config.namespace) {
            Ok(encoder) => sinks.push(Box::new(EmfSink::stdout(encoder))),
            Err(error) => tracing::error!(%error, "emf sink disabled"),
        }
    }
    if config.sinks.cloudwatch {
        let sink = CloudWatchSink::new(config.namespace.clone(), config.region.clone())
            .with_send_interval(config.cloudwatch_interval, liftwatch::random::fraction());
        sinks.push(Box::new(sink));
    }
    sinks
}

/// Logs go to stderr (stdout belongs to the EMF sink), quiet by default.
fn init_logging(level: &str) {
    let level = level.parse::<LevelFilter>().unwrap_or(LevelFilter::WARN);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .init();
}
