//! Invocation metrics from platform telemetry: `Invocations`, `Errors`, `Timeouts`,
//! `OutOfMemory`, `ColdStarts` (or `ProactiveInitializations`), `EstimatedCost`,
//! durations and memory. Each `platform.report` is counted exactly once, whenever it
//! arrives (usually at the next thaw, after the extension called `/next`).

use std::collections::VecDeque;
use std::time::Duration;

use liftwatch::Unit;

use crate::aggregate::cost::{Architecture, invocation_cost};
use crate::aggregate::{function_series, take_samples};
use crate::metrics::Series;
use crate::telemetry::record::{InitType, Phase, Record, Status};

/// An init whose first invocation came later than this after init was not waited for by
/// any caller: Lambda initialised the sandbox ahead of demand.
pub const PROACTIVE_INIT_GAP: Duration = Duration::from_secs(10);
/// The runtime's error type when the function ran out of memory.
const OUT_OF_MEMORY_ERROR: &str = "Runtime.OutOfMemory";

/// How many recent request ids are remembered (runtimeDone durations, pending reports).
const RECENT_REQUESTS: usize = 64;

/// A small FIFO map from request id to a value, bounded to [`RECENT_REQUESTS`].
#[derive(Debug, Default)]
struct Recent<T> {
    entries: VecDeque<(String, T)>,
}

impl<T> Recent<T> {
    fn insert(&mut self, id: String, value: T) {
        if self.entries.iter().any(|(k, _)| *k == id) {
            return;
        }
        if self.entries.len() == RECENT_REQUESTS {
            self.entries.pop_front();
        }
        self.entries.push_back((id, value));
    }

    fn remove(&mut self, id: &str) -> Option<T> {
        let index = self.entries.iter().position(|(k, _)| k == id)?;
        self.entries.remove(index).map(|(_, v)| v)
    }

    fn contains(&self, id: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == id)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Aggregates platform records between flushes.
#[derive(Debug)]
pub struct InvocationAggregator {
    architecture: Architecture,
    invocations: u64,
    errors: u64,
    timeouts: u64,
    out_of_memory: u64,
    cold_starts: u64,
    /// Cold starts that were SnapStart restores (also counted in `cold_starts`).
    restores: u64,
    proactive_inits: u64,
    estimated_cost: f64,
    duration: Vec<f64>,
    billed_duration: Vec<f64>,
    init_duration: Vec<f64>,
    restore_duration: Vec<f64>,
    billed_restore_duration: Vec<f64>,
    runtime_duration: Vec<f64>,
    post_runtime_duration: Vec<f64>,
    max_memory_used: Vec<f64>,
    memory_utilization: Vec<f64>,
    memory_size: Option<f64>,
    /// True once the sandbox's first report was seen (that one is the cold start).
    first_report_seen: bool,
    /// How the sandbox was initialised (`platform.initStart`).
    init_type: Option<InitType>,
    /// Time from the end of init to the first INVOKE, when known.
    init_gap: Option<Duration>,
    /// Requests whose runtimeDone said the runtime ran out of memory.
    out_of_memory_ids: Recent<()>,
    /// True once an init duration was recorded, so the report's copy is not counted again.
    init_duration_seen: bool,
    /// A SnapStart restore began and its first report has not come yet.
    restore_pending: bool,
    /// The restore's duration came in its `platform.restoreReport`, so the first report's
    /// copy is not counted again.
    restore_duration_seen: bool,
    /// runtimeDone durations waiting for their report (for `PostRuntimeDuration`).
    runtime_done: Recent<f64>,
    /// Invocations started but not yet reported.
    pending_reports: Recent<()>,
    /// Ids whose runtimeDone arrived, newest last.
    done: Recent<()>,
    /// Ids whose start (or any later record) arrived.
    started: Recent<()>,
    /// Ids already reported: a batch delivered twice is not counted twice.
    reported: Recent<()>,
}

impl Default for InvocationAggregator {
    fn default() -> Self {
        Self::new(Architecture::current())
    }
}

impl InvocationAggregator {
    /// An aggregator pricing invocations for `architecture`.
    pub fn new(architecture: Architecture) -> Self {
        InvocationAggregator {
            architecture,
            invocations: 0,
            errors: 0,
            timeouts: 0,
            out_of_memory: 0,
            cold_starts: 0,
            restores: 0,
            proactive_inits: 0,
            estimated_cost: 0.0,
            duration: Vec::new(),
            billed_duration: Vec::new(),
            init_duration: Vec::new(),
            restore_duration: Vec::new(),
            billed_restore_duration: Vec::new(),
            runtime_duration: Vec::new(),
            post_runtime_duration: Vec::new(),
            max_memory_used: Vec::new(),
            memory_utilization: Vec::new(),
            memory_size: None,
            first_report_seen: false,
            init_type: None,
            init_gap: None,
            out_of_memory_ids: Recent::default(),
            init_duration_seen: false,
            restore_pending: false,
            restore_duration_seen: false,
            runtime_done: Recent::default(),
            pending_reports: Recent::default(),
            done: Recent::default(),
            started: Recent::default(),
            reported: Recent::default(),
        }
    }

