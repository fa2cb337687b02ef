//! `liftwatch dashboard` end to end: saved in moto and read back with `GetDashboard`,
//! alarms read back with `DescribeAlarms`, and, the contract that matters, every metric
//! the built extension really emits beside the example function in the local sandbox is
//! on the dashboard with the same dimension names (read from its EMF, not from a list).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;

use aws_sdk_cloudwatch::types::ComparisonOperator;
use liftwatch_extension::cli::dashboard::{Args, execute};
use liftwatch_extension::dashboard::{self, Spec, alarms, body, catalogue};
use liftwatch_sandbox::ports::PortPicker;
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary, moto};
use serde_json::{Value, json};

/// A metric as a dashboard graphs it or the extension emits it: name and dimension names.
type Series = (String, BTreeSet<String>);

/// The example function's own metrics (custom metrics: the dashboard leaves them to users).
const CUSTOM: [&str; 4] = ["ItemsProcessed", "ItemSize", "HandlerLatency", "Failures"];

/// Dashboard metrics the sandbox run below cannot produce, and why.
const NOT_PRODUCED: &[&str] = &[
    // The fleet count needs LIFTWATCH_CONNECTIONS_TABLE (a DynamoDB connection store and
    // its lease); hello-function keeps no connections.
    "ActiveConnections",
    "ConnectionCountErrors",
    // Handlers' WebSocket connection events: hello-function sends none.
    "ConnectionsOpened",
    "ConnectionsClosed",
    "Messages",
    "MessageBytes",
    // The first INVOKE follows init at once: a cold start, never a proactive init.
    "ProactiveInitializations",
    // SnapStart restores: this run is on-demand (the sandbox's SnapStart mode has its own
    // end-to-end test).
    "Restores",
    "RestoreDuration",
    "BilledRestoreDuration",
    // Published only when non-zero, and nothing is dropped, malformed or refused here.
    "EventsDropped",
    "EventsDroppedEstimated",
    "EventsMalformed",
    "SinkErrors",
    // Nothing is dropped: the buffer, the exporter and the receiver all keep up.
    "SpansDropped",
    // No span here is too large for an X-Ray document.
    "SpansTruncated",
];

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

fn spec(functions: &[&str], namespace: &str) -> Spec {
    let functions = functions.iter().map(|f| (*f).to_owned()).collect();
    Spec::new(
        functions,
        namespace.to_owned(),
        moto::REGION.to_owned(),
        None,
    )
    .unwrap()
}

/// Every metric a dashboard body graphs for `function`: plain metrics lines
/// `[namespace, name, dimension, value, ..., options]` and SEARCH expressions
/// `SEARCH('{namespace,dimension,...} MetricName="name" FunctionName="function"', ...)`.
fn graphed(body: &Value, namespace: &str, function: &str) -> BTreeSet<Series> {
    let mut series = BTreeSet::new();
    let widgets = body["widgets"].as_array().unwrap();
    for line in widgets
        .iter()
        .filter_map(|w| w["properties"]["metrics"].as_array())
        .flatten()
    {
        let line = line.as_array().unwrap();
        if let Some(expression) = line[0].get("expression").and_then(Value::as_str) {
            let Some(query) = expression.strip_prefix("SEARCH('{") else {
                continue; // metric math over other lines
            };
            let (schema, terms) = query.split_once('}').unwrap();
            let mut schema = schema.split(',');
            assert_eq!(schema.next().unwrap().trim_matches('"'), namespace);
            if !terms.contains(&format!("FunctionName=\"{function}\"")) {
                continue;
            }
            let name = terms.split("MetricName=\"").nth(1).unwrap();
            let name = name.split('"').next().unwrap().to_owned();
            series.insert((name, schema.map(str::to_owned).collect()));
        } else {
            let strings: Vec<&str> = line.iter().filter_map(Value::as_str).collect();
            assert_eq!(strings[0], namespace, "{line:?}");
            let pairs: BTreeMap<&str, &str> =
                strings[2..].chunks(2).map(|p| (p[0], p[1])).collect();
            if pairs.get("FunctionName") == Some(&function) {
                let dimensions = pairs.keys().map(|k| (*k).to_owned()).collect();
                series.insert((strings[1].to_owned(), dimensions));
            }
        }
    }
    series
}

