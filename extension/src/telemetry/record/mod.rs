//! Telemetry API batch parsing: turns one POST body from the Lambda Telemetry API (schema
//! `2022-12-13`) into typed [`Record`]s, record by record, for the telemetry intake to feed
//! the aggregators.
//!
//! A batch is a JSON array of `{"time", "type", "record"}` events. Each element is parsed on
//! its own: an element that breaks the schema is counted in [`ParsedBatch::malformed`], an
//! element whose `type` this module does not know is counted in [`ParsedBatch::unknown`], and
//! neither stops the rest of the batch. Only a body that is not a JSON array at all fails, with
//! a [`BatchError`].
//!
//! Rules, from AWS's schema reference (`telemetry-schema-reference`):
//! - A field the schema marks required and that we read, missing or of the wrong type, makes
//!   the record malformed. Fields we do not read (`time`, `version`, `runtimeVersion`, ...) are
//!   not checked, and unknown extra fields are ignored.
//! - Durations and memory sizes accept JSON integers and floats; negative values make the
//!   record malformed. Byte and record counts accept integers, or floats with no fraction.
//! - `null` counts as absent for optional fields.
//! - Enum strings Lambda may extend (status, initialization type, phase) never make a record
//!   malformed: unlisted values are kept in an `Other(String)` variant.
//!
//! The body is streamed element by element: only one element's `serde_json::Value` exists at a
//! time, and it is moved (not cloned) into the typed record.

use std::fmt;

use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// What one Telemetry API POST body held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedBatch {
    /// The records that parsed, in the order they were sent.
    pub records: Vec<Record>,
    /// Elements skipped because they broke the schema (not an object, no string `type`, a
    /// required field missing or of the wrong type, a negative duration, ...).
    pub malformed: u64,
    /// Well-formed elements skipped because their `type` is not one this module knows.
    pub unknown: u64,
}

/// One Telemetry API record, reduced to the fields liftwatch uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// `platform.initStart`: the init phase began (at the event's `time`, when it reads).
    InitStart {
        initialization_type: InitType,
        phase: Phase,
        time_unix_nanos: Option<u64>,
    },
    /// `platform.initRuntimeDone`: the runtime finished init. `phase` is optional here
    /// because AWS's own documented example of this record leaves it out.
    InitRuntimeDone {
        initialization_type: InitType,
        phase: Option<Phase>,
        status: Status,
    },
    /// `platform.initReport`: the init phase's report.
    InitReport {
        initialization_type: InitType,
        phase: Phase,
        status: Status,
        duration_ms: f64,
    },
    /// `platform.start`: an invocation began (at the event's `time`, when it reads).
    Start {
        request_id: String,
        tracing: Option<TraceContext>,
        time_unix_nanos: Option<u64>,
    },
    /// `platform.runtimeDone`: the runtime returned a response or an error. `duration_ms` and
    /// `produced_bytes` come from the optional `metrics` object.
    RuntimeDone {
        request_id: String,
        status: Status,
        error_type: Option<String>,
        duration_ms: Option<f64>,
        produced_bytes: Option<u64>,
        spans: Vec<Span>,
        tracing: Option<TraceContext>,
    },
    /// `platform.report`: the invocation's report. Integer metrics (`billedDurationMs`,
    /// `memorySizeMB`, `maxMemoryUsedMB`) are widened to `f64`.
    Report {
        request_id: String,
        status: Status,
        error_type: Option<String>,
        duration_ms: f64,
        billed_duration_ms: f64,
        memory_size_mb: f64,
        max_memory_used_mb: f64,
        init_duration_ms: Option<f64>,
        /// A SnapStart sandbox's first report: how long the restore took.
        restore_duration_ms: Option<f64>,
        /// The restore's billed duration, when the report carries it.
        billed_restore_duration_ms: Option<f64>,
        tracing: Option<TraceContext>,
    },
    /// `platform.restoreStart`: a `SnapStart` restore began (at the event's `time`).
    RestoreStart { time_unix_nanos: Option<u64> },
    /// `platform.restoreRuntimeDone`: the runtime finished restoring.
    RestoreRuntimeDone { status: Status },
    /// `platform.restoreReport`: the restore's report; `metrics` is optional in the schema.
    RestoreReport {
        duration_ms: Option<f64>,
        status: Status,
    },
    /// `platform.extension`: an extension registered.
    Extension { name: String, state: String },
    /// `platform.telemetrySubscription`: an extension subscribed to the Telemetry API.
    TelemetrySubscription {
        name: String,
        state: String,
        types: Vec<String>,
    },
    /// `platform.logsDropped`: Lambda dropped records it could not deliver.
    LogsDropped {
        reason: String,
        dropped_records: u64,
        dropped_bytes: u64,
    },
    /// `function`: a log line from the function (plain text or a JSON-format object).
    FunctionLog,
    /// `extension`: a log line from an extension (plain text or a JSON-format object).
    ExtensionLog,
}