    /// Notes how long after init the first INVOKE came (measured by the lifecycle loop).
    pub fn first_invoke_after(&mut self, gap: Duration) {
        self.init_gap.get_or_insert(gap);
    }

    /// Notes that the platform sent INVOKE for `request_id`.
    pub fn invoke_started(&mut self, request_id: &str) {
        self.pending_reports.insert(request_id.to_owned(), ());
    }

    /// True once `platform.start`, `runtimeDone` or `report` for `request_id` was recorded.
    pub fn started_for(&self, request_id: &str) -> bool {
        self.started.contains(request_id)
    }

    /// True once `platform.runtimeDone` for `request_id` was recorded.
    pub fn runtime_done_for(&self, request_id: &str) -> bool {
        self.done.contains(request_id)
    }

    /// Invocations whose `platform.report` has not arrived yet.
    pub fn pending_reports(&self) -> usize {
        self.pending_reports.len()
    }

    /// Records one platform record.
    pub fn record(&mut self, record: &Record) {
        match record {
            Record::InitStart {
                initialization_type,
                ..
            } => {
                self.init_type
                    .get_or_insert_with(|| initialization_type.clone());
            }
            // One Init phase per sandbox: a second initReport (forged or repeated) is ignored.
            Record::InitReport {
                phase: Phase::Init,
                duration_ms,
                ..
            } if !self.init_duration_seen => {
                self.init_duration.push(*duration_ms);
                self.init_duration_seen = true;
            }
            // A restored sandbox starts a life of its own: its first report is a cold start.
            Record::RestoreStart { .. } => {
                self.restore_pending = true;
                self.restore_duration_seen = false;
                self.first_report_seen = false;
            }
            Record::RestoreReport {
                duration_ms: Some(duration_ms),
                ..
            } => {
                self.record_restore_duration(*duration_ms, None);
            }
            Record::Start { request_id, .. } => {
                self.started.insert(request_id.clone(), ());
                if !self.reported.contains(request_id) {
                    self.pending_reports.insert(request_id.clone(), ());
                }
            }
            Record::RuntimeDone {
                request_id,
                duration_ms,
                error_type,
                ..
            } => {
                self.started.insert(request_id.clone(), ());
                if self.done.contains(request_id) {
                    return;
                }
                if error_type.as_deref() == Some(OUT_OF_MEMORY_ERROR) {
                    self.out_of_memory_ids.insert(request_id.clone(), ());
                }
                if let Some(ms) = duration_ms {
                    self.runtime_duration.push(*ms);
                    self.runtime_done.insert(request_id.clone(), *ms);
                }
                self.done.insert(request_id.clone(), ());
            }
            Record::Report {
                request_id,
                status,
                duration_ms,
                billed_duration_ms,
                memory_size_mb,
                max_memory_used_mb,
                init_duration_ms,
                restore_duration_ms,
                billed_restore_duration_ms,
                error_type,
                ..
            } => {
                self.pending_reports.remove(request_id);
                self.started.insert(request_id.clone(), ());
                if self.reported.contains(request_id) {
                    return;
                }
                self.reported.insert(request_id.clone(), ());
                self.invocations += 1;
                if *status != Status::Success {
                    self.errors += 1;
                }
                if *status == Status::Timeout {
                    self.timeouts += 1;
                }
                let runtime_said_oom = self.out_of_memory_ids.remove(request_id).is_some();
                if runtime_said_oom
                    || error_type.as_deref() == Some(OUT_OF_MEMORY_ERROR)
                    || (*memory_size_mb > 0.0 && max_memory_used_mb >= memory_size_mb)
                {
                    self.out_of_memory += 1;
                }
                if let Some(ms) = restore_duration_ms {
                    self.restore_pending = true;
                    if !self.restore_duration_seen {
                        self.record_restore_duration(*ms, *billed_restore_duration_ms);
                    }
                }
                if !self.first_report_seen || self.restore_pending {
                    self.first_report_seen = true;
                    if std::mem::take(&mut self.restore_pending) {
                        self.cold_starts += 1;
                        self.restores += 1;
                    } else if self.init_was_proactive() {
                        self.proactive_inits += 1;
                    } else {
                        self.cold_starts += 1;
                    }
                }
                self.estimated_cost +=
                    invocation_cost(self.architecture, *billed_duration_ms, *memory_size_mb);
                if let (Some(ms), false) = (init_duration_ms, self.init_duration_seen) {
                    self.init_duration.push(*ms);
                    self.init_duration_seen = true;
                }
                self.duration.push(*duration_ms);
                self.billed_duration.push(*billed_duration_ms);
                self.max_memory_used.push(*max_memory_used_mb);
                if *memory_size_mb > 0.0 {
                    self.memory_size = Some(*memory_size_mb);
                    self.memory_utilization
                        .push(100.0 * max_memory_used_mb / memory_size_mb);
                }
                if let Some(runtime_ms) = self.runtime_done.remove(request_id) {
                    self.post_runtime_duration
                        .push((duration_ms - runtime_ms).max(0.0));
                }
            }
            _ => {}
        }
    }

