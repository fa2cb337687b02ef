//! OpenTelemetry metrics in the pipeline: the OTLP receiver's data points, cumulative
//! streams turned into deltas (the state lives here, owned by the pipeline's task), then
//! recorded into the custom aggregator beside the handlers' UDP metrics.

use tokio::sync::mpsc;

use crate::aggregate::CustomAggregator;
use crate::health::Health;
use crate::otlp_metrics::delta::Outcome;
use crate::otlp_metrics::{Point, Streams, events_from};

/// The receiver's metric feed and the streams' state.
#[derive(Debug)]
pub(super) struct OtlpMetrics {
    feed: Option<mpsc::Receiver<Vec<Point>>>,
    streams: Streams,
}

impl Default for OtlpMetrics {
    fn default() -> Self {
        OtlpMetrics {
            feed: None,
            // Replaced with the extension's start time when a feed is set; unused before.
            streams: Streams::new(0),
        }
    }
}

impl OtlpMetrics {
    /// Takes points from `feed`; streams that started before `started_unix_nanos` (when the
    /// extension started) only set a baseline on their first point.
    pub(super) fn set_feed(&mut self, feed: mpsc::Receiver<Vec<Point>>, started_unix_nanos: u64) {
        self.feed = Some(feed);
        self.streams = Streams::new(started_unix_nanos);
    }

    /// The next batch of points, or never without a feed.
    pub(super) async fn next(&mut self) -> Option<Vec<Point>> {
        match self.feed.as_mut() {
            Some(feed) => feed.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Records every batch already queued (before a flush).
    pub(super) fn drain(&mut self, custom: &mut CustomAggregator, health: &Health) {
        while let Some(points) = self.feed.as_mut().and_then(|feed| feed.try_recv().ok()) {
            self.record(points, custom, health);
        }
    }

    /// Records `points`; what a bound refuses is counted in `EventsDropped`.
    pub(super) fn record(
        &mut self,
        points: Vec<Point>,
        custom: &mut CustomAggregator,
        health: &Health,
    ) {
        for point in points {
            match self.streams.delta(point) {
                Outcome::Send(delta) => events_from(delta, |event| {
                    if !custom.record(event) {
                        health.dropped(1);
                    }
                }),
                Outcome::Baseline => {}
                Outcome::Refused => health.dropped(1),
            }
        }
    }
}