fn names(series: &BTreeSet<Series>) -> BTreeSet<&str> {
    series.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn apply_saves_a_dashboard_graphing_every_catalogue_metric() {
    let client = moto::reader(&moto::moto_url());
    let namespace = moto::namespace("dashboard");
    let s = spec(&["orders", "payments"], &namespace);
    let applied = dashboard::apply(&client, &s).await.unwrap();
    assert_eq!(applied.name, "liftwatch-orders-payments");
    assert!(applied.messages.is_empty(), "{:?}", applied.messages);

    let saved = client
        .get_dashboard()
        .dashboard_name(&applied.name)
        .send()
        .await
        .unwrap();
    let saved: Value = serde_json::from_str(saved.dashboard_body().unwrap()).unwrap();
    assert_eq!(saved, body::body(&s), "GetDashboard returns the body sent");
    for function in ["orders", "payments"] {
        let series = graphed(&saved, &namespace, function);
        let graphed = names(&series);
        for metric in catalogue::METRICS {
            assert!(graphed.contains(metric.name), "{function}: {}", metric.name);
        }
    }
    let listed = client.list_dashboards().send().await.unwrap();
    assert!(
        listed
            .dashboard_entries()
            .iter()
            .any(|d| d.dashboard_name() == Some(applied.name.as_str()))
    );
}

#[tokio::test]
async fn the_command_applies_and_creates_the_recommended_alarms() {
    let client = moto::reader(&moto::moto_url());
    let function = unique("checkout");
    let args = Args {
        functions: vec![function.clone()],
        namespace: Some("Liftwatch".to_owned()),
        region: Some(moto::REGION.to_owned()),
        name: Some(unique("ops")),
        apply: true,
        alarms: true,
        metrics: vec!["Greetings".to_owned(), "HandlerLatency:p99".to_owned()],
    };
    let s = args.spec(|_| None).unwrap();
    let output = execute(&client, &args, &s).await.unwrap();
    // The handler's own metrics are on the saved dashboard, read back through the API.
    let saved = client
        .get_dashboard()
        .dashboard_name(&s.name)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(saved.dashboard_body().unwrap()).unwrap();
    let titles: Vec<&str> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["properties"]["title"].as_str())
        .collect();
    assert!(titles.contains(&"Greetings (Sum)"), "{titles:?}");
    assert!(titles.contains(&"HandlerLatency (p99)"), "{titles:?}");
    let lines: Vec<&str> = output.lines().collect();
    assert!(
        lines[0].starts_with(&format!("dashboard {} saved", s.name)),
        "{output}"
    );
    assert_eq!(lines.len(), 5, "{output}");

    let described = client
        .describe_alarms()
        .alarm_name_prefix(format!("liftwatch-{function}-"))
        .send()
        .await
        .unwrap();
    let found: BTreeMap<&str, _> = described
        .metric_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap(), a))
        .collect();
    let expected = alarms::recommended(&s);
    assert_eq!(found.len(), expected.len(), "{:?}", found.keys());
    for alarm in &expected {
        let got = found[alarm.name.as_str()];
        assert!(
            output.contains(&format!("alarm {}: ", alarm.name)),
            "{output}"
        );
        assert_eq!(got.threshold(), Some(alarm.threshold), "{}", alarm.name);
        assert_eq!(
            got.comparison_operator(),
            Some(&ComparisonOperator::GreaterThanThreshold)
        );
        assert_eq!(got.evaluation_periods(), Some(alarm.evaluation_periods));
        assert_eq!(got.treat_missing_data(), Some(alarms::TREAT_MISSING_DATA));
        match &alarm.watched {
            alarms::Watched::Metric { name, statistic } => {
                assert_eq!(got.metric_name(), Some(*name));
                assert_eq!(got.namespace(), Some("Liftwatch"));
                assert_eq!(got.statistic().map(|s| s.as_str()), Some(*statistic));
                assert_eq!(got.period(), Some(alarms::PERIOD_SECONDS));
                let dimension = &got.dimensions()[0];
                assert_eq!(dimension.name(), Some("FunctionName"));
                assert_eq!(dimension.value(), Some(function.as_str()));
            }
            alarms::Watched::Ratio(ratio) => {
                // moto stores a metric math alarm's queries as given (it evaluates none).
                let queries = got.metrics();
                assert_eq!(queries.len(), 3, "{queries:?}");
                let returned: Vec<_> = queries
                    .iter()
                    .filter(|q| q.return_data() == Some(true))
                    .collect();
                assert_eq!(returned.len(), 1);
                let numerator = queries[0].expression().unwrap();
                assert!(
                    numerator.contains(&format!("SUM({})", ratio.numerator)),
                    "{numerator}"
                );
                assert!(numerator.contains(&format!("FunctionName = '{function}'")));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_extension_emits_is_on_the_dashboard_with_its_dimensions() {
    const FUNCTION: &str = "dashboarded";
    // Spans go to a socket standing in for the X-Ray daemon, so SpansExported is counted.
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "end")
        .env(
            "LIFTWATCH_OTLP_PORT",
            PortPicker::new().tcp().unwrap().to_string(),
        )
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            daemon.local_addr().unwrap().to_string(),
        );
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let payloads = [
        json!({"items": 3}),
        json!({"rule": "login", "user": "alice", "blocked": true}),
        json!({"rule": "login", "user": "bob", "blocked": false}),
        json!({"span": "checkout", "items": 2}),
        json!({"fail": true}),
    ];
    for payload in payloads {
        let failing = payload.get("fail").is_some();
        let outcome = sandbox.invoke(payload).await.unwrap();
        assert_eq!(outcome.status == InvokeStatus::Error, failing);
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    let scan = sandbox.emf();
    assert!(scan.rejected.is_empty(), "{:?}", scan.rejected);
    let emitted: BTreeSet<Series> = scan
        .metrics
        .iter()
        .inspect(|m| assert_eq!(m.namespace, "Liftwatch"))
        .map(|m| (m.name.clone(), m.dimensions.keys().cloned().collect()))
        .collect();
    let emitted_names = names(&emitted);
    for custom in CUSTOM {
        assert!(emitted_names.contains(custom), "the run exercised {custom}");
    }
    let builtin: BTreeSet<Series> = emitted
        .iter()
        .filter(|(name, _)| !CUSTOM.contains(&name.as_str()))
        .cloned()
        .collect();

    let s = spec(&[FUNCTION], "Liftwatch");
    let on_dashboard = graphed(&body::body(&s), "Liftwatch", FUNCTION);
    let missing: Vec<&Series> = builtin.difference(&on_dashboard).collect();
    assert!(
        missing.is_empty(),
        "emitted but not on the dashboard with these dimensions: {missing:?}\n\
         dashboard: {on_dashboard:?}"
    );
    let builtin_names = names(&builtin);
    let unexplained: Vec<&str> = names(&on_dashboard)
        .into_iter()
        .filter(|name| !builtin_names.contains(name) && !NOT_PRODUCED.contains(name))
        .collect();
    assert!(
        unexplained.is_empty(),
        "on the dashboard, never emitted, not in NOT_PRODUCED: {unexplained:?}"
    );
    for name in NOT_PRODUCED {
        assert!(
            catalogue::get(name).is_some(),
            "{name} is not a catalogue metric"
        );
    }
    let produced = builtin_names.len();
    assert!(
        produced >= 30,
        "only {produced} metrics emitted: {builtin_names:?}"
    );
    eprintln!(
        "{produced} emitted metrics checked; not produced here: {:?}",
        names(&on_dashboard)
            .difference(&builtin_names)
            .collect::<Vec<_>>()
    );
}
