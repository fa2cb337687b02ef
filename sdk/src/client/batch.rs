//! Batches: several events packed into one datagram (one `\n`-separated line each, up to
//! 8 KiB), so one system call carries many events. Sent when full, on `flush` and on drop,
//! each datagram numbered by a `sequence` line (docs/PROTOCOL.md) so that the extension
//! counts exactly the events of any datagram the kernel drops.

use super::{Client, SendError, datagram_fits};
use crate::metric::Metric;
use crate::protocol::{self, MetricKind, ProtocolError, RECOMMENDED_DATAGRAM_BYTES, Resolution};
use crate::ratelimit::RateLimitDecision;
use crate::unit::Unit;

/// Room kept in each datagram for its `sequence` line (at most 110 bytes with a 16-digit
/// sender), so a numbered datagram stays within the recommended 8 KiB.
const SEQUENCE_LINE_RESERVE: usize = 128;

/// Events waiting to be sent together; made by [`Client::batch`]. Each event is validated
/// when it is added, with the same rules as [`Client::send`]; the events are sent when the
/// next one would take the datagram past 8 KiB, on [`Batch::flush`], and on drop.
/// [`Client::sent`] counts them once they are handed to the kernel.
///
/// ```
/// use liftwatch::{Client, Metric, Unit};
/// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// # let port = intake.local_addr().unwrap().port();
/// let client = Client::new(port);
/// let mut batch = client.batch();
/// batch.count("ItemsProcessed", 3.0);
/// batch.timing("ItemLatency", 4.5);
/// batch.send(Metric::distribution("ItemSize", 512.0).unit(Unit::Bytes));
/// assert_eq!(batch.len(), 3);
/// batch.flush().unwrap(); // one datagram, three lines
/// assert!(batch.is_empty());
/// assert_eq!(client.sent(), 3);
/// ```
#[derive(Debug)]
pub struct Batch<'c> {
    client: &'c Client,
    buf: Vec<u8>,
    events: u64,
    /// The line that did not fit, kept aside while the full datagram is sent.
    spare: Vec<u8>,
}

impl<'c> Batch<'c> {
    pub(super) fn new(client: &'c Client) -> Self {
        Batch {
            client,
            buf: Vec::new(),
            events: 0,
            spare: Vec::new(),
        }
    }

    /// Adds `value` to a counter metric (unit `Count`), like [`Client::count`].
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// batch.count("Orders", 1.0);
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn count(&mut self, name: &str, value: f64) {
        let _ = self.push_simple(name, value, MetricKind::Count, Unit::Count);
    }

    /// Adds a duration sample in milliseconds, like [`Client::timing`].
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// batch.timing("Latency", 12.0);
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn timing(&mut self, name: &str, millis: f64) {
        let _ = self.push_simple(name, millis, MetricKind::Distribution, Unit::Milliseconds);
    }

    /// Adds a gauge value, like [`Client::gauge`].
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// batch.gauge("QueueDepth", 4.0);
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn gauge(&mut self, name: &str, value: f64) {
        let _ = self.push_simple(name, value, MetricKind::Gauge, Unit::None);
    }

    /// Adds a metric, ignoring failures (counted in [`Client::failed`]).
    ///
    /// ```
    /// use liftwatch::Metric;
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// batch.send(Metric::count("Orders", 1.0).dimension("Tenant", "acme"));
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn send(&mut self, metric: Metric) {
        let _ = self.try_send(metric);
    }

    /// Adds a metric and says why it was refused. `Ok` means queued: a later failure to
    /// send the datagram is counted in [`Client::failed`] (and returned by `flush`).
    ///
    /// ```
    /// use liftwatch::{Metric, SendError};
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// let refused = batch.try_send(Metric::count("Orders", f64::INFINITY));
    /// assert!(matches!(refused, Err(SendError::Invalid(_))));
    /// assert!(batch.is_empty());
    /// ```
    pub fn try_send(&mut self, metric: Metric) -> Result<(), SendError> {
        match metric.validated() {
            Ok(metric) => self.push(Ok(()), |buf| metric.write(buf)),
            Err(error) => self.push(Err(error), |_| {}),
        }
    }