    /// Records a restore's duration and its billed duration (the report's, else the
    /// duration rounded up to the millisecond, as Lambda bills it).
    fn record_restore_duration(&mut self, duration_ms: f64, billed_ms: Option<f64>) {
        self.restore_duration.push(duration_ms);
        self.billed_restore_duration
            .push(billed_ms.unwrap_or(duration_ms.ceil()));
        self.restore_duration_seen = true;
    }

    /// A sandbox initialised ahead of demand: provisioned concurrency, or an on-demand
    /// init whose first invocation came more than [`PROACTIVE_INIT_GAP`] later.
    fn init_was_proactive(&self) -> bool {
        self.init_type == Some(InitType::ProvisionedConcurrency)
            || self.init_gap.is_some_and(|gap| gap > PROACTIVE_INIT_GAP)
    }

    /// Moves everything recorded since the last flush into `out`.
    pub fn flush_into(&mut self, function: &str, out: &mut Vec<Series>) {
        if self.invocations > 0 {
            let counts = [
                ("Invocations", self.invocations),
                ("Errors", self.errors),
                ("Timeouts", self.timeouts),
                ("OutOfMemory", self.out_of_memory),
                ("ColdStarts", self.cold_starts),
            ];
            for (name, count) in counts {
                out.push(function_series(
                    function,
                    name,
                    Unit::Count,
                    vec![count as f64],
                ));
            }
            let cost = std::mem::take(&mut self.estimated_cost);
            out.push(function_series(
                function,
                "EstimatedCost",
                Unit::None,
                vec![cost],
            ));
        }
        if self.restores > 0 {
            let count = std::mem::take(&mut self.restores) as f64;
            out.push(function_series(
                function,
                "Restores",
                Unit::Count,
                vec![count],
            ));
        }
        if self.proactive_inits > 0 {
            let count = std::mem::take(&mut self.proactive_inits) as f64;
            out.push(function_series(
                function,
                "ProactiveInitializations",
                Unit::Count,
                vec![count],
            ));
        }
        let distributions = [
            ("Duration", Unit::Milliseconds, &mut self.duration),
            (
                "BilledDuration",
                Unit::Milliseconds,
                &mut self.billed_duration,
            ),
            ("InitDuration", Unit::Milliseconds, &mut self.init_duration),
            (
                "RestoreDuration",
                Unit::Milliseconds,
                &mut self.restore_duration,
            ),
            (
                "BilledRestoreDuration",
                Unit::Milliseconds,
                &mut self.billed_restore_duration,
            ),
            (
                "RuntimeDuration",
                Unit::Milliseconds,
                &mut self.runtime_duration,
            ),
            (
                "PostRuntimeDuration",
                Unit::Milliseconds,
                &mut self.post_runtime_duration,
            ),
            ("MaxMemoryUsed", Unit::Megabytes, &mut self.max_memory_used),
            (
                "MemoryUtilization",
                Unit::Percent,
                &mut self.memory_utilization,
            ),
        ];
        take_samples(function, distributions, out);
        if let Some(size) = self.memory_size.take() {
            out.push(function_series(
                function,
                "MemorySize",
                Unit::Megabytes,
                vec![size],
            ));
        }
        self.invocations = 0;
        self.errors = 0;
        self.timeouts = 0;
        self.out_of_memory = 0;
        self.cold_starts = 0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::telemetry::record::parse_batch;

    fn records(json: &str) -> Vec<Record> {
        parse_batch(json.as_bytes()).unwrap().records
    }

    fn flush(agg: &mut InvocationAggregator) -> Vec<(String, Vec<f64>)> {
        let mut out = Vec::new();
        agg.flush_into("orders-api", &mut out);
        for series in &out {
            assert_eq!(
                series.dimensions,
                [("FunctionName".to_string(), "orders-api".to_string())]
            );
        }
        out.into_iter().map(|s| (s.name, s.values)).collect()
    }

    fn values<'a>(flushed: &'a [(String, Vec<f64>)], name: &str) -> Option<&'a [f64]> {
        flushed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn mixed_batch_yields_the_platforms_figures_once() {
        let mut agg = InvocationAggregator::default();
        for record in records(include_str!("../../testdata/telemetry/mixed-batch.json")) {
            agg.record(&record);
        }
        assert!(agg.runtime_done_for("79b4f56e-95b1-4643-9700-2807f4e68189"));
        assert!(agg.runtime_done_for("e4d7a1c9-2b3f-4e5a-9c8d-7f6e5d4c3b2a"));
        assert!(!agg.runtime_done_for("another"));
        assert_eq!(agg.pending_reports(), 1, "the second report was malformed");
        let out = flush(&mut agg);
        assert_eq!(values(&out, "Invocations"), Some(&[1.0][..]));
        assert_eq!(values(&out, "Errors"), Some(&[0.0][..]));
        assert_eq!(values(&out, "Timeouts"), Some(&[0.0][..]));
        assert_eq!(values(&out, "ColdStarts"), Some(&[1.0][..]));
        assert_eq!(
            values(&out, "InitDuration"),
            Some(&[817.66][..]),
            "initReport and report agree: once"
        );
        assert_eq!(values(&out, "RuntimeDuration"), Some(&[221.88, 306.2][..]));
        assert_eq!(values(&out, "Duration"), Some(&[229.51][..]));
        assert_eq!(values(&out, "BilledDuration"), Some(&[230.0][..]));
        assert_eq!(values(&out, "MaxMemoryUsed"), Some(&[97.0][..]));
        assert_eq!(values(&out, "MemorySize"), Some(&[512.0][..]));
        let utilization = values(&out, "MemoryUtilization").unwrap();
        assert!((utilization[0] - 100.0 * 97.0 / 512.0).abs() < 1e-9);
        let post = values(&out, "PostRuntimeDuration").unwrap();
        assert!((post[0] - (229.51 - 221.88)).abs() < 1e-9);
        assert!(
            flush(&mut agg).is_empty(),
            "a second flush publishes nothing"
        );
    }

