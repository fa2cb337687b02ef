//! What the OTLP intake counts, shared with the pipeline (which turns the values into
//! `EventsReceived` / `EventsMalformed` / `SpansDropped` and the like). Lock-free: the
//! intake's connection tasks add, the pipeline reads.

use std::sync::atomic::{AtomicU64, Ordering};

/// The OTLP intake's counters; share them as `Arc<IntakeCounters>`.
#[derive(Debug, Default)]
pub struct IntakeCounters {
    spans_received: AtomicU64,
    spans_rejected: AtomicU64,
    spans_dropped: AtomicU64,
    malformed_requests: AtomicU64,
    connections_refused: AtomicU64,
    points_received: AtomicU64,
    points_rejected: AtomicU64,
    points_dropped: AtomicU64,
}

/// The counters' values at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IntakeSnapshot {
    /// Valid spans handed to the pipeline.
    pub spans_received: u64,
    /// Spans refused inside an accepted request (bad ids), reported back as a partial
    /// success.
    pub spans_rejected: u64,
    /// Valid spans refused with 503 because the pipeline's queue was full (a client that
    /// retries may deliver them later).
    pub spans_dropped: u64,
    /// Requests answered 400, 413 or 415.
    pub malformed_requests: u64,
    /// Connections closed at once because the receiver held as many as it may.
    pub connections_refused: u64,
    /// Metric data points handed to the pipeline.
    pub points_received: u64,
    /// Data points refused inside an accepted request, reported back as a partial success.
    pub points_rejected: u64,
    /// Data points refused with 503 because the pipeline's queue was full.
    pub points_dropped: u64,
}

impl IntakeCounters {
    pub(super) fn received(&self, n: u64) {
        self.spans_received.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn rejected(&self, n: u64) {
        self.spans_rejected.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn dropped(&self, n: u64) {
        self.spans_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn points_received(&self, n: u64) {
        self.points_received.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn points_rejected(&self, n: u64) {
        self.points_rejected.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn points_dropped(&self, n: u64) {
        self.points_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn malformed(&self) {
        self.malformed_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> IntakeSnapshot {
        IntakeSnapshot {
            spans_received: self.spans_received.load(Ordering::Relaxed),
            spans_rejected: self.spans_rejected.load(Ordering::Relaxed),
            spans_dropped: self.spans_dropped.load(Ordering::Relaxed),
            malformed_requests: self.malformed_requests.load(Ordering::Relaxed),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
            points_received: self.points_received.load(Ordering::Relaxed),
            points_rejected: self.points_rejected.load(Ordering::Relaxed),
            points_dropped: self.points_dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_in_the_snapshot() {
        let counters = IntakeCounters::default();
        counters.received(3);
        counters.received(2);
        counters.rejected(1);
        counters.dropped(4);
        counters.malformed();
        counters.connection_refused();
        counters.points_received(7);
        counters.points_rejected(2);
        counters.points_dropped(3);
        assert_eq!(
            counters.snapshot(),
            IntakeSnapshot {
                spans_received: 5,
                spans_rejected: 1,
                spans_dropped: 4,
                malformed_requests: 1,
                connections_refused: 1,
                points_received: 7,
                points_rejected: 2,
                points_dropped: 3,
            }
        );
    }
}
