//! DynamoDB requests per minute for `ActiveConnections` across a fleet of simulated
//! sandboxes, against moto's server (`LIFTWATCH_TEST_MOTO_URL` or `target/moto.url`; start
//! it with `bash scripts/moto.sh start`). Every sandbox runs the extension's own
//! `Schedule` and makes the real lease and count requests, on a simulated clock (one step
//! per second, every sandbox thawed all the time: the worst case). Halfway through, the
//! holder vanishes without SHUTDOWN, to show how long the fleet goes without the gauge.
//!
//! `cargo bench -p liftwatch-extension --bench connections` (`BENCH_SANDBOXES`, default 50;
//! `BENCH_MINUTES`, default 30).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use liftwatch::connections::{Connection, ConnectionStore, create_table};
use liftwatch_extension::active_connections::store::attempt;
use liftwatch_extension::active_connections::{Attempt, Schedule};
use liftwatch_sandbox::moto;

const INTERVAL: Duration = Duration::from_secs(60);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sandboxes = env_or("BENCH_SANDBOXES", 50) as usize;
    let minutes = env_or("BENCH_MINUTES", 30);
    let client = Client::new(&moto::sdk_config(&moto::moto_url()));
    let wall_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let table = format!("liftwatch-bench-connections-{wall_ms}");
    create_table(&client, &table).await.unwrap();
    let store = ConnectionStore::new(client.clone(), &table);
    for i in 0..25 {
        store.save(&Connection::new(format!("c{i}"))).await.unwrap();
    }

    let start = Instant::now();
    let mut fleet: Vec<(String, Schedule, bool)> = (0..sandboxes)
        .map(|i| {
            (
                format!("sandbox-{i:02}"),
                Schedule::new(INTERVAL, start),
                true,
            )
        })
        .collect();
    let lease = fleet[0].1.lease();
    let (mut lease_writes, mut lease_reads, mut reads) = (0u64, 0u64, 0u64);
    let mut published = Vec::new();
    let mut steady = [0u64; 3];
    let mut vanished = None;
    for second in 0..minutes * 60 {
        let now = start + Duration::from_secs(second);
        let now_ms = wall_ms + second * 1_000;
        if second == minutes * 30 && vanished.is_none() {
            // The holder stops without SHUTDOWN (frozen for good).
            if let Some(holder) = fleet.iter_mut().find(|(_, s, alive)| *alive && s.holder()) {
                holder.2 = false;
                vanished = Some(second);
            }
        }
        for (i, (id, schedule, alive)) in fleet.iter_mut().enumerate() {
            if !*alive || !schedule.due(now) {
                continue;
            }
            schedule.started();
            let peek = schedule.peek();
            let timing = (lease, Duration::from_secs(5), peek);
            let result = attempt(&client, &table, id, now_ms, timing).await;
            lease_reads += u64::from(peek);
            let looked = peek && matches!(result, Attempt::HeldElsewhere(_));
            if (300..minutes * 30).contains(&second) {
                // Steady state: after the start-up scramble, before the holder vanishes.
                steady[0] += u64::from(!looked);
                steady[1] += u64::from(peek);
                steady[2] += u64::from(matches!(result, Attempt::Published(_)));
            }
            let looked_only = peek && matches!(result, Attempt::HeldElsewhere(_));
            lease_writes += u64::from(!looked_only);
            if let Attempt::Published(_) = result {
                reads += 1;
                published.push(second);
            }
            // A fixed per-sandbox jitter in [0, interval / 4).
            let jitter = INTERVAL.mul_f64(0.25 * (i as f64 * 0.618_034).fract());
            schedule.finished(result, now, now_ms, jitter);
        }
    }
    let per_minute = |n: u64| n as f64 / minutes as f64;
    let gap = vanished.map(|at| {
        published
            .iter()
            .find(|&&s| s > at)
            .map_or(f64::INFINITY, |&s| (s - at) as f64)
    });
    let naive = sandboxes as f64; // every sandbox reading the counter every interval
    let total = per_minute(lease_writes + lease_reads + reads);
    println!(
        "sandboxes {sandboxes}, simulated minutes {minutes}, interval 60 s, lease {} s",
        lease.as_secs()
    );
    println!(
        "ActiveConnections published        {:>8.2} per minute",
        per_minute(published.len() as u64)
    );
    println!(
        "lease writes (conditional)         {:>8.2} per minute",
        per_minute(lease_writes)
    );
    println!(
        "lease reads (GetItem, eventual)    {:>8.2} per minute",
        per_minute(lease_reads)
    );
    println!(
        "counter reads (Query)              {:>8.2} per minute",
        per_minute(reads)
    );
    println!(
        "all DynamoDB requests              {:>8.2} per minute",
        total
    );
    println!(
        "every sandbox reading every minute {:>8.2} per minute ({:.1}x more)",
        naive,
        naive / total
    );
    let steady_minutes = (minutes * 30).saturating_sub(300) as f64 / 60.0;
    if steady_minutes > 0.0 {
        let [writes, peeks, counts] = steady.map(|n| n as f64 / steady_minutes);
        println!(
            "steady state: {writes:.2} lease writes + {peeks:.2} lease reads + {counts:.2} counter reads per minute"
        );
    }
    if let Some(gap) = gap {
        println!("gauge gap after the holder vanished {gap:.0} s");
    }
}