    #[test]
    fn a_report_arriving_after_the_flush_is_published_by_the_next_one() {
        let mut agg = InvocationAggregator::default();
        agg.invoke_started("r1");
        let runtime_done = r#"[{"time":"2024-01-01T00:00:00Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":40.0}}}]"#;
        for record in records(runtime_done) {
            agg.record(&record);
        }
        let first = flush(&mut agg);
        assert_eq!(values(&first, "RuntimeDuration"), Some(&[40.0][..]));
        assert_eq!(values(&first, "Invocations"), None);
        assert_eq!(agg.pending_reports(), 1);
        let report = r#"[{"time":"2024-01-01T00:00:01Z","type":"platform.report","record":{"requestId":"r1","status":"timeout","metrics":{"durationMs":45.5,"billedDurationMs":46,"memorySizeMB":128,"maxMemoryUsedMB":128}}}]"#;
        for record in records(report) {
            agg.record(&record);
        }
        assert_eq!(agg.pending_reports(), 0);
        let second = flush(&mut agg);
        assert_eq!(values(&second, "Invocations"), Some(&[1.0][..]));
        assert_eq!(
            values(&second, "Errors"),
            Some(&[1.0][..]),
            "a timeout is an error too"
        );
        assert_eq!(values(&second, "Timeouts"), Some(&[1.0][..]));
        assert_eq!(values(&second, "MemoryUtilization"), Some(&[100.0][..]));
        assert_eq!(values(&second, "PostRuntimeDuration"), Some(&[5.5][..]));
        assert_eq!(
            values(&second, "RuntimeDuration"),
            None,
            "runtime duration was already published"
        );
    }

