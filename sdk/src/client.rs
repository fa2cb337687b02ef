//! The handler-side client: one non-blocking UDP socket to the extension on 127.0.0.1.
//!
//! Sending never blocks the handler for more than one non-blocking `send`, never panics,
//! and is a no-op when no extension listens (loopback UDP to a closed port is refused
//! by the kernel; the error is counted and forgotten). Events are encoded into a
//! thread-local buffer; plain counts, gauges and timings are encoded straight from their
//! arguments without building a [`Metric`].

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::metric::Metric;
use crate::protocol::{
    self, ConnectionEvent, DEFAULT_PORT, MAX_DATAGRAM_BYTES, MetricKind, ProtocolError,
    RECOMMENDED_DATAGRAM_BYTES, Resolution, SpanEvent,
};
use crate::ratelimit::RateLimitDecision;
use crate::unit::Unit;

mod aggregate;
mod batch;

pub use aggregate::{AGGREGATE_FLUSH_BYTES, Aggregate};
pub use batch::Batch;

/// The environment variable naming the extension's UDP port.
///
/// ```
/// assert_eq!(liftwatch::PORT_VAR, "LIFTWATCH_PORT");
/// ```
pub const PORT_VAR: &str = "LIFTWATCH_PORT";

/// The encode buffer kept per thread; a larger one (after an unusually big event) is
/// released rather than kept for the thread's lifetime.
const KEPT_BUFFER_BYTES: usize = RECOMMENDED_DATAGRAM_BYTES;

thread_local! {
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Why an event was not handed to the kernel.
///
/// ```
/// use liftwatch::{Client, Metric, SendError};
/// let client = Client::new(9325);
/// let result = client.try_send(Metric::count("", 1.0));
/// assert!(matches!(result, Err(SendError::Invalid(_))));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The event breaks a protocol rule (name, value, unit, dimensions), or its encoding
    /// is longer than [`MAX_DATAGRAM_BYTES`] (`ProtocolError::TooLong`).
    Invalid(ProtocolError),
    /// The client has no socket (it could not be opened).
    Disabled,
    /// The kernel refused the datagram (no extension listening, buffer full, ...).
    Io(std::io::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Invalid(e) => write!(f, "invalid event: {e}"),
            SendError::Disabled => f.write_str("client has no socket"),
            SendError::Io(e) => write!(f, "send failed: {e}"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Invalid(e) => Some(e),
            SendError::Io(e) => Some(e),
            SendError::Disabled => None,
        }
    }
}

/// A client for the liftwatch extension. Create one per process and share it (it is
/// `Send + Sync`); every send reuses the same socket.
///
/// ```no_run
/// use liftwatch::{Client, Metric, Unit};
/// let client = Client::from_env();
/// client.count("OrdersPlaced", 1.0);
/// client.send(Metric::distribution("CartValue", 42.5).unit(Unit::None).dimension("Tenant", "acme"));
/// ```
#[derive(Debug)]
pub struct Client {
    port: u16,
    socket: Option<UdpSocket>,
    sent: AtomicU64,
    failed: AtomicU64,
    /// This process's id in the `sequence` line of batched datagrams.
    sender: String,
    /// The last numbered datagram sent and the events in numbered datagrams so far; held
    /// across the send, so numbers reach the socket in order.
    numbered: Mutex<(u64, u64)>,
}

