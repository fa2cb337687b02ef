//! CloudWatch Embedded Metric Format, read back: parses the extension's stdout documents
//! into metric rows and aggregates them per namespace, metric, dimensions and unit, so
//! tests and the CLI can compare what was published with what the platform reported.

use std::collections::BTreeMap;

use serde_json::Value;

/// One metric of one dimension set of one EMF document, with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct EmfMetric {
    /// The directive's `Namespace`.
    pub namespace: String,
    /// The metric name.
    pub name: String,
    /// Dimension name to value, for this dimension set.
    pub dimensions: BTreeMap<String, String>,
    /// The values (one number, every number of an array, or a statistic object's
    /// `Values`).
    pub values: Vec<f64>,
    /// A statistic object's `Counts`, one per value; empty when each value counts once.
    pub counts: Vec<u64>,
    /// The CloudWatch unit (`None` when the document gives none).
    pub unit: String,
    /// The document's `_aws.Timestamp`, in milliseconds since the Unix epoch.
    pub timestamp_ms: Option<u64>,
}

/// Why a line is not a valid EMF document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmfError {
    /// The line is not JSON.
    #[error("not json")]
    NotJson(#[source] serde_json::Error),
    /// The JSON has no `_aws.CloudWatchMetrics` array.
    #[error("not an emf document (no _aws.CloudWatchMetrics)")]
    NotEmf,
    /// The document breaks the EMF structure.
    #[error("malformed emf document: {0}")]
    Malformed(String),
}

/// The result of parsing many lines.
#[derive(Debug, Default)]
pub struct EmfScan {
    /// Every metric row, in document order.
    pub metrics: Vec<EmfMetric>,
    /// How many lines were valid EMF documents.
    pub documents: usize,
    /// The lines that were not, as (line index, error).
    pub rejected: Vec<(usize, EmfError)>,
}

/// Parses one EMF document into one row per (dimension set, metric).
/// A directive with no dimension set (`[]` or `[[]]`) yields rows with no dimensions.
pub fn parse_document(line: &str) -> Result<Vec<EmfMetric>, EmfError> {
    let doc: Value = serde_json::from_str(line).map_err(EmfError::NotJson)?;
    let aws = doc.get("_aws").ok_or(EmfError::NotEmf)?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or(EmfError::NotEmf)?;
    let timestamp_ms = aws.get("Timestamp").and_then(Value::as_u64);
    let mut rows = Vec::new();
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("directive without Namespace"))?;
        let dimension_sets = dimension_sets(directive)?;
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("directive without Metrics"))?;
        for set in &dimension_sets {
            let dimensions = set
                .iter()
                .map(|key| Ok((key.clone(), member_as_string(&doc, key)?)))
                .collect::<Result<BTreeMap<_, _>, EmfError>>()?;
            for metric in metrics {
                let name = metric
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("metric without Name"))?;
                let unit = metric.get("Unit").and_then(Value::as_str).unwrap_or("None");
                let (values, counts) = metric_values(&doc, name)?;
                rows.push(EmfMetric {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    dimensions: dimensions.clone(),
                    values,
                    counts,
                    unit: unit.to_owned(),
                    timestamp_ms,
                });
            }
        }
    }
    Ok(rows)
}

/// Parses every line; lines that are not EMF are recorded in `rejected`, not fatal.
pub fn parse_lines<S: AsRef<str>>(lines: &[S]) -> EmfScan {
    let mut scan = EmfScan::default();
    for (index, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        if line.trim().is_empty() {
            continue;
        }
        match parse_document(line) {
            Ok(rows) => {
                scan.documents += 1;
                scan.metrics.extend(rows);
            }
            Err(e) => scan.rejected.push((index, e)),
        }
    }
    scan
}

fn malformed(what: &str) -> EmfError {
    EmfError::Malformed(what.to_owned())
}

fn dimension_sets(directive: &Value) -> Result<Vec<Vec<String>>, EmfError> {
    let Some(sets) = directive.get("Dimensions") else {
        return Ok(vec![Vec::new()]);
    };
    let sets = sets
        .as_array()
        .ok_or_else(|| malformed("Dimensions is not an array"))?;
    if sets.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    sets.iter()
        .map(|set| {
            set.as_array()
                .ok_or_else(|| malformed("a dimension set is not an array"))?
                .iter()
                .map(|k| {
                    k.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| malformed("a dimension key is not a string"))
                })
                .collect()
        })
        .collect()
}

fn member_as_string(doc: &Value, key: &str) -> Result<String, EmfError> {
    match doc.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        _ => Err(EmfError::Malformed(format!(
            "dimension {key} has no string value"
        ))),
    }
}

/// A metric member's values, and their counts for a statistic object
/// (`{"Values":[..],"Counts":[..],"Max":..,"Min":..,"Sum":..,"Count":..}`).
fn metric_values(doc: &Value, name: &str) -> Result<(Vec<f64>, Vec<u64>), EmfError> {
    let bad = || EmfError::Malformed(format!("metric {name} has no numeric value"));
    let numbers = |items: &[Value]| -> Result<Vec<f64>, EmfError> {
        items.iter().map(|v| v.as_f64().ok_or_else(bad)).collect()
    };
    match doc.get(name) {
        Some(Value::Number(n)) => Ok((vec![n.as_f64().ok_or_else(bad)?], Vec::new())),
        Some(Value::Array(items)) => Ok((numbers(items)?, Vec::new())),
        Some(Value::Object(stats)) => {
            let array = |key: &str| stats.get(key).and_then(Value::as_array).ok_or_else(bad);
            let values = numbers(array("Values")?)?;
            let counts: Vec<u64> = array("Counts")?
                .iter()
                .map(|c| c.as_u64().ok_or_else(bad))
                .collect::<Result<_, _>>()?;
            if counts.len() != values.len() {
                return Err(EmfError::Malformed(format!(
                    "metric {name}: {} values, {} counts",
                    values.len(),
                    counts.len()
                )));
            }
            Ok((values, counts))
        }
        _ => Err(bad()),
    }
}

