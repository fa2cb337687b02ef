//! Lambda's SHUTDOWN phase, which the simulator only half does (it sends SHUTDOWN and
//! waits for an acknowledgement, but kills nothing). Here: thaw, send SHUTDOWN with its
//! deadline (through the simulator), SIGTERM the runtime and SIGKILL it after its grace,
//! wait for the extension to exit until the deadline, SIGKILL it if it is still alive,
//! and report how long it took and how it ended.

use std::fmt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_simulator::{ShutdownReason, Simulator};
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::child::ChildProcess;
use crate::error::SandboxError;
use crate::proxy::InterceptingProxy;
use crate::sandbox::{Sandbox, lock};

/// How long to wait for the simulator's own shutdown and for the last output lines.
const SETTLE: Duration = Duration::from_secs(3);
const STEP: Duration = Duration::from_millis(5);

/// How one child ended during SHUTDOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessEnd {
    /// Its exit status (`None` only if it could not be reaped).
    pub status: Option<ExitStatus>,
    /// Whether the sandbox had to SIGKILL it.
    pub killed: bool,
    /// Whether it had exited before SHUTDOWN began.
    pub exited_before_shutdown: bool,
    /// From the start of SHUTDOWN to its exit.
    pub after_start: Duration,
}

impl ProcessEnd {
    /// The exit code, when it exited normally.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// True when it exited by itself with status 0.
    pub fn clean(&self) -> bool {
        !self.killed && self.exit_code() == Some(0)
    }
}

/// What the SHUTDOWN phase did.
#[derive(Debug, Clone)]
pub struct ShutdownOutcome {
    /// The phase's budget (Lambda: 2,000 ms with external extensions).
    pub deadline: Duration,
    /// Whether the extension received the SHUTDOWN event from `/next`.
    pub delivered: bool,
    /// From the start of SHUTDOWN to its delivery.
    pub delivered_after: Option<Duration>,
    /// The event's `deadlineMs` (milliseconds since the Unix epoch).
    pub deadline_ms: Option<i64>,
    /// From delivery to the extension's exit (or kill): the extension's shutdown time.
    pub extension_exit_after_delivery: Option<Duration>,
    /// How the extension ended.
    pub extension: ProcessEnd,
    /// How the runtime ended (SIGTERM, then SIGKILL after its grace).
    pub runtime: ProcessEnd,
}

impl fmt::Display for ShutdownOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms =
            |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()));
        let end = |p: &ProcessEnd| match (p.killed, p.status) {
            (true, _) => "killed (SIGKILL)".to_owned(),
            (false, Some(s)) => s.to_string(),
            (false, None) => "unknown".to_owned(),
        };
        writeln!(
            f,
            "shutdown deadline:          {} ms",
            self.deadline.as_millis()
        )?;
        writeln!(
            f,
            "SHUTDOWN delivered after:   {}",
            ms(self.delivered_after)
        )?;
        writeln!(
            f,
            "extension exit after event: {}",
            ms(self.extension_exit_after_delivery)
        )?;
        writeln!(
            f,
            "extension ended:            {} after {} ms",
            end(&self.extension),
            self.extension.after_start.as_millis()
        )?;
        write!(
            f,
            "runtime ended:              {} after {} ms",
            end(&self.runtime),
            self.runtime.after_start.as_millis()
        )
    }
}

impl Sandbox {
    /// Runs the SHUTDOWN phase (reason `spindown`, or `timeout` after an invocation timed
    /// out) and stops the sandbox. Afterwards `invoke` fails, telemetry accessors return
    /// the events captured before shutdown, and the captured output is complete.
    pub async fn shutdown(&mut self) -> Result<ShutdownOutcome, SandboxError> {
        let sim = self.simulator.take().ok_or(SandboxError::ShutDown)?;
        self.telemetry_snapshot = sim.get_telemetry_events().await;
        let simulator = sole_owner(sim).await?;
        let budget = self.config.shutdown_deadline;
        let grace = self.config.runtime_stop_grace;
        let extension = self
            .extension
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let function = self
            .function
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);

