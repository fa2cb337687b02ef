//! Golden tests pinning wire format version 1: every file in `testdata/golden/` is decoded
//! line by line and as one datagram, and compared with the events and errors listed here;
//! `protocol::encode` of each expected event must reproduce its canonical line byte for
//! byte. An accidental change to the decoder, the validation rules or the encoder fails
//! here. Changing a golden file is changing the protocol: see docs/PROTOCOL.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use liftwatch::protocol::{self, Event, MetricEvent, ProtocolError, RateLimitEvent};
use liftwatch::{MetricKind, Outcome, Resolution, Unit};

/// What one non-blank line of a golden file must decode to.
#[derive(Debug)]
enum Expect {
    /// Decodes to the event, and the event encodes to exactly this line.
    Canonical(Event),
    /// Decodes to the event, but is written differently from the canonical form.
    Equivalent(Event),
    /// Is rejected with exactly this error.
    Error(ProtocolError),
    /// Is rejected as JSON of the wrong shape (serde_json's message is not pinned).
    Json,
}

use Expect::{Error, Json};

/// The event types a golden line can decode to.
trait IntoEvent {
    fn into_event(self) -> Event;
}

impl IntoEvent for MetricEvent {
    fn into_event(self) -> Event {
        Event::Metric(self)
    }
}

impl IntoEvent for RateLimitEvent {
    fn into_event(self) -> Event {
        Event::RateLimit(self)
    }
}

#[allow(non_snake_case)]
fn Canonical(event: impl IntoEvent) -> Expect {
    Expect::Canonical(event.into_event())
}

#[allow(non_snake_case)]
fn Equivalent(event: impl IntoEvent) -> Expect {
    Expect::Equivalent(event.into_event())
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/golden")
}

fn metric(
    name: &str,
    value: f64,
    unit: Unit,
    kind: MetricKind,
    dimensions: &[(&str, &str)],
) -> MetricEvent {
    MetricEvent {
        name: name.to_owned(),
        value,
        count: 1,
        unit,
        kind,
        dimensions: dimensions
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        resolution: Resolution::Standard,
    }
}

fn high(mut event: MetricEvent) -> MetricEvent {
    event.resolution = Resolution::High;
    event
}

fn invalid(field: &'static str, reason: &'static str) -> Expect {
    Error(ProtocolError::InvalidField { field, reason })
}

fn encoded(event: &Event) -> String {
    let mut buf = Vec::new();
    protocol::encode(event, &mut buf);
    String::from_utf8(buf).unwrap()
}

fn check_one(
    file: &str,
    number: usize,
    line: &str,
    got: &Result<Event, ProtocolError>,
    expect: &Expect,
) {
    let at = format!("{file}:{number}");
    match expect {
        Expect::Canonical(event) => {
            assert_eq!(got, &Ok(event.clone()), "{at}");
            assert_eq!(
                encoded(event),
                line,
                "{at}: encode must reproduce the golden line"
            );
        }
        Expect::Equivalent(event) => {
            assert_eq!(got, &Ok(event.clone()), "{at}");
            assert_ne!(
                encoded(event),
                line,
                "{at}: the line is canonical; mark it so"
            );
        }
        Error(error) => assert_eq!(got, &Err(error.clone()), "{at}"),
        Json => assert!(matches!(got, Err(ProtocolError::Json(_))), "{at}: {got:?}"),
    }
}

/// Checks every non-blank line of `file` against `expected`, line by line with
/// `decode_line` and all together as one datagram with `decode_datagram`.
fn check(file: &str, expected: &[Expect]) {
    let bytes = std::fs::read(golden_dir().join(file)).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        text.ends_with('\n') && !text.contains('\r'),
        "{file}: LF line endings, final newline"
    );
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| (i + 1, line))
        .collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "{file}: one expectation per non-blank line"
    );
    for ((number, line), expect) in lines.iter().zip(expected) {
        check_one(file, *number, line, &protocol::decode_line(line), expect);
    }
    let mut results = Vec::new();
    protocol::decode_datagram(&bytes, |result| results.push(result));
    assert_eq!(results.len(), expected.len(), "{file}: as one datagram");
    for (((number, line), expect), got) in lines.iter().zip(expected).zip(&results) {
        check_one(file, *number, line, got, expect);
    }
}

