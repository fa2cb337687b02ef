#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use liftwatch::Unit;

const STARTED: u64 = 1_000;

fn point(stream: u64, start: u64, data: Data) -> Point {
    Point {
        name: "m".into(),
        unit: Unit::Count,
        factor: 1.0,
        dimensions: Vec::new(),
        stream,
        start_unix_nanos: start,
        data,
    }
}

fn counter(value: f64) -> Data {
    Data::Sum {
        value,
        monotonic: true,
        cumulative: true,
    }
}

fn sent(outcome: Outcome) -> Data {
    match outcome {
        Outcome::Send(point) => point.data,
        other => panic!("nothing sent: {other:?}"),
    }
}

fn delta_sum(value: f64) -> Data {
    Data::Sum {
        value,
        monotonic: true,
        cumulative: false,
    }
}

#[test]
fn a_cumulative_counter_sends_its_increments_and_restarts_from_zero() {
    let mut streams = Streams::new(STARTED);
    assert_eq!(
        sent(streams.delta(point(1, 2_000, counter(5.0)))),
        delta_sum(5.0)
    );
    assert_eq!(
        sent(streams.delta(point(1, 2_000, counter(5.0)))),
        delta_sum(0.0)
    );
    assert_eq!(
        sent(streams.delta(point(1, 2_000, counter(12.0)))),
        delta_sum(7.0)
    );
    // The process restarted: a new start time, or a total that went down.
    assert_eq!(
        sent(streams.delta(point(1, 3_000, counter(2.0)))),
        delta_sum(2.0)
    );
    assert_eq!(
        sent(streams.delta(point(1, 0, counter(1.0)))),
        delta_sum(1.0)
    );
    assert_eq!(streams.len(), 1);
}

#[test]
fn a_stream_older_than_the_extension_starts_with_a_baseline() {
    let mut streams = Streams::new(STARTED);
    assert_eq!(
        streams.delta(point(1, 500, counter(40.0))),
        Outcome::Baseline
    );
    assert_eq!(streams.delta(point(2, 0, counter(40.0))), Outcome::Baseline);
    assert_eq!(
        sent(streams.delta(point(1, 500, counter(43.0)))),
        delta_sum(3.0)
    );
}

#[test]
fn deltas_and_gauges_pass_and_a_cumulative_up_down_counter_is_a_gauge() {
    let mut streams = Streams::new(STARTED);
    assert_eq!(
        sent(streams.delta(point(1, 0, delta_sum(3.0)))),
        delta_sum(3.0)
    );
    assert_eq!(
        sent(streams.delta(point(2, 0, Data::Gauge(3.0)))),
        Data::Gauge(3.0)
    );
    let level = Data::Sum {
        value: -4.0,
        monotonic: false,
        cumulative: true,
    };
    assert_eq!(
        sent(streams.delta(point(3, 2_000, level))),
        Data::Gauge(-4.0)
    );
    assert!(streams.is_empty(), "no state kept for them");
}

fn explicit(count: u64, sum: f64, counts: Vec<u64>) -> Data {
    Data::Histogram {
        cumulative: true,
        count,
        sum: Some(sum),
        min: Some(0.5),
        max: Some(9.0),
        buckets: Buckets::Explicit {
            bounds: vec![1.0, 5.0],
            counts,
        },
    }
}

#[test]
fn histograms_subtract_bucket_by_bucket_and_drop_lifetime_min_max() {
    let mut streams = Streams::new(STARTED);
    let first = sent(streams.delta(point(1, 2_000, explicit(3, 6.0, vec![1, 1, 1]))));
    assert!(matches!(
        first,
        Data::Histogram {
            count: 3,
            min: Some(_),
            max: Some(_),
            ..
        }
    ));
    let second = sent(streams.delta(point(1, 2_000, explicit(5, 10.0, vec![1, 3, 1]))));
    assert_eq!(
        second,
        Data::Histogram {
            cumulative: false,
            count: 2,
            sum: Some(4.0),
            min: None,
            max: None,
            buckets: Buckets::Explicit {
                bounds: vec![1.0, 5.0],
                counts: vec![0, 2, 0]
            },
        }
    );
    // A bucket that went down: restarted, sent whole.
    let reset = sent(streams.delta(point(1, 2_000, explicit(6, 10.0, vec![0, 6, 0]))));
    assert!(matches!(reset, Data::Histogram { count: 6, .. }));
}

fn exponential(scale: i32, offset: i32, positive: Vec<u64>) -> Data {
    Data::Histogram {
        cumulative: true,
        count: positive.iter().sum(),
        sum: None,
        min: None,
        max: None,
        buckets: Buckets::Exponential {
            scale,
            zero_count: 0,
            positive_offset: offset,
            positive,
            negative_offset: 0,
            negative: Vec::new(),
        },
    }
}

#[test]
fn an_exponential_histogram_that_lowered_its_scale_is_compared_merged() {
    let mut streams = Streams::new(STARTED);
    sent(streams.delta(point(1, 2_000, exponential(2, 4, vec![1, 1, 1, 1]))));
    // Scale 1: indexes 4..8 at scale 2 merge into 2..4 (2, 2); one more value in index 3.
    let delta = sent(streams.delta(point(1, 2_000, exponential(1, 2, vec![2, 3]))));
    let Data::Histogram { count, buckets, .. } = delta else {
        panic!("not a histogram");
    };
    assert_eq!(count, 1);
    assert_eq!(
        buckets,
        Buckets::Exponential {
            scale: 1,
            zero_count: 0,
            positive_offset: 2,
            positive: vec![0, 1],
            negative_offset: 0,
            negative: Vec::new(),
        }
    );
    // A finer scale than before cannot be compared: a new baseline.
    assert_eq!(
        streams.delta(point(1, 2_000, exponential(3, 16, vec![2, 2, 2]))),
        Outcome::Baseline
    );
}

#[test]
fn streams_beyond_the_bound_are_refused() {
    let mut streams = Streams::new(STARTED);
    for stream in 0..MAX_STREAMS as u64 {
        sent(streams.delta(point(stream, 2_000, counter(1.0))));
    }
    assert_eq!(
        streams.delta(point(u64::MAX, 2_000, counter(1.0))),
        Outcome::Refused
    );
    assert_eq!(
        sent(streams.delta(point(7, 2_000, counter(3.0)))),
        delta_sum(2.0),
        "known streams go on"
    );
}
