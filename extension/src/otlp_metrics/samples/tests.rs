#![allow(clippy::unwrap_used)]

use super::*;
use liftwatch::Unit;

fn point(data: Data, factor: f64) -> Point {
    Point {
        name: "m".into(),
        unit: Unit::Milliseconds,
        factor,
        dimensions: vec![("k".into(), "v".into())],
        stream: 1,
        start_unix_nanos: 0,
        data,
    }
}

fn histogram(
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    buckets: Buckets,
) -> Data {
    Data::Histogram {
        cumulative: false,
        count,
        sum,
        min,
        max,
        buckets,
    }
}

fn samples(point: Point) -> Vec<(f64, u32, MetricKind)> {
    let mut out = Vec::new();
    events_from(point, |e| {
        assert_eq!(
            (e.name.as_str(), e.unit, e.dimensions.len()),
            ("m", Unit::Milliseconds, 1)
        );
        out.push((e.value, e.count, e.kind));
    });
    out
}

#[test]
fn sums_are_counts_and_gauges_gauges_scaled_by_the_unit_factor() {
    let sum = Data::Sum {
        value: 2_000.0,
        monotonic: true,
        cumulative: false,
    };
    assert_eq!(samples(point(sum, 1e-3)), [(2.0, 1, MetricKind::Count)]);
    assert_eq!(
        samples(point(Data::Gauge(1e-200), 1.0)),
        [(0.0, 1, MetricKind::Gauge)]
    );
    assert_eq!(
        samples(point(Data::Gauge(f64::MAX), 1.0)),
        [(MAX_MAGNITUDE, 1, MetricKind::Gauge)]
    );
}

#[test]
fn explicit_buckets_give_their_middles_narrowed_to_min_and_max() {
    let buckets = Buckets::Explicit {
        bounds: vec![10.0, 20.0, 40.0],
        counts: vec![2, 0, 3, 1],
    };
    let data = histogram(6, Some(150.0), Some(4.0), Some(100.0), buckets.clone());
    assert_eq!(
        samples(point(data, 1.0)),
        [
            (7.0, 2, MetricKind::Distribution),
            (30.0, 3, MetricKind::Distribution),
            (70.0, 1, MetricKind::Distribution),
        ]
    );
    let unbounded = histogram(6, Some(150.0), None, None, buckets);
    let values: Vec<f64> = samples(point(unbounded, 1.0)).iter().map(|s| s.0).collect();
    assert_eq!(
        values,
        [10.0, 30.0, 40.0],
        "the open buckets end at their finite bound"
    );
}

#[test]
fn one_bucket_with_a_sum_or_no_buckets_send_the_exact_mean() {
    let one = Buckets::Explicit {
        bounds: vec![10.0, 20.0],
        counts: vec![0, 4, 0],
    };
    assert_eq!(
        samples(point(histogram(4, Some(50.0), None, None, one), 1.0)),
        [(12.5, 4, MetricKind::Distribution)]
    );
    assert_eq!(
        samples(point(
            histogram(2, Some(9.0), None, None, Buckets::None),
            1.0
        )),
        [(4.5, 2, MetricKind::Distribution)]
    );
    assert!(
        samples(point(
            histogram(0, Some(0.0), None, None, Buckets::None),
            1.0
        ))
        .is_empty()
    );
}

#[test]
fn exponential_buckets_span_powers_of_the_base_with_zero_and_negatives() {
    // scale 0: base 2; positive index 1 is (2, 4], index 2 is (4, 8]; negative index 0 is
    // [-2, -1).
    let buckets = Buckets::Exponential {
        scale: 0,
        zero_count: 1,
        positive_offset: 1,
        positive: vec![2, 1],
        negative_offset: 0,
        negative: vec![1],
    };
    let data = histogram(5, None, None, None, buckets);
    assert_eq!(
        samples(point(data, 1.0)),
        [
            (-1.5, 1, MetricKind::Distribution),
            (0.0, 1, MetricKind::Distribution),
            (3.0, 2, MetricKind::Distribution),
            (6.0, 1, MetricKind::Distribution),
        ]
    );
}

#[test]
fn counts_beyond_u32_are_split() {
    let n = u64::from(u32::MAX) + 5;
    let buckets = Buckets::Explicit {
        bounds: vec![1.0],
        counts: vec![n, 1],
    };
    let out = samples(point(histogram(n + 1, None, None, None, buckets), 1.0));
    let total: u64 = out.iter().map(|s| u64::from(s.1)).sum();
    assert_eq!((out.len(), total), (3, n + 1));
}