    /// Adds a rate-limit decision, ignoring failures (counted in [`Client::failed`]), like
    /// [`Client::rate_limit`].
    ///
    /// ```
    /// use liftwatch::{KeyClass, RateLimitDecision};
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// batch.rate_limit(RateLimitDecision::allowed("search", 1).key_class(KeyClass::named("paid")));
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn rate_limit(&mut self, decision: RateLimitDecision) {
        let _ = self.try_rate_limit(decision);
    }

    /// Adds a rate-limit decision and says why it was refused, like [`Batch::try_send`].
    ///
    /// ```
    /// use liftwatch::{RateLimitDecision, SendError};
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// let refused = batch.try_rate_limit(RateLimitDecision::blocked("", 60));
    /// assert!(matches!(refused, Err(SendError::Invalid(_))));
    /// assert!(batch.is_empty());
    /// ```
    pub fn try_rate_limit(&mut self, decision: RateLimitDecision) -> Result<(), SendError> {
        match decision.into_event() {
            Ok(event) => self.push(Ok(()), |buf| protocol::write_rate_limit(buf, &event)),
            Err(error) => self.push(Err(error), |_| {}),
        }
    }

    /// Sends the waiting events now, in one datagram.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// batch.count("Orders", 1.0);
    /// batch.flush().unwrap();
    /// assert_eq!(batch.len(), 0);
    /// assert_eq!(client.sent(), 1);
    /// ```
    pub fn flush(&mut self) -> Result<(), SendError> {
        if self.events == 0 {
            return Ok(());
        }
        let result = self.client.transmit_numbered(&mut self.buf, self.events);
        self.buf.clear();
        self.events = 0;
        result
    }

    /// Events waiting to be sent.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// assert_eq!(client.batch().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        usize::try_from(self.events).unwrap_or(usize::MAX)
    }

    /// True when no event is waiting.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// assert!(client.batch().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Appends one line written by `write` (validated by the caller), like any event.
    pub(super) fn push_line(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), SendError> {
        self.push(Ok(()), write)
    }

    fn push_simple(
        &mut self,
        name: &str,
        value: f64,
        kind: MetricKind,
        unit: Unit,
    ) -> Result<(), SendError> {
        self.push(protocol::check_simple(name, value), |buf| {
            protocol::write_metric(buf, name, (value, 1), unit, kind, [], Resolution::Standard);
        })
    }

    /// Appends one validated event as a line; sends the earlier lines first when the new
    /// one takes the datagram past the recommended size.
    fn push(
        &mut self,
        validated: Result<(), ProtocolError>,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), SendError> {
        if let Err(error) = validated {
            return self.client.tally(Err(SendError::Invalid(error)), 1);
        }
        if self.client.socket.is_none() {
            return self.client.tally(Err(SendError::Disabled), 1);
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(RECOMMENDED_DATAGRAM_BYTES + 512);
        }
        let earlier = self.buf.len();
        if earlier > 0 {
            self.buf.push(b'\n');
        }
        let line_start = self.buf.len();
        write(&mut self.buf);
        if let Err(error) = datagram_fits(self.buf.len() - line_start) {
            self.buf.truncate(earlier);
            return self.client.tally(Err(error), 1);
        }
        if earlier > 0 && self.buf.len() > RECOMMENDED_DATAGRAM_BYTES - SEQUENCE_LINE_RESERVE {
            // A send failure here is counted against the earlier events, not this one.
            self.spare.clear();
            self.spare
                .extend_from_slice(self.buf.get(line_start..).unwrap_or_default());
            self.buf.truncate(earlier);
            let _ = self.client.transmit_numbered(&mut self.buf, self.events);
            self.buf.clear();
            self.buf.extend_from_slice(&self.spare);
            self.events = 0;
        }
        self.events += 1;
        Ok(())
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