#[test]
fn the_golden_directory_holds_exactly_the_tested_files() {
    let mut found: Vec<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".jsonl"))
        .collect();
    found.sort();
    let tested = [
        "counts.jsonl",
        "escapes.jsonl",
        "full.jsonl",
        "high_resolution.jsonl",
        "invalid.jsonl",
        "minimal.jsonl",
        "multi_line.jsonl",
        "numbers.jsonl",
        "ratelimit.jsonl",
    ];
    assert_eq!(found, tested);
}

#[test]
fn minimal() {
    let orders = metric("Orders", 1.0, Unit::None, MetricKind::Distribution, &[]);
    check(
        "minimal.jsonl",
        &[Equivalent(orders.clone()), Canonical(orders)],
    );
}

#[test]
fn full() {
    let latency = metric(
        "PaymentLatency",
        87.25,
        Unit::Milliseconds,
        MetricKind::Distribution,
        &[
            ("PaymentMethod", "card"),
            ("Region", "eu-west-1"),
            ("Tenant", "acme"),
        ],
    );
    let orders = metric(
        "OrdersPlaced",
        3.0,
        Unit::Count,
        MetricKind::Count,
        &[("Tenant", "acme")],
    );
    let names: Vec<String> = (0..29).map(|i| format!("D{i:02}")).collect();
    let values: Vec<String> = (0..29).map(|i| format!("v{i}")).collect();
    let wide: Vec<(&str, &str)> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    check(
        "full.jsonl",
        &[
            Canonical(latency.clone()),
            Canonical(orders.clone()),
            Canonical(metric(
                "QueueDepth",
                -0.5,
                Unit::Percent,
                MetricKind::Gauge,
                &[],
            )),
            Canonical(metric(
                "Throughput",
                1_250_000.125,
                Unit::BytesPerSecond,
                MetricKind::Gauge,
                &[("Stage", "prod")],
            )),
            Canonical(metric(
                "WideMetric",
                0.0,
                Unit::None,
                MetricKind::Count,
                &wide,
            )),
            Equivalent(latency),
            Equivalent(orders),
        ],
    );
}

#[test]
fn escapes_and_unicode() {
    let cafe = metric(
        "Café \"au lait\" \\ ☕",
        2.0,
        Unit::Count,
        MetricKind::Count,
        &[
            ("Path", "C:\\temp\\x"),
            ("Quote", "say \"hi\""),
            ("Shop", "Crème brûlée – 東京 🦀"),
        ],
    );
    let route = metric(
        "/orders/{id}: p99 [ms]",
        1.0,
        Unit::None,
        MetricKind::Distribution,
        &[("Route", "/orders/{id}")],
    );
    let padded = metric(
        "  padded name  ",
        1.0,
        Unit::None,
        MetricKind::Distribution,
        &[("Tag", " spaced value ")],
    );
    let (long_name, long_dimension, long_value) =
        ("é".repeat(255), "N".repeat(250), "日".repeat(1024));
    let longest = metric(
        &long_name,
        1.0,
        Unit::None,
        MetricKind::Distribution,
        &[(&long_dimension, &long_value)],
    );
    check(
        "escapes.jsonl",
        &[
            Canonical(cafe.clone()),
            Equivalent(cafe),
            Canonical(route.clone()),
            Equivalent(route),
            Canonical(padded),
            Canonical(longest),
        ],
    );
}

#[test]
fn counts() {
    let weighted = |value: f64, count: u32, dimensions: &[(&str, &str)]| {
        let mut event = metric(
            "Latency",
            value,
            Unit::Milliseconds,
            MetricKind::Distribution,
            dimensions,
        );
        event.count = count;
        event
    };
    let forty = weighted(12.5, 40, &[("Route", "/orders")]);
    let once = weighted(7.0, 1, &[]);
    check(
        "counts.jsonl",
        &[
            Canonical(forty.clone()),
            Equivalent(forty),
            Canonical(weighted(7.0, u32::MAX, &[])),
            Equivalent(once.clone()),
            Canonical(once),
            invalid("count", "must be at least 1"),
            invalid("count", "above 1 only for a distribution"),
            invalid("count", "above 1 only for a distribution"),
            invalid("count", "at most 4294967295"),
            Json,
            Json,
        ],
    );
}

