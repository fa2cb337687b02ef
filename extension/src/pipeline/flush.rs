//! A flush: drain what is queued, gather every aggregator's series, export them to the
//! sinks concurrently under one deadline, then write the rate-limit statistics table.

use std::time::Instant;

use liftwatch::clock::now_ms;

use super::{FlushSummary, Pipeline};
use crate::aggregate;
use crate::metrics::MetricBatch;
use crate::ratelimit::WriteReport;
use crate::sink::SinkError;

impl Pipeline {
    pub(super) async fn flush(&mut self, deadline: Instant) -> FlushSummary {
        self.drain_intake(usize::MAX);
        if let Some(intake) = self.intake.as_mut() {
            self.health.dropped(intake.take_kernel_drops_if_due());
        }
        self.drain_telemetry();
        self.account_otlp();
        self.last_flush = Instant::now();
        let spans = self.traces.take_spans();
        // At SHUTDOWN spans go first, so the last batch says what was exported.
        let spans = if self.final_flush {
            self.export_spans(spans, deadline).await;
            Vec::new()
        } else {
            spans
        };
        let mut batch = MetricBatch {
            timestamp_ms: now_ms(),
            series: Vec::new(),
        };
        self.invocations
            .flush_into(&self.function, &mut batch.series);
        self.custom.flush_into(&self.function, &mut batch.series);
        self.resources.flush_into(&self.function, &mut batch.series);
        self.connections
            .flush_into(&self.function, &mut batch.series);
        self.health.malformed(self.traces.take_malformed());
        self.traces.flush_into(&self.function, &mut batch.series);
        let decisions = self.ratelimit.flush();
        decisions.series_into(&self.function, &mut batch.series);
        if let Some(sampler) = self.sampler.as_mut() {
            self.health.malformed(sampler.take_errors());
        }
        let counts = self.health.take();
        aggregate::health_series(&self.function, counts, &mut batch.series);
        if batch.is_empty() {
            self.export_spans(spans, deadline).await;
            self.write_table(deadline).await;
            return FlushSummary {
                telemetry_records: self.telemetry_records,
                ..FlushSummary::default()
            };
        }
        // Sinks export concurrently, each bound by the same deadline; span exporters run
        // beside them (their counts are published with the next flush).
        let exports = self.sinks.iter_mut().map(|sink| {
            let name = sink.name();
            let export = sink.export(&batch, deadline);
            async move { (name, export.await) }
        });
        let sink_results = futures_util::future::join_all(exports);
        let span_reports = export_to(self.span_output.as_mut(), &spans, deadline);
        let (sink_results, span_reports) =
            futures_util::future::join(sink_results, span_reports).await;
        for report in span_reports {
            self.traces.exported(report);
        }
        for (name, result) in sink_results {
            match result {
                Ok(report) => self.health.malformed(report.values_rejected),
                Err(error) => {
                    self.health.sink_error(1);
                    if let SinkError::Incomplete { report, .. } = &error {
                        self.health.malformed(report.values_rejected);
                        self.health.dropped(report.values_dropped);
                    }
                    tracing::warn!(sink = name, %error, "sink export incomplete");
                }
            }
        }
        self.write_table(deadline).await;
        FlushSummary {
            telemetry_records: self.telemetry_records,
            series: batch.series.len(),
            values: batch.value_count(),
        }
    }

    /// Writes the rate-limit statistics table when its interval has passed (or at SHUTDOWN).
    async fn write_table(&mut self, deadline: Instant) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        let now_unix = now_ms() / 1000;
        let Some(report) = table.write_due(self.final_flush, now_unix, deadline).await else {
            return;
        };
        self.health.dropped(report.dropped as u64);
        if report.kept > 0 || report.dropped > 0 {
            self.health.sink_error(1);
            log_table_failure(&report);
        }
    }
}

fn log_table_failure(report: &WriteReport) {
    let error = report
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::warn!(
        kept = report.kept,
        dropped = report.dropped,
        error,
        "rate-limit statistics table write incomplete"
    );
}

/// Exports `spans` to every exporter of `output` by `deadline` (borrowing only the span
/// output, so that it can run beside the sinks).
pub(super) async fn export_to(
    output: Option<&mut super::SpanOutput>,
    spans: &[crate::traces::Span],
    deadline: Instant,
) -> Vec<crate::traces::SpanReport> {
    let Some(output) = output else {
        return Vec::new();
    };
    if spans.is_empty() {
        return Vec::new();
    }
    let resource = &output.resource;
    let exports = output
        .exporters
        .iter_mut()
        .map(|exporter| exporter.export(spans, resource, deadline));
    futures_util::future::join_all(exports).await
}
