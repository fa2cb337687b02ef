//! Spans of every invocation, built from platform telemetry alone (no tracing code in the
//! handler): plain state fed record by record, emitting the finished spans when the
//! invocation's `platform.report` arrives.
//!
//! The tree, following the OpenTelemetry FaaS conventions and X-Ray's Lambda layout:
//!
//! ```text
//! <function name>          kind server, parent = the trace header's Parent (Lambda's segment)
//! ├── Initialization       on a cold start: initStart → + initReport duration
//! ├── Restore              on a SnapStart restore: restoreStart → + restoreReport duration
//! ├── Invocation           the runtime's work: start → + runtimeDone duration
//! │   ├── responseLatency  from runtimeDone.spans
//! │   └── responseDuration
//! └── Overhead             after the runtime finished, until the report's duration ends
//! ```
//!
//! The trace id and sampling come from the X-Ray header in `platform.start` (or a later
//! record's) `tracing`; without one, the spans get a new trace and are not sampled (they
//! still count in the statistics). A header that does not read is counted.

use std::collections::HashMap;

use super::context::parse_xray;
use super::ids::IdGenerator;
use super::span::{AttributeValue, Span, SpanId, SpanKind, SpanStatus, TraceId};
use crate::telemetry::record::time::parse_rfc3339_nanos;
use crate::telemetry::record::{
    InitType, Phase, Record, Span as PlatformSpan, Status, TraceContext,
};

/// Invocations followed at once; past this the oldest is forgotten (its spans lost, counted).
pub const MAX_OPEN_INVOCATIONS: usize = 256;
/// Ended invocations remembered for handler spans that are recorded after the report.
pub const MAX_RECENT_INVOCATIONS: usize = 64;
const NANOS_PER_MS: f64 = 1_000_000.0;

/// One invocation's trace, as the handler's spans see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationTrace {
    pub trace_id: TraceId,
    /// The span handler spans hang under (the `Invocation` span).
    pub runtime_span: SpanId,
    /// The header's `Parent`: what an SDK span names as its parent.
    pub header_parent: Option<SpanId>,
    pub sampled: bool,
}

/// What `platform.runtimeDone` said.
#[derive(Debug)]
struct RuntimeDone {
    status: Status,
    error_type: Option<String>,
    duration_ms: Option<f64>,
    spans: Vec<PlatformSpan>,
}

#[derive(Debug)]
struct Open {
    trace: InvocationTrace,
    invocation_span: SpanId,
    start_ns: Option<u64>,
    cold: bool,
    runtime: Option<RuntimeDone>,
    seq: u64,
}

/// Builds the platform spans.
#[derive(Debug)]
pub struct PlatformTracer {
    function: String,
    ids: IdGenerator,
    init: Option<(Option<u64>, Option<f64>, Status)>,
    /// The last restore's start, duration and status, until its first invocation ends.
    restore: Option<(Option<u64>, Option<f64>, Status)>,
    cold_pending: bool,
    open: HashMap<String, Open>,
    /// Traces of the last invocations that ended, for handler spans that arrive late.
    recent: std::collections::VecDeque<InvocationTrace>,
    seq: u64,
    malformed_headers: u64,
    forgotten: u64,
}

impl PlatformTracer {
    /// A tracer naming the invocation span after `function`.
    pub fn new(function: &str) -> Self {
        PlatformTracer {
            function: function.to_owned(),
            ids: IdGenerator::default(),
            init: None,
            restore: None,
            cold_pending: false,
            open: HashMap::new(),
            recent: std::collections::VecDeque::new(),
            seq: 0,
            malformed_headers: 0,
            forgotten: 0,
        }
    }

    /// Draws span and trace ids from a new seed (after a SnapStart restore).
    pub fn reseed_ids(&mut self) {
        self.ids.reseed();
    }

    /// Headers that did not read since the last call.
    pub fn take_malformed_headers(&mut self) -> u64 {
        std::mem::take(&mut self.malformed_headers)
    }

    /// Invocations forgotten (too many open at once) since the last call.
    pub fn take_forgotten(&mut self) -> u64 {
        std::mem::take(&mut self.forgotten)
    }

    /// The trace of the open (or recently ended) invocation of trace `trace_id`.
    pub fn invocation_of(&self, trace_id: TraceId) -> Option<InvocationTrace> {
        self.open
            .values()
            .map(|open| open.trace)
            .chain(self.recent.iter().copied())
            .find(|trace| trace.trace_id == trace_id)
    }