    #[test]
    fn only_the_first_report_is_a_cold_start_and_every_non_success_is_an_error() {
        let mut agg = InvocationAggregator::default();
        let report = |id: &str, status: &str| {
            format!(
                r#"[{{"time":"t","type":"platform.report","record":{{"requestId":"{id}","status":"{status}","metrics":{{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":30}}}}}}]"#
            )
        };
        for (i, status) in [
            "success",
            "error",
            "failure",
            "timeout",
            "somethingNew",
            "success",
        ]
        .iter()
        .enumerate()
        {
            for record in records(&report(&format!("r{i}"), status)) {
                agg.record(&record);
            }
        }
        let out = flush(&mut agg);
        assert_eq!(values(&out, "Invocations"), Some(&[6.0][..]));
        assert_eq!(values(&out, "Errors"), Some(&[4.0][..]));
        assert_eq!(values(&out, "Timeouts"), Some(&[1.0][..]));
        assert_eq!(values(&out, "ColdStarts"), Some(&[1.0][..]));
        assert_eq!(values(&out, "InitDuration"), None);
        assert_eq!(values(&out, "Duration").unwrap().len(), 6);
    }

    fn report(id: &str, status: &str, error_type: Option<&str>, used: u32, billed: u32) -> String {
        let error = error_type
            .map(|e| format!(r#","errorType":"{e}""#))
            .unwrap_or_default();
        format!(
            r#"[{{"time":"t","type":"platform.report","record":{{"requestId":"{id}","status":"{status}"{error},"metrics":{{"durationMs":{billed},"billedDurationMs":{billed},"memorySizeMB":256,"maxMemoryUsedMB":{used}}}}}}}]"#
        )
    }

    #[test]
    fn out_of_memory_is_counted_once_per_request_from_any_source() {
        let mut agg = InvocationAggregator::new(Architecture::X86_64);
        let oom_runtime_done = r#"[{"time":"t","type":"platform.runtimeDone","record":{"requestId":"a","status":"error","errorType":"Runtime.OutOfMemory"}}]"#;
        let batches = [
            oom_runtime_done.to_owned(),
            // a: the runtime said so, and the report says memory was full: still one.
            report("a", "error", Some("Runtime.OutOfMemory"), 256, 10),
            // b: only the memory figures say so.
            report("b", "error", None, 256, 10),
            // c: only the report's error type says so.
            report("c", "failure", Some("Runtime.OutOfMemory"), 100, 10),
            // d: a plain error.
            report("d", "error", Some("Runtime.ExitError"), 100, 10),
        ];
        for batch in &batches {
            for record in records(batch) {
                agg.record(&record);
            }
        }
        let out = flush(&mut agg);
        assert_eq!(values(&out, "Invocations"), Some(&[4.0][..]));
        assert_eq!(values(&out, "OutOfMemory"), Some(&[3.0][..]));
        assert_eq!(values(&out, "Errors"), Some(&[4.0][..]));
    }

    #[test]
    fn estimated_cost_sums_the_invocations_of_a_flush() {
        let mut agg = InvocationAggregator::new(Architecture::Arm64);
        for (i, billed) in [100, 300].iter().enumerate() {
            for record in records(&report(&format!("r{i}"), "success", None, 50, *billed)) {
                agg.record(&record);
            }
        }
        let out = flush(&mut agg);
        let expected = invocation_cost(Architecture::Arm64, 100.0, 256.0)
            + invocation_cost(Architecture::Arm64, 300.0, 256.0);
        let cost = values(&out, "EstimatedCost").unwrap()[0];
        assert!((cost - expected).abs() < 1e-15, "{cost} vs {expected}");
    }

    #[test]
    fn a_late_first_invoke_or_provisioned_concurrency_is_not_a_cold_start() {
        let mut late = InvocationAggregator::default();
        late.first_invoke_after(Duration::from_secs(11));
        for record in records(&report("a", "success", None, 50, 10)) {
            late.record(&record);
        }
        let out = flush(&mut late);
        assert_eq!(values(&out, "ColdStarts"), Some(&[0.0][..]));
        assert_eq!(values(&out, "ProactiveInitializations"), Some(&[1.0][..]));

        let mut provisioned = InvocationAggregator::default();
        provisioned.first_invoke_after(Duration::from_millis(5));
        let init = r#"[{"time":"t","type":"platform.initStart","record":{"initializationType":"provisioned-concurrency","phase":"init"}}]"#;
        for record in records(init)
            .into_iter()
            .chain(records(&report("a", "success", None, 50, 10)))
        {
            provisioned.record(&record);
        }
        let out = flush(&mut provisioned);
        assert_eq!(values(&out, "ColdStarts"), Some(&[0.0][..]));
        assert_eq!(values(&out, "ProactiveInitializations"), Some(&[1.0][..]));

        let mut prompt = InvocationAggregator::default();
        prompt.first_invoke_after(Duration::from_secs(9));
        for record in records(&report("a", "success", None, 50, 10)) {
            prompt.record(&record);
        }
        let out = flush(&mut prompt);
        assert_eq!(values(&out, "ColdStarts"), Some(&[1.0][..]));
        assert_eq!(values(&out, "ProactiveInitializations"), None);
    }

    #[test]
    fn a_snapstart_restore_is_a_cold_start_with_its_restore_durations() {
        let mut agg = InvocationAggregator::default();
        // The init ran before the snapshot, hours before the first invocation.
        agg.first_invoke_after(Duration::from_secs(3 * 3600));
        let batch = r#"[
            {"time":"t","type":"platform.initStart","record":{"initializationType":"snap-start","phase":"init"}},
            {"time":"t","type":"platform.restoreStart","record":{}},
            {"time":"t","type":"platform.restoreRuntimeDone","record":{"status":"success"}},
            {"time":"t","type":"platform.restoreReport","record":{"status":"success","metrics":{"durationMs":212.4}}},
            {"time":"t","type":"platform.report","record":{"requestId":"a","status":"success","metrics":{"durationMs":30,"billedDurationMs":31,"memorySizeMB":256,"maxMemoryUsedMB":80,"restoreDurationMs":212.4,"billedRestoreDurationMs":213}}}
        ]"#;
        for record in records(batch)
            .into_iter()
            .chain(records(&report("b", "success", None, 50, 10)))
        {
            agg.record(&record);
        }
        let out = flush(&mut agg);
        assert_eq!(values(&out, "Invocations"), Some(&[2.0][..]));
        assert_eq!(
            values(&out, "ColdStarts"),
            Some(&[1.0][..]),
            "the restore, not proactive"
        );
        assert_eq!(values(&out, "Restores"), Some(&[1.0][..]));
        assert_eq!(values(&out, "ProactiveInitializations"), None);
        assert_eq!(
            values(&out, "RestoreDuration"),
            Some(&[212.4][..]),
            "counted once"
        );
        assert_eq!(values(&out, "BilledRestoreDuration"), Some(&[213.0][..]));
        assert_eq!(values(&out, "InitDuration"), None);

        // A report alone says it was restored: the billed duration is rounded up.
        let mut agg = InvocationAggregator::default();
        let report = r#"[{"time":"t","type":"platform.report","record":{"requestId":"a","status":"success","metrics":{"durationMs":30,"billedDurationMs":31,"memorySizeMB":256,"maxMemoryUsedMB":80,"restoreDurationMs":99.2}}}]"#;
        for record in records(report) {
            agg.record(&record);
        }
        let out = flush(&mut agg);
        assert_eq!(values(&out, "ColdStarts"), Some(&[1.0][..]));
        assert_eq!(values(&out, "Restores"), Some(&[1.0][..]));
        assert_eq!(values(&out, "RestoreDuration"), Some(&[99.2][..]));
        assert_eq!(values(&out, "BilledRestoreDuration"), Some(&[100.0][..]));
    }
}