impl Record {
    /// The invocation the record is about (`platform.start`, `runtimeDone`, `report`).
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Start { request_id, .. }
            | Self::RuntimeDone { request_id, .. }
            | Self::Report { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    /// The Telemetry API `type` this record came from, e.g. `"platform.report"`.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::InitStart { .. } => "platform.initStart",
            Self::InitRuntimeDone { .. } => "platform.initRuntimeDone",
            Self::InitReport { .. } => "platform.initReport",
            Self::Start { .. } => "platform.start",
            Self::RuntimeDone { .. } => "platform.runtimeDone",
            Self::Report { .. } => "platform.report",
            Self::RestoreStart { .. } => "platform.restoreStart",
            Self::RestoreRuntimeDone { .. } => "platform.restoreRuntimeDone",
            Self::RestoreReport { .. } => "platform.restoreReport",
            Self::Extension { .. } => "platform.extension",
            Self::TelemetrySubscription { .. } => "platform.telemetrySubscription",
            Self::LogsDropped { .. } => "platform.logsDropped",
            Self::FunctionLog => "function",
            Self::ExtensionLog => "extension",
        }
    }
}

/// Outcome of a phase (`success | failure | error | timeout` in the schema).
///
/// A status string AWS has not documented is kept as [`Status::Other`] rather than making the
/// record malformed, so the invocation is still counted; it is not a success, and callers
/// should treat it like any other non-success (AWS/Lambda's `Errors` counts every status that
/// is not `success`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum Status {
    Success,
    Failure,
    Error,
    Timeout,
    /// A value not in the schema, as sent.
    Other(String),
}

