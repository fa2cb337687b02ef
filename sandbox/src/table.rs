//! A plain-text table of published metrics (metric, dimensions, unit, samples, sum, min,
//! max, avg), rendered from `emf::MetricSummary` rows for the CLI and test failure output.

use crate::emf::MetricSummary;

const HEADERS: [&str; 8] = [
    "metric",
    "dimensions",
    "unit",
    "samples",
    "sum",
    "min",
    "max",
    "avg",
];

/// Renders the summaries as an aligned table, one row per series, ending with a newline.
/// Text columns are left-aligned, numbers right-aligned.
pub fn render(summaries: &[MetricSummary]) -> String {
    let rows: Vec<[String; 8]> = summaries
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                dimensions(s),
                s.unit.clone(),
                s.samples.to_string(),
                number(s.sum),
                number(s.min),
                number(s.max),
                number(s.avg()),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADERS.map(str::to_owned);
    push_row(&mut out, &header, &widths);
    let rule = widths.map(|w| "-".repeat(w));
    push_row(&mut out, &rule, &widths);
    for row in &rows {
        push_row(&mut out, row, &widths);
    }
    out
}

fn push_row(out: &mut String, cells: &[String; 8], widths: &[usize; 8]) {
    let mut line = String::new();
    for (i, (cell, &width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
        if i < 3 {
            line.push_str(cell);
            line.push_str(&pad);
        } else {
            line.push_str(&pad);
            line.push_str(cell);
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn dimensions(s: &MetricSummary) -> String {
    if s.dimensions.is_empty() {
        return "-".to_owned();
    }
    s.dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whole numbers without decimals, others with three.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn aligns_columns() {
        let s = MetricSummary {
            namespace: "Liftwatch".into(),
            name: "Duration".into(),
            dimensions: BTreeMap::from([("FunctionName".into(), "f".into())]),
            unit: "Milliseconds".into(),
            samples: 2,
            sum: 3.5,
            min: 1.0,
            max: 2.5,
        };
        let table = render(&[s]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("metric    dimensions      unit"));
        assert_eq!(
            lines[2],
            "Duration  FunctionName=f  Milliseconds        2  3.500    1  2.500  1.750"
        );
    }

    #[test]
    fn empty_table_has_header_only() {
        assert_eq!(render(&[]).lines().count(), 2);
    }
}