#[test]
fn high_resolution() {
    let hits = metric(
        "Hits",
        1.0,
        Unit::Count,
        MetricKind::Count,
        &[("Route", "/orders")],
    );
    check(
        "high_resolution.jsonl",
        &[
            Canonical(high(metric(
                "RequestsPerSecond",
                42.0,
                Unit::CountPerSecond,
                MetricKind::Gauge,
                &[],
            ))),
            Canonical(high(hits.clone())),
            Equivalent(hits.clone()),
            Canonical(hits),
        ],
    );
}

#[test]
fn multi_line_datagram_with_bad_lines_among_good_ones() {
    let items = |v| metric("ItemsProcessed", v, Unit::Count, MetricKind::Count, &[]);
    check(
        "multi_line.jsonl",
        &[
            Canonical(items(1.0)),
            Canonical(items(2.0)),
            Canonical(metric(
                "ItemSize",
                512.0,
                Unit::Bytes,
                MetricKind::Distribution,
                &[("Shard", "7")],
            )),
            invalid("name", "must not be empty or blank"),
            Error(ProtocolError::UnknownType("profile".to_owned())),
            Error(ProtocolError::UnsupportedVersion(2)),
            Canonical(metric(
                "ItemLatency",
                4.5,
                Unit::Milliseconds,
                MetricKind::Distribution,
                &[],
            )),
        ],
    );
}

#[test]
fn numbers() {
    let n = |value| metric("N", value, Unit::None, MetricKind::Gauge, &[]);
    check(
        "numbers.jsonl",
        &[
            Canonical(n(0.0)),
            Canonical(n(-0.0)),
            Canonical(n(7.0)),
            Canonical(n(-42.0)),
            Canonical(n(0.1)),
            Canonical(n(-0.25)),
            Canonical(n(1e-7)),
            Canonical(n(123_456_789.5)),
            Canonical(n(9_007_199_254_740_992.0)),
            Canonical(n(1e21)),
            Canonical(n(1.174_271e108)),
            Canonical(n(-8.515_92e-109)),
            Canonical(n(1.0 / 3.0)),
            Equivalent(n(1000.0)),
            Equivalent(n(1.5)),
            Equivalent(n(-0.0)),
            Equivalent(n(0.5)),
            Equivalent(n(9_007_199_254_740_992.0)),
            Equivalent(n(1.174_271e108)),
            Equivalent(n(-8.515_92e-109)),
            Equivalent(n(1e-7)),
            Equivalent(n(1.0 / 3.0)),
        ],
    );
}

#[test]
fn negative_zero_keeps_its_sign() {
    let mut values = Vec::new();
    protocol::decode_datagram(
        &std::fs::read(golden_dir().join("numbers.jsonl")).unwrap(),
        |r| {
            if let Ok(Event::Metric(m)) = r {
                values.push(m.value);
            }
        },
    );
    assert!(values[1] == 0.0 && values[1].is_sign_negative());
    assert!(values[15] == 0.0 && values[15].is_sign_negative());
}

