//! A local AWS Lambda sandbox: runs an external extension and a function as child
//! processes exactly as Lambda does (extension from `opt/extensions/`, function as
//! `var/task/bootstrap`, Lambda's environment, Runtime/Extensions/Telemetry APIs, freezing
//! between invocations, a SHUTDOWN phase with a deadline and a kill), so tests can drive
//! the built `liftwatch` binary beside a built example function and read back both what
//! it published (EMF on stdout) and what the platform reported (captured telemetry).
//!
//! It is built on the `lambda-simulator` crate (0.2), with an intercepting proxy in front.
//!
//! ```no_run
//! # async fn example() -> Result<(), liftwatch_sandbox::SandboxError> {
//! use liftwatch_sandbox::SandboxConfig;
//! let mut sandbox = SandboxConfig::new("target/debug/liftwatch", "target/debug/hello-function")
//!     .env("LIFTWATCH_FLUSH", "end")
//!     .start()
//!     .await?;
//! let outcome = sandbox.invoke(serde_json::json!({"name": "world"})).await?;
//! assert!(outcome.is_success());
//! let shutdown = sandbox.shutdown().await?;
//! assert!(shutdown.extension.clean());
//! let published = sandbox.metric_summaries();
//! let reported = sandbox.platform_reports().await;
//! # let _ = (published, reported); Ok(()) }
//! ```
//!
//! # Where the sandbox differs from the simulator crate
//!
//! The simulator's gaps, and what this crate does about them (without patching it):
//!
//! 1. **Telemetry subscriptions always succeed.** Lambda answers 403 to a subscription
//!    made after init; the simulator accepts it, and a subscription cannot be made to
//!    fail. The [`proxy::InterceptingProxy`] in front of it answers 403
//!    (`Telemetry.SubscriptionNotAllowed`) once init is over (the runtime and every
//!    registered extension have called `/next`), and 500 to every subscription when
//!    [`SandboxConfig::refuse_telemetry_subscription`] is set.
//! 2. **`platform.report` is synthetic.** `maxMemoryUsedMB` is always half the memory
//!    size; the values are left alone, and tests compare the extension's output with the
//!    captured records ([`Sandbox::platform_reports`], [`Sandbox::runtime_done_records`],
//!    [`Sandbox::init_reports`]), not with reality. `initDurationMs` is absent: the
//!    relay's edit adds it to the first report of an on-demand sandbox.
//! 3. **SHUTDOWN kills nothing.** `graceful_shutdown` sends SHUTDOWN and waits for an
//!    acknowledgement. [`Sandbox::shutdown`] also SIGTERMs the runtime (SIGKILL after
//!    300 ms), waits for the extension to exit until the deadline (2,000 ms), SIGKILLs
//!    it if needed, and reports timings and exit statuses ([`ShutdownOutcome`]). The
//!    simulator flushes buffered telemetry first (retrying a dead subscriber for ~1 s); the
//!    kill deadline counts from delivery, as in Lambda.
//! 4. **Thawing a vanished process panics** inside `Simulator::enqueue`. `invoke` checks
//!    that both children run first and enqueues in a task, turning a panic into an error.
//! 5. **Freezing signals single pids** and `spawn_process` cannot capture output. The
//!    children are spawned here, each in its own process group, with piped output; the
//!    negated group id is registered for freezing, so the whole group is stopped, as
//!    Lambda freezes the whole sandbox.
//! 6. **JSON endpoints insist on `Content-Type: application/json`** (415 otherwise); the
//!    proxy passes register and subscribe bodies on with that header, as Lambda accepts them.
//! 7. **Small fidelity fixes:** the invoked function ARN and `AWS_LAMBDA_LOG_GROUP_NAME`
//!    use the configured function name (the simulator hard-codes `test-function`).
//! 8. **`platform.initStart` is never delivered** (the simulator emits it before anyone
//!    can subscribe). Platform telemetry reaches the extension through a
//!    [`relay::TelemetryRelay`] the proxy subscribes it to; the sandbox's edit
//!    ([`platform::PlatformEdit`]) puts its own `initStart` first, and with
//!    [`SandboxConfig::snap_start`] replaces the init records by the restore records.
//!
//! 9. **The trace header is `Root=` only.** `invoke` writes Lambda's
//!    `Root=…;Parent=…;Sampled=1|0` ([`SandboxConfig::active_tracing`]).
//! 10. **Resources are the host's.** The children get a `TMPDIR` of the sandbox's own and
//!     `LIFTWATCH_RESOURCES=local`.
//! 11. **Two readiness races** in the simulator stall an invocation for the function
//!     timeout before `platform.report`. The proxy holds an extension's `/next` until the
//!     runtime's answer to its INVOKE was accepted (`proxy/readiness.rs`: a poll counted
//!     for no invocation, about 2 in 1,000). The report task's wake-up is lost when the
//!     extension's `/next` is handled on another worker thread between its readiness check
//!     and its wait (about 1 in 10,000 on a loaded machine); the simulator runs on a
//!     single-threaded runtime of its own thread, where that cannot interleave
//!     (`simulator_thread.rs`).
//! 12. **No `function` log records.** Subscribers of them get the function's output lines
//!     merged into the relayed batches ([`platform::PlatformEdit::with_function_logs`]).
//!
//! 13. **Timeouts are not enforced.** `invoke` times an invocation out at the function
//!     timeout as Lambda does (`timeout.rs`): the runtime is killed, the extension gets the
//!     `timeout` records and, at [`Sandbox::shutdown`], a SHUTDOWN with reason `timeout`.
//!
//! Not worked around: `extension` log records are never delivered, and `platform.report`
//! waits at most the invocation timeout for extensions.

pub mod config;
pub mod emf;
pub mod error;
pub mod events;
pub mod fuzz_corpus;
pub mod inspect;
pub mod invoke;
pub mod moto;
pub mod output;
pub mod platform;
pub mod ports;
pub mod proxy;
pub mod recorder;
pub mod relay;
pub mod sandbox;
pub mod shutdown;
pub mod summary;
pub mod table;

mod child;
mod layout;
mod serve;
mod simulator_thread;
mod snapstart;
mod timeout;

pub use config::SandboxConfig;
pub use emf::{EmfMetric, EmfScan, MetricSummary};
pub use error::{Role, SandboxError};
pub use invoke::{FunctionError, InvokeOutcome, InvokeStatus};
pub use lambda_simulator::TelemetryEvent;
pub use layout::built_binary;
pub use output::{OutputCapture, Stream};
pub use platform::{InitializationType, RestoreTiming};
pub use proxy::{ProxyObservations, SubscriptionAttempt, SubscriptionVerdict};
pub use relay::{BatchTransform, RelayedBatch, TelemetryRelay};
pub use sandbox::{Sandbox, SandboxPorts};
pub use shutdown::{ProcessEnd, ShutdownOutcome};
pub use timeout::TIMEOUT_ERROR_TYPE;