    /// Records one telemetry record; a `platform.report` pushes the invocation's spans to
    /// `out` (`now_ns` stands in for a start time the platform did not give).
    pub fn record(&mut self, record: &Record, now_ns: u64, out: &mut Vec<Span>) {
        match record {
            Record::InitStart {
                phase: Phase::Init,
                initialization_type,
                time_unix_nanos,
            } => {
                self.init = Some((*time_unix_nanos, None, Status::Success));
                self.cold_pending = matches!(
                    initialization_type,
                    InitType::OnDemand | InitType::SnapStart
                );
            }
            Record::InitReport {
                phase: Phase::Init,
                duration_ms,
                status,
                ..
            } => {
                let start = self.init.as_ref().and_then(|(start, ..)| *start);
                self.init = Some((start, Some(*duration_ms), status.clone()));
            }
            Record::RestoreStart { time_unix_nanos } => {
                // Ids drawn from now on must differ from every other copy of the snapshot.
                self.ids.reseed();
                self.restore = Some((*time_unix_nanos, None, Status::Success));
                self.init = None;
                self.cold_pending = true;
            }
            Record::RestoreReport {
                duration_ms,
                status,
            } => {
                let start = self.restore.as_ref().and_then(|(start, ..)| *start);
                self.restore = Some((start, *duration_ms, status.clone()));
            }
            Record::Start {
                request_id,
                tracing,
                time_unix_nanos,
            } => {
                let cold = std::mem::take(&mut self.cold_pending);
                if let Some(open) = self.open(request_id, tracing.as_ref(), now_ns) {
                    open.start_ns = open.start_ns.or(*time_unix_nanos);
                    open.cold |= cold;
                }
            }
            Record::RuntimeDone {
                request_id,
                status,
                error_type,
                duration_ms,
                spans,
                tracing,
                ..
            } => {
                if let Some(open) = self.open(request_id, tracing.as_ref(), now_ns) {
                    open.runtime = Some(RuntimeDone {
                        status: status.clone(),
                        error_type: error_type.clone(),
                        duration_ms: *duration_ms,
                        spans: spans.clone(),
                    });
                }
            }
            Record::Report {
                request_id,
                status,
                error_type,
                duration_ms,
                billed_duration_ms,
                max_memory_used_mb,
                tracing,
                ..
            } => {
                self.open(request_id, tracing.as_ref(), now_ns);
                if let Some(open) = self.open.remove(request_id) {
                    let report = Report {
                        request_id,
                        status,
                        error_type: error_type.as_deref(),
                        duration_ms: *duration_ms,
                        billed_ms: *billed_duration_ms,
                        max_memory_mb: *max_memory_used_mb,
                    };
                    let start = open
                        .start_ns
                        .unwrap_or_else(|| now_ns.saturating_sub(ms_to_ns(*duration_ms)));
                    self.emit(&open, start, &report, out);
                }
            }
            _ => {}
        }
    }

