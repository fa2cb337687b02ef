//! An OTLP `ExportMetricsServiceRequest` (protobuf or JSON, decoded by the traces
//! receiver's `decode_body`) → [`Point`]s.
//!
//! Rules (docs/METRICS.md, "OpenTelemetry metrics"):
//! - The metric name is checked as a handler's metric name is (1-255 characters, not one
//!   of the extension's own names); a metric whose name fails has all its points rejected.
//! - Dimensions come from the data point's attributes only (resource and scope attributes
//!   identify the stream but are never dimensions, so `service.instance.id` and the like
//!   cannot multiply series): string, integer, boolean and finite double values, with names
//!   and values CloudWatch accepts, at most [`MAX_DIMENSIONS`] in name order, or only the
//!   names [`DimensionRule::Only`] lists. Attributes that do not qualify are left out.
//! - A point flagged "no recorded value" is skipped without a count; a point without a
//!   value, with a non-finite one, with inconsistent buckets, or of type Summary (no
//!   CloudWatch equivalent: its quantiles cannot be aggregated) is rejected and counted.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use liftwatch::protocol::{check_dimension, check_metric_name};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets as ExpBuckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data as ProtoData;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint,
};
use prost::Message;

use super::units::cloudwatch_unit;
use super::{Buckets, Data, Point};
pub use crate::traces::otlp::decode::{DecodeError, Encoding};

/// Dimensions taken from one point's attributes, at most.
pub const MAX_DIMENSIONS: usize = 10;
/// The widest exponential histogram accepted, in buckets per sign (SDKs default to 160).
pub const MAX_EXPONENTIAL_BUCKETS: usize = 4_096;
/// The widest explicit-bounds histogram accepted, in buckets.
pub const MAX_EXPLICIT_BUCKETS: usize = 4_096;
/// `DataPointFlags.NO_RECORDED_VALUE`: a staleness marker, not a value.
const NO_RECORDED_VALUE: u32 = 1;

/// Which attributes become dimensions (`LIFTWATCH_OTLP_METRIC_DIMENSIONS`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DimensionRule {
    /// Every qualifying attribute, at most [`MAX_DIMENSIONS`] in name order.
    #[default]
    Attributes,
    /// Only these attribute names (empty: none, `FunctionName` alone).
    Only(Vec<String>),
}

/// The points of one request and how many were rejected.
#[derive(Debug, Default, PartialEq)]
pub struct DecodedMetrics {
    /// Points ready for the pipeline.
    pub points: Vec<Point>,
    /// Points refused (reported back as a partial success).
    pub rejected: u64,
    /// Why the first refused point was refused.
    pub first_error: Option<&'static str>,
}

impl DecodedMetrics {
    fn reject(&mut self, n: usize, why: &'static str) {
        self.rejected += n as u64;
        if n > 0 {
            self.first_error.get_or_insert(why);
        }
    }
}

/// Parses an (uncompressed) metrics request body.
pub fn decode_request(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportMetricsServiceRequest, DecodeError> {
    crate::traces::otlp::decode::decode_body(body, encoding)
}

/// Converts every data point of `request`; `keys` seeds the stream hash.
pub fn points_from_request(
    request: ExportMetricsServiceRequest,
    rule: &DimensionRule,
    keys: &RandomState,
) -> DecodedMetrics {
    let mut decoded = DecodedMetrics::default();
    for resource_metrics in request.resource_metrics {
        let mut resource = keys.build_hasher();
        if let Some(r) = &resource_metrics.resource {
            hash_attributes(&r.attributes, &mut resource);
        }
        for scope_metrics in resource_metrics.scope_metrics {
            let mut scope = resource.clone();
            if let Some(s) = &scope_metrics.scope {
                s.name.hash(&mut scope);
                s.version.hash(&mut scope);
            }
            for metric in scope_metrics.metrics {
                metric_points(metric, &scope, rule, &mut decoded);
            }
        }
    }
    decoded
}

/// What every point of one metric shares.
struct Shape<'a> {
    name: &'a str,
    unit: liftwatch::Unit,
    factor: f64,
    stream: &'a std::hash::DefaultHasher,
    rule: &'a DimensionRule,
}

