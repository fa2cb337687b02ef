//! What one run of the sandbox did, for people and for scripts: each invocation's response
//! as pretty JSON cut past [`RESPONSE_DISPLAY_LIMIT`] bytes, and [`RunSummary`], the
//! machine-readable record `liftwatch-sandbox --json` prints (invocations with their full
//! responses, the published metrics, the EMF output's size and the SHUTDOWN timings).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::emf::{self, MetricSummary};
use crate::invoke::{InvokeOutcome, InvokeStatus};
use crate::sandbox::Sandbox;
use crate::shutdown::{ProcessEnd, ShutdownOutcome};

/// How many bytes of a pretty-printed response the CLI shows before cutting it.
pub const RESPONSE_DISPLAY_LIMIT: usize = 4096;

/// `value` pretty-printed; past `limit` bytes, cut at a character boundary and ended with
/// a line saying how much was left out.
pub fn pretty_truncated(value: &Value, limit: usize) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    if pretty.len() <= limit {
        return pretty;
    }
    let mut cut = limit;
    while !pretty.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n… ({} more bytes of {}; --json has the whole response)",
        &pretty[..cut],
        pretty.len() - cut,
        pretty.len()
    )
}

/// `liftwatch-sandbox --json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The sandbox's version (the workspace's).
    pub version: &'static str,
    /// How many sandboxes ran: 1, plus one per reset after a timed-out invocation.
    pub sandboxes: usize,
    /// Every invocation, in order.
    pub invocations: Vec<InvocationSummary>,
    /// Every published metric series, aggregated over the run.
    pub metrics: Vec<MetricRow>,
    /// The extension's EMF output.
    pub emf: EmfOutput,
    /// The last sandbox's SHUTDOWN phase.
    pub shutdown: ShutdownSummary,
}

/// One invocation.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationSummary {
    /// The request id.
    pub request_id: String,
    /// `success`, `error` or `timeout`.
    pub status: &'static str,
    /// The response payload, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// The error the runtime posted, on error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSummary>,
    /// From the invocation's creation to the runtime's answer, in ms.
    pub response_ms: f64,
    /// From its creation to `platform.report` (runtime and extensions done), in ms.
    pub done_ms: f64,
}

/// The error object of a failed invocation.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    /// `errorType`.
    #[serde(rename = "errorType")]
    pub error_type: String,
    /// `errorMessage`.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

/// One metric series: the table's row.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    /// The series and its aggregates.
    #[serde(flatten)]
    pub summary: MetricSummary,
    /// The mean value.
    pub avg: f64,
}

/// The size of the extension's EMF output.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EmfOutput {
    /// EMF documents on the extension's stdout.
    pub documents: usize,
    /// Other stdout lines (not EMF).
    pub other_lines: usize,
    /// Bytes of stdout, newlines included.
    pub bytes: usize,
    /// Distinct flush timestamps.
    pub flushes: usize,
}

/// The SHUTDOWN phase.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ShutdownSummary {
    /// The phase's budget, in ms.
    pub deadline_ms: f64,
    /// Whether the extension received SHUTDOWN.
    pub delivered: bool,
    /// From the start of the phase to the delivery, in ms.
    pub delivered_after_ms: Option<f64>,
    /// From the delivery to the extension's exit, in ms.
    pub extension_exit_after_delivery_ms: Option<f64>,
    /// How the extension ended.
    pub extension: ProcessSummary,
    /// How the runtime ended.
    pub runtime: ProcessSummary,
}

/// How one process ended.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcessSummary {
    /// Its exit code, when it exited normally.
    pub exit_code: Option<i32>,
    /// Whether the sandbox had to SIGKILL it.
    pub killed: bool,
    /// From the start of SHUTDOWN to its exit, in ms.
    pub after_ms: f64,
}

