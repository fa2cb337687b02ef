//! CloudWatch batching: turns a flushed `MetricBatch` into `PutMetricData` datums and groups
//! them into requests within the API's limits. Pure: no I/O, no SDK types, no clock.
//!
//! Repeated values travel once with a count (`Values`/`Counts`), so one datum carries many
//! invocations; a series with more than 150 distinct values becomes several datums.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;

use liftwatch::protocol::check_value;
use liftwatch::{Resolution, Unit};

use crate::metrics::{MetricBatch, Series};

/// Distinct values (with their counts) in one datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Datums in one `PutMetricData` request.
pub const MAX_DATUMS_PER_REQUEST: usize = 1_000;
/// Encoded bytes in one request: the API allows 1 MB; we stay under 1,000,000 so the
/// estimate's own rounding never matters.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// Dimensions on one datum.
pub const MAX_DIMENSIONS: usize = 30;

/// One `MetricDatum` as the sink keeps it until CloudWatch has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// Metric name.
    pub name: String,
    /// CloudWatch unit.
    pub unit: Unit,
    /// Storage resolution.
    pub resolution: Resolution,
    /// Dimensions, as the series had them.
    pub dimensions: Vec<(String, String)>,
    /// The flush's time, in milliseconds since the Unix epoch (kept data keeps it).
    pub timestamp_ms: u64,
    /// Distinct values with how often each occurred, in first-arrival order.
    pub values: Vec<(f64, u32)>,
}

impl Datum {
    /// The number of values this datum stands for (the sum of its counts).
    pub fn value_count(&self) -> u64 {
        self.values.iter().map(|&(_, count)| u64::from(count)).sum()
    }

    /// True when every count is 1, so `Counts` can be left out of the request.
    pub fn counts_are_ones(&self) -> bool {
        self.values.iter().all(|&(_, count)| count == 1)
    }

    /// A conservative estimate of this datum's bytes in the form-encoded query body, where
    /// every field is `MetricData.member.N.<Key>=<percent-encoded value>&`.
    pub fn encoded_size(&self) -> usize {
        let mut size = field("MetricName", escaped(&self.name))
            + field("Timestamp", NUMBER)
            + field("Unit", escaped(self.unit.as_str()))
            + field("StorageResolution", NUMBER);
        for (name, value) in &self.dimensions {
            size += field("Dimensions.member.NN.Name", escaped(name))
                + field("Dimensions.member.NN.Value", escaped(value));
        }
        let per_value = if self.counts_are_ones() {
            field("Values.member.NNN", NUMBER)
        } else {
            field("Values.member.NNN", NUMBER) + field("Counts.member.NNN", NUMBER)
        };
        size + per_value * self.values.len()
    }
}

/// `MetricData.member.NNNN.`: the longest member prefix a field can have.
const MEMBER_PREFIX: usize = "MetricData.member.1000.".len();
/// Characters of a formatted number or timestamp, rounded up (`-2.2250738585072014e-308`
/// has 24; a percent-encoded ISO timestamp 28).
const NUMBER: usize = 32;

/// Bytes of one `MetricData.member.N.<key>=<value>&` field.
fn field(key: &str, value_bytes: usize) -> usize {
    MEMBER_PREFIX + key.len() + 1 + value_bytes + 1
}

/// Worst-case bytes of `s` percent-encoded: every byte as `%XX`.
fn escaped(s: &str) -> usize {
    s.len() * 3
}

/// Bytes of a request's envelope: `Action=PutMetricData&Version=2010-08-01&Namespace=...`.
fn envelope_size(namespace: &str) -> usize {
    "Action=PutMetricData&Version=2010-08-01&Namespace=&".len() + escaped(namespace) + 64
}

/// Appends the datums of every series in `batch` to `out`; returns how many values were
/// rejected (NaN, ±Inf or out of CloudWatch's range, or a series over 30 dimensions).
pub fn datums(batch: &MetricBatch, out: &mut Vec<Datum>) -> u64 {
    batch
        .series
        .iter()
        .map(|series| series_datums(series, batch.timestamp_ms, out))
        .sum()
}

/// The datums of one series: its distinct values, at most 150 per datum.
fn series_datums(series: &Series, timestamp_ms: u64, out: &mut Vec<Datum>) -> u64 {
    if series.dimensions.len() > MAX_DIMENSIONS {
        return series.values.len() as u64;
    }
    let (distinct, rejected) = dedupe(&series.values, &series.counts);
    for chunk in distinct.chunks(MAX_VALUES_PER_DATUM) {
        out.push(Datum {
            name: series.name.clone(),
            unit: series.unit,
            resolution: series.resolution,
            dimensions: series.dimensions.clone(),
            timestamp_ms,
            values: chunk.to_vec(),
        });
    }
    rejected
}

