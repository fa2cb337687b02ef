//! Client-side aggregation: metric calls folded in the handler's process before anything
//! is sent. Counts are summed, gauges keep their last value and distributions keep each
//! distinct value with how often it was seen (a `count` on the wire, docs/PROTOCOL.md).
//! What has piled up goes out through a [`Batch`] (numbered 8 KiB datagrams) on
//! [`Aggregate::flush`], on drop (the handler's end), and early when its lines reach
//! [`AGGREGATE_FLUSH_BYTES`], so a million calls in one invocation cost a handful of
//! datagrams and nothing the extension has to keep up with.

use std::collections::HashMap;

use super::{Batch, Client, SendError};
use crate::metric::Metric;
use crate::protocol::{
    self, MAX_COUNT, MetricKind, ProtocolError, RECOMMENDED_DATAGRAM_BYTES, Resolution,
};
use crate::unit::Unit;

/// The bytes of a line beyond its name and dimensions: the fixed fields, a 24-character
/// value and a 10-digit count.
const LINE_OVERHEAD_BYTES: usize = 120;
/// About the lines an aggregate holds before it sends them without waiting for the
/// handler: 16 datagrams' worth, a burst the extension's receive buffer takes whole even at
/// Linux's default size (208 KiB), and room for about 1,000 distinct distribution values
/// between flushes.
pub const AGGREGATE_FLUSH_BYTES: usize = 16 * RECOMMENDED_DATAGRAM_BYTES;

/// Metric calls folded together until the handler flushes or drops the aggregate (or
/// its lines reach [`AGGREGATE_FLUSH_BYTES`]); made by [`Client::aggregate`]. Each call is validated
/// like [`Client::send`]; one that is refused is counted in [`Client::failed`] and never
/// touches what was aggregated. [`Client::sent`] counts the lines sent, one per series
/// (one per distinct value of a distribution), not the calls.
///
/// ```
/// use liftwatch::{Client, Metric, Unit};
/// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// # let port = intake.local_addr().unwrap().port();
/// let client = Client::new(port);
/// let mut metrics = client.aggregate();
/// for i in 0..1_000 {
///     metrics.count("ItemsProcessed", 1.0);
///     metrics.timing("ItemLatency", f64::from(i % 4));
/// }
/// metrics.gauge("QueueDepth", 7.0);
/// metrics.send(Metric::count("Orders", 2.0).dimension("Shop", "x"));
/// assert_eq!(metrics.len(), 7); // 1 count, 4 latencies, 1 gauge, 1 count with a dimension
/// drop(metrics); // one datagram
/// assert_eq!(client.sent(), 7);
/// ```
#[derive(Debug)]
pub struct Aggregate<'c> {
    client: &'c Client,
    /// Series by name; the few series sharing a name are told apart by a scan.
    series: HashMap<String, Vec<Series>>,
    /// Lines a flush would write now.
    lines: usize,
    /// About the bytes a flush would write now.
    bytes: usize,
}

/// One series: what tells it apart from others of its name, and its aggregate.
#[derive(Debug)]
struct Series {
    unit: Unit,
    kind: MetricKind,
    resolution: Resolution,
    /// Sorted by name, as validation leaves them.
    dimensions: Vec<(String, String)>,
    /// The bytes of one of its lines, for the size estimate.
    line_bytes: usize,
    values: Values,
}

#[derive(Debug)]
enum Values {
    /// A sum, kept within CloudWatch's range by sending it before it would leave it.
    Count(f64),
    Gauge(f64),
    /// Each distinct value (by its bits, -0 folded into 0) with its count.
    Distribution(HashMap<u64, u32>),
}

/// What a call adds, borrowed from its arguments.
struct Call<'a> {
    name: &'a str,
    value: f64,
    unit: Unit,
    kind: MetricKind,
    resolution: Resolution,
    dimensions: &'a [(&'a str, &'a str)],
}

impl<'c> Aggregate<'c> {
    pub(super) fn new(client: &'c Client) -> Self {
        Aggregate {
            client,
            series: HashMap::new(),
            lines: 0,
            bytes: 0,
        }
    }

