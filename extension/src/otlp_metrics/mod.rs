//! OpenTelemetry metrics received over OTLP/HTTP (`POST /v1/metrics` on the OTLP receiver,
//! beside `/v1/traces`), turned into the custom metrics handlers also send over UDP, so
//! they are aggregated, bounded and published with the rest of the flush.
//!
//! Files: `decode` (a request → [`Point`]s: names, units, dimensions, buckets), `units`
//! (OpenTelemetry's UCUM units → CloudWatch units), `delta` (cumulative streams → deltas,
//! with resets; the pipeline owns that state) and `samples` (a delta point → metric
//! events, histogram buckets as weighted values). The rules a user sees are in
//! docs/METRICS.md, "OpenTelemetry metrics".

pub mod decode;
pub mod delta;
pub mod samples;
pub mod units;

use liftwatch::Unit;

pub use decode::{DecodedMetrics, decode_request, points_from_request};
pub use delta::Streams;
pub use samples::events_from;

/// One data point, checked and mapped, ready for the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The metric's name (checked as a handler's metric name is).
    pub name: String,
    /// The CloudWatch unit.
    pub unit: Unit,
    /// What a value is multiplied by to be in `unit` (1 but for units CloudWatch lacks:
    /// nanoseconds become microseconds, minutes seconds, KiB bytes).
    pub factor: f64,
    /// Dimensions chosen from the point's attributes, checked and sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// Identifies the stream (resource, scope, name, every attribute) for cumulative
    /// temporality; a keyed hash, so senders cannot choose collisions.
    pub stream: u64,
    /// When the stream's current accumulation started (0: not said).
    pub start_unix_nanos: u64,
    /// The value or values.
    pub data: Data,
}

/// A point's value, by OTLP metric type.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// A Sum: a counter (monotonic) or an up-down counter.
    Sum {
        /// The value: a delta, or the total since `start_unix_nanos`.
        value: f64,
        /// Only ever increases.
        monotonic: bool,
        /// Cumulative temporality (else delta).
        cumulative: bool,
    },
    /// A Gauge's last value.
    Gauge(f64),
    /// A Histogram or ExponentialHistogram.
    Histogram {
        /// Cumulative temporality (else delta).
        cumulative: bool,
        /// The total count.
        count: u64,
        /// The sum of the values, when the sender kept it.
        sum: Option<f64>,
        /// The smallest value, when kept (delta points, or cumulative since start).
        min: Option<f64>,
        /// The largest value, when kept.
        max: Option<f64>,
        /// The buckets.
        buckets: Buckets,
    },
}

/// A histogram's buckets.
#[derive(Debug, Clone, PartialEq)]
pub enum Buckets {
    /// No buckets: only count and sum.
    None,
    /// Explicit bounds: bucket `i` is `(bounds[i-1], bounds[i]]`, the first starts at
    /// -inf, the last ends at +inf; `counts` has one more entry than `bounds`.
    Explicit {
        /// Strictly increasing upper bounds.
        bounds: Vec<f64>,
        /// One count per bucket.
        counts: Vec<u64>,
    },
    /// Exponential: bucket `index` covers `(base^index, base^(index+1)]` with
    /// `base = 2^(2^-scale)`; negative values mirrored; zero apart.
    Exponential {
        /// The resolution.
        scale: i32,
        /// Values whose magnitude is at most the zero threshold.
        zero_count: u64,
        /// Index of `positive[0]`.
        positive_offset: i32,
        /// Counts of positive buckets from `positive_offset`.
        positive: Vec<u64>,
        /// Index of `negative[0]` (mirrored: bucket of `-value`).
        negative_offset: i32,
        /// Counts of negative buckets from `negative_offset`.
        negative: Vec<u64>,
    },
}