/// Groups identical values, in first-arrival order, adding up their counts (`counts`
/// empty: each value once); drops and counts invalid ones.
fn dedupe(values: &[f64], counts: &[u32]) -> (Vec<(f64, u32)>, u64) {
    let mut distinct: Vec<(f64, u32)> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut rejected = 0;
    for (i, &value) in values.iter().enumerate() {
        let count = counts.get(i).copied().unwrap_or(1);
        if check_value(value).is_err() || count == 0 {
            rejected += 1;
            continue;
        }
        // -0.0 and 0.0 are one value to CloudWatch; their bits differ.
        let value = if value == 0.0 { 0.0 } else { value };
        match index.entry(value.to_bits()) {
            Entry::Occupied(slot) => {
                if let Some(entry) = distinct.get_mut(*slot.get()) {
                    entry.1 = entry.1.saturating_add(count);
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(distinct.len());
                distinct.push((value, count));
            }
        }
    }
    (distinct, rejected)
}

/// Splits `datums` into consecutive requests of at most 1,000 datums and
/// [`MAX_REQUEST_BYTES`] (estimated) each, in order.
pub fn requests(datums: &[Datum], namespace: &str) -> Vec<Range<usize>> {
    let budget = MAX_REQUEST_BYTES.saturating_sub(envelope_size(namespace));
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, datum) in datums.iter().enumerate() {
        let size = datum.encoded_size();
        if i > start && (i - start == MAX_DATUMS_PER_REQUEST || bytes + size > budget) {
            ranges.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < datums.len() {
        ranges.push(start..datums.len());
    }
    ranges
}

/// The number of values `datums` stand for.
pub fn value_count(datums: &[Datum]) -> u64 {
    datums.iter().map(Datum::value_count).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, values: Vec<f64>) -> Series {
        Series {
            name: name.to_owned(),
            unit: Unit::Milliseconds,
            resolution: Resolution::Standard,
            dimensions: vec![("FunctionName".to_owned(), "f".to_owned())],
            values,
            counts: Vec::new(),
        }
    }

    fn batch(series: Vec<Series>) -> MetricBatch {
        MetricBatch {
            timestamp_ms: 1_700_000_000_000,
            series,
        }
    }

    fn encode(batch: &MetricBatch) -> (Vec<Datum>, u64) {
        let mut out = Vec::new();
        let rejected = datums(batch, &mut out);
        (out, rejected)
    }

    #[test]
    fn repeated_values_travel_once_with_their_count() {
        let (out, rejected) = encode(&batch(vec![series(
            "Duration",
            vec![10.0, 20.0, 20.0, 30.0],
        )]));
        assert_eq!(rejected, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].values, vec![(10.0, 1), (20.0, 2), (30.0, 1)]);
        assert_eq!(out[0].value_count(), 4);
        assert_eq!(out[0].timestamp_ms, 1_700_000_000_000);
        assert_eq!(
            out[0].dimensions,
            vec![("FunctionName".to_owned(), "f".to_owned())]
        );
        assert!(!out[0].counts_are_ones());
    }

    #[test]
    fn counted_values_add_their_counts() {
        let mut weighted = series("Duration", vec![10.0, 20.0, 10.0, f64::NAN]);
        weighted.counts = vec![40, 1, 2, 9];
        let (out, rejected) = encode(&batch(vec![weighted]));
        assert_eq!(rejected, 1);
        assert_eq!(out[0].values, vec![(10.0, 42), (20.0, 1)]);
        assert_eq!(out[0].value_count(), 43);
    }

    #[test]
    fn zero_and_negative_zero_are_one_value() {
        let (out, _) = encode(&batch(vec![series("Z", vec![0.0, -0.0, 0.0])]));
        assert_eq!(out[0].values, vec![(0.0, 3)]);
    }

    #[test]
    fn invalid_values_are_dropped_and_counted() {
        let values = vec![
            f64::NAN,
            1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e200,
            1.0,
            5e-324,
        ];
        let (out, rejected) = encode(&batch(vec![series("M", values)]));
        assert_eq!(rejected, 5);
        assert_eq!(out[0].values, vec![(1.0, 2)]);
        let (out, rejected) = encode(&batch(vec![series("Only", vec![f64::NAN])]));
        assert_eq!(
            (out.len(), rejected),
            (0, 1),
            "no datum without a valid value"
        );
    }

    #[test]
    fn a_series_over_thirty_dimensions_is_rejected_whole() {
        let mut wide = series("Wide", vec![1.0, 2.0, 3.0]);
        wide.dimensions = (0..31)
            .map(|i| (format!("d{i:02}"), "v".to_owned()))
            .collect();
        let mut ok = series("Ok", vec![1.0]);
        ok.dimensions = (0..30)
            .map(|i| (format!("d{i:02}"), "v".to_owned()))
            .collect();
        let (out, rejected) = encode(&batch(vec![wide, ok]));
        assert_eq!(rejected, 3);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "Ok");
    }

    #[test]
    fn more_than_150_distinct_values_split_into_datums() {
        let values: Vec<f64> = (0..400).map(f64::from).chain([7.0, 7.0]).collect();
        let (out, rejected) = encode(&batch(vec![series("Big", values)]));
        assert_eq!(rejected, 0);
        let sizes: Vec<usize> = out.iter().map(|d| d.values.len()).collect();
        assert_eq!(sizes, vec![150, 150, 100]);
        assert_eq!(value_count(&out), 402);
        assert_eq!(out[0].values[7], (7.0, 3));
        assert_eq!(out[2].values[99], (399.0, 1));
    }

    #[test]
    fn requests_hold_at_most_1000_datums() {
        let series: Vec<Series> = (0..2_500)
            .map(|i| series(&format!("M{i}"), vec![1.0]))
            .collect();
        let (out, _) = encode(&batch(series));
        let ranges = requests(&out, "Liftwatch");
        assert_eq!(ranges, vec![0..1_000, 1_000..2_000, 2_000..2_500]);
    }

    #[test]
    fn requests_stay_under_one_megabyte_even_with_worst_case_datums() {
        // 150 distinct values with counts and 30 long dimensions: the largest datum possible.
        let mut big = series(
            &"n".repeat(255),
            (0..300).map(|i| f64::from(i) + 0.5).collect(),
        );
        big.values.extend((0..300).map(|i| f64::from(i) + 0.5));
        big.dimensions = (0..30)
            .map(|i| (format!("{i:0>250}"), "é".repeat(512)))
            .collect();
        let (out, _) = encode(&batch(vec![big; 40]));
        assert_eq!(out.len(), 80);
        assert!(
            out[0].encoded_size() < MAX_REQUEST_BYTES / 4,
            "a datum always fits alone"
        );
        let ranges = requests(&out, "Liftwatch");
        assert!(ranges.len() > 1);
        assert_eq!(ranges.first().map(|r| r.start), Some(0));
        assert_eq!(ranges.last().map(|r| r.end), Some(80));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "contiguous, in order");
        }
        for range in &ranges {
            let bytes: usize = out[range.clone()].iter().map(Datum::encoded_size).sum();
            assert!(
                bytes + envelope_size("Liftwatch") <= MAX_REQUEST_BYTES,
                "{bytes}"
            );
        }
    }

    #[test]
    fn the_estimate_covers_the_real_encoding() {
        // "MetricData.member.1.Values.member.1=12.5&" is 41 bytes; the estimate allows more.
        let (out, _) = encode(&batch(vec![series("Duration", vec![12.5])]));
        let real = concat!(
            "MetricData.member.1.MetricName=Duration&",
            "MetricData.member.1.Dimensions.member.1.Name=FunctionName&",
            "MetricData.member.1.Dimensions.member.1.Value=f&",
            "MetricData.member.1.Timestamp=2023-11-14T22%3A13%3A20Z&",
            "MetricData.member.1.Values.member.1=12.5&",
            "MetricData.member.1.Unit=Milliseconds&",
            "MetricData.member.1.StorageResolution=60&",
        );
        assert!(out[0].encoded_size() >= real.len());
    }

    #[test]
    fn a_typical_flush_is_one_request() {
        // 12 invocation metrics and 14 resource metrics, 20 invocations each, all distinct.
        let series: Vec<Series> = (0..26)
            .map(|m| {
                series(
                    &format!("Metric{m}"),
                    (0..20).map(|i| f64::from(i) * 1.5 + 0.25).collect(),
                )
            })
            .collect();
        let (out, rejected) = encode(&batch(series));
        assert_eq!((out.len(), rejected), (26, 0));
        assert_eq!(requests(&out, "Liftwatch"), vec![0..26]);
    }

    #[test]
    fn nothing_to_send_is_no_request() {
        assert!(requests(&[], "Liftwatch").is_empty());
    }
}