impl Shape<'_> {
    fn point(&self, attributes: &[KeyValue], start: u64, data: Data) -> Point {
        let mut stream = self.stream.clone();
        hash_attributes(attributes, &mut stream);
        Point {
            name: self.name.to_owned(),
            unit: self.unit,
            factor: self.factor,
            dimensions: dimensions(attributes, self.name, self.rule),
            stream: stream.finish(),
            start_unix_nanos: start,
            data,
        }
    }
}

fn metric_points(
    metric: Metric,
    scope: &std::hash::DefaultHasher,
    rule: &DimensionRule,
    out: &mut DecodedMetrics,
) {
    let Some(data) = metric.data else {
        return;
    };
    if check_metric_name(&metric.name).is_err() {
        out.reject(
            point_count(&data),
            "a metric name cloudwatch or liftwatch refuses",
        );
        return;
    }
    let mut stream = scope.clone();
    metric.name.hash(&mut stream);
    metric.unit.hash(&mut stream);
    let (unit, factor) = cloudwatch_unit(&metric.unit);
    let shape = Shape {
        name: &metric.name,
        unit,
        factor,
        stream: &stream,
        rule,
    };
    match data {
        ProtoData::Gauge(gauge) => {
            for point in gauge.data_points {
                number(&shape, point, out, Data::Gauge);
            }
        }
        ProtoData::Sum(sum) => {
            let cumulative =
                sum.aggregation_temporality == AggregationTemporality::Cumulative as i32;
            let monotonic = sum.is_monotonic;
            for point in sum.data_points {
                number(&shape, point, out, |value| Data::Sum {
                    value,
                    monotonic,
                    cumulative,
                });
            }
        }
        ProtoData::Histogram(histogram) => {
            let cumulative =
                histogram.aggregation_temporality == AggregationTemporality::Cumulative as i32;
            for point in histogram.data_points {
                explicit(&shape, point, cumulative, out);
            }
        }
        ProtoData::ExponentialHistogram(histogram) => {
            let cumulative =
                histogram.aggregation_temporality == AggregationTemporality::Cumulative as i32;
            for point in histogram.data_points {
                exponential(&shape, point, cumulative, out);
            }
        }
        ProtoData::Summary(summary) => {
            out.reject(
                summary.data_points.len(),
                "summary metrics are not supported",
            );
        }
    }
}

fn point_count(data: &ProtoData) -> usize {
    match data {
        ProtoData::Gauge(g) => g.data_points.len(),
        ProtoData::Sum(s) => s.data_points.len(),
        ProtoData::Histogram(h) => h.data_points.len(),
        ProtoData::ExponentialHistogram(h) => h.data_points.len(),
        ProtoData::Summary(s) => s.data_points.len(),
    }
}

fn number(
    shape: &Shape<'_>,
    point: NumberDataPoint,
    out: &mut DecodedMetrics,
    data: impl Fn(f64) -> Data,
) {
    if point.flags & NO_RECORDED_VALUE != 0 {
        return;
    }
    let value = match point.value {
        Some(Value::AsDouble(v)) if v.is_finite() => v,
        // i64 → f64 rounds above 2^53, as CloudWatch's own doubles do.
        Some(Value::AsInt(v)) => v as f64,
        Some(Value::AsDouble(_)) => return out.reject(1, "a value that is not finite"),
        None => return out.reject(1, "a number data point without a value"),
    };
    let start = point.start_time_unix_nano;
    out.points
        .push(shape.point(&point.attributes, start, data(value)));
}

