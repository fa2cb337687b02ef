//! Sinks: where a flushed `MetricBatch` goes. EMF on stdout is the default.
//!
//! The contract every sink keeps: all retry logic lives inside `export`; `export` returns
//! by the deadline it is given; a failure is returned (the pipeline counts it as
//! `SinkErrors`), never propagated to the lifecycle loop; `shutdown` is idempotent.

pub mod cloudwatch;
pub mod emf;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use crate::metrics::MetricBatch;

pub use cloudwatch::CloudWatchSink;
pub use emf::EmfSink;

/// A boxed future, so sinks of different types sit in one list.
pub type SinkFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an export achieved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportReport {
    /// Values published.
    pub values_written: u64,
    /// Values the sink refused as invalid (NaN, bad names, ...), counted as malformed.
    pub values_rejected: u64,
    /// Valid values the sink gave up on (refused by the service, or beyond its buffer).
    pub values_dropped: u64,
}

/// A sink that could not publish.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing to the sink's output failed")]
    Io(#[from] std::io::Error),
    #[error("the sink ran out of time")]
    Deadline,
    /// Part of the batch was not published: `report` says what was written, rejected and
    /// dropped; `values_kept` values wait inside the sink for its next export.
    #[error("{values_kept} values kept for the next export, {} dropped", report.values_dropped)]
    Incomplete {
        report: ExportReport,
        values_kept: u64,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A destination for flushed metrics.
pub trait Sink: Send + std::fmt::Debug {
    /// True for a sink that writes on this machine (EMF on stdout): a flush writes to it
    /// first, before any network I/O.
    fn is_local(&self) -> bool {
        false
    }

    /// A short name for logs.
    fn name(&self) -> &'static str;

    /// Publishes `batch`, retrying internally, returning by `deadline`.
    fn export<'a>(
        &'a mut self,
        batch: &'a MetricBatch,
        deadline: Instant,
    ) -> SinkFuture<'a, Result<ExportReport, SinkError>>;

    /// Releases what the sink holds, trying once more by `deadline` to deliver what it
    /// kept; returns the values it had to drop (counted in `EventsDropped` by the final
    /// flush's last local document). Safe to call more than once.
    fn shutdown(&mut self, deadline: Instant) -> SinkFuture<'_, u64>;

    /// After a SnapStart restore: drop connections opened before the snapshot (they may be
    /// dead) and anything else that must not be shared with the snapshot's other copies.
    fn restored(&mut self) {}
}