impl Status {
    /// Whether this is `success`.
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// The wire string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for Status {
    fn from(wire: String) -> Self {
        match wire.as_str() {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "error" => Self::Error,
            "timeout" => Self::Timeout,
            _ => Self::Other(wire),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Lambda initialised the environment (`initializationType`; the same strings as
/// `AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum InitType {
    OnDemand,
    ProvisionedConcurrency,
    SnapStart,
    LambdaManagedInstances,
    /// A value not listed above, as sent.
    Other(String),
}

impl InitType {
    /// The wire string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::OnDemand => "on-demand",
            Self::ProvisionedConcurrency => "provisioned-concurrency",
            Self::SnapStart => "snap-start",
            Self::LambdaManagedInstances => "lambda-managed-instances",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for InitType {
    fn from(wire: String) -> Self {
        match wire.as_str() {
            "on-demand" => Self::OnDemand,
            "provisioned-concurrency" => Self::ProvisionedConcurrency,
            "snap-start" => Self::SnapStart,
            "lambda-managed-instances" => Self::LambdaManagedInstances,
            _ => Self::Other(wire),
        }
    }
}

impl fmt::Display for InitType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When init code ran (`InitPhase`: `init | invoke | snap-start`). `invoke` means a
/// suppressed init re-run during the first invocation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum Phase {
    Init,
    Invoke,
    SnapStart,
    /// A value not listed above, as sent.
    Other(String),
}

impl Phase {
    /// The wire string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Init => "init",
            Self::Invoke => "invoke",
            Self::SnapStart => "snap-start",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for Phase {
    fn from(wire: String) -> Self {
        match wire.as_str() {
            "init" => Self::Init,
            "invoke" => Self::Invoke,
            "snap-start" => Self::SnapStart,
            _ => Self::Other(wire),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The platform's trace context (`TraceContext`): `type` and `value` are required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TraceContext {
    /// `type`: `X-Amzn-Trace-Id` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The header value, e.g. `Root=1-...;Parent=...;Sampled=1`.
    pub value: String,
    #[serde(rename = "spanId", default)]
    pub span_id: Option<String>,
}

/// A span measured by the platform (`responseLatency`, `responseDuration`, ...).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Span {
    pub name: String,
    /// RFC 3339 timestamp exactly as sent; not validated.
    pub start: String,
    #[serde(rename = "durationMs", deserialize_with = "duration")]
    pub duration_ms: f64,
}

/// A body that is not a JSON array of records. Per-record problems are never an error: they
/// are counted in [`ParsedBatch`].
#[derive(Debug)]
pub enum BatchError {
    /// Not JSON: empty, truncated, a syntax error, bytes that are not UTF-8, or data after
    /// the array. Also JSON that `serde_json` cannot hold, which fails the whole body even
    /// inside one record: a number beyond `f64` range (`1e400`) or nesting deeper than 128.
    InvalidJson(serde_json::Error),
    /// Valid JSON whose top level is not an array.
    NotAnArray(serde_json::Error),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidJson(_) => "telemetry batch is not valid json",
            Self::NotAnArray(_) => "telemetry batch is not a json array",
        })
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidJson(source) | Self::NotAnArray(source) => Some(source),
        }
    }
}

/// Parses one Telemetry API POST body.
///
/// # Errors
///
/// [`BatchError`] only when the body as a whole is not a JSON array; see the module docs for
/// what happens to bad records inside one.
pub fn parse_batch(body: &[u8]) -> Result<ParsedBatch, BatchError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let batch = (&mut deserializer)
        .deserialize_seq(BatchVisitor)
        .map_err(|error| match error.classify() {
            // Only our visitor raises data errors: every element is read as a `Value`,
            // which accepts any JSON.
            serde_json::error::Category::Data => BatchError::NotAnArray(error),
            _ => BatchError::InvalidJson(error),
        })?;
    deserializer.end().map_err(BatchError::InvalidJson)?;
    Ok(batch)
}

/// Walks the top-level array, one element at a time.
struct BatchVisitor;

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = ParsedBatch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json array of telemetry records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedBatch, A::Error> {
        let mut batch = ParsedBatch::default();
        while let Some(element) = seq.next_element::<Value>()? {
            match parse_element(element) {
                Ok(record) => batch.records.push(record),
                Err(Skip::Malformed) => batch.malformed += 1,
                Err(Skip::Unknown) => batch.unknown += 1,
            }
        }
        Ok(batch)
    }
}

/// Why an element yielded no record.
enum Skip {
    Malformed,
    Unknown,
}