fn explicit(
    shape: &Shape<'_>,
    point: HistogramDataPoint,
    cumulative: bool,
    out: &mut DecodedMetrics,
) {
    if point.flags & NO_RECORDED_VALUE != 0 {
        return;
    }
    let buckets = if point.bucket_counts.is_empty() && point.explicit_bounds.is_empty() {
        Buckets::None
    } else {
        let consistent = point.bucket_counts.len() == point.explicit_bounds.len() + 1
            && point.bucket_counts.len() <= MAX_EXPLICIT_BUCKETS
            && point.explicit_bounds.iter().all(|b| b.is_finite())
            && point.explicit_bounds.windows(2).all(|w| w[0] < w[1])
            && point
                .bucket_counts
                .iter()
                .try_fold(0u64, |a, c| a.checked_add(*c))
                == Some(point.count);
        if !consistent {
            return out.reject(
                1,
                "histogram buckets that do not match their bounds or count",
            );
        }
        Buckets::Explicit {
            bounds: point.explicit_bounds,
            counts: point.bucket_counts,
        }
    };
    let Some((sum, min, max)) = summary(point.sum, point.min, point.max) else {
        return out.reject(1, "a histogram sum, min or max that is not finite");
    };
    if buckets == Buckets::None && sum.is_none() && point.count > 0 {
        return out.reject(1, "a histogram with neither buckets nor a sum");
    }
    let data = Data::Histogram {
        cumulative,
        count: point.count,
        sum,
        min,
        max,
        buckets,
    };
    let start = point.start_time_unix_nano;
    out.points.push(shape.point(&point.attributes, start, data));
}

fn exponential(
    shape: &Shape<'_>,
    point: ExponentialHistogramDataPoint,
    cumulative: bool,
    out: &mut DecodedMetrics,
) {
    if point.flags & NO_RECORDED_VALUE != 0 {
        return;
    }
    let (positive_offset, positive) = exp_buckets(point.positive);
    let (negative_offset, negative) = exp_buckets(point.negative);
    let total = positive
        .iter()
        .chain(&negative)
        .try_fold(point.zero_count, |a, c| a.checked_add(*c));
    let consistent = (-10..=20).contains(&point.scale)
        && positive.len() <= MAX_EXPONENTIAL_BUCKETS
        && negative.len() <= MAX_EXPONENTIAL_BUCKETS
        && positive_offset.checked_add(positive.len() as i32).is_some()
        && negative_offset.checked_add(negative.len() as i32).is_some()
        && total == Some(point.count);
    if !consistent {
        return out.reject(
            1,
            "exponential histogram buckets that do not match their count",
        );
    }
    let Some((sum, min, max)) = summary(point.sum, point.min, point.max) else {
        return out.reject(1, "a histogram sum, min or max that is not finite");
    };
    let data = Data::Histogram {
        cumulative,
        count: point.count,
        sum,
        min,
        max,
        buckets: Buckets::Exponential {
            scale: point.scale,
            zero_count: point.zero_count,
            positive_offset,
            positive,
            negative_offset,
            negative,
        },
    };
    let start = point.start_time_unix_nano;
    out.points.push(shape.point(&point.attributes, start, data));
}

fn exp_buckets(buckets: Option<ExpBuckets>) -> (i32, Vec<u64>) {
    buckets.map_or((0, Vec::new()), |b| (b.offset, b.bucket_counts))
}

type Summary = (Option<f64>, Option<f64>, Option<f64>);

fn summary(sum: Option<f64>, min: Option<f64>, max: Option<f64>) -> Option<Summary> {
    let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
    (finite(sum) && finite(min) && finite(max)).then_some((sum, min, max))
}

/// The dimensions a point's attributes give (rules in the module doc).
fn dimensions(
    attributes: &[KeyValue],
    metric: &str,
    rule: &DimensionRule,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = attributes
        .iter()
        .filter(|kv| match rule {
            DimensionRule::Attributes => true,
            DimensionRule::Only(names) => names.contains(&kv.key),
        })
        .filter(|kv| kv.key != metric)
        .filter_map(|kv| {
            let value = dimension_value(kv.value.as_ref()?)?;
            check_dimension(&kv.key, &value).ok()?;
            Some((kv.key.clone(), value))
        })
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out.truncate(MAX_DIMENSIONS);
    out
}

fn dimension_value(value: &AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) if d.is_finite() => Some(d.to_string()),
        _ => None,
    }
}

/// Hashes attributes in name order, so the order a sender lists them in does not matter.
fn hash_attributes(attributes: &[KeyValue], hasher: &mut impl Hasher) {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    sorted.len().hash(hasher);
    for kv in sorted {
        kv.key.hash(hasher);
        // The value's protobuf encoding: deterministic for equal values, every type.
        kv.value
            .as_ref()
            .map(Message::encode_to_vec)
            .unwrap_or_default()
            .hash(hasher);
    }
}

#[cfg(test)]
mod tests;
