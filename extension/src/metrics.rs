//! The metric batch: what aggregators produce at a flush and every sink consumes.

use liftwatch::{Resolution, Unit};

/// One metric series in a flush: a name, unit and dimension set with its values.
/// A counter or gauge carries one value; a distribution carries every sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Metric name (validated at intake, re-checked by the encoders).
    pub name: String,
    /// CloudWatch unit.
    pub unit: Unit,
    /// Storage resolution.
    pub resolution: Resolution,
    /// Every dimension, `FunctionName` included, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// The values, in arrival order.
    pub values: Vec<f64>,
    /// How many times each value was observed, one count per value; empty when every
    /// value counts once (the common case: only senders that aggregate send counts).
    pub counts: Vec<u32>,
}

/// Everything one flush publishes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricBatch {
    /// When the flush happened, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The series, in a stable order.
    pub series: Vec<Series>,
}

impl MetricBatch {
    /// An empty batch stamped with the current time.
    pub fn now() -> Self {
        MetricBatch {
            timestamp_ms: liftwatch::clock::now_ms(),
            series: Vec::new(),
        }
    }

    /// True when there is nothing to publish.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.values.is_empty())
    }

    /// The number of values across every series.
    pub fn value_count(&self) -> usize {
        self.series.iter().map(|s| s.values.len()).sum()
    }
}
