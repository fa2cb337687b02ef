//! One invocation through the sandbox: thaw, hand the event to the runtime and INVOKE to
//! the extension, wait for the runtime's answer and then for the platform's
//! `platform.report` (emitted once every extension has called `/next` again), which is
//! when Lambda considers the invocation over and freezes the sandbox.

use std::time::Duration;

use lambda_simulator::{Invocation, InvocationStatus, Simulator, TelemetryEvent};
use serde_json::Value;
use tokio::time::Instant;

use crate::error::SandboxError;
use crate::platform::PlatformEdit;
use crate::sandbox::{Sandbox, lock};

/// How long past the function timeout `invoke` keeps waiting (debug builds are slow).
const MARGIN: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(5);
/// How long `invoke` waits for the freeze that follows `platform.report`.
const FREEZE_WAIT: Duration = Duration::from_millis(500);

/// How an invocation ended, as the runtime reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeStatus {
    /// The runtime posted a response.
    Success,
    /// The runtime posted an error.
    Error,
    /// The simulator marked it timed out.
    Timeout,
}

/// The error the runtime posted to `/invocation/{id}/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `errorType`.
    pub error_type: String,
    /// `errorMessage`.
    pub error_message: String,
}

/// What one invocation produced.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    /// The request id (the same in INVOKE, the runtime's headers and telemetry).
    pub request_id: String,
    /// How it ended.
    pub status: InvokeStatus,
    /// The response payload, on success.
    pub response: Option<Value>,
    /// The error, on error.
    pub error: Option<FunctionError>,
    /// From the invocation's creation to the runtime's response (the caller's latency).
    pub response_time: Duration,
    /// From creation to `platform.report`: runtime and extensions both done.
    pub wall_time: Duration,
    /// The `platform.report` record of this invocation.
    pub report: Value,
}

impl InvokeOutcome {
    /// True when the runtime posted a response.
    pub fn is_success(&self) -> bool {
        self.status == InvokeStatus::Success
    }
}

impl Sandbox {
    /// Invokes the function with `payload` and waits until the invocation is over
    /// (runtime answered and every extension called `/next`, i.e. `platform.report` was
    /// emitted) and, with freezing on, until the sandbox is frozen again.
    ///
    /// Fails if a child has exited, or if the sandbox was reset by a timeout. When the
    /// runtime does not answer within the function timeout, the invocation times out as in
    /// Lambda (see `timeout.rs`): the outcome's status is [`InvokeStatus::Timeout`], and
    /// the sandbox must then be shut down (reason `timeout`) and a new one started.
    pub async fn invoke(&self, payload: Value) -> Result<InvokeOutcome, SandboxError> {
        let sim = self.running_simulator()?;
        if let Some(request_id) = lock(&self.timed_out).clone() {
            return Err(SandboxError::Reset(request_id));
        }
        // The simulator panics when thawing a process that is gone; check first, and run
        // the enqueue in a task so a panic in the race window becomes an error.
        self.ensure_children_running()?;
        let timeout = self.config.invocation_timeout;
        let mut invocation = Invocation::new(payload, millis(timeout));
        invocation.invoked_function_arn = format!(
            "arn:aws:lambda:{}:123456789012:function:{}",
            self.config.region, self.config.function_name
        );
        // The simulator writes only `Root=`; Lambda adds the facade segment's id and the
        // sampling decision.
        invocation.trace_id = format!(
            "{};Parent={:016x};Sampled={}",
            invocation.trace_id,
            random_u64(),
            u8::from(self.config.active_tracing)
        );
        let created_at = invocation.created_at;
        let enqueue = {
            let sim = sim.clone();
            tokio::spawn(async move { sim.enqueue(invocation).await })
        };
        let request_id = enqueue.await.map_err(|_| {
            SandboxError::SimulatorPanicked("thawing the sandbox for an invocation".to_owned())
        })?;

        let started = Instant::now();
        let deadline = started + timeout;
        let state = loop {
            match sim
                .wait_for_invocation_complete(&request_id, POLL * 20)
                .await
            {
                Ok(state) => break state,
                Err(lambda_simulator::SimulatorError::Timeout(_)) => {}
                Err(e) => return Err(SandboxError::Simulator(e)),
            }
            self.ensure_children_running()?;
            if Instant::now() >= deadline {
                return Ok(self.time_out(request_id, started).await);
            }
        };
        // The report follows once the extensions are ready, or after the simulator's
        // extension-ready timeout (set to the invocation timeout).
        let report_deadline = Instant::now() + timeout + MARGIN;
        let report = self.await_report(&request_id, report_deadline).await?;
        if sim.freeze_mode() == lambda_simulator::FreezeMode::Process {
            self.await_frozen(&sim).await;
        }

        let answered_at = match (&state.response, &state.error) {
            (Some(r), _) => r.received_at,
            (None, Some(e)) => e.received_at,
            (None, None) => report.time,
        };
        let since_created = |t: i64| {
            Duration::from_micros(
                t.saturating_sub(created_at.timestamp_micros())
                    .max(0)
                    .cast_unsigned(),
            )
        };
        Ok(InvokeOutcome {
            request_id,
            status: match state.status {
                InvocationStatus::Success => InvokeStatus::Success,
                InvocationStatus::Timeout => InvokeStatus::Timeout,
                _ => InvokeStatus::Error,
            },
            response: state.response.map(|r| r.payload),
            error: state.error.map(|e| FunctionError {
                error_type: e.error_type,
                error_message: e.error_message,
            }),
            response_time: since_created(answered_at.timestamp_micros()),
            wall_time: since_created(report.time.timestamp_micros()),
            report: report.record,
        })
    }

    /// Waits (briefly) until the simulator has frozen the sandbox and the kernel has
    /// stopped both processes: SIGSTOP lands asynchronously.
    async fn await_frozen(&self, sim: &Simulator) {
        let frozen_by = Instant::now() + FREEZE_WAIT;
        while Instant::now() < frozen_by {
            let stopped = sim.is_frozen()
                && [&self.extension, &self.function]
                    .iter()
                    .all(|c| lock(c).is_stopped() != Some(false));
            if stopped {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits for the `platform.report` of `request_id`.
    async fn await_report(
        &self,
        request_id: &str,
        deadline: Instant,
    ) -> Result<TelemetryEvent, SandboxError> {
        let sim = self.running_simulator()?;
        let started = Instant::now();
        loop {
            let of_request = |e: &TelemetryEvent| {
                e.record.get("requestId").and_then(Value::as_str) == Some(request_id)
            };
            // The report follows readiness, so nothing is read before it; then only the
            // reports are cloned (all events, edited, per poll made long runs slow down).
            let ready = sim.are_extensions_ready(request_id).await;
            let mut reports = if ready {
                sim.get_telemetry_events_by_type("platform.report").await
            } else {
                Vec::new()
            };
            if let Some(index) = reports.iter().position(of_request) {
                if !PlatformEdit::edits_report(index) {
                    return Ok(reports.swap_remove(index));
                }
                // The first report as the extension is sent it (the edit adds the init
                // or restore durations to it).
                if let Some(report) = self
                    .edited(sim.get_telemetry_events().await)
                    .into_iter()
                    .filter(|e| e.event_type == "platform.report")
                    .find(of_request)
                {
                    return Ok(report);
                }
            }
            if Instant::now() >= deadline {
                return Err(SandboxError::Timeout {
                    what: format!("platform.report of {request_id}"),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// A random 64-bit id (the standard library's randomly keyed hasher; no new dependency for
/// a test tool's segment ids).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