#[test]
fn invalid_events() {
    let dims = "dimensions";
    let value_len = "values must be 1-1024 characters";
    let ascii = "names must be ascii and not start with ':'";
    let key_class = "must be 1-64 characters of A-Z a-z 0-9 _ . : -";
    check(
        "invalid.jsonl",
        &[
            invalid("name", "must not be empty or blank"),
            invalid("name", "must not be empty or blank"),
            invalid("name", "longer than 255 characters"),
            invalid("name", "contains a control character"),
            invalid("name", "contains a control character"),
            invalid("name", "contains a control character"),
            invalid("name", "is required"),
            invalid("name", "is required"),
            invalid("value", "is required"),
            invalid("value", "is required"),
            Json,
            Json,
            Json,
            invalid("value", "outside cloudwatch's range"),
            invalid("value", "outside cloudwatch's range"),
            invalid("unit", "not a cloudwatch unit name"),
            invalid("unit", "not a cloudwatch unit name"),
            invalid("kind", "not count|gauge|distribution"),
            invalid("resolution", "must be 1 or 60"),
            Json,
            Json,
            invalid(dims, "FunctionName is added by the extension"),
            invalid(dims, ascii),
            invalid(dims, ascii),
            invalid(dims, "must not be empty or blank"),
            invalid(dims, "longer than 255 characters"),
            invalid(dims, value_len),
            invalid(dims, value_len),
            invalid(dims, value_len),
            invalid(dims, "values must not contain control characters"),
            invalid(dims, "duplicate dimension name"),
            invalid(dims, "more than 29 dimensions"),
            Json,
            Json,
            Json,
            Error(ProtocolError::UnsupportedVersion(2)),
            Error(ProtocolError::UnsupportedVersion(0)),
            Error(ProtocolError::UnknownType("profile".to_owned())),
            Error(ProtocolError::UnknownType("Metric".to_owned())),
            Json,
            Json,
            Json,
            Json,
            Json,
            Json,
            Json,
            // ratelimit events
            invalid("rule", "is required"),
            invalid("rule", "is required"),
            invalid("rule", "must not be empty or blank"),
            invalid("rule", "must not be empty or blank"),
            invalid("rule", "longer than 255 characters"),
            invalid("rule", "contains a control character"),
            invalid("rule", "contains a control character"),
            invalid("rule", "must not contain '#'"),
            invalid("outcome", "is required"),
            invalid("outcome", "not allowed|blocked|error"),
            invalid("outcome", "not allowed|blocked|error"),
            invalid("window_seconds", "is required"),
            invalid("window_seconds", "must be 1-86400"),
            invalid("window_seconds", "must be 1-86400"),
            Json,
            Json,
            invalid("key_class", key_class),
            invalid("key_class", key_class),
            invalid("key_class", key_class),
            invalid("key_class", key_class),
            Json,
            Json,
            Json,
            invalid("remaining", "must not exceed limit"),
            invalid("window_start", "must be a multiple of window_seconds"),
            Json,
            Json,
            Error(ProtocolError::UnsupportedVersion(2)),
            Error(ProtocolError::UnknownType("rateLimit".to_owned())),
            Error(ProtocolError::UnknownType("rate_limit".to_owned())),
        ],
    );
}

fn decision(rule: &str, outcome: Outcome, window_seconds: u32) -> RateLimitEvent {
    RateLimitEvent {
        rule: rule.to_owned(),
        outcome,
        key_class: None,
        limit: None,
        remaining: None,
        window_seconds,
        window_start: None,
    }
}

#[test]
fn rate_limit() {
    let full = RateLimitEvent {
        key_class: Some("h07".to_owned()),
        limit: Some(100),
        remaining: Some(42),
        window_start: Some(1_764_300_000),
        ..decision("login", Outcome::Allowed, 60)
    };
    let blocked = RateLimitEvent {
        key_class: Some("h07".to_owned()),
        limit: Some(100),
        remaining: Some(0),
        ..decision("login", Outcome::Blocked, 60)
    };
    let minimal = decision("login", Outcome::Error, 60);
    let named = RateLimitEvent {
        key_class: Some("tier:free".to_owned()),
        limit: Some(10),
        ..decision("search API – v2 ☕", Outcome::Allowed, 1)
    };
    let escaped = RateLimitEvent {
        remaining: Some(5),
        window_start: Some(0),
        ..decision("say \"hi\" \\ now", Outcome::Allowed, 86_400)
    };
    let largest = RateLimitEvent {
        key_class: Some("k".repeat(64)),
        limit: Some(u64::MAX),
        remaining: Some(u64::MAX),
        window_start: Some(u64::MAX),
        ..decision(&"é".repeat(255), Outcome::Blocked, 1)
    };
    check(
        "ratelimit.jsonl",
        &[
            Canonical(full.clone()),
            Canonical(blocked),
            Canonical(minimal.clone()),
            Canonical(named),
            Canonical(escaped),
            Canonical(largest),
            Equivalent(full),
            Equivalent(minimal.clone()),
            Equivalent(minimal.clone()),
            Equivalent(minimal),
        ],
    );
}