fn parse_element(element: Value) -> Result<Record, Skip> {
    let Value::Object(mut event) = element else {
        return Err(Skip::Malformed);
    };
    let Some(Value::String(kind)) = event.remove("type") else {
        return Err(Skip::Malformed);
    };
    let record = event.remove("record").unwrap_or(Value::Null);
    let time_unix_nanos = match event.get("time") {
        Some(Value::String(time)) => time::parse_rfc3339_nanos(time),
        _ => None,
    };
    let parsed = match kind.as_str() {
        "platform.initStart" => decode(record).map(|r: InitStartWire| Record::InitStart {
            initialization_type: r.initialization_type,
            phase: r.phase,
            time_unix_nanos,
        }),
        "platform.initRuntimeDone" => {
            decode(record).map(|r: InitRuntimeDoneWire| Record::InitRuntimeDone {
                initialization_type: r.initialization_type,
                phase: r.phase,
                status: r.status,
            })
        }
        "platform.initReport" => decode(record).map(|r: InitReportWire| Record::InitReport {
            initialization_type: r.initialization_type,
            phase: r.phase,
            status: r.status,
            duration_ms: r.metrics.duration_ms,
        }),
        "platform.start" => decode(record).map(|r: StartWire| Record::Start {
            request_id: r.request_id,
            tracing: r.tracing,
            time_unix_nanos,
        }),
        "platform.runtimeDone" => decode(record).map(|r: RuntimeDoneWire| Record::RuntimeDone {
            request_id: r.request_id,
            status: r.status,
            error_type: r.error_type,
            duration_ms: r.metrics.as_ref().map(|m| m.duration_ms),
            produced_bytes: r.metrics.and_then(|m| m.produced_bytes),
            spans: r.spans.unwrap_or_default(),
            tracing: r.tracing,
        }),
        "platform.report" => decode(record).map(|r: ReportWire| Record::Report {
            request_id: r.request_id,
            status: r.status,
            error_type: r.error_type,
            duration_ms: r.metrics.duration_ms,
            billed_duration_ms: r.metrics.billed_duration_ms,
            memory_size_mb: r.metrics.memory_size_mb,
            max_memory_used_mb: r.metrics.max_memory_used_mb,
            init_duration_ms: r.metrics.init_duration_ms,
            restore_duration_ms: r.metrics.restore_duration_ms,
            billed_restore_duration_ms: r.metrics.billed_restore_duration_ms,
            tracing: r.tracing,
        }),
        "platform.restoreStart" => record
            .is_object()
            .then_some(Record::RestoreStart { time_unix_nanos }),
        "platform.restoreRuntimeDone" => {
            decode(record).map(|r: StatusWire| Record::RestoreRuntimeDone { status: r.status })
        }
        "platform.restoreReport" => {
            decode(record).map(|r: RestoreReportWire| Record::RestoreReport {
                duration_ms: r.metrics.map(|m| m.duration_ms),
                status: r.status,
            })
        }
        "platform.extension" => decode(record).map(|r: NameStateWire| Record::Extension {
            name: r.name,
            state: r.state,
        }),
        "platform.telemetrySubscription" => {
            decode(record).map(|r: SubscriptionWire| Record::TelemetrySubscription {
                name: r.name,
                state: r.state,
                types: r.types,
            })
        }
        "platform.logsDropped" => decode(record).map(|r: LogsDroppedWire| Record::LogsDropped {
            reason: r.reason,
            dropped_records: r.dropped_records,
            dropped_bytes: r.dropped_bytes,
        }),
        "function" => is_log_line(&record).then_some(Record::FunctionLog),
        "extension" => is_log_line(&record).then_some(Record::ExtensionLog),
        _ => return Err(Skip::Unknown),
    };
    parsed.ok_or(Skip::Malformed)
}

/// A platform record must be a JSON object; serde would otherwise also accept an array
/// holding the fields in declaration order.
fn decode<T: DeserializeOwned>(record: Value) -> Option<T> {
    if !record.is_object() {
        return None;
    }
    serde_json::from_value(record).ok()
}

/// A log line is a string (text format) or an object (JSON format, schema 2022-12-13).
fn is_log_line(record: &Value) -> bool {
    matches!(record, Value::String(_) | Value::Object(_))
}

// Wire shapes: only the fields we read. `Option` fields without `deserialize_with` are
// `None` when absent or `null`.

pub mod time;
mod wire;
use wire::*;

#[cfg(test)]
mod tests;
