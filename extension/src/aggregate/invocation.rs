//! Invocation metrics from platform telemetry: `Invocations`, `Errors`, `Timeouts`,
//! `ColdStarts`, durations and memory. Each `platform.report` is counted exactly once,
//! whenever it arrives (usually at the next thaw, after the extension called `/next`).

use std::collections::VecDeque;

use liftwatch::Unit;

use crate::aggregate::function_series;
use crate::metrics::Series;
use crate::telemetry::record::{Phase, Record, Status};

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
#[derive(Debug, Default)]
pub struct InvocationAggregator {
    invocations: u64,
    errors: u64,
    timeouts: u64,
    cold_starts: u64,
    duration: Vec<f64>,
    billed_duration: Vec<f64>,
    init_duration: Vec<f64>,
    runtime_duration: Vec<f64>,
    post_runtime_duration: Vec<f64>,
    max_memory_used: Vec<f64>,
    memory_utilization: Vec<f64>,
    memory_size: Option<f64>,
    /// True once the sandbox's first report was seen (that one is the cold start).
    first_report_seen: bool,
    /// True once an init duration was recorded, so the report's copy is not counted again.
    init_duration_seen: bool,
    /// runtimeDone durations waiting for their report (for `PostRuntimeDuration`).
    runtime_done: Recent<f64>,
    /// Invocations started but not yet reported.
    pending_reports: Recent<()>,
    /// Ids whose runtimeDone arrived, newest last.
    done: Recent<()>,
}

impl InvocationAggregator {
    /// Notes that the platform sent INVOKE for `request_id`.
    pub fn invoke_started(&mut self, request_id: &str) {
        self.pending_reports.insert(request_id.to_owned(), ());
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
            Record::InitReport {
                phase: Phase::Init,
                duration_ms,
                ..
            } => {
                self.init_duration.push(*duration_ms);
                self.init_duration_seen = true;
            }
            Record::Start { request_id, .. } => {
                self.pending_reports.insert(request_id.clone(), ());
            }
            Record::RuntimeDone {
                request_id,
                duration_ms,
                ..
            } => {
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
                ..
            } => {
                self.pending_reports.remove(request_id);
                self.invocations += 1;
                if *status != Status::Success {
                    self.errors += 1;
                }
                if *status == Status::Timeout {
                    self.timeouts += 1;
                }
                if !self.first_report_seen {
                    self.first_report_seen = true;
                    self.cold_starts += 1;
                }
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

    /// Moves everything recorded since the last flush into `out`.
    pub fn flush_into(&mut self, function: &str, out: &mut Vec<Series>) {
        if self.invocations > 0 {
            let counts = [
                ("Invocations", self.invocations),
                ("Errors", self.errors),
                ("Timeouts", self.timeouts),
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
        for (name, unit, values) in distributions {
            if !values.is_empty() {
                out.push(function_series(
                    function,
                    name,
                    unit,
                    std::mem::take(values),
                ));
            }
        }
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
}