/// Every value of one metric series (namespace, name, dimensions, unit), aggregated.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetricSummary {
    /// The namespace.
    pub namespace: String,
    /// The metric name.
    pub name: String,
    /// The dimension set.
    pub dimensions: BTreeMap<String, String>,
    /// The unit.
    pub unit: String,
    /// How many values were published.
    pub samples: usize,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl MetricSummary {
    /// The mean value (0 when there are no samples).
    pub fn avg(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.sum / self.samples as f64
        }
    }

    /// True when the name matches and every given dimension is present with that value.
    pub fn matches(&self, name: &str, dimensions: &[(&str, &str)]) -> bool {
        self.name == name
            && dimensions
                .iter()
                .all(|(k, v)| self.dimensions.get(*k).is_some_and(|x| x == v))
    }
}

/// Aggregates rows per (namespace, name, dimensions, unit), sorted by those keys.
pub fn summarize(metrics: &[EmfMetric]) -> Vec<MetricSummary> {
    type Key = (String, String, BTreeMap<String, String>, String);
    let mut by_key: BTreeMap<Key, MetricSummary> = BTreeMap::new();
    for m in metrics {
        let key = (
            m.namespace.clone(),
            m.name.clone(),
            m.dimensions.clone(),
            m.unit.clone(),
        );
        let summary = by_key.entry(key).or_insert_with(|| MetricSummary {
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            dimensions: m.dimensions.clone(),
            unit: m.unit.clone(),
            samples: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        });
        for (i, &v) in m.values.iter().enumerate() {
            let count = m.counts.get(i).copied().unwrap_or(1);
            summary.samples += usize::try_from(count).unwrap_or(usize::MAX);
            summary.sum += v * count as f64;
            summary.min = summary.min.min(v);
            summary.max = summary.max.max(v);
        }
    }
    by_key
        .into_values()
        .map(|mut s| {
            if s.samples == 0 {
                s.min = 0.0;
                s.max = 0.0;
            }
            s
        })
        .collect()
}

/// The sum of every value of metric `name` whose dimensions include `dimensions`.
pub fn total(metrics: &[EmfMetric], name: &str, dimensions: &[(&str, &str)]) -> f64 {
    summarize(metrics)
        .iter()
        .filter(|s| s.matches(name, dimensions))
        .map(|s| s.sum)
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Liftwatch","Dimensions":[["FunctionName"],["FunctionName","Rule"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"Hits"}]}]},"FunctionName":"f","Rule":"login","Duration":[1.5,2.5],"Hits":3}"#;

    #[test]
    fn statistic_objects_count_each_value_as_often_as_its_count() {
        let doc = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"L"}]}]},"L":{"Values":[2,4],"Counts":[3,1],"Max":4,"Min":2,"Sum":10,"Count":4}}"#;
        let rows = parse_document(doc).unwrap();
        assert_eq!(
            (rows[0].values.as_slice(), rows[0].counts.as_slice()),
            (&[2.0, 4.0][..], &[3, 1][..])
        );
        let summary = &summarize(&rows)[0];
        assert_eq!(
            (summary.samples, summary.sum, summary.min, summary.max),
            (4, 10.0, 2.0, 4.0)
        );
        let uneven = doc.replace(r#""Counts":[3,1]"#, r#""Counts":[3]"#);
        assert!(matches!(
            parse_document(&uneven),
            Err(EmfError::Malformed(_))
        ));
    }

    #[test]
    fn one_row_per_dimension_set_and_metric() {
        let rows = parse_document(DOC).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].name, "Duration");
        assert_eq!(rows[0].values, vec![1.5, 2.5]);
        assert!(rows[0].counts.is_empty());
        assert_eq!(rows[0].unit, "Milliseconds");
        assert_eq!(rows[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(rows[1].unit, "None");
        assert_eq!(
            rows[3].dimensions.get("Rule").map(String::as_str),
            Some("login")
        );
    }

    #[test]
    fn rejects_non_emf_lines_without_failing_the_scan() {
        let lines = [
            DOC,
            "plain log line",
            r#"{"msg":"json but not emf"}"#,
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"M"}]}]},"M":1}"#,
            "",
        ];
        let scan = parse_lines(&lines);
        assert_eq!(scan.documents, 1);
        assert_eq!(scan.rejected.len(), 3);
        assert!(matches!(scan.rejected[0].1, EmfError::NotJson(_)));
        assert!(matches!(scan.rejected[1].1, EmfError::NotEmf));
        assert!(matches!(scan.rejected[2].1, EmfError::Malformed(_)));
    }

    #[test]
    fn summarizes_per_series() {
        let mut rows = parse_document(DOC).unwrap();
        rows.extend(parse_document(DOC).unwrap());
        let summaries = summarize(&rows);
        assert_eq!(summaries.len(), 4);
        let d = summaries
            .iter()
            .find(|s| s.matches("Duration", &[("Rule", "login")]))
            .unwrap();
        assert_eq!(
            (d.samples, d.sum, d.min, d.max, d.avg()),
            (4, 8.0, 1.5, 2.5, 2.0)
        );
        assert_eq!(total(&rows, "Hits", &[]), 12.0);
        assert_eq!(total(&rows, "Hits", &[("Rule", "login")]), 6.0);
    }
}
