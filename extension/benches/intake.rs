//! Intake throughput benchmark: a sender thread paces SDK datagrams at a target rate to
//! the real UDP intake, which the pipeline's code path (decode, validate, aggregate)
//! drains on a current-thread runtime, as in the extension. Prints sent versus counted
//! (received, and lost as the extension counts it: exactly for the SDK's numbered batches,
//! estimated for single-event datagrams) and the achieved rate, for single-event sends and
//! for batches (8 KiB datagrams), at several target rates and receive-buffer sizes, and
//! for an unpaced burst of batches. Run with `cargo bench -p liftwatch-extension --bench
//! intake`. Never asserts on time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use liftwatch::Client;
use liftwatch::protocol::Event;
use liftwatch_extension::aggregate::CustomAggregator;
use liftwatch_extension::health::Health;
use liftwatch_extension::intake::{BATCH_DATAGRAMS, UdpIntake};

const DURATION: Duration = Duration::from_secs(2);

/// How the sender packs events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Packing {
    /// `client.count`: one event per datagram.
    Single,
    /// `client.batch()`: events packed into numbered 8 KiB datagrams.
    Batched,
}

/// Sends `total` events at `rate` events/s (0: as fast as the thread can).
fn send(client: &Client, packing: Packing, rate: u64, total: u64) {
    let start = Instant::now();
    let mut batch = (packing == Packing::Batched).then(|| client.batch());
    for i in 0..total {
        // Pace in small bursts: sleep whenever ahead of schedule.
        if rate > 0 && i % 64 == 0 {
            let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        match batch.as_mut() {
            Some(batch) => batch.count("Requests", 1.0),
            None => client.count("Requests", 1.0),
        }
    }
}

fn run(packing: Packing, rate: u64, recv_buffer: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut intake = UdpIntake::bind_with_buffer(0, recv_buffer).unwrap();
        let port = intake.local_addr().unwrap().port();
        let granted = intake.recv_buffer_size();
        let sender = std::thread::spawn(move || {
            let client = Client::new(port);
            let start = Instant::now();
            let total = if rate == 0 { 1_000_000 } else { rate * DURATION.as_secs() };
            send(&client, packing, rate, total);
            let elapsed = start.elapsed();
            // A last numbered datagram after a pause shows the gaps before it.
            std::thread::sleep(Duration::from_millis(200));
            send(&client, packing, 0, 1);
            (client.sent(), client.failed(), elapsed)
        });
        let health = Health::default();
        let mut aggregator = CustomAggregator::default();
        let mut record = |event| {
            if let Event::Metric(metric) = event {
                aggregator.record(metric);
            }
        };
        while !sender.is_finished() {
            if tokio::time::timeout(Duration::from_millis(5), intake.readable()).await.is_ok() {
                intake.drain(BATCH_DATAGRAMS, &health, &mut record);
            }
        }
        let (sent, failed, elapsed) = sender.join().unwrap();
        // The final drain, as before a flush.
        intake.drain_all(&health, &mut record);
        let mut series = Vec::new();
        aggregator.flush_into("bench", &mut series);
        let counted: f64 = series.iter().flat_map(|s| s.values.iter()).sum();
        let counts = health.take();
        let dropped = intake.take_dropped(true);
        let lost = sent.saturating_sub(counts.received);
        println!(
            "{packing:?} target {rate:>8}/s  sent {sent:>8} (failed {failed})  received {:>8}  aggregated {:>9}  lost {lost:>7} ({:>5.1}%)  counted dropped {:>7} exact + {:>7} estimated  achieved {:>10.0}/s  rcvbuf {} KiB",
            counts.received,
            counted,
            100.0 * lost as f64 / sent.max(1) as f64,
            dropped.exact,
            dropped.estimated,
            sent as f64 / elapsed.as_secs_f64(),
            granted / 1024,
        );
    });
}

fn main() {
    // `cargo bench --bench intake -- Batched` runs only the runs whose label holds "Batched".
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |packing: Packing, rate: u64, recv_buffer: usize| {
        let label = format!("{packing:?} {rate} {recv_buffer}");
        filter.iter().all(|f| label.contains(f.as_str()))
    };
    // What the extension asks for, then Linux's default `rmem_default` (the most a
    // process gets where `rmem_max` is left at its default, as it may be on Lambda).
    for recv_buffer in [8 * 1024 * 1024, 212_992] {
        // Batched rate 0: an unpaced burst of 1,000,000 events.
        let runs = [100_000, 300_000, 500_000]
            .map(|rate| (Packing::Single, rate))
            .into_iter()
            .chain([1_000_000, 3_000_000, 4_000_000, 0].map(|rate| (Packing::Batched, rate)));
        for (packing, rate) in runs {
            if wanted(packing, rate, recv_buffer) {
                run(packing, rate, recv_buffer);
            }
        }
    }
}
