//! The catalogue against docs/METRICS.md: the same names, units and statistics.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;

use super::*;

const METRICS_MD: &str = include_str!("../../../../docs/METRICS.md");

/// One row of a metric table of docs/METRICS.md.
#[derive(Debug)]
struct DocRow {
    name: String,
    unit: String,
    statistics: Vec<String>,
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// The rows of every table whose first column is `Metric` (the Lambda Insights
/// comparison table is headed differently and left out).
fn documented() -> Vec<DocRow> {
    let mut rows = Vec::new();
    let mut columns: Option<Vec<String>> = None;
    for line in METRICS_MD.lines() {
        if !line.trim_start().starts_with('|') {
            columns = None;
            continue;
        }
        let row = cells(line);
        if row
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let Some(header) = &columns else {
            columns = Some(row);
            continue;
        };
        if header.first().map(String::as_str) != Some("Metric") {
            continue;
        }
        let column = |title: &str| {
            header
                .iter()
                .position(|h| h == title)
                .and_then(|i| row.get(i))
                .cloned()
                .unwrap_or_default()
        };
        let first = row.first().cloned().unwrap_or_default();
        let name = first.trim_matches('`').to_owned();
        assert!(
            first.starts_with('`') && first.ends_with('`') && !name.is_empty(),
            "a metric table row without a backticked name: {line}"
        );
        let statistics = column("Statistic")
            .split(['/', ','])
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        rows.push(DocRow {
            name,
            unit: column("Unit"),
            statistics,
        });
    }
    rows
}

#[test]
fn the_catalogue_holds_exactly_the_documented_metrics() {
    let rows = documented();
    assert!(rows.len() > 40, "parsed only {} rows", rows.len());
    let documented: BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let catalogued: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(
        catalogued.len(),
        METRICS.len(),
        "a name twice in the catalogue"
    );
    let missing: Vec<_> = documented.difference(&catalogued).collect();
    let undocumented: Vec<_> = catalogued.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "documented, not catalogued: {missing:?}"
    );
    assert!(
        undocumented.is_empty(),
        "catalogued, not documented: {undocumented:?}"
    );
}

#[test]
fn units_and_statistics_are_the_documented_ones() {
    for row in documented() {
        let metric = get(&row.name).unwrap();
        // "None (USD)" is the unit None with a note.
        let unit = row.unit.split_whitespace().next().unwrap_or_default();
        assert_eq!(metric.unit.as_str(), unit, "{}", row.name);
        for statistic in &row.statistics {
            assert!(
                metric.statistics.contains(&statistic.as_str()),
                "{}: the documented statistic {statistic} is not graphed",
                row.name
            );
        }
        if row.statistics.is_empty() {
            assert_eq!(metric.statistics, ["Sum"], "{}: a count", row.name);
        } else {
            assert_eq!(metric.statistics[0], row.statistics[0], "{}", row.name);
        }
    }
}

#[test]
fn a_panel_has_one_unit_and_one_area_and_the_ratio_uses_catalogued_counts() {
    for metric in METRICS {
        for other in panel_metrics(metric.panel) {
            assert_eq!(
                (other.unit, other.area, other.dimensions),
                (metric.unit, metric.area, metric.dimensions),
                "panel {}",
                metric.panel
            );
        }
    }
    for name in [BLOCKED_RATIO.numerator, BLOCKED_RATIO.denominator] {
        let metric = get(name).unwrap();
        assert_eq!((metric.unit, metric.statistics[0]), (Unit::Count, "Sum"));
        assert_eq!(metric.area, BLOCKED_RATIO.area);
    }
    assert_eq!(
        get("ActiveConnections").unwrap().statistics,
        ["Maximum"],
        "a fleet gauge is never summed"
    );
    assert!(Area::ALL.iter().all(|area| !panels(*area).is_empty()));
}

#[test]
fn the_catalogue_is_the_protocols_reserved_names() {
    let catalogue: std::collections::BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    let reserved: std::collections::BTreeSet<&str> =
        liftwatch::protocol::names::RESERVED_METRIC_NAMES
            .iter()
            .copied()
            .collect();
    assert_eq!(
        catalogue, reserved,
        "handlers may not take the extension's names"
    );
}
