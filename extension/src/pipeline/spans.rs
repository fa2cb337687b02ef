//! The tracing part of the pipeline: the collector fed by platform telemetry, the OTLP
//! receiver and the SDK, the receiver's counters turned into health counts, the
//! `/v1/stats` snapshot kept current, and the buffered spans exported to every span
//! exporter under the flush's deadline.

use std::time::Instant;

use liftwatch::protocol::SpanEvent;

use crate::health::Health;
use crate::metrics::Series;
use crate::telemetry::Record;
use crate::traces::setup::{OtlpFeed, SpanOutput};
use crate::traces::{Span, SpanId, SpanReport, SpanStatus, TraceCollector, TraceId};

/// The collector, where its spans go, and the OTLP receiver's feed.
#[derive(Debug)]
pub(super) struct Traces {
    collector: TraceCollector,
    /// Span exporters and the `/v1/stats` snapshot, when tracing exports.
    output: Option<SpanOutput>,
    /// Spans from the OTLP receiver, when it runs.
    otlp: Option<OtlpFeed>,
    /// SDK spans arrived since `/v1/stats` was last published.
    stats_stale: bool,
}

impl Traces {
    /// Traces of `function`, exported nowhere yet.
    pub(super) fn new(function: &str) -> Self {
        Traces {
            collector: TraceCollector::new(function, false),
            output: None,
            otlp: None,
            stats_stale: false,
        }
    }

    /// Exports through `output` (and keeps `/v1/stats` current).
    pub(super) fn set_output(&mut self, function: &str, output: SpanOutput) {
        self.collector = TraceCollector::new(function, !output.exporters.is_empty());
        self.output = Some(output);
    }

    /// Also takes spans from the OTLP receiver.
    pub(super) fn set_otlp(&mut self, feed: OtlpFeed) {
        self.otlp = Some(feed);
    }

    /// After a restore: span ids are drawn from a new seed.
    pub(super) fn restored(&mut self) {
        self.collector.restored();
    }

    /// Records a platform telemetry record (received at `now_ns`).
    pub(super) fn record_telemetry(&mut self, record: &Record, now_ns: u64) {
        self.collector.record_telemetry(record, now_ns);
    }

    /// Records a span a handler sent through the SDK (`/v1/stats` is brought up to date
    /// once the intake has been drained: [`Traces::publish_if_stale`]).
    pub(super) fn record_event(&mut self, event: SpanEvent) {
        self.collector.record_handler_span(span_from_event(event));
        self.stats_stale = true;
    }

    /// Publishes `/v1/stats` if spans arrived since it was last published.
    pub(super) fn publish_if_stale(&mut self) {
        if std::mem::take(&mut self.stats_stale) {
            self.publish_stats();
        }
    }

    /// The next spans from the OTLP receiver, or never without one.
    pub(super) async fn next_otlp(&mut self) -> Option<Vec<Span>> {
        match self.otlp.as_mut() {
            Some(feed) => feed.spans.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Records every span batch the OTLP receiver has queued (before a flush).
    pub(super) fn drain_otlp(&mut self) {
        while let Some(spans) = self
            .otlp
            .as_mut()
            .and_then(|feed| feed.spans.try_recv().ok())
        {
            self.record_otlp(spans);
        }
    }

    /// Records spans the OTLP receiver decoded.
    pub(super) fn record_otlp(&mut self, spans: Vec<Span>) {
        for span in spans {
            self.collector.record_handler_span(span);
        }
        self.publish_stats();
    }

    /// Turns the OTLP receiver's counters since the last call into health counts (its
    /// metric data points too: they are handlers' events like any other).
    pub(super) fn account_otlp(&mut self, health: &Health) {
        let Some(feed) = self.otlp.as_mut() else {
            return;
        };
        let now = feed.counters.snapshot();
        let seen = std::mem::replace(&mut feed.seen, now);
        health.received(now.spans_received.saturating_sub(seen.spans_received));
        health.malformed(
            now.malformed_requests
                .saturating_sub(seen.malformed_requests),
        );
        health.malformed(now.spans_rejected.saturating_sub(seen.spans_rejected));
        health.received(now.points_received.saturating_sub(seen.points_received));
        health.malformed(now.points_rejected.saturating_sub(seen.points_rejected));
        health.dropped(now.points_dropped.saturating_sub(seen.points_dropped));
        health.dropped(
            now.connections_refused
                .saturating_sub(seen.connections_refused),
        );
        let dropped = now.spans_dropped.saturating_sub(seen.spans_dropped);
        self.collector.exported(SpanReport::dropped(dropped));
    }

    /// Keeps the `/v1/stats` snapshot current.
    pub(super) fn publish_stats(&self) {
        if let Some(output) = &self.output {
            output.stats.send_replace(self.collector.snapshot());
        }
    }

    /// The buffered spans, handed over for export.
    pub(super) fn take_spans(&mut self) -> Vec<Span> {
        self.collector.take_spans()
    }

    /// Exports `spans` to every exporter concurrently, by `deadline`, and counts the
    /// outcome.
    pub(super) async fn export(&mut self, spans: &[Span], deadline: Instant) {
        if let Some(output) = self.output.as_mut()
            && !spans.is_empty()
        {
            let resource = &output.resource;
            let exports = output
                .exporters
                .iter_mut()
                .map(|exporter| exporter.export(spans, resource, deadline));
            for report in futures_util::future::join_all(exports).await {
                self.collector.exported(report);
            }
        }
        self.publish_stats();
    }

    /// At SHUTDOWN: every exporter delivers what it still holds, by `deadline`.
    pub(super) async fn settle(&mut self, deadline: Instant) {
        if let Some(output) = self.output.as_mut() {
            let resource = &output.resource;
            let settles = output
                .exporters
                .iter_mut()
                .map(|exporter| exporter.settle(resource, deadline));
            for report in futures_util::future::join_all(settles).await {
                self.collector.exported(report);
            }
        }
        self.publish_stats();
    }

    /// The trace statistics as series; malformed spans go to `health`.
    pub(super) fn flush_into(&mut self, function: &str, series: &mut Vec<Series>, health: &Health) {
        health.malformed(self.collector.take_malformed());
        self.collector.flush_into(function, series);
    }
}

/// A handler's span event as the collector keeps it.
fn span_from_event(event: SpanEvent) -> Span {
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
        detail: None,
    }
}