impl RunSummary {
    /// The summary of a run whose invocations gave `outcomes`, read from its sandboxes
    /// (more than one when a timeout reset it) after their SHUTDOWN.
    pub fn new(outcomes: &[InvokeOutcome], runs: &[(Sandbox, ShutdownOutcome)]) -> Self {
        let metrics: Vec<_> = runs
            .iter()
            .flat_map(|(sandbox, _)| sandbox.emf().metrics)
            .collect();
        RunSummary {
            version: env!("CARGO_PKG_VERSION"),
            sandboxes: runs.len(),
            invocations: outcomes.iter().map(InvocationSummary::from).collect(),
            metrics: emf::summarize(&metrics)
                .into_iter()
                .map(|summary| MetricRow {
                    avg: summary.avg(),
                    summary,
                })
                .collect(),
            emf: EmfOutput::of(runs.iter().map(|(sandbox, _)| sandbox)),
            shutdown: runs
                .last()
                .map(|(_, shutdown)| ShutdownSummary::from(shutdown))
                .unwrap_or_default(),
        }
    }
}

impl EmfOutput {
    /// The extensions' stdout as captured so far, over `sandboxes`.
    pub fn of<'a>(sandboxes: impl IntoIterator<Item = &'a Sandbox>) -> Self {
        let mut output = EmfOutput::default();
        for sandbox in sandboxes {
            let scan = sandbox.emf();
            let flushes: BTreeSet<u64> =
                scan.metrics.iter().filter_map(|m| m.timestamp_ms).collect();
            output.documents += scan.documents;
            output.other_lines += scan.rejected.len();
            output.bytes += sandbox
                .extension_stdout()
                .iter()
                .map(|line| line.len() + 1)
                .sum::<usize>();
            output.flushes += flushes.len();
        }
        output
    }
}

impl From<&InvokeOutcome> for InvocationSummary {
    fn from(outcome: &InvokeOutcome) -> Self {
        InvocationSummary {
            request_id: outcome.request_id.clone(),
            status: match outcome.status {
                InvokeStatus::Success => "success",
                InvokeStatus::Error => "error",
                InvokeStatus::Timeout => "timeout",
            },
            response: outcome.response.clone(),
            error: outcome.error.as_ref().map(|e| ErrorSummary {
                error_type: e.error_type.clone(),
                error_message: e.error_message.clone(),
            }),
            response_ms: ms(outcome.response_time),
            done_ms: ms(outcome.wall_time),
        }
    }
}

impl From<&ShutdownOutcome> for ShutdownSummary {
    fn from(shutdown: &ShutdownOutcome) -> Self {
        ShutdownSummary {
            deadline_ms: ms(shutdown.deadline),
            delivered: shutdown.delivered,
            delivered_after_ms: shutdown.delivered_after.map(ms),
            extension_exit_after_delivery_ms: shutdown.extension_exit_after_delivery.map(ms),
            extension: ProcessSummary::from(&shutdown.extension),
            runtime: ProcessSummary::from(&shutdown.runtime),
        }
    }
}

impl From<&ProcessEnd> for ProcessSummary {
    fn from(end: &ProcessEnd) -> Self {
        ProcessSummary {
            exit_code: end.exit_code(),
            killed: end.killed,
            after_ms: ms(end.after_start),
        }
    }
}

/// Milliseconds with microsecond precision.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_short_response_is_shown_whole_and_pretty() {
        let shown = pretty_truncated(&json!({"statusCode": 200, "body": "hi"}), 4096);
        assert_eq!(shown, "{\n  \"body\": \"hi\",\n  \"statusCode\": 200\n}");
    }

    #[test]
    fn a_long_response_is_cut_at_a_character_boundary_and_says_so() {
        // 3-byte characters: a cut at byte 10 falls inside one.
        let value = json!("ééééééééééééééééééééééééé");
        let pretty = serde_json::to_string_pretty(&value).expect("serializes");
        let shown = pretty_truncated(&value, 10);
        let (head, tail) = shown.split_once('\n').expect("two lines");
        assert!(
            pretty.starts_with(head) && head.len() <= 10 && head.len() >= 8,
            "{head}"
        );
        assert_eq!(
            tail,
            format!(
                "… ({} more bytes of {}; --json has the whole response)",
                pretty.len() - head.len(),
                pretty.len()
            )
        );
    }
}
