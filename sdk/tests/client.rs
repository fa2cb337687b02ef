//! The client against real UDP sockets on 127.0.0.1: what arrives is decoded with the
//! extension's decoder and compared value by value; invalid metrics are refused and
//! counted; a missing listener never panics or blocks; the client is shared by threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::time::Duration;

use liftwatch::protocol::{self, Event, MetricEvent, ProtocolError};
use liftwatch::{Client, Metric, MetricKind, Resolution, SendError, Unit};

/// A bound socket standing in for the extension's intake.
struct Intake {
    socket: UdpSocket,
}

impl Intake {
    fn bind() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Intake { socket }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    /// The next datagram's events (each line decoded).
    fn next(&self) -> Vec<Result<Event, ProtocolError>> {
        let mut buf = vec![0; 70_000];
        let len = self.socket.recv(&mut buf).expect("a datagram within 5 s");
        let mut events = Vec::new();
        protocol::decode_datagram(&buf[..len], |e| events.push(e));
        events
    }

    /// The next datagram, which must hold exactly one valid metric.
    fn metric(&self) -> MetricEvent {
        match self.next().as_slice() {
            [Ok(Event::Metric(m))] => m.clone(),
            other => panic!("expected one metric, got {other:?}"),
        }
    }

    fn raw(&self) -> Vec<u8> {
        let mut buf = vec![0; 70_000];
        let len = self.socket.recv(&mut buf).unwrap();
        buf.truncate(len);
        buf
    }
}

fn event(name: &str, value: f64, unit: Unit, kind: MetricKind) -> MetricEvent {
    MetricEvent {
        name: name.to_owned(),
        value,
        count: 1,
        unit,
        kind,
        dimensions: Vec::new(),
        resolution: Resolution::Standard,
    }
}

