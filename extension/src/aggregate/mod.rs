//! Aggregation: plain synchronous state fed by the pipeline task. Every aggregator has
//! `record` and `flush_into`, no I/O and no clock of its own.

pub mod connection_events;
pub mod cost;
pub mod custom;
pub mod invocation;
pub mod resources;

pub use connection_events::ConnectionAggregator;
pub use custom::CustomAggregator;
pub use invocation::InvocationAggregator;
pub use resources::ResourceAggregator;

use liftwatch::{Resolution, Unit};

use crate::health::HealthCounts;
use crate::metrics::Series;

/// A standard-resolution series of the extension's own, with only the `FunctionName`
/// dimension.
pub(crate) fn function_series(function: &str, name: &str, unit: Unit, values: Vec<f64>) -> Series {
    Series {
        name: name.to_owned(),
        unit,
        resolution: Resolution::Standard,
        dimensions: vec![("FunctionName".to_owned(), function.to_owned())],
        values,
        counts: Vec::new(),
    }
}

/// Moves each non-empty sample list into `out` as a `FunctionName` series, leaving it empty.
pub(crate) fn take_samples<const N: usize>(
    function: &str,
    samples: [(&str, Unit, &mut Vec<f64>); N],
    out: &mut Vec<Series>,
) {
    for (name, unit, values) in samples {
        if !values.is_empty() {
            out.push(function_series(
                function,
                name,
                unit,
                std::mem::take(values),
            ));
        }
    }
}

/// The extension's own counters as series; zero counts are left out to save log bytes.
pub fn health_series(function: &str, counts: HealthCounts, out: &mut Vec<Series>) {
    let all = [
        ("EventsReceived", counts.received),
        ("EventsDropped", counts.dropped),
        ("EventsDroppedEstimated", counts.dropped_estimated),
        ("EventsMalformed", counts.malformed),
        ("SinkErrors", counts.sink_errors),
    ];
    push_counts(function, all, out);
}

/// Moves each non-zero count into `out` as a one-value `Count` series with the
/// `FunctionName` dimension; zero counts are left out to save log bytes.
pub(crate) fn push_counts<const N: usize>(
    function: &str,
    counts: [(&str, u64); N],
    out: &mut Vec<Series>,
) {
    for (name, count) in counts {
        if count > 0 {
            out.push(function_series(
                function,
                name,
                Unit::Count,
                vec![count as f64],
            ));
        }
    }
}