        let started = Instant::now();
        self.proxy.release_polls();
        extension.signal_group(Signal::SIGCONT);
        function.signal_group(Signal::SIGCONT);
        let reason = if lock(&self.timed_out).is_some() {
            ShutdownReason::Timeout
        } else {
            ShutdownReason::Spindown
        };
        let mut platform = tokio::spawn(simulator.graceful_shutdown(reason));
        let (runtime, (extension_end, exit_at)) = tokio::join!(
            stop_runtime(function, grace, started),
            await_extension(extension, &self.proxy, started, budget),
        );
        // Whatever the children started is part of the sandbox too.
        extension.signal_group(Signal::SIGKILL);
        function.signal_group(Signal::SIGKILL);
        if tokio::time::timeout(SETTLE, &mut platform).await.is_err() {
            platform.abort();
        }
        extension.drain_output(SETTLE).await;
        function.drain_output(SETTLE).await;
        self.proxy.stop();
        // The simulator's shutdown is over (or was cut off): end its thread's runtime.
        if let Some(thread) = self.simulator_thread.take() {
            drop(thread.stop());
        }

        let delivery = self
            .proxy
            .observations()
            .shutdown_deliveries
            .into_iter()
            .next();
        let started_std = started.into_std();
        Ok(ShutdownOutcome {
            deadline: budget,
            delivered: delivery.is_some(),
            delivered_after: delivery
                .as_ref()
                .map(|d| d.at.saturating_duration_since(started_std)),
            deadline_ms: delivery.as_ref().and_then(|d| d.deadline_ms),
            extension_exit_after_delivery: delivery
                .as_ref()
                .map(|d| exit_at.into_std().saturating_duration_since(d.at)),
            extension: extension_end,
            runtime,
        })
    }
}

/// The simulator's `graceful_shutdown` takes it by value; wait until no invocation task
/// holds a clone any more.
async fn sole_owner(mut sim: Arc<Simulator>) -> Result<Simulator, SandboxError> {
    let deadline = Instant::now() + SETTLE;
    loop {
        match Arc::try_unwrap(sim) {
            Ok(sim) => return Ok(sim),
            Err(shared) if Instant::now() < deadline => {
                sim = shared;
                tokio::time::sleep(STEP).await;
            }
            Err(_) => {
                return Err(SandboxError::Timeout {
                    what: "in-flight invocations to release the simulator".to_owned(),
                    waited: SETTLE,
                });
            }
        }
    }
}

/// SIGTERM, then SIGKILL once `grace` has passed.
async fn stop_runtime(
    function: &mut ChildProcess,
    grace: Duration,
    started: Instant,
) -> ProcessEnd {
    if let Some(status) = function.poll_exit() {
        return ProcessEnd {
            status: Some(status),
            killed: false,
            exited_before_shutdown: true,
            after_start: Duration::ZERO,
        };
    }
    function.signal(Signal::SIGTERM);
    let (status, killed) = match function.wait_until(started + grace).await {
        Some(status) => (Some(status), false),
        None => (function.kill().await, true),
    };
    ProcessEnd {
        status,
        killed,
        exited_before_shutdown: false,
        after_start: started.elapsed(),
    }
}

/// Waits for the extension to exit until the SHUTDOWN deadline (the event's `deadlineMs`
/// once delivered, `started + budget` before), then SIGKILLs it. Returns how it ended and
/// when.
async fn await_extension(
    extension: &mut ChildProcess,
    proxy: &InterceptingProxy,
    started: Instant,
    budget: Duration,
) -> (ProcessEnd, Instant) {
    if let Some(status) = extension.poll_exit() {
        let end = ProcessEnd {
            status: Some(status),
            killed: false,
            exited_before_shutdown: true,
            after_start: Duration::ZERO,
        };
        return (end, started);
    }
    let fallback = started + budget;
    loop {
        let deadline = proxy
            .observations()
            .shutdown_deliveries
            .first()
            .and_then(|d| d.deadline_ms)
            .map_or(fallback, epoch_ms_to_instant);
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if let Some(status) = extension.wait_until(deadline.min(now + STEP * 2)).await {
            let at = Instant::now();
            let end = ProcessEnd {
                status: Some(status),
                killed: false,
                exited_before_shutdown: false,
                after_start: at.saturating_duration_since(started),
            };
            return (end, at);
        }
    }
    let status = extension.kill().await;
    let at = Instant::now();
    let end = ProcessEnd {
        status,
        killed: true,
        exited_before_shutdown: false,
        after_start: at.saturating_duration_since(started),
    };
    (end, at)
}

/// The instant at which the wall clock reads `epoch_ms`.
fn epoch_ms_to_instant(epoch_ms: i64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let ahead = epoch_ms.saturating_sub(now_ms).max(0).cast_unsigned();
    Instant::now() + Duration::from_millis(ahead)
}
