//! A function timeout, as Lambda handles one (the simulator enforces none): at the
//! deadline the runtime is stopped (SIGKILL), the extensions are sent the
//! `platform.runtimeDone` and `platform.report` of the invocation with status `timeout`
//! (through the telemetry relay, as the platform's own records), and the sandbox is marked
//! for a reset: its SHUTDOWN has reason `timeout`, and the next invocation needs a new
//! sandbox, whose init is a cold start. Lambda resets the execution environment the same
//! way after a timeout.

use chrono::{SecondsFormat, Utc};
use lambda_simulator::TelemetryEvent;
use nix::sys::signal::Signal;
use serde_json::json;
use tokio::time::Instant;

use crate::invoke::{FunctionError, InvokeOutcome, InvokeStatus};
use crate::sandbox::{Sandbox, lock};

/// Lambda's `errorType` of a timed-out invocation.
pub const TIMEOUT_ERROR_TYPE: &str = "Sandbox.Timedout";

impl Sandbox {
    /// Times out `request_id`, which started at `started`: see the module docs.
    pub(crate) async fn time_out(&self, request_id: String, started: Instant) -> InvokeOutcome {
        let timeout = self.config.invocation_timeout;
        lock(&self.function).signal_group(Signal::SIGKILL);
        // The extension's `/next` may be held for the runtime's answer, which never comes.
        self.proxy.release_polls();
        let duration_ms = timeout.as_secs_f64() * 1000.0;
        let memory_mb = self.config.memory_mb;
        let now = Utc::now();
        let time = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let runtime_done = json!({
            "requestId": request_id,
            "status": "timeout",
            "metrics": { "durationMs": duration_ms, "producedBytes": 0 },
        });
        let report = json!({
            "requestId": request_id,
            "status": "timeout",
            "errorType": TIMEOUT_ERROR_TYPE,
            "metrics": {
                "durationMs": duration_ms,
                "billedDurationMs": duration_ms.ceil(),
                "memorySizeMB": memory_mb,
                // The simulator's figure for every report.
                "maxMemoryUsedMB": memory_mb / 2,
            },
        });
        let records = [
            json!({ "time": time, "type": "platform.runtimeDone", "record": runtime_done }),
            json!({ "time": time, "type": "platform.report", "record": report }),
        ];
        lock(&self.injected).extend(
            records
                .iter()
                .filter_map(|r| serde_json::from_value::<TelemetryEvent>(r.clone()).ok()),
        );
        let statuses = self.relay.inject(&records).await;
        tracing::info!(
            request_id,
            ?statuses,
            "invocation timed out; the sandbox must be reset"
        );
        *lock(&self.timed_out) = Some(request_id.clone());
        InvokeOutcome {
            request_id,
            status: InvokeStatus::Timeout,
            response: None,
            error: Some(FunctionError {
                error_type: TIMEOUT_ERROR_TYPE.to_owned(),
                error_message: format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            }),
            response_time: timeout,
            wall_time: started.elapsed(),
            report: records[1]["record"].clone(),
        }
    }

    /// Whether an invocation timed out: the sandbox must be shut down and replaced.
    pub fn needs_reset(&self) -> bool {
        lock(&self.timed_out).is_some()
    }
}
