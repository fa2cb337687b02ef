//! Hot-path benchmarks of the extension: EMF encoding of one full 100-metric document, a
//! typical invocation flush, and a large unsorted batch over many dimension sets.
//! Run with `cargo bench -p liftwatch-extension --bench hot_paths`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liftwatch::{Resolution, Unit};
use liftwatch_extension::emf::EmfEncoder;
use liftwatch_extension::metrics::{MetricBatch, Series};

const TIMESTAMP_MS: u64 = 1_764_300_000_000;
const FUNCTION: [(&str, &str); 1] = [("FunctionName", "orders-api-prod")];

fn series(name: &str, unit: Unit, dimensions: &[(&str, &str)], values: Vec<f64>) -> Series {
    Series {
        name: name.to_owned(),
        unit,
        resolution: Resolution::Standard,
        dimensions: dimensions
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        values,
        counts: Vec::new(),
    }
}

/// 100 series, one value each (half integral, half fractional), dimension `FunctionName`.
fn hundred_metrics() -> MetricBatch {
    let series = (0..100)
        .map(|i| {
            series(
                &format!("Metric{i:03}"),
                Unit::Count,
                &FUNCTION,
                vec![f64::from(i) * 1.5],
            )
        })
        .collect();
    MetricBatch {
        timestamp_ms: TIMESTAMP_MS,
        series,
    }
}

/// A metric of the catalogue and the value it takes at the i-th invocation.
type Invocation = (&'static str, Unit, fn(u32) -> f64);

/// The 12 invocation metrics of the catalogue with 20 values each (20 invocations per flush).
fn invocation_flush() -> MetricBatch {
    let metrics: [Invocation; 12] = [
        ("Invocations", Unit::Count, |_| 1.0),
        ("Errors", Unit::Count, |i| f64::from(u32::from(i % 7 == 0))),
        ("Timeouts", Unit::Count, |_| 0.0),
        ("OutOfMemory", Unit::Count, |_| 0.0),
        ("ColdStarts", Unit::Count, |i| f64::from(u32::from(i == 0))),
        ("Duration", Unit::Milliseconds, |i| {
            87.31 + f64::from(i) * 3.17
        }),
        ("BilledDuration", Unit::Milliseconds, |i| {
            f64::from(88 + i * 3)
        }),
        ("InitDuration", Unit::Milliseconds, |i| 212.5 + f64::from(i)),
        ("RuntimeDuration", Unit::Milliseconds, |i| {
            85.042 + f64::from(i) * 2.9
        }),
        ("PostRuntimeDuration", Unit::Milliseconds, |i| {
            0.813 + f64::from(i) * 0.01
        }),
        ("MaxMemoryUsed", Unit::Megabytes, |i| f64::from(71 + i % 5)),
        ("MemorySize", Unit::Megabytes, |_| 1024.0),
    ];
    let series = metrics
        .iter()
        .map(|(name, unit, value)| series(name, *unit, &FUNCTION, (0..20).map(value).collect()))
        .collect();
    MetricBatch {
        timestamp_ms: TIMESTAMP_MS,
        series,
    }
}

/// 1,000 series with 5 values each, interleaved over 10 `Rule` dimension sets.
fn many_dimension_sets() -> MetricBatch {
    let rules: Vec<String> = (0..10).map(|r| format!("rule-{r}")).collect();
    let series = (0..1000u32)
        .map(|i| {
            let dims = [
                ("FunctionName", "orders-api-prod"),
                ("Rule", rules[(i % 10) as usize].as_str()),
            ];
            let values = (0..5).map(|j| f64::from(i * 5 + j) / 4.0).collect();
            series(
                &format!("RateLimit{:03}", i / 10),
                Unit::Count,
                &dims,
                values,
            )
        })
        .collect();
    MetricBatch {
        timestamp_ms: TIMESTAMP_MS,
        series,
    }
}

fn bench(c: &mut Criterion) {
    let encoder = EmfEncoder::new("Liftwatch").unwrap();
    let mut group = c.benchmark_group("emf_encode");
    let cases = [
        ("100_metrics_1_value", hundred_metrics()),
        ("12_metrics_20_values", invocation_flush()),
        ("1000_series_10_dimension_sets", many_dimension_sets()),
    ];
    for (name, batch) in &cases {
        let mut out = Vec::new();
        let stats = encoder.encode(batch, &mut out);
        eprintln!("{name}: {stats:?}, {} bytes", out.len());
        group.throughput(Throughput::Elements(batch.value_count() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                out.clear();
                black_box(encoder.encode(black_box(batch), &mut out));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
