//! A flush: drain what is queued, gather every aggregator's series, write them to the local
//! sinks (EMF) first, then to the network sinks and the spans to the span exporters
//! concurrently under the deadline, and write the rate-limit statistics table. At SHUTDOWN
//! a last local document carries what those exports counted.

use std::time::{Duration, Instant};

use liftwatch::Unit;

use super::{FlushSummary, Pipeline};
use crate::aggregate;
use crate::health::Health;
use crate::metrics::MetricBatch;
use crate::sink::{Sink, SinkError};

/// At SHUTDOWN, the time kept after the network exports for the last local document (the
/// span counts and sink errors they produced).
const FINAL_DOCUMENT_RESERVE: Duration = Duration::from_millis(50);

impl Pipeline {
    pub(super) async fn flush(&mut self, deadline: Instant) -> FlushSummary {
        let started = Instant::now();
        self.drain_intake(usize::MAX);
        if let Some(intake) = self.intake.as_mut() {
            // At SHUTDOWN the last chance to count what the kernel dropped: look now.
            let lost = if self.final_flush {
                intake.take_dropped(true)
            } else {
                intake.take_dropped_if_due()
            };
            self.health.dropped_in_transit(lost.exact, lost.estimated);
        }
        self.drain_telemetry();
        self.traces.drain_otlp();
        self.otlp_metrics.drain(&mut self.custom, &self.health);
        if self.final_flush {
            self.gate.give_up();
        } else {
            self.gate.flushed();
        }
        self.health.malformed(self.gate.take_dropped());
        self.traces.account_otlp(&self.health);
        self.last_flush = Instant::now();
        let spans = self.traces.take_spans();
        let mut batch = MetricBatch::now();
        let publishes_data = self.gather(&mut batch);
        // Local output first: EMF needs no network, so nothing a network sink does (a
        // collector that never answers, say) can keep it from being written.
        export_batch(
            &mut self.sinks,
            &self.health,
            &batch,
            deadline,
            Locality::Local,
        )
        .await;
        // At SHUTDOWN the network gets what is left but a reserve for the last document.
        let network_deadline = if self.final_flush {
            let left = deadline.saturating_duration_since(Instant::now());
            deadline
                .checked_sub(FINAL_DOCUMENT_RESERVE.min(left / 2))
                .unwrap_or(deadline)
        } else {
            deadline
        };
        // Network sinks and span exporters run concurrently, each bound by the deadline.
        let sinks = export_batch(
            &mut self.sinks,
            &self.health,
            &batch,
            network_deadline,
            Locality::Network,
        );
        let final_flush = self.final_flush;
        let span_exports = async {
            self.traces.export(&spans, network_deadline).await;
            if final_flush {
                self.traces.settle(network_deadline).await;
            }
        };
        futures_util::future::join(sinks, span_exports).await;
        self.ratelimits
            .write_table(self.final_flush, network_deadline, &self.health)
            .await;
        if self.final_flush {
            // The network sinks' last try at what they kept; what they drop is counted.
            let shutdowns = self
                .sinks
                .iter_mut()
                .filter(|sink| !sink.is_local())
                .map(|sink| sink.shutdown(network_deadline));
            let dropped: u64 = futures_util::future::join_all(shutdowns)
                .await
                .into_iter()
                .sum();
            if dropped > 0 {
                self.health.dropped(dropped);
                self.health.sink_error(1);
            }
            // What the exports above counted (spans exported or dropped, sink errors,
            // values the sinks dropped) has no next flush: it goes out locally now.
            let mut last = MetricBatch::now();
            let function = self.function.as_str();
            self.traces
                .flush_into(function, &mut last.series, &self.health);
            aggregate::health_series(function, self.health.take(), &mut last.series);
            export_batch(
                &mut self.sinks,
                &self.health,
                &last,
                deadline,
                Locality::Local,
            )
            .await;
        }
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

    /// Moves every aggregator's series into `batch`; false when nothing but earlier
    /// flushes' durations is in it.
    fn gather(&mut self, batch: &mut MetricBatch) -> bool {
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
        publishes_data
    }
}

/// Exports `batch` to the sinks of `locality`, concurrently, by `deadline`; what they
/// could not do is counted.
async fn export_batch(
    sinks: &mut [Box<dyn Sink>],
    health: &Health,
    batch: &MetricBatch,
    deadline: Instant,
    locality: Locality,
) {
    if batch.is_empty() {
        return;
    }
    let local = locality == Locality::Local;
    let exports = sinks
        .iter_mut()
        .filter(|sink| sink.is_local() == local)
        .map(|sink| {
            let name = sink.name();
            let export = sink.export(batch, deadline);
            async move { (name, export.await) }
        });
    for (name, result) in futures_util::future::join_all(exports).await {
        match result {
            Ok(report) => health.malformed(report.values_rejected),
            Err(error) => {
                health.sink_error(1);
                if let SinkError::Incomplete { report, .. } = &error {
                    health.malformed(report.values_rejected);
                    health.dropped(report.values_dropped);
                }
                tracing::warn!(sink = name, %error, "sink export incomplete");
            }
        }
    }
}

/// Which sinks an export goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locality {
    /// Written on this machine (EMF on stdout): first, always.
    Local,
    /// Over the network (CloudWatch): after the local output.
    Network,
}
