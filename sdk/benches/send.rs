//! Cost of one event on the handler side: encoding alone, `client.count` to a bound
//! socket that a background thread drains, and a builder metric with three dimensions;
//! for comparison, a bare `UdpSocket::send` of the same bytes (the floor for one datagram
//! per event) and `Batch::count` (many events per datagram). Criterion's `time:` is per
//! event (one event per iteration); a summary with per-event figures from a plain timed
//! loop is printed at the end. Target: below 2 µs per event.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use liftwatch::protocol::{self, Event, MetricEvent, MetricKind};
use liftwatch::{Client, Metric, Resolution, Unit};

/// A UDP socket on 127.0.0.1 drained by a background thread, so sends never hit a full
/// receive buffer.
struct Drain {
    port: u16,
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Drain {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, received) = (stop.clone(), received.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; protocol::MAX_DATAGRAM_BYTES + 1];
                while !stop.load(Ordering::Relaxed) {
                    if socket.recv(&mut buf).is_ok() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        Drain {
            port,
            stop,
            received,
            thread: Some(thread),
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn three_dimensions() -> Metric {
    Metric::distribution("QueryTime", 12.5)
        .unit(Unit::Milliseconds)
        .dimension("Table", "orders")
        .dimension("Operation", "Query")
        .dimension("Tenant", "acme")
}

fn sample_event() -> Event {
    Event::Metric(MetricEvent {
        name: "OrdersPlaced".to_owned(),
        value: 1.0,
        count: 1,
        unit: Unit::Count,
        kind: MetricKind::Count,
        dimensions: Vec::new(),
        resolution: Resolution::Standard,
    })
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("event");
    group.throughput(Throughput::Elements(1));

    let event = sample_event();
    let mut buf = Vec::with_capacity(512);
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            protocol::encode(black_box(&event), &mut buf);
            black_box(buf.len())
        });
    });

    let drain = Drain::start();
    let client = Client::new(drain.port);
    group.bench_function("client_count", |b| {
        b.iter(|| client.count(black_box("OrdersPlaced"), black_box(1.0)));
    });
    group.bench_function("client_send_builder_count", |b| {
        b.iter(|| client.send(Metric::count(black_box("OrdersPlaced"), black_box(1.0))));
    });
    group.bench_function("client_send_3_dimensions", |b| {
        b.iter(|| client.send(three_dimensions()));
    });
    let raw = raw_socket(drain.port);
    let line = encoded_line();
    group.bench_function("raw_udp_send_floor", |b| {
        b.iter(|| raw.send(black_box(&line)));
    });
    group.bench_function("batch_count", |b| {
        let mut batch = client.batch();
        b.iter(|| batch.count(black_box("OrdersPlaced"), black_box(1.0)));
    });
    group.bench_function("aggregate_count", |b| {
        let mut metrics = client.aggregate();
        b.iter(|| metrics.count(black_box("OrdersPlaced"), black_box(1.0)));
    });
    group.bench_function("aggregate_timing_1000_values", |b| {
        let mut metrics = client.aggregate();
        let mut i = 0u32;
        b.iter(|| {
            i = (i + 1) % 1_000;
            metrics.timing(black_box("QueryTime"), f64::from(i));
        });
    });
    group.finish();

    // The extension's side: one line decoded, by the fast path for the SDK's own encoding
    // and by the general (serde_json) decoder that every other line takes.
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let three = br#"{"v":1,"type":"metric","name":"QueryTime","value":12.5,"unit":"Milliseconds","kind":"distribution","dimensions":{"Operation":"query","Region":"eu-west-1","Table":"orders"}}"#;
    for (label, line) in [("count", encoded_line()), ("3_dimensions", three.to_vec())] {
        let line = String::from_utf8(line).unwrap();
        group.bench_function(format!("{label}_fast"), |b| {
            b.iter(|| protocol::decode_line(black_box(&line)).is_ok());
        });
        group.bench_function(format!("{label}_general"), |b| {
            b.iter(|| protocol::decode_line_general(black_box(&line)).is_ok());
        });
    }
    group.finish();
}

/// A connected non-blocking socket like the client's, for the bare-send floor.
fn raw_socket(port: u16) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    socket.set_nonblocking(true).unwrap();
    socket
}

fn encoded_line() -> Vec<u8> {
    let mut line = Vec::new();
    protocol::encode(&sample_event(), &mut line);
    line
}

/// Mean nanoseconds per call of `f` over `n` calls, after a warm-up.
fn per_event(n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn summary() {
    const N: u32 = 200_000;
    let event = sample_event();
    let mut buf = Vec::with_capacity(512);
    let encode = per_event(N, || {
        buf.clear();
        protocol::encode(black_box(&event), &mut buf);
        black_box(buf.len());
    });
    let drain = Drain::start();
    let client = Client::new(drain.port);
    let count = per_event(N, || {
        client.count(black_box("OrdersPlaced"), black_box(1.0))
    });
    let builder = per_event(N, || {
        client.send(Metric::count(black_box("OrdersPlaced"), 1.0))
    });
    let dims = per_event(N, || client.send(three_dimensions()));
    let (raw, line) = (raw_socket(drain.port), encoded_line());
    let floor = per_event(N, || {
        let _ = raw.send(black_box(&line));
    });
    let mut batch = client.batch();
    let batched = per_event(N, || batch.count(black_box("OrdersPlaced"), black_box(1.0)));
    drop(batch);
    // A bound socket nobody reads: the send path without waking a receiver (the kernel
    // drops what does not fit in the full buffer).
    let idle = UdpSocket::bind("127.0.0.1:0").unwrap();
    let undrained = Client::new(idle.local_addr().unwrap().port());
    let no_wakeup = per_event(N, || {
        undrained.count(black_box("OrdersPlaced"), black_box(1.0))
    });
    let no_wakeup_dims = per_event(N, || undrained.send(three_dimensions()));
    std::thread::sleep(Duration::from_millis(100));
    println!("per event (mean of {N}, target < 2000 ns):");
    println!("  encode only               {encode:>8.0} ns");
    println!("  client.count              {count:>8.0} ns");
    println!("  client.send(Metric::count){builder:>8.0} ns");
    println!("  client.send(3 dimensions) {dims:>8.0} ns");
    println!("  bare UdpSocket::send      {floor:>8.0} ns   (floor: one datagram per event)");
    println!("  batch.count               {batched:>8.0} ns   (about 90 events per datagram)");
    println!("  client.count, not drained {no_wakeup:>8.0} ns   (no receiver wake-up)");
    println!("  3 dimensions, not drained {no_wakeup_dims:>8.0} ns   (no receiver wake-up)");
    println!(
        "  client: sent {} failed {}; drain received {}",
        client.sent(),
        client.failed(),
        drain.received.load(Ordering::Relaxed)
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
    summary();
}
