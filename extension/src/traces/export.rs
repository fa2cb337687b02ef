//! The span exporter contract, the tracing counterpart of `crate::sink::Sink`: all retry
//! logic lives inside `export`, which returns by the deadline it is given; a failure is
//! returned and counted (`SpansDropped`), never propagated to the lifecycle loop.

use std::time::Instant;

use super::span::{Resource, Span};
use crate::sink::SinkFuture;

/// What an export of a batch of spans achieved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpanReport {
    /// Spans the destination accepted.
    pub exported: u64,
    /// Spans given up on (refused, too large, out of time).
    pub dropped: u64,
    /// Spans delivered with part of their content cut to fit the destination's limits.
    pub truncated: u64,
}

impl SpanReport {
    /// `count` spans, none of them delivered.
    pub fn dropped(count: u64) -> Self {
        SpanReport {
            dropped: count,
            ..Default::default()
        }
    }
}

/// A destination for finished, sampled spans.
pub trait SpanExporter: Send + std::fmt::Debug {
    /// A short name for logs.
    fn name(&self) -> &'static str;

    /// Sends `spans` (all of one extension, described by `resource`), retrying
    /// internally, returning by `deadline`. Never fails: what could not be sent is counted
    /// in the report's `dropped`.
    fn export<'a>(
        &'a mut self,
        spans: &'a [Span],
        resource: &'a Resource,
        deadline: Instant,
    ) -> SinkFuture<'a, SpanReport>;

    /// At SHUTDOWN, after the last `export`: delivers what the exporter still holds
    /// (a breaker's pending spans), returning by `deadline`. Nothing, by default.
    fn settle<'a>(
        &'a mut self,
        _resource: &'a Resource,
        _deadline: Instant,
    ) -> SinkFuture<'a, SpanReport> {
        Box::pin(async { SpanReport::default() })
    }
}
