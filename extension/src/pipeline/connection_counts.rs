//! The connection part of the pipeline: the handlers' connection events counted for the
//! opened/closed/message metrics, and, when `LIFTWATCH_CONNECTIONS_TABLE` is set, the
//! periodic fleet-wide `ActiveConnections` count whose attempts report here.

use std::time::{Duration, Instant};

use liftwatch::protocol::ConnectionEvent;
use tokio::sync::mpsc;

use crate::active_connections::{Attempt, ConnectionCounter};
use crate::aggregate::ConnectionAggregator;
use crate::aws::ClientOptions;
use crate::metrics::Series;

/// The longest SHUTDOWN spends on a running attempt, and again on handing the lease back.
const RELEASE_TIMEOUT: Duration = Duration::from_millis(300);

/// The connection metrics and the optional fleet counter.
#[derive(Debug, Default)]
pub(super) struct ConnectionCounts {
    metrics: ConnectionAggregator,
    /// The counter and where its attempts report.
    counter: Option<(ConnectionCounter, mpsc::Receiver<Attempt>)>,
    /// The "no connection table" note was logged.
    warned_no_counter: bool,
}

impl ConnectionCounts {
    /// Publishes the fleet's `ActiveConnections` from `table` every `interval`.
    pub(super) fn set_counter(
        &mut self,
        table: String,
        interval: Duration,
        options: ClientOptions,
    ) {
        let (results, rx) = mpsc::channel(1);
        let counter = ConnectionCounter::new(table, interval, options, results);
        self.counter = Some((counter, rx));
    }

    /// After a restore: the counter takes a new holder id and a new connection; its ids
    /// before and after, when there is a counter.
    pub(super) fn restored(&mut self) -> Option<(String, String)> {
        let (counter, _) = self.counter.as_mut()?;
        let before = counter.holder().to_owned();
        counter.restored();
        Some((before, counter.holder().to_owned()))
    }

    /// Counts a handler's connection event.
    pub(super) fn record(&mut self, event: ConnectionEvent) {
        if self.counter.is_none() && !std::mem::replace(&mut self.warned_no_counter, true) {
            tracing::warn!(
                "ActiveConnections is off: set LIFTWATCH_CONNECTIONS_TABLE to the connection table to publish the fleet-wide count"
            );
        }
        self.metrics.record(event);
    }

    /// At INVOKE: starts a count attempt when one is due.
    pub(super) fn invoke_started(&mut self, now: Instant) {
        if let Some((counter, _)) = self.counter.as_mut() {
            counter.start_if_due(now);
        }
    }

    /// The next attempt result, or never without a counter.
    pub(super) async fn next_attempt(&mut self) -> Option<Attempt> {
        match self.counter.as_mut() {
            Some((_, results)) => results.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Records what a count attempt found and schedules the next.
    pub(super) fn record_attempt(&mut self, attempt: Attempt) {
        match attempt {
            Attempt::Published(active) => self.metrics.record_active(active),
            Attempt::Failed => self.metrics.record_count_error(),
            Attempt::HeldElsewhere(_) => {}
        }
        if let Some((counter, _)) = self.counter.as_mut() {
            counter.finished(attempt);
        }
    }

    /// At SHUTDOWN: waits (briefly) for an attempt still running, so its count is
    /// published and a lease it took is handed back rather than left to a sandbox about
    /// to die.
    pub(super) async fn await_attempt(&mut self, deadline: Instant) {
        let Some((counter, results)) = self.counter.as_mut() else {
            return;
        };
        if !counter.in_flight() {
            return;
        }
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(RELEASE_TIMEOUT);
        if let Ok(Some(attempt)) = tokio::time::timeout(wait, results.recv()).await {
            self.record_attempt(attempt);
        }
    }

    /// At SHUTDOWN: hands the lease back when this sandbox holds it.
    pub(super) async fn release(&mut self, deadline: Instant) {
        if let Some((counter, _)) = self.counter.as_mut() {
            let left = deadline.saturating_duration_since(Instant::now());
            counter.release(left.min(RELEASE_TIMEOUT)).await;
        }
    }

    /// The connection metrics as series.
    pub(super) fn flush_into(&mut self, function: &str, series: &mut Vec<Series>) {
        self.metrics.flush_into(function, series);
    }
}
