//! The dashboard body's structure: widget types, the grid, well-formed metrics arrays.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;
use crate::dashboard::{MAX_FUNCTIONS, Spec};

fn spec(functions: &[&str]) -> Spec {
    Spec::new(
        functions.iter().map(|f| (*f).to_owned()).collect(),
        "Liftwatch".into(),
        "eu-west-1".into(),
        None,
    )
    .unwrap()
}

fn widgets(body: &Value) -> &Vec<Value> {
    body["widgets"].as_array().unwrap()
}

fn number(widget: &Value, key: &str) -> u64 {
    widget[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {widget}"))
}

/// The metric names a widget graphs: plain entries and SEARCH expressions.
fn graphed(widget: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let lines = widget["properties"]["metrics"].as_array();
    for line in lines.into_iter().flatten() {
        match &line[0] {
            Value::String(_) => {
                names.insert(line[1].as_str().unwrap().to_owned());
            }
            Value::Object(o) => {
                let expression = o["expression"].as_str().unwrap();
                if let Some((_, rest)) = expression.split_once("MetricName=\"") {
                    names.insert(rest.split('"').next().unwrap().to_owned());
                }
            }
            other => panic!("a metrics line starts with {other}"),
        }
    }
    names
}

#[test]
fn a_text_widget_first_says_how_to_regenerate_the_dashboard() {
    let s = spec(&["orders"]);
    let body = body(&s);
    let first = &widgets(&body)[0];
    assert_eq!(first["type"], "text");
    assert_eq!((number(first, "x"), number(first, "y")), (0, 0));
    assert_eq!(number(first, "width"), 24);
    let markdown = first["properties"]["markdown"].as_str().unwrap();
    assert!(markdown.contains("`liftwatch dashboard`"), "{markdown}");
    assert!(
        markdown.contains(
            "liftwatch dashboard --function orders --namespace Liftwatch --region eu-west-1 \
             --name liftwatch-orders --apply"
        ),
        "{markdown}"
    );
    let last = widgets(&body).last().unwrap();
    assert_eq!(last["type"], "text");
    assert!(
        last["properties"]["markdown"]
            .as_str()
            .unwrap()
            .contains("Custom metrics")
    );
}

#[test]
fn widgets_tile_the_grid_one_row_per_area() {
    let body = body(&spec(&["orders", "payments"]));
    let widgets = widgets(&body);
    assert!(widgets.len() <= 500);
    let mut cells = BTreeSet::new();
    for w in widgets {
        assert!(
            ["metric", "text"].contains(&w["type"].as_str().unwrap()),
            "{w}"
        );
        let (x, y, width, height) = (
            number(w, "x"),
            number(w, "y"),
            number(w, "width"),
            number(w, "height"),
        );
        assert!(
            width >= 1 && x + width <= 24 && (1..=1000).contains(&height),
            "{w}"
        );
        for cx in x..x + width {
            for cy in y..y + height {
                assert!(cells.insert((cx, cy)), "widgets overlap at ({cx}, {cy})");
            }
        }
    }
    let rows: BTreeSet<u64> = widgets.iter().map(|w| number(w, "y")).collect();
    assert_eq!(
        rows.len(),
        Area::ALL.len() + 2,
        "header, one row per area, note"
    );
    for row in rows {
        let width: u64 = widgets
            .iter()
            .filter(|w| number(w, "y") == row)
            .map(|w| number(w, "width"))
            .sum();
        assert_eq!(width, 24, "row {row} fills the grid");
    }
    assert_eq!(widths(5), [5, 5, 5, 5, 4]);
}

#[test]
fn metrics_arrays_are_well_formed_and_region_and_title_set() {
    let body = body(&spec(&["orders", "payments"]));
    for w in widgets(&body).iter().filter(|w| w["type"] == "metric") {
        let properties = &w["properties"];
        assert_eq!(properties["region"], "eu-west-1");
        assert!(!properties["title"].as_str().unwrap().is_empty());
        let lines = properties["metrics"].as_array().unwrap();
        assert!((1..=100).contains(&lines.len()), "{w}");
        let mut ids = BTreeSet::new();
        for line in lines {
            let line = line.as_array().unwrap();
            if let Some(Value::Object(o)) = line.first() {
                assert_eq!(line.len(), 1, "an expression stands alone: {line:?}");
                let id = o["id"].as_str().unwrap();
                assert!(id.starts_with(|c: char| c.is_ascii_lowercase()), "{id}");
                assert!(ids.insert(id.to_owned()), "id {id} twice");
                assert!(!o["expression"].as_str().unwrap().is_empty());
                continue;
            }
            // [namespace, name, dimension name, dimension value, ..., options]
            let (options, strings) = line.split_last().unwrap();
            assert!(options.is_object(), "{line:?}");
            assert!(options["stat"].is_string(), "{line:?}");
            assert!(strings.iter().all(Value::is_string), "{line:?}");
            assert_eq!(strings.len() % 2, 0, "pairs of dimensions: {line:?}");
            assert_eq!(strings[0], "Liftwatch");
            assert_eq!(strings[2], "FunctionName");
        }
        // Expressions reference only ids of the same widget.
        for line in lines {
            let expression = line[0].get("expression").and_then(Value::as_str);
            if expression.is_some_and(|e| e.starts_with("IF(")) {
                let i = line[0]["id"].as_str().unwrap().trim_start_matches('r');
                assert!(ids.contains(&format!("n{i}")) && ids.contains(&format!("d{i}")));
            }
        }
    }
}

#[test]
fn every_catalogue_metric_is_graphed_with_its_statistics() {
    let body = body(&spec(&["orders"]));
    let all: BTreeSet<String> = widgets(&body).iter().flat_map(graphed).collect();
    for metric in catalogue::METRICS {
        assert!(all.contains(metric.name), "{} is not graphed", metric.name);
    }
    let text = body.to_string();
    assert!(text.contains(
        r#"SEARCH('{Liftwatch,FunctionName,Rule} MetricName=\"RateLimitBlocked\" FunctionName=\"orders\"', 'Sum')"#
    ));
    assert!(text.contains("100 * SUM(n0) / SUM(d0)"));
    let active: Vec<&Value> = widgets(&body)
        .iter()
        .flat_map(|w| w["properties"]["metrics"].as_array().into_iter().flatten())
        .filter(|line| line[1] == "ActiveConnections")
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0][4]["stat"], "Maximum", "a fleet gauge");
    let memory = widgets(&body)
        .iter()
        .find(|w| w["properties"]["title"] == "Memory utilisation (%)")
        .unwrap();
    assert_eq!(
        memory["properties"]["annotations"]["horizontal"][0]["value"], 90.0,
        "the memory alarm's threshold is drawn"
    );
}

