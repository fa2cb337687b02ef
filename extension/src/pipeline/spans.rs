//! The tracing side of the pipeline: spans from the OTLP intake and the SDK into the
//! collector, the intake's counters into the statistics, the `/v1/stats` snapshot kept
//! current, and the buffered spans exported to every span exporter under the flush's
//! deadline.

use std::time::Instant;

use liftwatch::protocol::SpanEvent;

use super::Pipeline;
use crate::traces::{Span, SpanId, SpanReport, SpanStatus, TraceId};

impl Pipeline {
    /// Records spans the OTLP receiver decoded.
    pub(super) fn record_otlp(&mut self, spans: Vec<Span>) {
        for span in spans {
            self.traces.record_handler_span(span);
        }
        self.publish_trace_stats();
    }

    /// Turns the OTLP receiver's counters since the last call into health counts.
    pub(super) fn account_otlp(&mut self) {
        let Some(feed) = self.otlp.as_mut() else {
            return;
        };
        let now = feed.counters.snapshot();
        let seen = std::mem::replace(&mut feed.seen, now);
        self.health
            .received(now.spans_received.saturating_sub(seen.spans_received));
        self.health.malformed(
            now.malformed_requests
                .saturating_sub(seen.malformed_requests),
        );
        self.health
            .malformed(now.spans_rejected.saturating_sub(seen.spans_rejected));
        self.traces.exported(SpanReport {
            exported: 0,
            dropped: now.spans_dropped.saturating_sub(seen.spans_dropped),
        });
    }

    /// Keeps the `/v1/stats` snapshot current.
    pub(super) fn publish_trace_stats(&self) {
        if let Some(output) = &self.span_output {
            output.stats.send_replace(self.traces.snapshot());
        }
    }

    /// Exports `spans` to every exporter concurrently, by `deadline`, and counts the
    /// outcome.
    pub(super) async fn export_spans(&mut self, spans: Vec<Span>, deadline: Instant) {
        for report in super::flush::export_to(self.span_output.as_mut(), &spans, deadline).await {
            self.traces.exported(report);
        }
        self.publish_trace_stats();
    }
}

/// A handler's span event as the collector keeps it.
pub(super) fn span_from_event(event: SpanEvent) -> Span {
    Span {
        trace_id: TraceId(event.trace_id),
        span_id: SpanId(event.span_id),
        parent_span_id: event.parent_span_id.map(SpanId),
        name: event.name,
        kind: event.kind,
        start_unix_nanos: event.start_unix_nano,
        end_unix_nanos: event.end_unix_nano,
        status: event.error.map_or(SpanStatus::Unset, SpanStatus::Error),
        attributes: event.attributes,
        sampled: event.sampled,
    }
}