    /// The open invocation `request_id`, opened (with new ids) on first sight.
    fn open(
        &mut self,
        request_id: &str,
        tracing: Option<&TraceContext>,
        now_ns: u64,
    ) -> Option<&mut Open> {
        if !self.open.contains_key(request_id) {
            if self.open.len() >= MAX_OPEN_INVOCATIONS {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, o)| o.seq)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.open.remove(&oldest);
                    self.forgotten += 1;
                }
            }
            let open = self.new_open(tracing, now_ns);
            self.open.insert(request_id.to_owned(), open);
        }
        self.open.get_mut(request_id)
    }

    fn new_open(&mut self, tracing: Option<&TraceContext>, now_ns: u64) -> Open {
        let header = tracing.and_then(|t| {
            let parsed = parse_xray(&t.value);
            if parsed.is_none() {
                self.malformed_headers += 1;
            }
            parsed
        });
        let invocation_span = tracing
            .and_then(|t| t.span_id.as_deref())
            .and_then(SpanId::from_hex)
            .unwrap_or_else(|| self.ids.span_id());
        let trace = InvocationTrace {
            trace_id: header
                .map_or_else(|| self.ids.trace_id(now_ns / 1_000_000_000), |h| h.trace_id),
            runtime_span: self.ids.span_id(),
            header_parent: header.and_then(|h| h.parent),
            sampled: header.is_some_and(|h| h.sampled),
        };
        self.seq += 1;
        Open {
            trace,
            invocation_span,
            start_ns: None,
            cold: false,
            runtime: None,
            seq: self.seq,
        }
    }

    fn emit(&mut self, open: &Open, start: u64, report: &Report<'_>, out: &mut Vec<Span>) {
        let trace = open.trace;
        if self.recent.len() >= MAX_RECENT_INVOCATIONS {
            self.recent.pop_front();
        }
        self.recent.push_back(trace);
        let end = start.saturating_add(ms_to_ns(report.duration_ms));
        let span = |name: &str, id, parent, kind, start, end: u64, status| Span {
            trace_id: trace.trace_id,
            span_id: id,
            parent_span_id: parent,
            name: name.to_owned(),
            kind,
            start_unix_nanos: start,
            end_unix_nanos: end.max(start),
            status,
            attributes: Vec::new(),
            sampled: trace.sampled,
            detail: None,
        };
        let mut invocation = span(
            &self.function,
            open.invocation_span,
            trace.header_parent,
            SpanKind::Server,
            start,
            end,
            status_of(report.status, report.error_type),
        );
        invocation.attributes = vec![
            attr(
                "faas.invocation_id",
                AttributeValue::Str(report.request_id.to_owned()),
            ),
            attr("faas.coldstart", AttributeValue::Bool(open.cold)),
            attr("faas.trigger", AttributeValue::Str("other".to_owned())),
            attr(
                "aws.lambda.status",
                AttributeValue::Str(report.status.as_str().to_owned()),
            ),
            attr(
                "aws.lambda.billed_duration_ms",
                AttributeValue::Float(report.billed_ms),
            ),
            attr(
                "aws.lambda.max_memory_used_mb",
                AttributeValue::Float(report.max_memory_mb),
            ),
        ];
        out.push(invocation);
        if open.cold
            && let Some((Some(init_start), Some(init_ms), status)) = &self.init
        {
            let init_end = init_start.saturating_add(ms_to_ns(*init_ms));
            out.push(span(
                "Initialization",
                self.ids.span_id(),
                Some(open.invocation_span),
                SpanKind::Internal,
                *init_start,
                init_end,
                status_of(status, None),
            ));
        }
        if open.cold
            && let Some((Some(restore_start), Some(restore_ms), status)) = self.restore.take()
        {
            out.push(span(
                "Restore",
                self.ids.span_id(),
                Some(open.invocation_span),
                SpanKind::Internal,
                restore_start,
                restore_start.saturating_add(ms_to_ns(restore_ms)),
                status_of(&status, None),
            ));
        }
        let mut runtime_end = end;
        if let Some(RuntimeDone {
            status,
            error_type,
            duration_ms,
            spans: platform_spans,
        }) = &open.runtime
        {
            runtime_end = duration_ms.map_or(end, |ms| start.saturating_add(ms_to_ns(ms)).min(end));
            out.push(span(
                "Invocation",
                trace.runtime_span,
                Some(open.invocation_span),
                SpanKind::Internal,
                start,
                runtime_end,
                status_of(status, error_type.as_deref()),
            ));
            for measured in platform_spans {
                let Some(span_start) = parse_rfc3339_nanos(&measured.start) else {
                    continue;
                };
                let span_end = span_start.saturating_add(ms_to_ns(measured.duration_ms));
                out.push(span(
                    &measured.name,
                    self.ids.span_id(),
                    Some(trace.runtime_span),
                    SpanKind::Internal,
                    span_start,
                    span_end,
                    SpanStatus::Unset,
                ));
            }
        }
        if end > runtime_end {
            out.push(span(
                "Overhead",
                self.ids.span_id(),
                Some(open.invocation_span),
                SpanKind::Internal,
                runtime_end,
                end,
                SpanStatus::Unset,
            ));
        }
    }
}

struct Report<'a> {
    request_id: &'a str,
    status: &'a Status,
    error_type: Option<&'a str>,
    duration_ms: f64,
    billed_ms: f64,
    max_memory_mb: f64,
}

fn status_of(status: &Status, error_type: Option<&str>) -> SpanStatus {
    if status.is_success() {
        SpanStatus::Ok
    } else {
        SpanStatus::Error(error_type.map_or_else(|| status.as_str().to_owned(), str::to_owned))
    }
}

fn attr(key: &str, value: AttributeValue) -> (String, AttributeValue) {
    (key.to_owned(), value)
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * NANOS_PER_MS) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