#[test]
fn the_most_functions_still_fit_every_widget() {
    let names: Vec<String> = (0..MAX_FUNCTIONS).map(|i| format!("fn{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let s = spec(&names);
    let body = body(&s);
    for w in widgets(&body).iter().filter(|w| w["type"] == "metric") {
        let lines = w["properties"]["metrics"].as_array().unwrap().len();
        assert!(lines <= 100, "{}: {lines} lines", w["properties"]["title"]);
    }
    assert!(body.to_string().len() < 1_000_000);
}

#[test]
fn search_schemas_quote_namespaces_that_need_it() {
    let s = Spec::new(
        vec!["f".into()],
        "Shop/Prod 1".into(),
        "us-east-1".into(),
        None,
    )
    .unwrap();
    let metric = catalogue::get("RateLimitErrors").unwrap();
    assert_eq!(
        search(&s, metric, "f", "Sum"),
        r#"SEARCH('{"Shop/Prod 1",FunctionName,Rule} MetricName="RateLimitErrors" FunctionName="f"', 'Sum')"#
    );
    assert!(command(&s).contains("--namespace 'Shop/Prod 1'"));
}

#[test]
fn custom_metrics_get_a_graph_each_in_rows_of_four_before_the_note() {
    let metrics: Vec<String> = [
        "Greetings",
        "HandlerLatency:p99",
        "ItemSize:Average",
        "A",
        "B",
    ]
    .iter()
    .map(|m| (*m).to_owned())
    .collect();
    let s = spec(&["orders", "payments"])
        .with_custom_metrics(&metrics)
        .unwrap();
    let body = body(&s);
    let widgets = widgets(&body);
    let plain = super::body(&spec(&["orders", "payments"]));
    let rows = |b: &Value| {
        b["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| number(w, "y"))
            .collect::<BTreeSet<_>>()
            .len()
    };
    assert_eq!(
        rows(&body),
        rows(&plain) + 2,
        "five custom graphs: a row of four and one of one"
    );

    let greetings = widgets
        .iter()
        .find(|w| w["properties"]["title"] == "Greetings (Sum)")
        .unwrap();
    assert_eq!(graphed(greetings), BTreeSet::from(["Greetings".to_owned()]));
    let lines = greetings["properties"]["metrics"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "one line per function");
    assert_eq!(
        lines[1][0]["expression"],
        "SEARCH('Namespace=\"Liftwatch\" MetricName=\"Greetings\" FunctionName=\"payments\"', 'Sum')"
    );
    assert_eq!(lines[1][0]["label"], "payments Greetings Sum");
    let latency = widgets
        .iter()
        .find(|w| w["properties"]["title"] == "HandlerLatency (p99)")
        .unwrap();
    assert!(
        latency["properties"]["metrics"][0][0]["expression"]
            .as_str()
            .unwrap()
            .ends_with("'p99')")
    );
    // The note stays last; the header's command gives the metrics again.
    assert_eq!(widgets.last().unwrap()["type"], "text");
    let header = widgets[0]["properties"]["markdown"].as_str().unwrap();
    assert!(
        header.contains("--metric Greetings --metric HandlerLatency:p99 --metric ItemSize:Average"),
        "{header}"
    );

    let twice = spec(&["orders"]).with_custom_metrics(&["A".to_owned(), "A".to_owned()]);
    assert!(twice.unwrap_err().to_string().contains("given twice"));
    let builtin = spec(&["orders"]).with_custom_metrics(&["Invocations".to_owned()]);
    assert!(
        builtin
            .unwrap_err()
            .to_string()
            .contains("already on the dashboard")
    );
}