impl Client {
    /// A client for the port in `LIFTWATCH_PORT` (default 9325) on 127.0.0.1.
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.count("ColdStarts", 1.0);
    /// ```
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// A client for the port that `lookup` gives for `LIFTWATCH_PORT`; a missing, zero or
    /// unparsable port means the default 9325, as in the extension.
    ///
    /// ```
    /// use liftwatch::Client;
    /// assert_eq!(Client::from_lookup(|_| Some(" 7000 ".into())).port(), 7000);
    /// assert_eq!(Client::from_lookup(|_| Some("0".into())).port(), 9325);
    /// assert_eq!(Client::from_lookup(|_| None).port(), 9325);
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let port = lookup(PORT_VAR)
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|&p| p != 0)
            .unwrap_or(DEFAULT_PORT);
        Self::new(port)
    }

    /// A client for `port` on 127.0.0.1.
    ///
    /// ```
    /// let client = liftwatch::Client::new(9325);
    /// assert_eq!(client.port(), 9325);
    /// ```
    pub fn new(port: u16) -> Self {
        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.connect(target).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .ok();
        Client {
            port,
            socket,
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            sender: crate::random::hex_id(64),
            numbered: Mutex::new((0, 0)),
        }
    }

    /// The extension port this client sends to.
    ///
    /// ```
    /// assert_eq!(liftwatch::Client::new(9400).port(), 9400);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends a metric, ignoring failures (they are counted in [`Client::failed`]).
    ///
    /// ```no_run
    /// use liftwatch::{Client, Metric, Unit};
    /// let client = Client::from_env();
    /// client.send(Metric::distribution("Payload", 512.0).unit(Unit::Bytes).dimension("Route", "/orders"));
    /// ```
    pub fn send(&self, metric: Metric) {
        let _ = self.try_send(metric);
    }

    /// Adds `value` to a counter metric (unit `Count`, kind `count`). Same rules as
    /// `send(Metric::count(name, value))`, without building the metric.
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.count("OrdersPlaced", 1.0);
    /// ```
    pub fn count(&self, name: &str, value: f64) {
        let _ = self.try_simple(name, value, MetricKind::Count, Unit::Count);
    }

    /// Records a duration sample in milliseconds (unit `Milliseconds`, kind
    /// `distribution`).
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.timing("PaymentLatency", 87.0);
    /// ```
    pub fn timing(&self, name: &str, millis: f64) {
        let _ = self.try_simple(name, millis, MetricKind::Distribution, Unit::Milliseconds);
    }

    /// Sets a gauge (unit `None`, kind `gauge`: the last value per flush wins).
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.gauge("QueueDepth", 12.0);
    /// ```
    pub fn gauge(&self, name: &str, value: f64) {
        let _ = self.try_simple(name, value, MetricKind::Gauge, Unit::None);
    }

    /// Sends a metric and says why it was not sent.
    ///
    /// ```
    /// use liftwatch::{Client, Metric, SendError};
    /// let client = Client::new(9325);
    /// let nan = client.try_send(Metric::gauge("Ratio", f64::NAN));
    /// assert!(matches!(nan, Err(SendError::Invalid(_))));
    /// assert_eq!(client.failed(), 1);
    /// ```
    pub fn try_send(&self, metric: Metric) -> Result<(), SendError> {
        let result = match metric.validated() {
            Ok(metric) => self.transmit_with(|buf| metric.write(buf)),
            Err(error) => Err(SendError::Invalid(error)),
        };
        self.tally(result, 1)
    }

    /// Reports a rate-limit decision, ignoring failures (they are counted in
    /// [`Client::failed`]). Only the key's class is sent, never the key.
    ///
    /// ```no_run
    /// use liftwatch::{Client, KeyClass, RateLimitDecision};
    /// let client = Client::from_env();
    /// let user_id = "user-42";
    /// client.rate_limit(
    ///     RateLimitDecision::allowed("login", 60)
    ///         .key_class(KeyClass::hashed(user_id, 16))
    ///         .limit(100)
    ///         .remaining(42),
    /// );
    /// ```
    pub fn rate_limit(&self, decision: RateLimitDecision) {
        let _ = self.try_rate_limit(decision);
    }

    /// Reports a rate-limit decision and says why it was not sent.
    ///
    /// ```
    /// use liftwatch::{Client, RateLimitDecision, SendError};
    /// let client = Client::new(9325);
    /// let result = client.try_rate_limit(RateLimitDecision::blocked("login", 90_000));
    /// assert!(matches!(result, Err(SendError::Invalid(_))), "windows are at most a day");
    /// assert_eq!(client.failed(), 1);
    /// ```
    pub fn try_rate_limit(&self, decision: RateLimitDecision) -> Result<(), SendError> {
        let result = match decision.into_event() {
            Ok(event) => self.transmit_with(|buf| protocol::write_rate_limit(buf, &event)),
            Err(error) => Err(SendError::Invalid(error)),
        };
        self.tally(result, 1)
    }

    /// Reports that a WebSocket connection was accepted (`ConnectionsOpened`).
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.connection_opened();
    /// ```
    pub fn connection_opened(&self) {
        let _ = self.try_connection(ConnectionEvent::Opened);
    }

    /// Reports that a WebSocket connection ended (`ConnectionsClosed`).
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.connection_closed();
    /// ```
    pub fn connection_closed(&self) {
        let _ = self.try_connection(ConnectionEvent::Closed);
    }

    /// Reports a WebSocket message of `bytes` bytes (`Messages`, `MessageBytes`).
    ///
    /// ```no_run
    /// let client = liftwatch::Client::from_env();
    /// client.message(512);
    /// ```
    pub fn message(&self, bytes: u64) {
        let _ = self.try_connection(ConnectionEvent::Message { bytes });
    }

    /// Reports a connection event and says why it was not sent.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// use liftwatch::protocol::ConnectionEvent;
    /// let client = liftwatch::Client::new(port);
    /// assert!(client.try_connection(ConnectionEvent::Opened).is_ok());
    /// assert_eq!(client.sent(), 1);
    /// ```
    pub fn try_connection(&self, event: ConnectionEvent) -> Result<(), SendError> {
        let result = self.transmit_with(|buf| protocol::write_connection(buf, event));
        self.tally(result, 1)
    }

    /// Sends a finished span (see [`Client::span`]).
    pub(crate) fn send_span(&self, span: &SpanEvent) -> Result<(), SendError> {
        let result = match span.clone().validate() {
            Ok(span) => self.transmit_with(|buf| protocol::write_span(buf, &span)),
            Err(error) => Err(SendError::Invalid(error)),
        };
        self.tally(result, 1)
    }

    /// A batch that packs several events into each datagram (up to 8 KiB), so one system
    /// call carries many events. Events are sent when the batch fills, on
    /// [`Batch::flush`], and when it is dropped: drop or flush it before the handler
    /// returns.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut batch = client.batch();
    /// for _ in 0..3 {
    ///     batch.count("ItemsProcessed", 1.0);
    /// }
    /// assert_eq!(batch.len(), 3);
    /// drop(batch); // sends one datagram
    /// assert_eq!(client.sent(), 3);
    /// ```
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// An aggregate that folds metric calls together in this process (counts summed,
    /// gauges last, distributions as distinct values with counts) and sends what piled up
    /// on [`Aggregate::flush`], when it is dropped, and early once it holds
    /// [`AGGREGATE_FLUSH_BYTES`] of lines: hold one for the handler's invocation and drop it before returning. A million
    /// calls cost a few datagrams, so none are lost however fast they come.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// for _ in 0..1_000_000 {
    ///     metrics.count("ItemsProcessed", 1.0);
    /// }
    /// drop(metrics); // one line: ItemsProcessed 1000000
    /// assert_eq!(client.sent(), 1);
    /// ```
    pub fn aggregate(&self) -> Aggregate<'_> {
        Aggregate::new(self)
    }

    /// Events handed to the kernel so far.
    ///
    /// ```
    /// let client = liftwatch::Client::new(9325);
    /// assert_eq!(client.sent(), 0);
    /// ```
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Events that could not be sent (invalid, or refused by the kernel).
    ///
    /// ```
    /// let client = liftwatch::Client::new(9325);
    /// client.count("", 1.0);
    /// assert_eq!(client.failed(), 1);
    /// ```
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The borrowed fast path: the checks of `MetricEvent::validate` for a metric
    /// without dimensions, then the encoder, with no allocation.
    fn try_simple(
        &self,
        name: &str,
        value: f64,
        kind: MetricKind,
        unit: Unit,
    ) -> Result<(), SendError> {
        let result = match protocol::check_simple(name, value) {
            Ok(()) => self.transmit_with(|buf| {
                protocol::write_metric(buf, name, (value, 1), unit, kind, [], Resolution::Standard);
            }),
            Err(error) => Err(SendError::Invalid(error)),
        };
        self.tally(result, 1)
    }

    /// Encodes one event into the thread's buffer and sends it.
    fn transmit_with(&self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), SendError> {
        let socket = self.socket.as_ref().ok_or(SendError::Disabled)?;
        with_buffer(|buf| {
            write(buf);
            datagram_fits(buf.len())?;
            socket.send(buf).map(drop).map_err(SendError::Io)
        })
    }

    /// Sends `buf` (its `events` encoded events) as this client's next numbered datagram:
    /// a `sequence` line is appended for the send and taken off again, so the extension
    /// can count exactly the events of numbered datagrams the kernel drops.
    fn transmit_numbered(&self, buf: &mut Vec<u8>, events: u64) -> Result<(), SendError> {
        let Some(socket) = self.socket.as_ref() else {
            return self.tally(Err(SendError::Disabled), events);
        };
        let mut numbered = self.numbered.lock().unwrap_or_else(PoisonError::into_inner);
        let (seq, sent) = (numbered.0 + 1, numbered.1);
        let body = buf.len();
        buf.push(b'\n');
        protocol::write_sequence(buf, &self.sender, seq, sent);
        let result = socket.send(buf).map(drop).map_err(SendError::Io);
        buf.truncate(body);
        if result.is_ok() {
            *numbered = (seq, sent + events);
        }
        drop(numbered);
        self.tally(result, events)
    }

    fn tally(&self, result: Result<(), SendError>, events: u64) -> Result<(), SendError> {
        let counter = if result.is_ok() {
            &self.sent
        } else {
            &self.failed
        };
        counter.fetch_add(events, Ordering::Relaxed);
        result
    }
}

/// Runs `f` on the thread's cleared encode buffer, or on a fresh one when that buffer is
/// unavailable (re-entered, or the thread's locals already destroyed at thread exit), so a
/// send never panics.
fn with_buffer(f: impl FnOnce(&mut Vec<u8>) -> Result<(), SendError>) -> Result<(), SendError> {
    let mut f = Some(f);
    let pooled = ENCODE_BUF.try_with(|cell| {
        let mut buf = cell.try_borrow_mut().ok()?;
        let f = f.take()?;
        buf.clear();
        let result = f(&mut buf);
        if buf.capacity() > KEPT_BUFFER_BYTES {
            *buf = Vec::new();
        }
        Some(result)
    });
    match (pooled, f.take()) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => f(&mut Vec::new()),
        // `f` was taken only on the path that returned its result.
        (_, None) => Err(SendError::Disabled),
    }
}

/// An encoded event longer than a datagram can be is refused before the kernel sees it.
fn datagram_fits(len: usize) -> Result<(), SendError> {
    if len > MAX_DATAGRAM_BYTES {
        return Err(SendError::Invalid(ProtocolError::TooLong(len)));
    }
    Ok(())
}