    /// Adds `value` to a counter metric (unit `Count`), like [`Client::count`].
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// metrics.count("Orders", 1.0);
    /// metrics.count("Orders", 2.0);
    /// assert_eq!(metrics.len(), 1);
    /// ```
    pub fn count(&mut self, name: &str, value: f64) {
        let _ = self.add_simple(name, value, MetricKind::Count, Unit::Count);
    }

    /// Adds a duration sample in milliseconds, like [`Client::timing`].
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// metrics.timing("Latency", 12.0);
    /// metrics.timing("Latency", 12.0);
    /// metrics.timing("Latency", 13.0);
    /// assert_eq!(metrics.len(), 2); // two distinct values
    /// ```
    pub fn timing(&mut self, name: &str, millis: f64) {
        let _ = self.add_simple(name, millis, MetricKind::Distribution, Unit::Milliseconds);
    }

    /// Sets a gauge, like [`Client::gauge`]; the last value set is sent.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// metrics.gauge("QueueDepth", 4.0);
    /// metrics.gauge("QueueDepth", 2.0);
    /// assert_eq!(metrics.len(), 1);
    /// ```
    pub fn gauge(&mut self, name: &str, value: f64) {
        let _ = self.add_simple(name, value, MetricKind::Gauge, Unit::None);
    }

    /// Adds a metric built with [`Metric`], ignoring failures (counted in
    /// [`Client::failed`]).
    ///
    /// ```
    /// use liftwatch::Metric;
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// metrics.send(Metric::count("Orders", 1.0).dimension("Shop", "x"));
    /// metrics.send(Metric::count("Orders", 1.0).dimension("Shop", "y"));
    /// assert_eq!(metrics.len(), 2);
    /// ```
    pub fn send(&mut self, metric: Metric) {
        let _ = self.try_send(metric);
    }

    /// Adds a metric and says why it was refused. `Ok` means aggregated: a later failure
    /// to send is counted in [`Client::failed`] (and returned by `flush`).
    ///
    /// ```
    /// use liftwatch::{Metric, SendError};
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// let refused = metrics.try_send(Metric::count("Orders", f64::NAN));
    /// assert!(matches!(refused, Err(SendError::Invalid(_))));
    /// assert!(metrics.is_empty());
    /// ```
    pub fn try_send(&mut self, metric: Metric) -> Result<(), SendError> {
        let metric = match metric.validated() {
            Ok(metric) => metric,
            Err(error) => return self.refuse(error),
        };
        let (value, unit, kind, resolution, dimensions) = metric.parts();
        let dimensions: Vec<(&str, &str)> = dimensions.collect();
        self.add(&Call {
            name: metric.name(),
            value,
            unit,
            kind,
            resolution,
            dimensions: &dimensions,
        })
    }

    /// Sends everything aggregated so far, in numbered datagrams of up to 8 KiB, and
    /// starts over. Returns the first send failure (every failure is also counted).
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// let mut metrics = client.aggregate();
    /// metrics.count("Orders", 1.0);
    /// metrics.flush().unwrap();
    /// assert!(metrics.is_empty());
    /// assert_eq!(client.sent(), 1);
    /// ```
    pub fn flush(&mut self) -> Result<(), SendError> {
        let mut batch = Batch::new(self.client);
        let mut result = Ok(());
        for (name, all) in self.series.drain() {
            for series in all {
                let dimensions = || {
                    series
                        .dimensions
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                };
                let mut line = |value: f64, count: u32| {
                    let pushed = batch.push_line(|buf| {
                        protocol::write_metric(
                            buf,
                            &name,
                            (value, count),
                            series.unit,
                            series.kind,
                            dimensions(),
                            series.resolution,
                        );
                    });
                    if result.is_ok() {
                        result = pushed;
                    }
                };
                match &series.values {
                    Values::Count(value) | Values::Gauge(value) => line(*value, 1),
                    Values::Distribution(counts) => {
                        for (&bits, &count) in counts {
                            line(f64::from_bits(bits), count);
                        }
                    }
                }
            }
        }
        self.lines = 0;
        self.bytes = 0;
        let flushed = batch.flush();
        result.and(flushed)
    }

