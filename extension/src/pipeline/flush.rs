//! A flush: drain what is queued, gather every aggregator's series, export them to the
//! sinks (and spans to the span exporters) concurrently under one deadline, then write the
//! rate-limit statistics table.

use std::time::Instant;

use liftwatch::Unit;
use liftwatch::clock::now_ms;

use super::{FlushSummary, Pipeline};
use crate::aggregate;
use crate::metrics::MetricBatch;
use crate::sink::SinkError;

impl Pipeline {
    pub(super) async fn flush(&mut self, deadline: Instant) -> FlushSummary {
        let started = Instant::now();
        self.drain_intake(usize::MAX);
        if let Some(intake) = self.intake.as_mut() {
            self.health.dropped(intake.take_kernel_drops_if_due());
        }
        self.drain_telemetry();
        self.traces.account_otlp(&self.health);
        self.last_flush = Instant::now();
        let spans = self.traces.take_spans();
        // At SHUTDOWN spans go first, so the last batch says what was exported.
        let spans = if self.final_flush {
            self.traces.export(&spans, deadline).await;
            Vec::new()
        } else {
            spans
        };
        let mut batch = MetricBatch {
            timestamp_ms: now_ms(),
            series: Vec::new(),
        };
        let (function, series) = (self.function.as_str(), &mut batch.series);
        self.invocations.flush_into(function, series);
        self.custom.flush_into(function, series);
        self.sampling.flush_into(function, series);
        self.connections.flush_into(function, series);
        self.traces.flush_into(function, series, &self.health);
        self.ratelimits.flush_into(function, series);
        self.health.malformed(self.sampling.take_errors());
        let counts = self.health.take();
        aggregate::health_series(function, counts, series);
        // Only a flush that published more than earlier flushes' durations adds its own,
        // or an idle sandbox would write one document per interval forever.
        let publishes_data = !series.is_empty();
        let durations = &mut self.flush_durations;
        aggregate::take_samples(
            function,
            [("FlushDuration", Unit::Milliseconds, durations)],
            series,
        );
        if batch.is_empty() {
            self.traces.export(&spans, deadline).await;
            self.ratelimits
                .write_table(self.final_flush, deadline, &self.health)
                .await;
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
        let span_exports = self.traces.export(&spans, deadline);
        let (sink_results, ()) = futures_util::future::join(sink_results, span_exports).await;
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
        self.ratelimits
            .write_table(self.final_flush, deadline, &self.health)
            .await;
        if publishes_data {
            self.flush_durations
                .push(started.elapsed().as_secs_f64() * 1_000.0);
        }
        FlushSummary {
            telemetry_records: self.telemetry_records,
            series: batch.series.len(),
            values: batch.value_count(),
        }
    }
}
