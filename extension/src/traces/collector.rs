//! The tracing state the pipeline owns: the platform span builder, the bounded buffer of
//! sampled spans waiting for the next export, and the trace statistics. Plain synchronous
//! state: the pipeline feeds it records and spans and hands the buffered spans to the
//! exporters at each flush.
//!
//! Statistics (published with every flush, zero counts left out, and readable as totals
//! since start at `GET /v1/stats`): `TracesGenerated` (every invocation, and every root
//! span a handler sends), `TracesSampled` (those whose trace is sampled), `TraceErrors`
//! (those that failed), `SpansExported`, `SpansDropped` (buffer full, refused by an
//! exporter, forgotten invocations), `SpansTruncated` (delivered with content cut to fit),
//! and the time of the last trace.

use super::export::SpanReport;
use super::platform::PlatformTracer;
use super::span::{Span, SpanStatus, TraceId};
use crate::aggregate::push_counts;
use crate::metrics::Series;
use crate::telemetry::Record;

/// Sampled spans held between two exports; more are dropped and counted.
pub const MAX_BUFFERED_SPANS: usize = 4_096;

/// Counters of one kind, as published per flush and as totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TraceCounts {
    pub traces_generated: u64,
    pub traces_sampled: u64,
    pub trace_errors: u64,
    pub spans_exported: u64,
    pub spans_dropped: u64,
    pub spans_truncated: u64,
}

impl TraceCounts {
    fn add(&mut self, other: &TraceCounts) {
        self.traces_generated += other.traces_generated;
        self.traces_sampled += other.traces_sampled;
        self.trace_errors += other.trace_errors;
        self.spans_exported += other.spans_exported;
        self.spans_dropped += other.spans_dropped;
        self.spans_truncated += other.spans_truncated;
    }
}

/// The pipeline's tracing state.
#[derive(Debug)]
pub struct TraceCollector {
    platform: PlatformTracer,
    /// Handler spans not yet placed in their invocation's tree (its `platform.start` may
    /// come after them): settled at the next flush.
    handler: Vec<Span>,
    buffer: Vec<Span>,
    /// Whether any exporter is configured: without one, spans only count.
    exporting: bool,
    pending: TraceCounts,
    totals: TraceCounts,
    last_trace_unix_ms: Option<u64>,
    malformed: u64,
    /// Handler spans received since start (SDK and OTLP), for `/v1/stats`.
    handler_received: u64,
}

impl TraceCollector {
    /// A collector for `function`; spans are kept for export only when `exporting`.
    pub fn new(function: &str, exporting: bool) -> Self {
        TraceCollector {
            platform: PlatformTracer::new(function),
            handler: Vec::new(),
            buffer: Vec::new(),
            exporting,
            pending: TraceCounts::default(),
            totals: TraceCounts::default(),
            last_trace_unix_ms: None,
            malformed: 0,
            handler_received: 0,
        }
    }

    /// After a SnapStart restore: span and trace ids are drawn from a new seed.
    pub fn restored(&mut self) {
        self.platform.reseed_ids();
    }

    /// Records a platform record; a report turns into the invocation's spans.
    pub fn record_telemetry(&mut self, record: &Record, now_ns: u64) {
        let mut spans = Vec::new();
        self.platform.record(record, now_ns, &mut spans);
        if let Some(root) = spans.first() {
            self.count_trace(root);
        }
        self.malformed += self.platform.take_malformed_headers();
        let forgotten = self.platform.take_forgotten();
        self.pending.spans_dropped += forgotten;
        for span in spans {
            self.keep(span);
        }
    }

    /// Records a span a handler sent (SDK span event or OTLP). A top-level span of an open
    /// invocation's trace (its parent is the header's `Parent`, or it has none) is
    /// re-parented under the invocation's `Invocation` span, so handler spans nest inside
    /// the platform's tree.
    ///
    /// Placing waits for the next flush: a handler's span often arrives before the
    /// telemetry that opens its invocation. A span of an invocation's trace takes that
    /// trace's sampling decision (its X-Ray header), whatever flag its sender wrote.
    pub fn record_handler_span(&mut self, span: Span) {
        self.handler_received += 1;
        if self.handler.len() < MAX_BUFFERED_SPANS {
            self.handler.push(span);
        } else {
            self.pending.spans_dropped += 1;
        }
    }

