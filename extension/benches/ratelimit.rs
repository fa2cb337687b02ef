//! DynamoDB write requests per 1,000,000 rate-limit decisions: simulated sandboxes (no
//! network, no sleeping, a simulated clock) each make 100 decisions/s over 3 rules and 16
//! key classes and flush their aggregator every 10 s; each flushed (rule, window) entry is
//! one `UpdateItem`. Printed against one write per decision, for 60 s and 1 h windows, and
//! for longer table-write intervals. Sandboxes start at random phases, so some flushes
//! straddle a window boundary and write that rule twice.
//! Run with `cargo bench -p liftwatch-extension --bench ratelimit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use liftwatch_extension::ratelimit::{Decision, Outcome, RateLimitAggregator};

const DECISIONS: u64 = 1_000_000;
const SANDBOXES: u64 = 10;
const PER_SECOND: u64 = 100;
const RULES: [&str; 3] = ["login", "search", "upload"];
const KEY_CLASSES: usize = 16;
/// The target: at least this many times fewer writes than decisions.
const TARGET: f64 = 1_000.0;

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// What one simulation wrote.
struct Run {
    writes: u64,
    flushes: u64,
    straddling: u64,
}

/// Every sandbox's decisions, flushed every `flush_secs`, windows of `window_secs`.
fn simulate(flush_secs: u64, window_secs: u32, completed_only: bool) -> Run {
    let classes: Vec<String> = (0..KEY_CLASSES).map(|i| format!("class-{i:02}")).collect();
    let mut random = Lcg(42);
    let (mut writes, mut flushes, mut straddling) = (0, 0, 0);
    let per_sandbox = DECISIONS / SANDBOXES;
    for _ in 0..SANDBOXES {
        let mut aggregator = RateLimitAggregator::new();
        // Simulated clock in milliseconds, from a random phase within a window.
        let start_ms = 1_800_000_000_000 + random.next(u64::from(window_secs) * 1_000);
        let mut next_flush = start_ms + flush_secs * 1_000;
        let mut last_window = u64::MAX;
        let mut windows_in_flush = 0;
        for i in 0..per_sandbox {
            let now_ms = start_ms + i * 1_000 / PER_SECOND;
            if now_ms >= next_flush {
                let batch = if completed_only {
                    aggregator.flush_completed(now_ms / 1_000, 300)
                } else {
                    aggregator.flush()
                };
                writes += batch.windows.len() as u64;
                flushes += 1;
                straddling += u64::from(windows_in_flush > 1);
                windows_in_flush = 0;
                last_window = u64::MAX;
                next_flush += flush_secs * 1_000;
            }
            let now = now_ms / 1_000;
            let window_start = now - now % u64::from(window_secs);
            if window_start != last_window {
                last_window = window_start;
                windows_in_flush += 1;
            }
            let outcome = match random.next(10) {
                0 => Outcome::Blocked,
                1 if random.next(10) == 0 => Outcome::Error,
                _ => Outcome::Allowed,
            };
            aggregator.record(Decision {
                rule: RULES[random.next(3) as usize].to_owned(),
                key_class: Some(classes[random.next(KEY_CLASSES as u64) as usize].clone()),
                outcome,
                window_seconds: window_secs,
                window_start,
            });
        }
        let batch = aggregator.flush();
        writes += batch.windows.len() as u64;
        flushes += 1;
        straddling += u64::from(windows_in_flush > 1);
    }
    Run {
        writes,
        flushes,
        straddling,
    }
}

fn main() {
    println!(
        "{DECISIONS} decisions, {SANDBOXES} sandboxes at {PER_SECOND}/s, {} rules, {KEY_CLASSES} key classes",
        RULES.len()
    );
    println!("write  window  writes/1M  ratio    flushes  straddling  aggregation ns/decision");
    let cases = [
        (10, 60, false),
        (10, 3_600, false),
        (30, 60, false),
        (60, 60, false),
        (60, 3_600, false),
        // What the extension does: a table write every 60 s with complete windows only.
        (60, 60, true),
        (60, 3_600, true),
    ];
    for (flush, window, completed_only) in cases {
        let started = Instant::now();
        let run = simulate(flush, window, completed_only);
        let ns = started.elapsed().as_nanos() as f64 / DECISIONS as f64;
        let ratio = DECISIONS as f64 / run.writes as f64;
        let verdict = if ratio >= TARGET { "meets" } else { "short of" };
        println!(
            "{flush:>4}s  {window:>5}s  {:>9}  {ratio:>6.0}×  {:>7}  {:>10}  {ns:>6.0}   ({verdict} {TARGET}×){}",
            run.writes,
            run.flushes,
            run.straddling,
            if completed_only {
                "  complete windows only (the extension)"
            } else {
                ""
            }
        );
    }
    println!(
        "floor at a {PER_SECOND}/s, 10 s flush: {} rules written per flush → at best {:.0}× per sandbox",
        RULES.len(),
        (PER_SECOND * 10) as f64 / RULES.len() as f64
    );
}
