//! Intake throughput benchmark: a sender thread paces SDK datagrams at a target rate to
//! the real UDP intake, which the pipeline's code path (decode, validate, aggregate)
//! drains on a current-thread runtime, as in the extension. Prints sent versus counted
//! and the achieved rate for several target rates and receive-buffer sizes. Run with
//! `cargo bench -p liftwatch-extension --bench intake`. Never asserts on time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use liftwatch::Client;
use liftwatch::protocol::Event;
use liftwatch_extension::aggregate::CustomAggregator;
use liftwatch_extension::health::Health;
use liftwatch_extension::intake::{BATCH_DATAGRAMS, UdpIntake};

const DURATION: Duration = Duration::from_secs(2);

fn run(rate: u64, recv_buffer: usize) {
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
            let total = rate * DURATION.as_secs();
            for i in 0..total {
                // Pace in small bursts: sleep whenever ahead of schedule.
                let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
                if i % 64 == 0
                    && let Some(wait) = due.checked_duration_since(Instant::now())
                {
                    std::thread::sleep(wait);
                }
                client.count("Requests", 1.0);
            }
            (client.sent(), client.failed(), start.elapsed())
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
        let kernel_drops = intake.take_kernel_drops();
        println!(
            "target {rate:>7}/s  sent {sent:>7} (failed {failed})  received {:>7}  aggregated {:>9}  lost {:>5} (counted as dropped {kernel_drops:>5})  achieved {:>9.0}/s  rcvbuf {} KiB",
            counts.received,
            counted,
            sent.saturating_sub(counts.received),
            sent as f64 / elapsed.as_secs_f64(),
            granted / 1024,
        );
    });
}

fn main() {
    // What the extension asks for, then Linux's default `rmem_default` (the most a
    // process gets where `rmem_max` is left at its default, as it may be on Lambda).
    for recv_buffer in [8 * 1024 * 1024, 212_992] {
        for rate in [100_000, 300_000, 500_000] {
            run(rate, recv_buffer);
        }
    }
}
