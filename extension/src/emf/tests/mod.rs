//! Tests of the EMF encoder as a whole: every produced line is parsed back and checked
//! against the EMF specification and the limits, and every value is accounted for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};

use liftwatch::{Resolution, Unit};
use serde_json::{Value, json};

use super::*;
use crate::metrics::{MetricBatch, Series};

mod golden;
mod property;
mod sanitizing;
mod splitting;

const TS: u64 = 1_700_000_000_000;

/// A dimension set as read back: (name, value) in document order.
type Dims = Vec<(String, String)>;

fn series(
    name: &str,
    unit: Unit,
    resolution: Resolution,
    dims: &[(&str, &str)],
    values: &[f64],
) -> Series {
    Series {
        name: name.to_owned(),
        unit,
        resolution,
        dimensions: dims
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        values: values.to_vec(),
        counts: Vec::new(),
    }
}

/// A standard-resolution `Count` series with dimension `FunctionName=orders`.
fn count(name: &str, values: &[f64]) -> Series {
    series(
        name,
        Unit::Count,
        Resolution::Standard,
        &[("FunctionName", "orders")],
        values,
    )
}

fn batch(series: Vec<Series>) -> MetricBatch {
    MetricBatch {
        timestamp_ms: TS,
        series,
    }
}

/// One metric as read back from a document.
#[derive(Debug, Clone, PartialEq)]
struct Read {
    name: String,
    unit: Unit,
    resolution: Resolution,
    values: Vec<f64>,
    /// Empty for a plain number or array; one per value for the statistic object.
    counts: Vec<u32>,
}

/// One document as read back, after every structural check passed.
#[derive(Debug, Clone, PartialEq)]
struct Doc {
    dimensions: Dims,
    metrics: Vec<Read>,
    line_len: usize,
}

