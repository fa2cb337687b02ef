//! WebSocket connection metrics between flushes: `ConnectionsOpened`, `ConnectionsClosed`,
//! `Messages`, `MessageBytes` from handler events, and the fleet gauge `ActiveConnections`
//! with `ConnectionCountErrors` from the periodic count. Counts are published once per flush
//! (zero counts left out); every message size is kept as a sample so percentiles work.

use liftwatch::Unit;
use liftwatch::protocol::ConnectionEvent;

use crate::aggregate::{function_series, push_counts};
use crate::metrics::Series;

/// Message sizes kept between two flushes; more still count in `Messages` and in the
/// `MessageBytes` sum, folded into one sample.
pub const MAX_MESSAGE_SAMPLES: usize = 10_000;

/// Aggregates connection events and counts between flushes.
#[derive(Debug, Default)]
pub struct ConnectionAggregator {
    opened: u64,
    closed: u64,
    messages: u64,
    message_bytes: Vec<f64>,
    /// Bytes of the messages past [`MAX_MESSAGE_SAMPLES`].
    overflow_bytes: f64,
    active: Option<f64>,
    count_errors: u64,
}

impl ConnectionAggregator {
    /// Records one handler event.
    pub fn record(&mut self, event: ConnectionEvent) {
        match event {
            ConnectionEvent::Opened => self.opened += 1,
            ConnectionEvent::Closed => self.closed += 1,
            ConnectionEvent::Message { bytes } => {
                self.messages += 1;
                if self.message_bytes.len() < MAX_MESSAGE_SAMPLES {
                    self.message_bytes.push(bytes as f64);
                } else {
                    self.overflow_bytes += bytes as f64;
                }
            }
        }
    }

    /// Records the fleet-wide count read from the connection table (the last one wins).
    pub fn record_active(&mut self, active: u64) {
        self.active = Some(active as f64);
    }

    /// Records a failed count.
    pub fn record_count_error(&mut self) {
        self.count_errors += 1;
    }

    /// Moves everything recorded since the last flush into `out`.
    pub fn flush_into(&mut self, function: &str, out: &mut Vec<Series>) {
        let counts = [
            ("ConnectionsOpened", std::mem::take(&mut self.opened)),
            ("ConnectionsClosed", std::mem::take(&mut self.closed)),
            ("Messages", std::mem::take(&mut self.messages)),
            (
                "ConnectionCountErrors",
                std::mem::take(&mut self.count_errors),
            ),
        ];
        push_counts(function, counts, out);
        let mut bytes = std::mem::take(&mut self.message_bytes);
        let overflow = std::mem::take(&mut self.overflow_bytes);
        if overflow > 0.0 {
            bytes.push(overflow);
        }
        if !bytes.is_empty() {
            out.push(function_series(
                function,
                "MessageBytes",
                Unit::Bytes,
                bytes,
            ));
        }
        if let Some(active) = self.active.take() {
            out.push(function_series(
                function,
                "ActiveConnections",
                Unit::Count,
                vec![active],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(series: &[Series], name: &str) -> Option<Vec<f64>> {
        series
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.values.clone())
    }

    #[test]
    fn events_become_counts_and_samples_once() {
        let mut connections = ConnectionAggregator::default();
        for event in [
            ConnectionEvent::Opened,
            ConnectionEvent::Opened,
            ConnectionEvent::Closed,
            ConnectionEvent::Message { bytes: 100 },
            ConnectionEvent::Message { bytes: 300 },
        ] {
            connections.record(event);
        }
        connections.record_active(41);
        connections.record_active(42);
        connections.record_count_error();
        let mut out = Vec::new();
        connections.flush_into("f", &mut out);
        assert_eq!(values(&out, "ConnectionsOpened"), Some(vec![2.0]));
        assert_eq!(values(&out, "ConnectionsClosed"), Some(vec![1.0]));
        assert_eq!(values(&out, "Messages"), Some(vec![2.0]));
        assert_eq!(values(&out, "MessageBytes"), Some(vec![100.0, 300.0]));
        assert_eq!(values(&out, "ActiveConnections"), Some(vec![42.0]));
        assert_eq!(values(&out, "ConnectionCountErrors"), Some(vec![1.0]));
        assert!(
            out.iter()
                .all(|s| s.dimensions == [("FunctionName".to_owned(), "f".to_owned())])
        );
        let mut again = Vec::new();
        connections.flush_into("f", &mut again);
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn message_sizes_past_the_cap_still_add_up() {
        let mut connections = ConnectionAggregator::default();
        for _ in 0..MAX_MESSAGE_SAMPLES + 5 {
            connections.record(ConnectionEvent::Message { bytes: 2 });
        }
        let mut out = Vec::new();
        connections.flush_into("f", &mut out);
        let bytes = values(&out, "MessageBytes").unwrap_or_default();
        assert_eq!(bytes.len(), MAX_MESSAGE_SAMPLES + 1);
        assert_eq!(
            bytes.iter().sum::<f64>(),
            2.0 * (MAX_MESSAGE_SAMPLES + 5) as f64
        );
        assert_eq!(
            values(&out, "Messages"),
            Some(vec![(MAX_MESSAGE_SAMPLES + 5) as f64])
        );
    }
}