    /// Lines a flush would send now: one per series, one per distinct value of a
    /// distribution.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// assert_eq!(client.aggregate().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lines
    }

    /// True when nothing is waiting.
    ///
    /// ```
    /// # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// # let port = intake.local_addr().unwrap().port();
    /// let client = liftwatch::Client::new(port);
    /// assert!(client.aggregate().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    fn add_simple(
        &mut self,
        name: &str,
        value: f64,
        kind: MetricKind,
        unit: Unit,
    ) -> Result<(), SendError> {
        if let Err(error) = protocol::check_simple(name, value) {
            return self.refuse(error);
        }
        self.add(&Call {
            name,
            value,
            unit,
            kind,
            resolution: Resolution::Standard,
            dimensions: &[],
        })
    }

    fn refuse(&self, error: ProtocolError) -> Result<(), SendError> {
        self.client.tally(Err(SendError::Invalid(error)), 1)
    }

    /// Folds a validated call in; sends first when a count or sum would pass what one
    /// line can carry, and after, when the lines reach [`AGGREGATE_FLUSH_BYTES`].
    fn add(&mut self, call: &Call<'_>) -> Result<(), SendError> {
        if self.client.socket.is_none() {
            return self.client.tally(Err(SendError::Disabled), 1);
        }
        let (lines, bytes) = match self.find(call) {
            Some(series) => match series.add(call.value) {
                Added::Folded => (0, 0),
                Added::NewValue => (1, series.line_bytes),
                Added::Overflow => {
                    let flushed = self.flush();
                    return self.add(call).and(flushed);
                }
            },
            None => {
                let series = Series::new(call);
                let added = (1, series.line_bytes);
                self.series
                    .entry(call.name.to_owned())
                    .or_default()
                    .push(series);
                added
            }
        };
        self.lines += lines;
        self.bytes += bytes;
        if self.bytes >= AGGREGATE_FLUSH_BYTES {
            return self.flush();
        }
        Ok(())
    }

    fn find(&mut self, call: &Call<'_>) -> Option<&mut Series> {
        self.series
            .get_mut(call.name)?
            .iter_mut()
            .find(|series| series.is(call))
    }
}

/// How a value went into a series.
enum Added {
    /// Into an existing line.
    Folded,
    /// As a distribution's new distinct value: one more line.
    NewValue,
    /// Not at all: the line's count or sum is full; send, then add again.
    Overflow,
}

