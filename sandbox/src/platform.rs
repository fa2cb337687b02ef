//! The platform telemetry as the sandbox tells it, on top of what the simulator emits:
//! the sandbox's [`BatchTransform`] for the telemetry relay ([`PlatformEdit`]) and the
//! records it adds.
//!
//! - `platform.initStart`, which the simulator never delivers, goes first in the first
//!   batch of each destination, timed when the sandbox began its Init phase. (The
//!   simulator emits its own, without runtime version, before anyone can subscribe; it
//!   shows in its captured events only, and the edit drops it.)
//! - With SnapStart, the init records (`initStart`, `initRuntimeDone`, `initReport`) are
//!   dropped; `restoreStart`, `restoreRuntimeDone` and `restoreReport` go in once the
//!   restore is done, before the first record that is later than the restore (so before
//!   the first invocation's `platform.start`), or at the end of the first batch after it;
//!   the first `platform.report` gets `restoreDurationMs` and `billedRestoreDurationMs`,
//!   and no report carries `initDurationMs`.
//!
//! The same edit, run over the simulator's captured events as one batch, gives the
//! sandbox's view of what the extension was sent (`Sandbox::telemetry_events`).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::output::OutputCapture;
use crate::relay::BatchTransform;

/// The `runtimeVersion` of the sandbox's records (a custom runtime on Amazon Linux 2023).
pub const RUNTIME_VERSION: &str = "provided:al2023.v100";
/// The `functionVersion` of the sandbox's records (the simulator's).
pub const FUNCTION_VERSION: &str = "$LATEST";

/// `initializationType` of the Init phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitializationType {
    /// A plain cold start.
    OnDemand,
    /// Init ran before a snapshot; the sandbox was then restored from it.
    SnapStart,
}

impl InitializationType {
    /// The Telemetry API's spelling (`on-demand`, `snap-start`), also the value of
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            InitializationType::OnDemand => "on-demand",
            InitializationType::SnapStart => "snap-start",
        }
    }
}

/// When the sandbox restored from its "snapshot" (see `snapstart.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestoreTiming {
    /// When both process groups were frozen after init (the snapshot).
    pub frozen_at: DateTime<Utc>,
    /// When the thaw began: `platform.restoreStart`.
    pub started_at: DateTime<Utc>,
    /// When both processes ran again: `platform.restoreRuntimeDone`, `restoreReport`.
    pub done_at: DateTime<Utc>,
    /// From the thaw to both processes running, as measured by the sandbox.
    pub duration_ms: f64,
}

/// What the edit needs to know about the sandbox; shared by every [`PlatformEdit`].
#[derive(Debug)]
pub struct PlatformModel {
    initialization_type: InitializationType,
    init_started_at: DateTime<Utc>,
    function_name: String,
    memory_mb: u32,
    runtime_version_arn: String,
    instance_id: String,
    restore: Mutex<Option<RestoreTiming>>,
}

impl PlatformModel {
    /// A model for a sandbox whose Init phase began at `init_started_at`.
    pub fn new(
        initialization_type: InitializationType,
        init_started_at: DateTime<Utc>,
        function_name: &str,
        memory_mb: u32,
        region: &str,
    ) -> Self {
        PlatformModel {
            initialization_type,
            init_started_at,
            function_name: function_name.to_owned(),
            memory_mb,
            runtime_version_arn: format!(
                "arn:aws:lambda:{region}::runtime:0000000000000000000000000000000000000000000000000000000000000000"
            ),
            instance_id: format!("liftwatch-sandbox-{}", std::process::id()),
            restore: Mutex::new(None),
        }
    }

    /// The initialization type.
    pub fn initialization_type(&self) -> InitializationType {
        self.initialization_type
    }

    /// Records the restore; from now on the edits add the restore records.
    pub fn set_restore(&self, timing: RestoreTiming) {
        *self.restore.lock().unwrap_or_else(PoisonError::into_inner) = Some(timing);
    }

