//! The rate-limit part of the pipeline: decisions counted for the `RateLimit*` metrics at
//! every flush and, when `LIFTWATCH_RATELIMIT_TABLE` is set, for the statistics table on
//! its own cadence.

use std::time::Instant;

use crate::health::Health;
use crate::metrics::Series;
use crate::ratelimit::{Decision, RateLimitAggregator, TableSchedule, WriteReport};

/// The metrics' aggregator and the optional table.
#[derive(Debug)]
pub(super) struct RateLimits {
    metrics: RateLimitAggregator,
    table: Option<TableSchedule>,
    /// The "no statistics table" note was logged.
    warned_no_table: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            metrics: RateLimitAggregator::new(),
            table: None,
            warned_no_table: false,
        }
    }
}

impl RateLimits {
    pub(super) fn set_table(&mut self, table: TableSchedule) {
        self.table = Some(table);
    }

    /// After a restore: the table writer takes a new id and a new connection; its ids
    /// before and after, when there is a table.
    pub(super) fn restored(&mut self) -> Option<(String, String)> {
        self.table.as_mut().and_then(TableSchedule::restored)
    }

    /// Counts a decision; false when an aggregator had to drop it.
    pub(super) fn record(&mut self, decision: Decision) -> bool {
        let in_table = match self.table.as_mut() {
            Some(table) => table.record(decision.clone()),
            None => {
                if !std::mem::replace(&mut self.warned_no_table, true) {
                    tracing::warn!(
                        "rate-limit decisions go to metrics only: set LIFTWATCH_RATELIMIT_TABLE for per-window statistics"
                    );
                }
                true
            }
        };
        self.metrics.record(decision) && in_table
    }

    /// The decisions since the last flush as `RateLimit*` series.
    pub(super) fn flush_into(&mut self, function: &str, series: &mut Vec<Series>) {
        self.metrics.flush().series_into(function, series);
    }

    /// Writes the statistics table when its interval has passed (everything when `force`,
    /// at SHUTDOWN); what it could not write is counted in `health`.
    pub(super) async fn write_table(&mut self, force: bool, deadline: Instant, health: &Health) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        let now_unix = liftwatch::clock::now_secs();
        let Some(report) = table.write_due(force, now_unix, deadline).await else {
            return;
        };
        // At SHUTDOWN what the writer still keeps has no later write.
        let lost = report.dropped + if force { report.kept } else { 0 };
        health.dropped(lost as u64);
        if report.kept > 0 || report.dropped > 0 {
            health.sink_error(1);
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
