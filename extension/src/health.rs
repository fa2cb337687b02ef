//! The extension's own health counters, shared by the intakes and the pipeline and
//! published with every flush as `EventsReceived`, `EventsDropped` (of which
//! `EventsDroppedEstimated` estimated), `EventsMalformed` and `SinkErrors`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters that any task may bump; the pipeline takes them at each flush.
#[derive(Debug, Default)]
pub struct Health {
    received: AtomicU64,
    dropped: AtomicU64,
    dropped_estimated: AtomicU64,
    malformed: AtomicU64,
    sink_errors: AtomicU64,
}

/// The counts taken at one flush.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HealthCounts {
    pub received: u64,
    /// Every event known lost, the estimated ones included.
    pub dropped: u64,
    /// The part of `dropped` that is an estimate (unnumbered datagrams the kernel dropped).
    pub dropped_estimated: u64,
    pub malformed: u64,
    pub sink_errors: u64,
}

impl Health {
    pub fn received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    pub fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Events lost in datagrams the kernel dropped: `exact` counted from the senders'
    /// numbers, `estimated` from the kernel's count of the other datagrams.
    pub fn dropped_in_transit(&self, exact: u64, estimated: u64) {
        self.dropped(exact + estimated);
        self.dropped_estimated
            .fetch_add(estimated, Ordering::Relaxed);
    }

    pub fn malformed(&self, n: u64) {
        self.malformed.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sink_error(&self, n: u64) {
        self.sink_errors.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes the counts since the last call, leaving zeros.
    pub fn take(&self) -> HealthCounts {
        HealthCounts {
            received: self.received.swap(0, Ordering::Relaxed),
            dropped: self.dropped.swap(0, Ordering::Relaxed),
            dropped_estimated: self.dropped_estimated.swap(0, Ordering::Relaxed),
            malformed: self.malformed.swap(0, Ordering::Relaxed),
            sink_errors: self.sink_errors.swap(0, Ordering::Relaxed),
        }
    }

    /// Puts counts back (a flush that produced nothing to publish keeps them).
    pub fn restore(&self, counts: HealthCounts) {
        self.received(counts.received);
        self.dropped(counts.dropped);
        self.dropped_estimated
            .fetch_add(counts.dropped_estimated, Ordering::Relaxed);
        self.malformed(counts.malformed);
        self.sink_error(counts.sink_errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_resets_and_restore_adds_back() {
        let h = Health::default();
        h.received(3);
        h.dropped(1);
        h.malformed(2);
        let taken = h.take();
        assert_eq!(
            taken,
            HealthCounts {
                received: 3,
                dropped: 1,
                dropped_estimated: 0,
                malformed: 2,
                sink_errors: 0
            }
        );
        assert_eq!(h.take(), HealthCounts::default());
        h.received(1);
        h.restore(taken);
        assert_eq!(h.take().received, 4);
    }

    #[test]
    fn events_lost_in_transit_count_in_dropped_and_the_estimate_apart() {
        let h = Health::default();
        h.dropped_in_transit(190, 8);
        let taken = h.take();
        assert_eq!((taken.dropped, taken.dropped_estimated), (198, 8));
        h.restore(taken);
        assert_eq!(h.take().dropped_estimated, 8);
    }
}