    /// The restore, once done.
    pub fn restore(&self) -> Option<RestoreTiming> {
        *self.restore.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `record` with the fields naming the runtime and the sandbox that `initStart` and
    /// `restoreStart` share.
    fn with_runtime(&self, mut record: Value) -> Value {
        if let Value::Object(fields) = &mut record {
            fields.insert("runtimeVersion".into(), json!(RUNTIME_VERSION));
            fields.insert("runtimeVersionArn".into(), json!(self.runtime_version_arn));
            fields.insert("functionName".into(), json!(self.function_name));
            fields.insert("functionVersion".into(), json!(FUNCTION_VERSION));
            fields.insert("instanceId".into(), json!(self.instance_id));
            fields.insert("instanceMaxMemory".into(), json!(self.memory_mb));
        }
        record
    }

    /// The `platform.initStart` event.
    pub fn init_start(&self) -> Value {
        event(
            self.init_started_at,
            "platform.initStart",
            self.with_runtime(json!({
                "initializationType": self.initialization_type.as_str(),
                "phase": "init",
            })),
        )
    }

    /// `platform.restoreStart`, `restoreRuntimeDone` and `restoreReport` of `timing`.
    pub fn restore_events(&self, timing: &RestoreTiming) -> Vec<Value> {
        vec![
            event(
                timing.started_at,
                "platform.restoreStart",
                self.with_runtime(json!({})),
            ),
            event(
                timing.done_at,
                "platform.restoreRuntimeDone",
                json!({ "status": "success" }),
            ),
            event(
                timing.done_at,
                "platform.restoreReport",
                json!({
                    "status": "success",
                    "metrics": { "durationMs": round3(timing.duration_ms) },
                }),
            ),
        ]
    }
}

fn event(time: DateTime<Utc>, event_type: &str, record: Value) -> Value {
    json!({
        "time": time.to_rfc3339_opts(SecondsFormat::Micros, true),
        "type": event_type,
        "record": record,
    })
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

const INIT_RECORDS: [&str; 3] = [
    "platform.initStart",
    "platform.initRuntimeDone",
    "platform.initReport",
];

/// The sandbox's edit of one destination's telemetry stream (see the module docs).
#[derive(Debug)]
pub struct PlatformEdit {
    model: Arc<PlatformModel>,
    init_start_sent: bool,
    restore_sent: bool,
    reports: usize,
    /// The `durationMs` of the `platform.initReport` passed on, for the first report.
    init_duration_ms: Option<Value>,
    /// The function's output and how many of its lines were delivered, when the
    /// destination subscribed to `function` records.
    function_logs: Option<(OutputCapture, usize)>,
}

impl PlatformEdit {
    /// A fresh stream: nothing injected yet.
    pub fn new(model: Arc<PlatformModel>) -> Self {
        PlatformEdit {
            model,
            init_start_sent: false,
            restore_sent: false,
            reports: 0,
            init_duration_ms: None,
            function_logs: None,
        }
    }

    /// Also delivers each line `output` captured as a `function` record (Lambda's text log
    /// format: the line as the record, the time it was read), in time order among the
    /// records of the next batch sent to this destination.
    #[must_use]
    pub fn with_function_logs(mut self, output: OutputCapture) -> Self {
        self.function_logs = Some((output, 0));
        self
    }

    /// The lines captured since the last batch, as `function` records.
    fn new_function_records(&mut self) -> Vec<Value> {
        let Some((output, delivered)) = self.function_logs.as_mut() else {
            return Vec::new();
        };
        let lines = output.timeline_from(*delivered);
        *delivered += lines.len();
        lines
            .into_iter()
            .map(|(time, line)| event(time, "function", Value::String(line)))
            .collect()
    }

    /// Whether the edit changes the report at `index` among all reports (0 for the
    /// first): only the first one gets the init or restore durations.
    pub fn edits_report(index: usize) -> bool {
        index == 0
    }

    fn snap_start(&self) -> bool {
        self.model.initialization_type == InitializationType::SnapStart
    }
}

impl BatchTransform for PlatformEdit {
    fn transform(&mut self, batch: Vec<Value>) -> Vec<Value> {
        let mut out = Vec::with_capacity(batch.len() + 4);
        if !self.init_start_sent {
            self.init_start_sent = true;
            if !self.snap_start() {
                out.push(self.model.init_start());
            }
        }
        let restore = self.model.restore().filter(|_| self.snap_start());
        for mut record in batch {
            let kind = record.get("type").and_then(Value::as_str).unwrap_or("");
            let dropped = if self.snap_start() {
                INIT_RECORDS.contains(&kind)
            } else {
                kind == "platform.initStart"
            };
            if dropped {
                continue;
            }
            if let Some(timing) = &restore
                && !self.restore_sent
                && time_of(&record).is_some_and(|t| t > timing.started_at)
            {
                self.restore_sent = true;
                out.extend(self.model.restore_events(timing));
            }
            if kind == "platform.initReport" {
                self.init_duration_ms = record.pointer("/record/metrics/durationMs").cloned();
            }
            if kind == "platform.report" {
                let first = Self::edits_report(self.reports);
                self.reports += 1;
                if self.snap_start() {
                    edit_report(&mut record, restore.as_ref().filter(|_| first));
                } else if first && let Some(duration) = &self.init_duration_ms {
                    add_init_duration(&mut record, duration.clone());
                }
            }
            out.push(record);
        }
        if let Some(timing) = &restore
            && !self.restore_sent
        {
            self.restore_sent = true;
            out.extend(self.model.restore_events(timing));
        }
        for record in self.new_function_records() {
            merge_by_time(&mut out, record);
        }
        out
    }
}

/// A restored sandbox's report: never `initDurationMs`; the restore durations on the
/// first one.
fn edit_report(event: &mut Value, restore: Option<&RestoreTiming>) {
    let Some(metrics) = event
        .get_mut("record")
        .and_then(|r| r.get_mut("metrics"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    metrics.remove("initDurationMs");
    if let Some(timing) = restore {
        metrics.insert(
            "restoreDurationMs".to_owned(),
            json!(round3(timing.duration_ms)),
        );
        metrics.insert(
            "billedRestoreDurationMs".to_owned(),
            json!(billed_ms(timing.duration_ms)),
        );
    }
}

/// An on-demand sandbox's first report: `initDurationMs`, as Lambda reports the Init
/// phase's duration with the first invocation after it (the simulator leaves it out).
fn add_init_duration(event: &mut Value, duration_ms: Value) {
    if let Some(metrics) = event
        .get_mut("record")
        .and_then(|r| r.get_mut("metrics"))
        .and_then(Value::as_object_mut)
    {
        metrics.entry("initDurationMs").or_insert(duration_ms);
    }
}

/// The billed restore duration: the duration rounded up to the next millisecond.
pub fn billed_ms(duration_ms: f64) -> u64 {
    let ceiling = duration_ms.max(0.0).ceil();
    // Saturating float-to-int cast: a restore longer than u64::MAX ms is not a concern.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "non-negative and far below u64::MAX"
    )]
    let ms = ceiling as u64;
    ms
}

/// Inserts `record` before the first record of `batch` that is later than it (at the end
/// when none is, or when its time cannot be read).
fn merge_by_time(batch: &mut Vec<Value>, record: Value) {
    let at = time_of(&record).and_then(|time| {
        batch
            .iter()
            .position(|other| time_of(other).is_some_and(|t| t > time))
    });
    batch.insert(at.unwrap_or(batch.len()), record);
}

fn time_of(event: &Value) -> Option<DateTime<Utc>> {
    let time = event.get("time")?.as_str()?;
    DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap_or_default()
    }

    fn record(ms: i64, kind: &str, record: Value) -> Value {
        event(at(ms), kind, record)
    }

    fn model(kind: InitializationType) -> Arc<PlatformModel> {
        Arc::new(PlatformModel::new(kind, at(0), "fn", 256, "eu-west-1"))
    }

    fn types(batch: &[Value]) -> Vec<&str> {
        batch.iter().filter_map(|e| e["type"].as_str()).collect()
    }

    fn report(ms: i64, id: &str) -> Value {
        record(
            ms,
            "platform.report",
            json!({"requestId": id, "metrics": {"durationMs": 1.0, "initDurationMs": 5.0}}),
        )
    }

    /// What the simulator sends during init: its own initStart (never delivered as is),
    /// the subscription, the runtime's end of init.
    fn init_batch() -> Vec<Value> {
        vec![
            record(
                0,
                "platform.initStart",
                json!({"initializationType": "on-demand"}),
            ),
            record(5, "platform.telemetrySubscription", json!({})),
            record(9, "platform.initRuntimeDone", json!({"status": "success"})),
        ]
    }

    #[test]
    fn on_demand_injects_init_start_first_once_and_leaves_the_rest() {
        let mut edit = PlatformEdit::new(model(InitializationType::OnDemand));
        let first = edit.transform(init_batch());
        assert_eq!(
            types(&first),
            [
                "platform.initStart",
                "platform.telemetrySubscription",
                "platform.initRuntimeDone"
            ]
        );
        assert_eq!(first[0]["time"], "2027-01-15T08:00:00.000000Z");
        assert_eq!(
            first[0]["record"],
            json!({
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": RUNTIME_VERSION,
                "runtimeVersionArn": "arn:aws:lambda:eu-west-1::runtime:0000000000000000000000000000000000000000000000000000000000000000",
                "functionName": "fn",
                "functionVersion": "$LATEST",
                "instanceId": format!("liftwatch-sandbox-{}", std::process::id()),
                "instanceMaxMemory": 256,
            })
        );
        let second = edit.transform(vec![report(20, "a")]);
        assert_eq!(second, vec![report(20, "a")], "reports are not edited");
    }

    #[test]
    fn function_lines_are_merged_by_time_once_each() {
        let output = OutputCapture::new("function");
        let mut edit = PlatformEdit::new(model(InitializationType::OnDemand))
            .with_function_logs(output.clone());
        edit.transform(init_batch());
        output.push(crate::output::Stream::Stderr, "handling a".to_owned());
        let line_time = output.timeline_from(0)[0].0;
        let before = event(
            line_time - chrono::Duration::milliseconds(1),
            "platform.start",
            json!({}),
        );
        let after = event(
            line_time + chrono::Duration::milliseconds(1),
            "platform.runtimeDone",
            json!({}),
        );
        let batch = edit.transform(vec![before, after]);
        assert_eq!(
            types(&batch),
            ["platform.start", "function", "platform.runtimeDone"]
        );
        assert_eq!(batch[1]["record"], "handling a");
        let next = edit.transform(vec![report(10_000_000, "a")]);
        assert_eq!(types(&next), ["platform.report"], "a line goes once");
        let mut plain = PlatformEdit::new(model(InitializationType::OnDemand));
        assert_eq!(
            types(&plain.transform(vec![])),
            ["platform.initStart"],
            "no function records"
        );
    }

    #[test]
    fn on_demand_gives_the_first_report_the_init_duration_as_lambda_does() {
        let mut edit = PlatformEdit::new(model(InitializationType::OnDemand));
        let mut init = init_batch();
        init.push(record(
            9,
            "platform.initReport",
            json!({"status": "success", "metrics": {"durationMs": 9.5}}),
        ));
        edit.transform(init);
        let plain = |ms, id| {
            record(
                ms,
                "platform.report",
                json!({"requestId": id, "metrics": {"durationMs": 1.0}}),
            )
        };
        let first = edit.transform(vec![plain(20, "a")]);
        assert_eq!(first[0]["record"]["metrics"]["initDurationMs"], json!(9.5));
        let second = edit.transform(vec![plain(30, "b")]);
        assert_eq!(second, vec![plain(30, "b")], "only the first report has it");
        assert!(PlatformEdit::edits_report(0) && !PlatformEdit::edits_report(1));
    }

    #[test]
    fn snap_start_drops_init_records_and_puts_the_restore_before_the_first_later_record() {
        let model = model(InitializationType::SnapStart);
        let mut edit = PlatformEdit::new(Arc::clone(&model));
        let mut batch = init_batch();
        batch.push(record(
            9,
            "platform.initReport",
            json!({"status": "success"}),
        ));
        let init = edit.transform(batch);
        assert_eq!(types(&init), ["platform.telemetrySubscription"]);
        model.set_restore(RestoreTiming {
            frozen_at: at(10),
            started_at: at(2_010),
            done_at: at(2_013),
            duration_ms: 3.2504,
        });
        let batch = edit.transform(vec![
            record(8, "platform.extension", json!({})),
            record(3_000, "platform.start", json!({"requestId": "a"})),
            report(3_010, "a"),
        ]);
        assert_eq!(
            types(&batch),
            [
                "platform.extension",
                "platform.restoreStart",
                "platform.restoreRuntimeDone",
                "platform.restoreReport",
                "platform.start",
                "platform.report"
            ]
        );
        assert_eq!(batch[1]["time"], "2027-01-15T08:00:02.010000Z");
        assert_eq!(batch[2]["record"], json!({"status": "success"}));
        assert_eq!(
            batch[3]["record"],
            json!({"status": "success", "metrics": {"durationMs": 3.25}})
        );
        assert_eq!(
            batch[5]["record"]["metrics"],
            json!({"durationMs": 1.0, "restoreDurationMs": 3.25, "billedRestoreDurationMs": 4})
        );
        let later = edit.transform(vec![report(4_000, "b")]);
        assert_eq!(later[0]["record"]["metrics"], json!({"durationMs": 1.0}));
    }

    #[test]
    fn snap_start_appends_the_restore_to_a_batch_with_nothing_later() {
        let model = model(InitializationType::SnapStart);
        let mut edit = PlatformEdit::new(Arc::clone(&model));
        model.set_restore(RestoreTiming {
            frozen_at: at(10),
            started_at: at(2_010),
            done_at: at(2_012),
            duration_ms: 2.0,
        });
        let batch = edit.transform(vec![record(5, "platform.telemetrySubscription", json!({}))]);
        assert_eq!(
            types(&batch),
            [
                "platform.telemetrySubscription",
                "platform.restoreStart",
                "platform.restoreRuntimeDone",
                "platform.restoreReport"
            ]
        );
        assert!(edit.transform(vec![]).is_empty(), "restore records go once");
        assert_eq!(billed_ms(2.0), 2);
        assert_eq!(billed_ms(2.0001), 3);
    }
}