fn invalid_field(result: Result<(), SendError>) -> &'static str {
    match result {
        Err(SendError::Invalid(ProtocolError::InvalidField { field, .. })) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

/// A port nothing listens on: bound, read, released.
fn closed_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn every_shortcut_and_the_builder_arrive_with_their_values() {
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    client.count("OrdersPlaced", 2.0);
    client.timing("PaymentLatency", 87.5);
    client.gauge("QueueDepth", -3.25);
    client.send(
        Metric::distribution("ItemSize", 512.0)
            .unit(Unit::Bytes)
            .dimension("Tenant", "acme")
            .dimension("Region", "eu-west-1")
            .high_resolution(),
    );
    assert_eq!(
        intake.metric(),
        event("OrdersPlaced", 2.0, Unit::Count, MetricKind::Count)
    );
    assert_eq!(
        intake.metric(),
        event(
            "PaymentLatency",
            87.5,
            Unit::Milliseconds,
            MetricKind::Distribution
        )
    );
    assert_eq!(
        intake.metric(),
        event("QueueDepth", -3.25, Unit::None, MetricKind::Gauge)
    );
    let mut item = event("ItemSize", 512.0, Unit::Bytes, MetricKind::Distribution);
    item.dimensions = vec![
        ("Region".to_owned(), "eu-west-1".to_owned()),
        ("Tenant".to_owned(), "acme".to_owned()),
    ];
    item.resolution = Resolution::High;
    assert_eq!(intake.metric(), item);
    assert_eq!((client.sent(), client.failed()), (4, 0));
}

#[test]
fn the_fast_path_writes_the_same_bytes_as_the_builder() {
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    type Shortcut = fn(&Client);
    let cases: [(Shortcut, Metric); 3] = [
        (|c| c.count("Orders", 1.5), Metric::count("Orders", 1.5)),
        (|c| c.timing("Orders", 1.5), Metric::timing("Orders", 1.5)),
        (|c| c.gauge("Orders", 1.5), Metric::gauge("Orders", 1.5)),
    ];
    for (fast, built) in cases {
        fast(&client);
        client.send(built);
        let (fast_bytes, built_bytes) = (intake.raw(), intake.raw());
        assert_eq!(fast_bytes, built_bytes);
    }
    assert_eq!(client.sent(), 6);
}

#[test]
fn invalid_metrics_are_not_sent_and_are_counted() {
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    let thirty = (0..30).fold(Metric::count("Wide", 1.0), |m, i| {
        m.dimension(&format!("D{i:02}"), "v")
    });
    assert_eq!(
        invalid_field(client.try_send(Metric::gauge("Ratio", f64::NAN))),
        "value"
    );
    assert_eq!(
        invalid_field(client.try_send(Metric::count("", 1.0))),
        "name"
    );
    assert_eq!(invalid_field(client.try_send(thirty)), "dimensions");
    assert_eq!(
        invalid_field(client.try_send(Metric::count("Orders", 1.0).dimension("FunctionName", "f"))),
        "dimensions"
    );
    assert_eq!(client.failed(), 4);
    // The shortcuts apply the same rules.
    client.count("Orders", f64::INFINITY);
    client.timing(" ", 1.0);
    client.gauge(&"x".repeat(256), 1.0);
    assert_eq!((client.sent(), client.failed()), (0, 7));
    // The extension's own names are its own: a custom `Invocations` would add to them.
    client.count("Invocations", 1.0);
    client.timing("Duration", 5.0);
    assert!(matches!(
        client.try_send(Metric::count("ColdStarts", 1.0).dimension("Shop", "x")),
        Err(SendError::Invalid(ProtocolError::InvalidField {
            field: "name",
            ..
        }))
    ));
    assert_eq!((client.sent(), client.failed()), (0, 10));
    // Nothing reached the socket: the first datagram is the one valid metric sent last.
    client.count("Sentinel", 1.0);
    assert_eq!(intake.metric().name, "Sentinel");
    assert_eq!((client.sent(), client.failed()), (1, 10));
}

#[test]
fn an_event_too_big_for_a_datagram_is_refused_before_the_kernel() {
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    let value = "日".repeat(1024);
    let huge = (0..29).fold(Metric::count("Huge", 1.0), |m, i| {
        m.dimension(&format!("D{i:02}"), &value)
    });
    match client.try_send(huge) {
        Err(SendError::Invalid(ProtocolError::TooLong(len))) => {
            assert!(len > 29 * 3 * 1024, "{len}")
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert_eq!((client.sent(), client.failed()), (0, 1));
    client.count("After", 1.0);
    assert_eq!(intake.metric().name, "After", "the client still works");
}

#[test]
fn no_listener_never_panics_or_blocks() {
    let client = Client::new(closed_port());
    for i in 0..10_000 {
        client.count("Orders", f64::from(i));
    }
    assert_eq!(client.sent() + client.failed(), 10_000);
    // Linux reports the refused datagrams (ICMP port unreachable) on the next send.
    assert!(
        client.failed() > 0,
        "sent {} failed {}",
        client.sent(),
        client.failed()
    );
    match client.try_send(Metric::count("Orders", 1.0)) {
        Ok(()) | Err(SendError::Io(_)) => {}
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_client_is_shared_by_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();

    const THREADS: usize = 4;
    const PER_THREAD: usize = 64;
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    let mut per_thread = [0usize; THREADS];
    std::thread::scope(|scope| {
        let receiver = scope.spawn(|| {
            let mut counts = [0usize; THREADS];
            for _ in 0..THREADS * PER_THREAD {
                let m = intake.metric();
                counts[m.value as usize] += 1;
                assert_eq!(m.name, "FromThread");
            }
            counts
        });
        for thread in 0..THREADS {
            let client = &client;
            scope.spawn(move || {
                for _ in 0..PER_THREAD {
                    client.count("FromThread", thread as f64);
                }
            });
        }
        per_thread = receiver.join().unwrap();
    });
    assert_eq!(per_thread, [PER_THREAD; THREADS]);
    assert_eq!(
        (client.sent(), client.failed()),
        ((THREADS * PER_THREAD) as u64, 0)
    );
}

#[test]
fn the_port_comes_from_the_lookup_like_the_extension() {
    let port = |value: Option<&str>| {
        Client::from_lookup(|key| {
            assert_eq!(key, "LIFTWATCH_PORT");
            value.map(str::to_owned)
        })
        .port()
    };
    assert_eq!(port(Some("7000")), 7000);
    assert_eq!(port(Some(" 7001\n")), 7001);
    for fallback in [
        None,
        Some(""),
        Some("0"),
        Some("seventy"),
        Some("70000"),
        Some("-1"),
    ] {
        assert_eq!(port(fallback), protocol::DEFAULT_PORT, "{fallback:?}");
    }
}

#[test]
fn a_batch_packs_events_into_few_datagrams() {
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    {
        let mut batch = client.batch();
        batch.count("Orders", 1.0);
        batch.timing("Latency", 2.5);
        batch.gauge("Depth", 3.0);
        batch.send(Metric::count("Orders", 4.0).dimension("Tenant", "acme"));
        assert_eq!(
            invalid_field(batch.try_send(Metric::count("Bad", f64::NAN))),
            "value"
        );
        batch.count("", 1.0);
        assert_eq!(batch.len(), 4);
        assert_eq!(
            (client.sent(), client.failed()),
            (0, 2),
            "nothing sent before the flush"
        );
    } // dropped: flushed
    let mut sequences = Vec::new();
    let events: Vec<MetricEvent> = intake
        .next()
        .into_iter()
        .filter_map(|e| match e {
            Ok(Event::Metric(m)) => Some(m),
            Ok(Event::Sequence(s)) => {
                sequences.push((s.seq, s.sent));
                None
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sequences, [(1, 0)], "the client's first numbered datagram");
    let names: Vec<_> = events
        .iter()
        .map(|m| (m.name.as_str(), m.value, m.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("Orders", 1.0, MetricKind::Count),
            ("Latency", 2.5, MetricKind::Distribution),
            ("Depth", 3.0, MetricKind::Gauge),
            ("Orders", 4.0, MetricKind::Count),
        ]
    );
    assert_eq!((client.sent(), client.failed()), (4, 2));
}

#[test]
fn a_full_batch_sends_datagrams_under_the_recommended_size() {
    let intake = Intake::bind();
    let client = Client::new(intake.port());
    let mut batch = client.batch();
    for i in 0..500 {
        batch.count("ItemsProcessed", f64::from(i));
    }
    batch.flush().unwrap();
    assert!(batch.is_empty());
    let mut values = Vec::new();
    let mut datagrams = 0;
    while values.len() < 500 {
        let bytes = intake.raw();
        assert!(
            bytes.len() <= protocol::RECOMMENDED_DATAGRAM_BYTES,
            "{}",
            bytes.len()
        );
        datagrams += 1;
        let before = values.len() as u64;
        let mut numbered = None;
        protocol::decode_datagram(&bytes, |e| match e {
            Ok(Event::Metric(m)) => values.push(m.value),
            Ok(Event::Sequence(s)) => numbered = Some((s.seq, s.sent)),
            other => panic!("{other:?}"),
        });
        assert_eq!(
            numbered,
            Some((datagrams, before)),
            "numbered in order, with the events before it"
        );
    }
    let expected: Vec<f64> = (0..500).map(f64::from).collect();
    assert_eq!(values, expected, "every event, in order");
    // 500 lines of about 88 bytes fill six 8 KiB datagrams (the last one partly).
    assert_eq!(datagrams, 6);
    assert_eq!((client.sent(), client.failed()), (500, 0));
}

#[test]
fn sending_while_the_thread_exits_does_not_panic() {
    use std::cell::RefCell;
    use std::sync::Arc;

    struct SendsOnDrop(Arc<Client>);
    impl Drop for SendsOnDrop {
        fn drop(&mut self) {
            self.0.count("AtExit", 1.0);
        }
    }
    thread_local! {
        static GUARD: RefCell<Option<SendsOnDrop>> = const { RefCell::new(None) };
    }

    let intake = Intake::bind();
    let client = Arc::new(Client::new(intake.port()));
    let for_thread = Arc::clone(&client);
    std::thread::spawn(move || {
        GUARD.with(|guard| *guard.borrow_mut() = Some(SendsOnDrop(Arc::clone(&for_thread))));
        // Registered after GUARD, so the client's encode buffer is destroyed first and
        // GUARD's destructor sends without it.
        for_thread.count("Before", 1.0);
    })
    .join()
    .unwrap();
    assert_eq!(intake.metric().name, "Before");
    assert_eq!(intake.metric().name, "AtExit");
    assert_eq!((client.sent(), client.failed()), (2, 0));
}
