//! The sandbox's configuration: which binaries run, the function's identity, the extra
//! environment, freezing, telemetry refusal and the platform's time limits. Built with
//! `SandboxConfig::new(extension, function)` and the chained setters, then `start()`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::SandboxError;
use crate::sandbox::Sandbox;

/// Address the extension binds its Telemetry API listener to (`sandbox.localdomain` does
/// not resolve on developer machines).
pub const TELEMETRY_BIND_VAR: &str = "LIFTWATCH_TELEMETRY_BIND";
/// Host the extension puts in its subscription's destination URI.
pub const TELEMETRY_HOST_VAR: &str = "LIFTWATCH_TELEMETRY_HOST";
/// Port of the extension's Telemetry API listener.
pub const TELEMETRY_PORT_VAR: &str = "LIFTWATCH_TELEMETRY_PORT";
/// UDP port of the extension's local intake (read by the SDK in the function too).
pub const INTAKE_PORT_VAR: &str = "LIFTWATCH_PORT";
/// What the extension's resource sampler reads; the sandbox sets `local` (its own
/// processes and `TMPDIR`).
pub const RESOURCES_VAR: &str = "LIFTWATCH_RESOURCES";
/// The extension's flush strategy (`end`, `periodic:<secs>`, `adaptive`).
pub const FLUSH_VAR: &str = "LIFTWATCH_FLUSH";
/// Variables copied from our own environment into the children when set.
pub const PASSTHROUGH_VARS: [&str; 2] = ["RUST_LOG", "RUST_BACKTRACE"];

/// Lambda's whole SHUTDOWN phase when external extensions are present.
pub const LAMBDA_SHUTDOWN_DEADLINE: Duration = Duration::from_millis(2_000);
/// The part of it Lambda gives the runtime between SIGTERM and SIGKILL.
pub const LAMBDA_RUNTIME_STOP_GRACE: Duration = Duration::from_millis(300);
/// Lambda's limit on the Init phase.
pub const LAMBDA_INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to build a sandbox. Every setter consumes and returns the config.
///
/// ```no_run
/// # async fn example() -> Result<(), liftwatch_sandbox::SandboxError> {
/// use liftwatch_sandbox::SandboxConfig;
/// let sandbox = SandboxConfig::new("target/debug/liftwatch", "target/debug/hello-function")
///     .function_name("hello")
///     .memory_mb(256)
///     .env("LIFTWATCH_FLUSH", "end")
///     .start()
///     .await?;
/// # drop(sandbox); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub(crate) extension: PathBuf,
    pub(crate) function: PathBuf,
    pub(crate) function_name: String,
    pub(crate) memory_mb: u32,
    pub(crate) region: String,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) freeze: bool,
    pub(crate) refuse_telemetry_subscription: bool,
    pub(crate) verbose: bool,
    pub(crate) invocation_timeout: Duration,
    pub(crate) shutdown_deadline: Duration,
    pub(crate) runtime_stop_grace: Duration,
    pub(crate) init_timeout: Duration,
    pub(crate) snap_start: Option<Duration>,
    pub(crate) active_tracing: bool,
}

impl SandboxConfig {
    /// A config running `extension` (placed at `opt/extensions/<file name>`) beside
    /// `function` (placed at `var/task/bootstrap`), with Lambda's defaults: 128 MB,
    /// `us-east-1`, freezing on, 2,000 ms SHUTDOWN phase, 10 s init limit.
    pub fn new(extension: impl Into<PathBuf>, function: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            extension: extension.into(),
            function: function.into(),
            function_name: "liftwatch-sandbox-function".to_owned(),
            memory_mb: 128,
            region: "us-east-1".to_owned(),
            env: BTreeMap::new(),
            freeze: true,
            refuse_telemetry_subscription: false,
            verbose: false,
            invocation_timeout: Duration::from_secs(30),
            shutdown_deadline: LAMBDA_SHUTDOWN_DEADLINE,
            runtime_stop_grace: LAMBDA_RUNTIME_STOP_GRACE,
            init_timeout: LAMBDA_INIT_TIMEOUT,
            snap_start: None,
            active_tracing: true,
        }
    }

    /// `AWS_LAMBDA_FUNCTION_NAME` (also used in telemetry and the function ARN).
    #[must_use]
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` and `memorySizeMB` in `platform.report`.
    #[must_use]
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// `AWS_REGION` / `AWS_DEFAULT_REGION`.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Adds (or overrides) one environment variable of both children, as a function's
    /// configured environment does in Lambda. Applied last, so it wins over every default.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Adds several environment variables (see [`SandboxConfig::env`]).
    #[must_use]
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Freeze both children (SIGSTOP) between invocations, as Lambda does. On by default.
    #[must_use]
    pub fn freeze(mut self, on: bool) -> Self {
        self.freeze = on;
        self
    }

    /// Answer every Telemetry API subscription with 500.
    #[must_use]
    pub fn refuse_telemetry_subscription(mut self, on: bool) -> Self {
        self.refuse_telemetry_subscription = on;
        self
    }

    /// Echo the children's stderr (and the function's stdout) to our stderr.
    #[must_use]
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// The function timeout (default 30 s): the `deadlineMs` given to the runtime and
    /// extensions; an invocation still running then times out and resets the sandbox, as
    /// in Lambda (see [`Sandbox::invoke`](crate::Sandbox::invoke)).
    #[must_use]
    pub fn invocation_timeout(mut self, timeout: Duration) -> Self {
        self.invocation_timeout = timeout;
        self
    }

    /// The whole SHUTDOWN phase (default 2,000 ms): the extension is killed at its end.
    #[must_use]
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }

    /// How long the runtime has between SIGTERM and SIGKILL at shutdown (default 300 ms).
    #[must_use]
    pub fn runtime_stop_grace(mut self, grace: Duration) -> Self {
        self.runtime_stop_grace = grace;
        self
    }

    /// How long registration and init may take before `start` fails (default 10 s).
    #[must_use]
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// Runs the SnapStart lifecycle: both children get
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` and no `AWS_LAMBDA_LOG_GROUP_NAME` /
    /// `AWS_LAMBDA_LOG_STREAM_NAME` (unless set with [`SandboxConfig::env`]); after init both
    /// process groups are frozen for `pause` (standing for the snapshot), then thawed, and
    /// the extension's telemetry carries `platform.restoreStart`, `restoreRuntimeDone` and
    /// `restoreReport` instead of the init records, and the first `platform.report` carries
    /// `restoreDurationMs` and `billedRestoreDurationMs`. The processes are not
    /// checkpointed (see the README for what differs from Lambda).
    #[must_use]
    pub fn snap_start(mut self, pause: Duration) -> Self {
        self.snap_start = Some(pause);
        self
    }

    /// The function's tracing mode, which decides the `Sampled=` of every invocation's
    /// trace header (`Root=…;Parent=…;Sampled=…`): `true` (the default) for X-Ray active
    /// tracing, `Sampled=1`; `false` for pass-through, `Sampled=0`, as Lambda sends when
    /// no upstream service decided.
    #[must_use]
    pub fn active_tracing(mut self, on: bool) -> Self {
        self.active_tracing = on;
        self
    }

    /// Starts the sandbox: see [`Sandbox::start`].
    pub async fn start(self) -> Result<Sandbox, SandboxError> {
        Sandbox::start(self).await
    }
}
