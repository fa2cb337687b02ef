//! Custom metrics sent by handlers: counts are summed, gauges keep the last value and
//! distributions keep every sample, per (name, unit, resolution, dimensions) and flush.
//! Memory is bounded: past [`MAX_SERIES`] series or [`MAX_VALUES`] buffered samples,
//! new data is dropped and counted.

use std::collections::HashMap;

use liftwatch::protocol::{MetricEvent, MetricKind};
use liftwatch::{Resolution, Unit};

use crate::metrics::Series;

/// Distinct series kept between two flushes.
pub const MAX_SERIES: usize = 4_096;
/// Distribution samples kept between two flushes, across every series.
pub const MAX_VALUES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SeriesKey {
    name: String,
    unit: Unit,
    resolution: Resolution,
    dimensions: Vec<(String, String)>,
}

#[derive(Debug)]
enum Values {
    Count(f64),
    Gauge(f64),
    Distribution(Samples),
}

/// A distribution's samples in arrival order, with how often each was observed: `counts`
/// stays empty while every sample counts once, the common case.
#[derive(Debug, Default)]
struct Samples {
    values: Vec<f64>,
    counts: Vec<u32>,
}

impl Samples {
    fn push(&mut self, value: f64, count: u32) {
        if count != 1 && self.counts.len() < self.values.len() {
            self.counts.resize(self.values.len(), 1);
        }
        self.values.push(value);
        if !self.counts.is_empty() || count != 1 {
            self.counts.push(count);
        }
    }
}

/// Aggregates handler metrics between flushes.
#[derive(Debug, Default)]
pub struct CustomAggregator {
    /// Keyed per process (a random seed), so a handler cannot choose colliding names.
    series: HashMap<SeriesKey, Values, foldhash::fast::RandomState>,
    buffered_values: usize,
}

impl CustomAggregator {
    /// Records one event; false when it was dropped because a bound was reached.
    pub fn record(&mut self, event: MetricEvent) -> bool {
        let key = SeriesKey {
            name: event.name,
            unit: event.unit,
            resolution: event.resolution,
            dimensions: event.dimensions,
        };
        let series_full = self.series.len() >= MAX_SERIES;
        let values_full = self.buffered_values >= MAX_VALUES;
        if let Some(values) = self.series.get_mut(&key) {
            return match values {
                Values::Count(sum) => {
                    *sum += event.value;
                    true
                }
                Values::Gauge(last) => {
                    *last = event.value;
                    true
                }
                Values::Distribution(_) if values_full => false,
                Values::Distribution(samples) => {
                    samples.push(event.value, event.count);
                    self.buffered_values += 1;
                    true
                }
            };
        }
        if series_full || (event.kind == MetricKind::Distribution && values_full) {
            return false;
        }
        let values = match event.kind {
            MetricKind::Count => Values::Count(event.value),
            MetricKind::Gauge => Values::Gauge(event.value),
            MetricKind::Distribution => {
                self.buffered_values += 1;
                let mut samples = Samples::default();
                samples.push(event.value, event.count);
                Values::Distribution(samples)
            }
        };
        self.series.insert(key, values);
        true
    }

