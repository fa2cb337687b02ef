//! A delta point → the metric events the custom aggregator records: a Sum is a count, a
//! Gauge a gauge, a histogram a distribution of weighted values, one per non-empty bucket.
//!
//! A bucket's value is the middle of its range narrowed to the point's min and max (the
//! open-ended first and last buckets end there; without them, at their finite bound). A
//! histogram with one non-empty bucket and a sum sends `sum / count`, exact for the common
//! case of one observation per interval; one without buckets sends `sum / count` with its
//! count. Values are multiplied by the unit's factor, and magnitudes CloudWatch cannot
//! store become zero (below 8.5e-109) or its largest (above 1.17e108).

use liftwatch::protocol::{MAX_COUNT, MAX_MAGNITUDE, MIN_MAGNITUDE, MetricEvent};
use liftwatch::{MetricKind, Resolution};

use super::{Buckets, Data, Point};

/// Every event `point` (a delta, see `delta`) gives, handed to `emit`.
pub fn events_from(point: Point, mut emit: impl FnMut(MetricEvent)) {
    let factor = point.factor;
    let event = |value: f64, count: u32, kind: MetricKind| MetricEvent {
        name: point.name.clone(),
        value: storable(value * factor),
        count,
        unit: point.unit,
        kind,
        dimensions: point.dimensions.clone(),
        resolution: Resolution::Standard,
    };
    match &point.data {
        Data::Sum { value, .. } => emit(event(*value, 1, MetricKind::Count)),
        Data::Gauge(value) => emit(event(*value, 1, MetricKind::Gauge)),
        Data::Histogram {
            count,
            sum,
            min,
            max,
            buckets,
            ..
        } => {
            let range = (
                min.unwrap_or(f64::NEG_INFINITY),
                max.unwrap_or(f64::INFINITY),
            );
            let mut samples = bucket_samples(buckets, range);
            let mean = sum.map(|sum| sum / *count as f64);
            match (samples.len(), mean) {
                (0, Some(mean)) | (1, Some(mean)) if *count > 0 => {
                    samples = vec![(mean, *count)];
                }
                _ => {}
            }
            for (value, mut n) in samples {
                while n > 0 {
                    let chunk = n.min(u64::from(MAX_COUNT));
                    let weight = u32::try_from(chunk).unwrap_or(MAX_COUNT);
                    emit(event(value, weight, MetricKind::Distribution));
                    n -= chunk;
                }
            }
        }
    }
}

/// (value, count) for every non-empty bucket.
fn bucket_samples(buckets: &Buckets, range: (f64, f64)) -> Vec<(f64, u64)> {
    match buckets {
        Buckets::None => Vec::new(),
        Buckets::Explicit { bounds, counts } => counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| {
                let lower = i
                    .checked_sub(1)
                    .and_then(|j| bounds.get(j))
                    .copied()
                    .unwrap_or(f64::NEG_INFINITY);
                let upper = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                (middle(lower, upper, range), *c)
            })
            .collect(),
        Buckets::Exponential {
            scale,
            zero_count,
            positive_offset,
            positive,
            negative_offset,
            negative,
        } => {
            // base^index = 2^(index * 2^-scale)
            let step = (-f64::from(*scale)).exp2();
            let bound = |index: i32| (f64::from(index) * step).exp2();
            let mut out = Vec::new();
            for (index, c) in (*negative_offset..).zip(negative).filter(|(_, c)| **c > 0) {
                let (lower, upper) = (-bound(index + 1), -bound(index));
                out.push((middle(lower, upper, range), *c));
            }
            if *zero_count > 0 {
                out.push((
                    0.0_f64.clamp(range.0.min(0.0), range.1.max(0.0)),
                    *zero_count,
                ));
            }
            for (index, c) in (*positive_offset..).zip(positive).filter(|(_, c)| **c > 0) {
                out.push((middle(bound(index), bound(index + 1), range), *c));
            }
            out
        }
    }
}

/// The middle of `(lower, upper]` narrowed to `range`; an end still infinite gives the
/// other end.
fn middle(lower: f64, upper: f64, range: (f64, f64)) -> f64 {
    let lower = lower.max(range.0);
    let upper = upper.min(range.1);
    match (lower.is_finite(), upper.is_finite()) {
        (true, true) if lower <= upper => lower + (upper - lower) / 2.0,
        // min and max outside the bucket (inconsistent sender): its own bound.
        (true, true) => upper,
        (true, false) => lower,
        (false, true) => upper,
        (false, false) => 0.0,
    }
}

/// `value` within what CloudWatch stores.
fn storable(value: f64) -> f64 {
    if value.is_nan() || value.abs() < MIN_MAGNITUDE {
        return 0.0;
    }
    value.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE)
}

#[cfg(test)]
mod tests;