    /// Places the handler spans recorded since the last flush.
    fn settle(&mut self) {
        for mut span in std::mem::take(&mut self.handler) {
            if let Some(invocation) = self.platform.invocation_of(span.trace_id) {
                // The trace's decision, not the sender's flag.
                span.sampled = invocation.sampled;
                if span.parent_span_id.is_none() || span.parent_span_id == invocation.header_parent
                {
                    span.parent_span_id = Some(invocation.runtime_span);
                }
            }
            if span.parent_span_id.is_none() {
                self.count_trace(&span);
            }
            self.keep(span);
        }
    }

    /// Trace headers or spans that did not read since the last call.
    pub fn take_malformed(&mut self) -> u64 {
        std::mem::take(&mut self.malformed)
    }

    /// Counts `malformed` more (from the OTLP intake, say).
    pub fn malformed(&mut self, count: u64) {
        self.malformed += count;
    }

    /// The sampled spans waiting for export.
    pub fn take_spans(&mut self) -> Vec<Span> {
        self.settle();
        std::mem::take(&mut self.buffer)
    }

    /// Notes what an export achieved.
    pub fn exported(&mut self, report: SpanReport) {
        self.pending.spans_exported += report.exported;
        self.pending.spans_dropped += report.dropped;
        self.pending.spans_truncated += report.truncated;
    }

    /// Moves the counts since the last flush into `out` as series.
    pub fn flush_into(&mut self, function: &str, out: &mut Vec<Series>) {
        self.settle();
        let counts = std::mem::take(&mut self.pending);
        self.totals.add(&counts);
        let all = [
            ("TracesGenerated", counts.traces_generated),
            ("TracesSampled", counts.traces_sampled),
            ("TraceErrors", counts.trace_errors),
            ("SpansExported", counts.spans_exported),
            ("SpansDropped", counts.spans_dropped),
            ("SpansTruncated", counts.spans_truncated),
        ];
        push_counts(function, all, out);
    }

    /// Totals since start, the last trace's time and the spans waiting, as `GET /v1/stats`
    /// shows them.
    pub fn snapshot(&self) -> serde_json::Value {
        let mut totals = self.totals;
        totals.add(&self.pending);
        serde_json::json!({
            "traces_generated": totals.traces_generated,
            "traces_sampled": totals.traces_sampled,
            "trace_errors": totals.trace_errors,
            "spans_exported": totals.spans_exported,
            "spans_dropped": totals.spans_dropped,
            "spans_truncated": totals.spans_truncated,
            // Live: handler spans count from the moment they arrive, before the flush
            // that places them in their invocation's tree.
            "handler_spans_received": self.handler_received,
            "spans_buffered": self.buffer.len() + self.handler.len(),
            "last_trace_unix_ms": self.last_trace_unix_ms,
        })
    }

    fn count_trace(&mut self, root: &Span) {
        self.pending.traces_generated += 1;
        self.pending.traces_sampled += u64::from(root.sampled);
        self.pending.trace_errors += u64::from(matches!(root.status, SpanStatus::Error(_)));
        let ms = root.end_unix_nanos / 1_000_000;
        self.last_trace_unix_ms = Some(self.last_trace_unix_ms.map_or(ms, |last| last.max(ms)));
    }

    fn keep(&mut self, span: Span) {
        if !span.sampled || !self.exporting {
            return;
        }
        if self.buffer.len() < MAX_BUFFERED_SPANS {
            self.buffer.push(span);
        } else {
            self.pending.spans_dropped += 1;
        }
    }

    /// Whether `trace_id` belongs to an invocation still open.
    pub fn knows(&self, trace_id: TraceId) -> bool {
        self.platform.invocation_of(trace_id).is_some()
    }
}

#[cfg(test)]
mod tests;