impl Series {
    fn new(call: &Call<'_>) -> Self {
        let values = match call.kind {
            MetricKind::Count => Values::Count(call.value),
            MetricKind::Gauge => Values::Gauge(call.value),
            MetricKind::Distribution => {
                Values::Distribution(HashMap::from([(value_bits(call.value), 1)]))
            }
        };
        Series {
            unit: call.unit,
            kind: call.kind,
            resolution: call.resolution,
            dimensions: call
                .dimensions
                .iter()
                .map(|&(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            line_bytes: line_bytes(call),
            values,
        }
    }

    fn is(&self, call: &Call<'_>) -> bool {
        self.unit == call.unit
            && self.kind == call.kind
            && self.resolution == call.resolution
            && self.dimensions.len() == call.dimensions.len()
            && self
                .dimensions
                .iter()
                .zip(call.dimensions)
                .all(|((n, v), (cn, cv))| n == cn && v == cv)
    }

    fn add(&mut self, value: f64) -> Added {
        match &mut self.values {
            Values::Count(sum) => {
                let next = *sum + value;
                if protocol::check_value(next).is_err() {
                    return Added::Overflow;
                }
                *sum = next;
                Added::Folded
            }
            Values::Gauge(last) => {
                *last = value;
                Added::Folded
            }
            Values::Distribution(counts) => match counts.get_mut(&value_bits(value)) {
                Some(count) if *count == MAX_COUNT => Added::Overflow,
                Some(count) => {
                    *count += 1;
                    Added::Folded
                }
                None => {
                    counts.insert(value_bits(value), 1);
                    Added::NewValue
                }
            },
        }
    }
}

fn value_bits(value: f64) -> u64 {
    // -0 and 0 are one value to CloudWatch.
    if value == 0.0 { 0.0f64 } else { value }.to_bits()
}

fn line_bytes(call: &Call<'_>) -> usize {
    let dimensions: usize = call
        .dimensions
        .iter()
        .map(|(n, v)| n.len() + v.len() + 6)
        .sum();
    call.name.len() + dimensions + LINE_OVERHEAD_BYTES
}

impl Drop for Aggregate<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::collections::BTreeMap;
    use std::net::UdpSocket;
    use std::time::Duration;

    use super::*;
    use crate::protocol::{Event, decode_datagram};

    /// A receiving socket with an 8 MiB buffer, so that a test thread that falls behind
    /// (a debug build beside other tests) loses nothing the client sent.
    fn intake() -> (UdpSocket, Client) {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        socket.set_recv_buffer_size(8 * 1024 * 1024).unwrap();
        socket
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let socket = UdpSocket::from(socket);
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let client = Client::new(socket.local_addr().unwrap().port());
        (socket, client)
    }

    /// Every datagram waiting: (its length, its metric events).
    fn received(socket: &UdpSocket) -> Vec<(usize, Vec<crate::protocol::MetricEvent>)> {
        decoded(raw(socket))
    }

    /// Every datagram waiting, as bytes: reading fast, so that a test thread keeps up.
    fn raw(socket: &UdpSocket) -> Vec<Vec<u8>> {
        let mut datagrams = Vec::new();
        let mut buf = vec![0; 65_536];
        while let Ok(len) = socket.recv(&mut buf) {
            datagrams.push(buf[..len].to_vec());
        }
        datagrams
    }

    fn decoded(raw: Vec<Vec<u8>>) -> Vec<(usize, Vec<crate::protocol::MetricEvent>)> {
        raw.iter()
            .map(|bytes| {
                let mut events = Vec::new();
                decode_datagram(bytes, |event| match event.unwrap() {
                    Event::Metric(metric) => events.push(metric),
                    Event::Sequence(_) => {}
                    other => panic!("{other:?}"),
                });
                (bytes.len(), events)
            })
            .collect()
    }

    /// (name, kind) → (sum of value × count, sum of counts), over every event.
    fn totals(
        datagrams: &[(usize, Vec<crate::protocol::MetricEvent>)],
    ) -> BTreeMap<(String, &'static str), (f64, u64)> {
        let mut totals = BTreeMap::new();
        for event in datagrams.iter().flat_map(|(_, events)| events) {
            let entry = totals
                .entry((event.name.clone(), event.kind.as_str()))
                .or_insert((0.0, 0));
            entry.0 += event.value * f64::from(event.count);
            entry.1 += u64::from(event.count);
        }
        totals
    }

    #[test]
    fn counts_sum_gauges_keep_the_last_and_distributions_count_each_value() {
        let (socket, client) = intake();
        let mut metrics = client.aggregate();
        for i in 0..10_000 {
            metrics.count("Items", 2.0);
            metrics.gauge("Depth", f64::from(i));
            metrics.timing("Latency", f64::from(i % 3));
        }
        metrics.timing("Latency", -0.0);
        assert_eq!(metrics.len(), 5);
        drop(metrics);
        let datagrams = received(&socket);
        assert_eq!(datagrams.len(), 1);
        let mut latency: Vec<(f64, u32)> = datagrams[0]
            .1
            .iter()
            .filter(|e| e.name == "Latency")
            .map(|e| (e.value, e.count))
            .collect();
        latency.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(latency, [(0.0, 3_335), (1.0, 3_333), (2.0, 3_333)]);
        let totals = totals(&datagrams);
        assert_eq!(totals[&("Items".into(), "count")], (20_000.0, 1));
        assert_eq!(totals[&("Depth".into(), "gauge")], (9_999.0, 1));
        assert_eq!(client.sent(), 5);
    }

    #[test]
    fn dimensions_units_and_resolutions_are_separate_series() {
        let (socket, client) = intake();
        let mut metrics = client.aggregate();
        for _ in 0..3 {
            metrics.send(Metric::count("Orders", 1.0).dimension("Shop", "x"));
            metrics.send(Metric::count("Orders", 1.0).dimension("Shop", "y"));
            metrics.send(
                Metric::count("Orders", 1.0)
                    .dimension("Shop", "x")
                    .high_resolution(),
            );
            metrics.send(
                Metric::count("Orders", 1.0)
                    .dimension("Shop", "x")
                    .unit(Unit::None),
            );
            metrics.count("Orders", 1.0);
        }
        assert_eq!(metrics.len(), 5);
        metrics.flush().unwrap();
        let events = received(&socket).remove(0).1;
        assert_eq!(events.len(), 5);
        assert!(
            events.iter().all(|e| e.value == 3.0 && e.count == 1),
            "{events:?}"
        );
    }

    #[test]
    fn refused_calls_are_counted_and_leave_the_rest_alone() {
        let (socket, client) = intake();
        let mut metrics = client.aggregate();
        metrics.count("Items", 1.0);
        metrics.count("Items", f64::NAN);
        metrics.count("", 1.0);
        assert!(metrics.try_send(Metric::count("Invocations", 1.0)).is_err());
        drop(metrics);
        assert_eq!((client.sent(), client.failed()), (1, 3));
        assert_eq!(
            totals(&received(&socket))[&("Items".into(), "count")],
            (1.0, 1)
        );
    }

    #[test]
    fn more_distinct_values_than_one_flush_holds_are_sent_early_and_none_lost() {
        let (socket, client) = intake();
        let reader = std::thread::spawn(move || {
            let mut datagrams = Vec::new();
            // Until nothing comes for 200 ms after the early flushes and the last.
            loop {
                let more = raw(&socket);
                if more.is_empty() && datagrams.len() >= 3 {
                    return decoded(datagrams);
                }
                datagrams.extend(more);
            }
        });
        let mut metrics = client.aggregate();
        for i in 0..10_000 {
            metrics.timing("Latency", f64::from(i));
        }
        assert!(metrics.len() < 3_000, "sent early: {}", metrics.len());
        drop(metrics);
        let datagrams = reader.join().unwrap();
        let latency = totals(&datagrams)[&("Latency".into(), "distribution")];
        assert_eq!(latency, ((0..10_000).map(f64::from).sum(), 10_000));
    }

    #[test]
    fn many_distinct_values_go_out_in_datagrams_of_at_most_8_kib() {
        let (socket, client) = intake();
        let mut metrics = client.aggregate();
        // Read only after they are all sent: they fit the test socket's buffer.
        for i in 0..800 {
            metrics.timing("Latency", f64::from(i) / 8.0);
            metrics.timing("Latency", f64::from(i) / 8.0);
        }
        drop(metrics);
        let datagrams = received(&socket);
        assert!(datagrams.len() >= 8, "{}", datagrams.len());
        assert!(
            datagrams
                .iter()
                .all(|(len, _)| *len <= RECOMMENDED_DATAGRAM_BYTES)
        );
        let latency = totals(&datagrams)[&("Latency".into(), "distribution")];
        let expected: f64 = (0..800).map(|i| 2.0 * f64::from(i) / 8.0).sum();
        assert_eq!(latency, (expected, 1_600));
    }

    #[test]
    fn a_sum_that_would_leave_cloudwatch_s_range_is_sent_first() {
        let (socket, client) = intake();
        let mut metrics = client.aggregate();
        metrics.count("Big", 1e108);
        metrics.count("Big", 1e108);
        metrics.count("Big", 1e108);
        drop(metrics);
        let values: Vec<f64> = received(&socket)
            .iter()
            .flat_map(|(_, events)| events.iter().map(|e| e.value))
            .collect();
        assert_eq!(values, [1e108, 1e108, 1e108]);
    }
}