    /// Moves every series into `out`, each with `FunctionName` added, in a stable order.
    pub fn flush_into(&mut self, function: &str, out: &mut Vec<Series>) {
        let mut drained: Vec<_> = self.series.drain().collect();
        drained.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.buffered_values = 0;
        out.extend(drained.into_iter().map(|(key, values)| {
            let mut dimensions = key.dimensions;
            dimensions.push(("FunctionName".to_owned(), function.to_owned()));
            dimensions.sort_unstable();
            let (values, counts) = match values {
                Values::Count(v) | Values::Gauge(v) => (vec![v], Vec::new()),
                Values::Distribution(samples) => (samples.values, samples.counts),
            };
            Series {
                name: key.name,
                unit: key.unit,
                resolution: key.resolution,
                dimensions,
                values,
                counts,
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(name: &str, value: f64, kind: MetricKind, dims: &[(&str, &str)]) -> MetricEvent {
        MetricEvent {
            name: name.into(),
            value,
            count: 1,
            unit: Unit::Count,
            kind,
            dimensions: dims
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            resolution: Resolution::Standard,
        }
    }

    fn flush(agg: &mut CustomAggregator) -> Vec<Series> {
        let mut out = Vec::new();
        agg.flush_into("fn", &mut out);
        out
    }

    #[test]
    fn a_weighted_sample_gives_the_distribution_counts_and_earlier_samples_count_once() {
        let mut agg = CustomAggregator::default();
        assert!(agg.record(event("D", 1.0, MetricKind::Distribution, &[])));
        let mut weighted = event("D", 2.0, MetricKind::Distribution, &[]);
        weighted.count = 40;
        assert!(agg.record(weighted));
        assert!(agg.record(event("D", 3.0, MetricKind::Distribution, &[])));
        assert!(agg.record(event("E", 5.0, MetricKind::Distribution, &[])));
        let out = flush(&mut agg);
        assert_eq!(
            (out[0].values.as_slice(), out[0].counts.as_slice()),
            (&[1.0, 2.0, 3.0][..], &[1, 40, 1][..])
        );
        assert_eq!(
            (out[1].values.as_slice(), out[1].counts.len()),
            (&[5.0][..], 0)
        );
    }

    #[test]
    fn counts_sum_gauges_keep_last_distributions_keep_all() {
        let mut agg = CustomAggregator::default();
        for v in [1.0, 2.0, 3.0] {
            assert!(agg.record(event("C", v, MetricKind::Count, &[])));
            assert!(agg.record(event("G", v, MetricKind::Gauge, &[])));
            assert!(agg.record(event("D", v, MetricKind::Distribution, &[("T", "a")])));
        }
        let out = flush(&mut agg);
        let by_name = |n: &str| out.iter().find(|s| s.name == n).unwrap();
        assert_eq!(by_name("C").values, [6.0]);
        assert_eq!(by_name("G").values, [3.0]);
        assert_eq!(by_name("D").values, [1.0, 2.0, 3.0]);
        assert_eq!(
            by_name("D").dimensions,
            [
                ("FunctionName".to_string(), "fn".to_string()),
                ("T".to_string(), "a".to_string())
            ]
        );
        assert!(flush(&mut agg).is_empty(), "a flush empties the aggregator");
    }

    #[test]
    fn dimension_sets_are_separate_series() {
        let mut agg = CustomAggregator::default();
        agg.record(event("C", 1.0, MetricKind::Count, &[("T", "a")]));
        agg.record(event("C", 1.0, MetricKind::Count, &[("T", "b")]));
        agg.record(event("C", 1.0, MetricKind::Count, &[("T", "a")]));
        let out = flush(&mut agg);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].values, [2.0]);
        assert_eq!(out[1].values, [1.0]);
    }

    #[test]
    fn bounds_drop_new_series_and_samples_but_keep_existing_counts() {
        let mut agg = CustomAggregator::default();
        for i in 0..MAX_SERIES {
            assert!(agg.record(event(&format!("m{i}"), 1.0, MetricKind::Count, &[])));
        }
        assert!(!agg.record(event("one-too-many", 1.0, MetricKind::Count, &[])));
        assert!(
            agg.record(event("m0", 1.0, MetricKind::Count, &[])),
            "existing series still counts"
        );
        assert_eq!(flush(&mut agg).len(), MAX_SERIES);

        for _ in 0..MAX_VALUES {
            assert!(agg.record(event("D", 1.0, MetricKind::Distribution, &[])));
        }
        assert!(!agg.record(event("D", 1.0, MetricKind::Distribution, &[])));
        assert_eq!(flush(&mut agg)[0].values.len(), MAX_VALUES);
        assert!(
            agg.record(event("D", 1.0, MetricKind::Distribution, &[])),
            "bounds reset per flush"
        );
    }
}