/// Parses one line (without its newline) and asserts everything EMF and our limits require.
fn check_document(line: &str, namespace: &str, timestamp_ms: u64) -> Doc {
    let root: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = root.as_object().unwrap();
    let aws = root["_aws"].as_object().unwrap();
    assert_eq!(aws.len(), 2, "{aws:?}");
    assert_eq!(aws["Timestamp"].as_u64(), Some(timestamp_ms));
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1);
    let directive = directives[0].as_object().unwrap();
    assert_eq!(directive.len(), 3, "{directive:?}");
    assert_eq!(directive["Namespace"].as_str(), Some(namespace));

    let sets = directive["Dimensions"].as_array().unwrap();
    assert_eq!(sets.len(), 1, "exactly one dimension set");
    let names: Vec<&str> = sets[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.len() <= MAX_DIMENSIONS);
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        names.len(),
        "unique dimension names"
    );
    let dimensions: Dims = names
        .iter()
        .map(|n| {
            let value = root[*n]
                .as_str()
                .unwrap_or_else(|| panic!("dimension {n} must be a string"));
            assert!(!value.trim().is_empty() && value.chars().count() <= 1024);
            ((*n).to_owned(), value.to_owned())
        })
        .collect();

    let definitions = directive["Metrics"].as_array().unwrap();
    assert!(!definitions.is_empty() && definitions.len() <= MAX_METRICS_PER_DOCUMENT);
    let mut metrics = Vec::new();
    for definition in definitions {
        let definition = definition.as_object().unwrap();
        let name = definition["Name"].as_str().unwrap();
        assert!(name != "_aws" && !names.contains(&name), "{name}");
        let unit: Unit = definition["Unit"].as_str().unwrap().parse().unwrap();
        let resolution = match definition.get("StorageResolution") {
            None => Resolution::Standard,
            Some(v) => {
                assert_eq!(v.as_u64(), Some(1), "only high resolution is written");
                Resolution::High
            }
        };
        assert_eq!(
            definition.len(),
            2 + usize::from(resolution == Resolution::High)
        );
        let mut counts = Vec::new();
        let values = match &root[name] {
            Value::Number(n) => vec![n.as_f64().unwrap()],
            Value::Object(stats) => {
                let (values, read) = check_statistic_object(name, stats);
                counts = read;
                values
            }
            Value::Array(a) => {
                assert!(
                    (2..=MAX_VALUES_PER_METRIC).contains(&a.len()),
                    "{} values",
                    a.len()
                );
                a.iter().map(|v| v.as_f64().unwrap()).collect()
            }
            other => panic!("metric {name} is {other}"),
        };
        metrics.push(Read {
            name: name.to_owned(),
            unit,
            resolution,
            values,
            counts,
        });
    }
    let unique: HashSet<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(unique.len(), metrics.len(), "each metric once per document");
    // `_aws`, the dimensions and the metrics, nothing else and no duplicate key.
    assert_eq!(root.len(), 1 + dimensions.len() + metrics.len(), "{line}");
    assert_eq!(line.matches(r#""_aws":"#).count(), 1);
    Doc {
        dimensions,
        metrics,
        line_len: line.len() + 1,
    }
}

/// Checks a weighted series' member: `Values` and `Counts` of one length (1-100), and
/// `Max`, `Min`, `Count` and `Sum` that summarise them, nothing else.
fn check_statistic_object(
    name: &str,
    stats: &serde_json::Map<String, Value>,
) -> (Vec<f64>, Vec<u32>) {
    let keys: Vec<&str> = stats.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6, "{name}: {keys:?}");
    let numbers = |key: &str| -> Vec<f64> {
        stats[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let values = numbers("Values");
    let counts: Vec<u32> = numbers("Counts").iter().map(|&c| c as u32).collect();
    assert_eq!(values.len(), counts.len(), "{name}");
    assert!(
        (1..=MAX_VALUES_PER_METRIC).contains(&values.len()),
        "{name}"
    );
    assert!(counts.iter().all(|&c| c >= 1), "{name}");
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let sum: f64 = values
        .iter()
        .zip(&counts)
        .map(|(v, &c)| v * f64::from(c))
        .sum();
    assert_eq!(stats["Max"].as_f64(), Some(max), "{name}");
    assert_eq!(stats["Min"].as_f64(), Some(min), "{name}");
    assert_eq!(stats["Count"].as_u64(), Some(total), "{name}");
    assert!(
        close(stats["Sum"].as_f64().unwrap(), sum),
        "{name}: {} vs {sum}",
        stats["Sum"]
    );
    (values, counts)
}

/// Encodes and checks every line against the encoder's limit.
fn run(encoder: &EmfEncoder, batch: &MetricBatch) -> (Vec<Doc>, EncodeStats) {
    let mut out = Vec::new();
    let stats = encoder.encode(batch, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    let docs: Vec<Doc> = text
        .lines()
        .map(|line| check_document(line, encoder.namespace(), batch.timestamp_ms))
        .collect();
    for doc in &docs {
        assert!(
            doc.line_len < encoder.max_document_bytes(),
            "{} bytes",
            doc.line_len
        );
    }
    assert_eq!(stats.documents, docs.len());
    let written: usize = docs
        .iter()
        .flat_map(|d| &d.metrics)
        .map(|m| m.values.len())
        .sum();
    assert_eq!(stats.values_written, written);
    assert_eq!(
        stats.values_written + stats.values_rejected,
        batch.value_count()
    );
    (docs, stats)
}

fn encoder() -> EmfEncoder {
    EmfEncoder::new("Liftwatch").unwrap()
}

fn metric_counts(docs: &[Doc]) -> Vec<usize> {
    docs.iter().map(|d| d.metrics.len()).collect()
}

/// Equal, or within a couple of ulps (serde_json's default float parser may be 1 ulp off).
fn close(a: f64, b: f64) -> bool {
    a == b || ((a - b) / b).abs() < 1e-15
}
