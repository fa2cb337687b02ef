//! Cost of the resource sampler against this machine's real `/proc`: `start`, `sample` and
//! `finish` for this process alone and for every visible process, the per-process cost of
//! the two ways of counting, then the CPU per 100 ms invocation at a few sampling intervals
//! and the shortest interval within the 0.2 ms budget.
//! Run with `cargo bench -p liftwatch-extension --bench sampler`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use liftwatch_extension::resources::{Counting, ProcessReader, ProcessScope, ResourceSampler};

/// The budget: sampler CPU per 100 ms invocation.
const BUDGET_US: f64 = 200.0;
const INVOCATION_MS: f64 = 100.0;
const ROUNDS: usize = 3_000;
/// Processes in a Lambda sandbox: runtime, handler children, extensions.
const LAMBDA_PROCESSES: f64 = 6.0;

fn sampler(scope: ProcessScope) -> ResourceSampler {
    ResourceSampler::new(PathBuf::from("/proc"), std::env::temp_dir(), scope)
}

fn scopes() -> [(&'static str, ProcessScope); 2] {
    [
        ("self", ProcessScope::Pids(vec![std::process::id()])),
        ("all", ProcessScope::All),
    ]
}

fn criterion_benches(c: &mut Criterion) {
    for (name, scope) in scopes() {
        let mut group = c.benchmark_group(format!("sampler/{name}"));
        let mut s = sampler(scope);
        group.bench_function("start", |b| b.iter(|| s.start()));
        s.start();
        group.bench_function("sample", |b| b.iter(|| s.sample()));
        group.bench_function("start+finish", |b| {
            b.iter(|| {
                s.start();
                black_box(s.finish())
            });
        });
        group.bench_function("start+sample+finish", |b| {
            b.iter(|| {
                s.start();
                s.sample();
                black_box(s.finish())
            });
        });
        group.finish();
    }
}

/// Median of `ROUNDS` timings of `op`, each after an untimed `setup`, in µs.
fn median_us<S: ?Sized>(state: &mut S, setup: impl Fn(&mut S), op: impl Fn(&mut S)) -> f64 {
    for _ in 0..ROUNDS / 10 {
        setup(state);
        op(state);
    }
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            setup(state);
            let started = Instant::now();
            op(state);
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1e6
}

struct Figures {
    start: f64,
    sample: f64,
    finish: f64,
    processes: u64,
}

fn measure(scope: ProcessScope) -> Figures {
    let processes = ProcessReader::new(PathBuf::from("/proc"), scope.clone())
        .read(&mut |_| {})
        .processes;
    let mut s = sampler(scope);
    let start = median_us(&mut s, |_| {}, ResourceSampler::start);
    let sample = median_us(&mut s, |_| {}, ResourceSampler::sample);
    let finish = median_us(&mut s, ResourceSampler::start, |s| {
        black_box(s.finish());
    });
    assert_eq!(s.errors(), 0, "no reading may fail on this machine");
    Figures {
        start,
        sample,
        finish,
        processes,
    }
}

fn per_invocation_us(f: &Figures, interval_ms: f64) -> f64 {
    f.start + f.finish + (INVOCATION_MS / interval_ms) * f.sample
}

/// Median µs of one reading of every visible process, and how many there were.
fn reading_us(counting: Counting) -> (f64, u64) {
    let mut reader =
        ProcessReader::new(PathBuf::from("/proc"), ProcessScope::All).with_counting(counting);
    let processes = reader.read(&mut |_| {}).processes;
    let us = median_us(
        &mut reader,
        |_| {},
        |r| {
            black_box(r.read(&mut |_| {}));
        },
    );
    (us, processes)
}

#[allow(clippy::cast_precision_loss)]
fn report() {
    let own = measure(ProcessScope::Pids(vec![std::process::id()]));
    let all = measure(ProcessScope::All);
    println!("\nresource sampler, median of {ROUNDS} calls (µs per call)");
    println!("scope          procs   start  sample  finish");
    for (name, f) in [("Pids(self)", &own), ("All", &all)] {
        println!(
            "{name:<12} {:>7} {:>7.2} {:>7.2} {:>7.2}",
            f.processes, f.start, f.sample, f.finish
        );
    }
    let detected = Counting::detect(std::path::Path::new("/proc"));
    let old_kernel = Counting::Procfs { fd_dir_size: false };
    let mut per_process = [0.0; 3];
    for (each, counting) in per_process
        .iter_mut()
        .zip([detected, old_kernel, Counting::Files])
    {
        let (us, n) = reading_us(counting);
        *each = us / n.max(1) as f64;
        println!(
            "ProcessReader All, {counting:?}: {us:.1} µs for {n} processes = {each:.2} µs \
             per process"
        );
    }
    for (name, f) in [("Pids(self)", &own), ("All", &all)] {
        print!("{name:<12} per {INVOCATION_MS} ms invocation:");
        for interval in [10.0, 20.0, 25.0, 50.0, 100.0] {
            print!("  {interval} ms → {:.1} µs", per_invocation_us(f, interval));
        }
        println!("  (no timer sample → {:.1} µs)", f.start + f.finish);
    }
    // Lambda, ~6 processes: this process's figures plus the other processes' cost. Its
    // kernel may predate 6.2, where descriptors are counted by listing `<pid>/fd`.
    let lambda = |each: f64| {
        // This process counted at the detected cost, replaced by 6 processes at `each`.
        let more = each * LAMBDA_PROCESSES - per_process[0];
        Figures {
            start: own.start,
            sample: own.sample + more,
            finish: own.finish + more,
            processes: 0,
        }
    };
    let (lambda_new, lambda_old) = (lambda(per_process[0]), lambda(per_process[1]));
    for (name, f) in [
        ("All (this machine)", &all),
        ("Pids(self)", &own),
        ("All, 6 processes, kernel ≥ 6.2 (estimate)", &lambda_new),
        ("All, 6 processes, kernel < 6.2 (estimate)", &lambda_old),
    ] {
        let room = BUDGET_US - f.start - f.finish;
        if room > 0.0 {
            println!(
                "{name}: start + finish = {:.1} µs; shortest interval within {BUDGET_US} µs = \
                 {INVOCATION_MS} × {:.2} / ({BUDGET_US} − {:.1}) = {:.1} ms",
                f.start + f.finish,
                f.sample,
                f.start + f.finish,
                INVOCATION_MS * f.sample / room
            );
        } else {
            println!(
                "{name}: start + finish = {:.1} µs ≥ {BUDGET_US} µs: no timer sample fits",
                f.start + f.finish
            );
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
    report();
}
