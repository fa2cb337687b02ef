//! Table-driven tests of the telemetry record parser over real payloads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const TRACE_VALUE: &str =
    "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1";
const REQUEST_ID: &str = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa";

fn doc_trace() -> TraceContext {
    TraceContext {
        kind: "X-Amzn-Trace-Id".to_owned(),
        value: TRACE_VALUE.to_owned(),
        span_id: Some("54565fb41ac79632".to_owned()),
    }
}

fn span(name: &str, start: &str, duration_ms: f64) -> Span {
    Span {
        name: name.to_owned(),
        start: start.to_owned(),
        duration_ms,
    }
}

/// Every single-record fixture, with the one record it must yield.
#[test]
fn fixtures_parse_to_exact_records() {
    let cases: Vec<(&str, &[u8], Record)> = vec![
        (
            "platform.initStart",
            include_bytes!("../../../testdata/telemetry/platform.initStart.json"),
            Record::InitStart {
                initialization_type: InitType::OnDemand,
                phase: Phase::Init,
                time_unix_nanos: Some(1665532815064000000),
            },
        ),
        (
            "platform.initRuntimeDone",
            include_bytes!("../../../testdata/telemetry/platform.initRuntimeDone.json"),
            Record::InitRuntimeDone {
                initialization_type: InitType::OnDemand,
                phase: Some(Phase::Init),
                status: Status::Success,
            },
        ),
        (
            "platform.initReport",
            include_bytes!("../../../testdata/telemetry/platform.initReport.json"),
            Record::InitReport {
                initialization_type: InitType::OnDemand,
                phase: Phase::Init,
                status: Status::Success,
                duration_ms: 125.33,
            },
        ),
        (
            "platform.start",
            include_bytes!("../../../testdata/telemetry/platform.start.json"),
            Record::Start {
                request_id: REQUEST_ID.to_owned(),
                tracing: Some(doc_trace()),
                time_unix_nanos: Some(1665532815064000000),
            },
        ),
        (
            "platform.runtimeDone",
            include_bytes!("../../../testdata/telemetry/platform.runtimeDone.json"),
            Record::RuntimeDone {
                request_id: REQUEST_ID.to_owned(),
                status: Status::Success,
                error_type: None,
                duration_ms: Some(140.0),
                produced_bytes: Some(16),
                spans: vec![
                    span("responseLatency", "2022-10-12T00:01:14.860Z", 23.02),
                    span("responseDuration", "2022-10-12T00:01:14.883Z", 0.48),
                ],
                tracing: Some(doc_trace()),
            },
        ),
        (
            "platform.report",
            include_bytes!("../../../testdata/telemetry/platform.report.json"),
            Record::Report {
                request_id: REQUEST_ID.to_owned(),
                status: Status::Success,
                error_type: None,
                duration_ms: 693.92,
                billed_duration_ms: 694.0,
                memory_size_mb: 128.0,
                max_memory_used_mb: 84.0,
                init_duration_ms: Some(397.68),
                restore_duration_ms: None,
                billed_restore_duration_ms: None,
                tracing: Some(doc_trace()),
            },
        ),
        (
            "platform.report timeout",
            include_bytes!("../../../testdata/telemetry/platform.report.timeout.json"),
            Record::Report {
                request_id: "3a7f5b2e-9c41-4d0a-8f1e-2b6c9d0e4f13".to_owned(),
                status: Status::Timeout,
                error_type: None,
                duration_ms: 3000.0,
                billed_duration_ms: 3000.0,
                memory_size_mb: 128.0,
                max_memory_used_mb: 71.0,
                init_duration_ms: None,
                restore_duration_ms: None,
                billed_restore_duration_ms: None,
                tracing: None,
            },
        ),
        (
            "platform.report out of memory",
            include_bytes!("../../../testdata/telemetry/platform.report.oom.json"),
            Record::Report {
                request_id: "c0d1e2f3-a4b5-4c6d-8e7f-901234567890".to_owned(),
                status: Status::Error,
                error_type: Some("Runtime.OutOfMemory".to_owned()),
                duration_ms: 812.37,
                billed_duration_ms: 813.0,
                memory_size_mb: 128.0,
                max_memory_used_mb: 128.0,
                init_duration_ms: None,
                restore_duration_ms: None,
                billed_restore_duration_ms: None,
                tracing: None,
            },
        ),
        (
            "platform.restoreStart",
            include_bytes!("../../../testdata/telemetry/platform.restoreStart.json"),
            Record::RestoreStart {
                time_unix_nanos: Some(1_665_532_815_064_000_000),
            },
        ),
        (
            "platform.restoreRuntimeDone",
            include_bytes!("../../../testdata/telemetry/platform.restoreRuntimeDone.json"),
            Record::RestoreRuntimeDone {
                status: Status::Success,
            },
        ),
        (
            "platform.restoreReport",
            include_bytes!("../../../testdata/telemetry/platform.restoreReport.json"),
            Record::RestoreReport {
                duration_ms: Some(15.19),
                status: Status::Success,
            },
        ),
        (
            "platform.extension",
            include_bytes!("../../../testdata/telemetry/platform.extension.json"),
            Record::Extension {
                name: "my-telemetry-extension".to_owned(),
                state: "Ready".to_owned(),
            },
        ),
        (
            "platform.telemetrySubscription",
            include_bytes!("../../../testdata/telemetry/platform.telemetrySubscription.json"),
            Record::TelemetrySubscription {
                name: "my-telemetry-extension".to_owned(),
                state: "Subscribed".to_owned(),
                types: vec!["platform".to_owned(), "function".to_owned()],
            },
        ),
        (
            "platform.logsDropped",
            include_bytes!("../../../testdata/telemetry/platform.logsDropped.json"),
            Record::LogsDropped {
                reason: "Some logs were dropped because the downstream consumer is slower \
                         than the logs production rate"
                    .to_owned(),
                dropped_records: 123,
                dropped_bytes: 12345,
            },
        ),
        (
            "function text",
            include_bytes!("../../../testdata/telemetry/function.text.json"),
            Record::FunctionLog,
        ),
        (
            "function json format",
            include_bytes!("../../../testdata/telemetry/function.json-format.json"),
            Record::FunctionLog,
        ),
        (
            "extension text",
            include_bytes!("../../../testdata/telemetry/extension.text.json"),
            Record::ExtensionLog,
        ),
    ];
    for (name, body, expected) in cases {
        let batch = parse_batch(body).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(batch.malformed, 0, "{name}: malformed");
        assert_eq!(batch.unknown, 0, "{name}: unknown");
        assert_eq!(batch.records, vec![expected], "{name}");
    }
}

#[test]
fn mixed_batch_keeps_every_good_record_in_order() {
    let batch = parse_batch(include_bytes!(
        "../../../testdata/telemetry/mixed-batch.json"
    ))
    .unwrap();
    let first = "79b4f56e-95b1-4643-9700-2807f4e68189";
    let second = "e4d7a1c9-2b3f-4e5a-9c8d-7f6e5d4c3b2a";
    let trace = Some(TraceContext {
        kind: "X-Amzn-Trace-Id".to_owned(),
        value: "Root=1-6645505f-3e1a6b2c7d8e9f0a1b2c3d4e;Parent=5f6a7b8c9d0e1f2a;Sampled=1"
            .to_owned(),
        span_id: Some("0a1b2c3d4e5f6071".to_owned()),
    });
    let expected = vec![
        Record::TelemetrySubscription {
            name: "liftwatch".to_owned(),
            state: "Subscribed".to_owned(),
            types: vec![
                "platform".to_owned(),
                "function".to_owned(),
                "extension".to_owned(),
            ],
        },
        Record::InitStart {
            initialization_type: InitType::OnDemand,
            phase: Phase::Init,
            time_unix_nanos: Some(1715817558214000000),
        },
        Record::ExtensionLog,
        Record::InitRuntimeDone {
            initialization_type: InitType::OnDemand,
            phase: Some(Phase::Init),
            status: Status::Success,
        },
        Record::InitReport {
            initialization_type: InitType::OnDemand,
            phase: Phase::Init,
            status: Status::Success,
            duration_ms: 817.66,
        },
        Record::Start {
            request_id: first.to_owned(),
            tracing: trace.clone(),
            time_unix_nanos: Some(1715817559040000000),
        },
        Record::FunctionLog,
        Record::FunctionLog,
        // platform.futureThing: unknown, skipped
        Record::RuntimeDone {
            request_id: first.to_owned(),
            status: Status::Success,
            error_type: None,
            duration_ms: Some(221.88),
            produced_bytes: Some(412),
            spans: vec![
                span("responseLatency", "2024-05-15T23:59:19.041Z", 219.36),
                span("responseDuration", "2024-05-15T23:59:19.260Z", 1.05),
            ],
            tracing: trace.clone(),
        },
        Record::Report {
            request_id: first.to_owned(),
            status: Status::Success,
            error_type: None,
            duration_ms: 229.51,
            billed_duration_ms: 230.0,
            memory_size_mb: 512.0,
            max_memory_used_mb: 97.0,
            init_duration_ms: Some(817.66),
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            tracing: trace,
        },
        Record::Start {
            request_id: second.to_owned(),
            tracing: None,
            time_unix_nanos: Some(1715817560004000000),
        },
        Record::RuntimeDone {
            request_id: second.to_owned(),
            status: Status::Error,
            error_type: Some("Runtime.UnhandledPromiseRejection".to_owned()),
            duration_ms: Some(306.2),
            produced_bytes: Some(0),
            spans: vec![],
            tracing: None,
        },
        // second platform.report has no `metrics`: malformed, skipped
        Record::LogsDropped {
            reason: "Some logs were dropped because the downstream consumer is slower \
                     than the logs production rate"
                .to_owned(),
            dropped_records: 57,
            dropped_bytes: 20480,
        },
    ];
    assert_eq!(batch.records, expected);
    assert_eq!(batch.unknown, 1);
    assert_eq!(batch.malformed, 1);
}

#[derive(Debug, PartialEq)]
enum Expect {
    InvalidJson,
    NotAnArray,
    Counts {
        records: usize,
        malformed: u64,
        unknown: u64,
    },
}

const fn counts(records: usize, malformed: u64, unknown: u64) -> Expect {
    Expect::Counts {
        records,
        malformed,
        unknown,
    }
}

fn outcome(body: &[u8]) -> Expect {
    match parse_batch(body) {
        Ok(batch) => counts(batch.records.len(), batch.malformed, batch.unknown),
        Err(BatchError::InvalidJson(_)) => Expect::InvalidJson,
        Err(BatchError::NotAnArray(_)) => Expect::NotAnArray,
    }
}

/// A valid `platform.report` with `field` in `metrics` replaced by `value`.
fn report_with_metric(field: &str, value: &str) -> String {
    let mut metrics = serde_json::json!({
        "durationMs": 693.92, "billedDurationMs": 694, "memorySizeMB": 128,
        "maxMemoryUsedMB": 84
    });
    metrics[field] = serde_json::from_str(value).unwrap();
    serde_json::json!([{
        "time": "2022-10-12T00:01:15.000Z", "type": "platform.report",
        "record": { "requestId": REQUEST_ID, "status": "success", "metrics": metrics }
    }])
    .to_string()
}

#[test]
fn bad_bodies_and_bad_records() {
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty body", b"".to_vec(), Expect::InvalidJson),
        ("whitespace only", b"  \n".to_vec(), Expect::InvalidJson),
        ("not utf-8", b"[\xff\xfe]".to_vec(), Expect::InvalidJson),
        (
            "not utf-8 inside a string",
            b"[{\"type\":\"function\",\"record\":\"\xc3\x28\"}]".to_vec(),
            Expect::InvalidJson,
        ),
        ("truncated", br#"[{"type":"platform.start","#.to_vec(), Expect::InvalidJson),
        ("trailing data", b"[] []".to_vec(), Expect::InvalidJson),
        ("plain text", b"hello".to_vec(), Expect::InvalidJson),
        (
            "number beyond f64 range fails the body",
            br#"[{"type":"platform.report","record":{"metrics":{"durationMs":1e400}}}]"#.to_vec(),
            Expect::InvalidJson,
        ),
        (
            "nesting beyond 128 fails the body",
            format!(r#"[{{"type":"function","record":{}{}}}]"#, "[".repeat(200), "]".repeat(200))
                .into_bytes(),
            Expect::InvalidJson,
        ),
        (
            "an object, not an array",
            br#"{"time":"2022-10-12T00:03:50.000Z","type":"function","record":"x"}"#.to_vec(),
            Expect::NotAnArray,
        ),
        ("a string", br#""[]""#.to_vec(), Expect::NotAnArray),
        ("null", b"null".to_vec(), Expect::NotAnArray),
        ("empty array", b"[]".to_vec(), counts(0, 0, 0)),
        (
            "array of non-objects",
            br#"[1, "platform.start", null, true, [], 2.5]"#.to_vec(),
            counts(0, 6, 0),
        ),
        (
            "no type",
            br#"[{"time":"t","record":"x"}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "type not a string",
            br#"[{"type":7,"record":"x"}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "record null",
            br#"[{"type":"platform.report","record":null}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "record missing",
            br#"[{"type":"platform.restoreStart"}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "record as positional array",
            br#"[{"type":"platform.initStart","record":["on-demand","init"]}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "function record null",
            br#"[{"type":"function","record":null}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "extension record a number",
            br#"[{"type":"extension","record":42}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "unknown type, even with a bad record",
            br#"[{"type":"platform.fault","record":null},{"type":"platform.logsSubscription","record":{}}]"#.to_vec(),
            counts(0, 0, 2),
        ),
        (
            "negative duration",
            report_with_metric("durationMs", "-1.5").into_bytes(),
            counts(0, 1, 0),
        ),
        (
            "negative memory",
            report_with_metric("maxMemoryUsedMB", "-84").into_bytes(),
            counts(0, 1, 0),
        ),
        (
            "string where number expected",
            report_with_metric("billedDurationMs", r#""694""#).into_bytes(),
            counts(0, 1, 0),
        ),
        (
            "null required metric",
            report_with_metric("memorySizeMB", "null").into_bytes(),
            counts(0, 1, 0),
        ),
        (
            "negative optional duration",
            report_with_metric("initDurationMs", "-3").into_bytes(),
            counts(0, 1, 0),
        ),
        (
            "null optional duration",
            report_with_metric("initDurationMs", "null").into_bytes(),
            counts(1, 0, 0),
        ),
        (
            "float billed duration",
            report_with_metric("billedDurationMs", "694.0").into_bytes(),
            counts(1, 0, 0),
        ),
        (
            "report without status",
            br#"[{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":1}}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "status not a string",
            br#"[{"type":"platform.runtimeDone","record":{"requestId":"r","status":1}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "request id not a string",
            br#"[{"type":"platform.start","record":{"requestId":17}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "tracing without value",
            br#"[{"type":"platform.start","record":{"requestId":"r","tracing":{"type":"X-Amzn-Trace-Id"}}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "span with negative duration",
            br#"[{"type":"platform.runtimeDone","record":{"requestId":"r","status":"success","spans":[{"name":"responseLatency","start":"s","durationMs":-2}]}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "runtimeDone metrics without durationMs",
            br#"[{"type":"platform.runtimeDone","record":{"requestId":"r","status":"success","metrics":{"producedBytes":3}}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "fractional producedBytes",
            br#"[{"type":"platform.runtimeDone","record":{"requestId":"r","status":"success","metrics":{"durationMs":1,"producedBytes":1.5}}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "droppedRecords beyond u64",
            br#"[{"type":"platform.logsDropped","record":{"reason":"x","droppedRecords":18446744073709551616,"droppedBytes":0}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "negative droppedRecords",
            br#"[{"type":"platform.logsDropped","record":{"reason":"x","droppedRecords":-1,"droppedBytes":0}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "initReport without metrics",
            br#"[{"type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"success"}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "telemetrySubscription types not a list",
            br#"[{"type":"platform.telemetrySubscription","record":{"name":"x","state":"Subscribed","types":"platform"}}]"#.to_vec(),
            counts(0, 1, 0),
        ),
        (
            "bad records do not hide good ones",
            br#"[{"type":"function","record":"a"},7,{"type":"platform.next"},{"type":"function","record":"b"}]"#.to_vec(),
            counts(2, 1, 1),
        ),
    ];
    for (name, body, expected) in cases {
        assert_eq!(outcome(&body), expected, "{name}");
    }
}

/// Values AWS may add or that its own examples show: kept, not malformed.
#[test]
fn lenient_values_are_kept() {
    let cases: Vec<(&str, &str, Record)> = vec![
        (
            "unknown status",
            r#"[{"type":"platform.restoreRuntimeDone","record":{"status":"throttled"}}]"#,
            Record::RestoreRuntimeDone {
                status: Status::Other("throttled".to_owned()),
            },
        ),
        (
            "initRuntimeDone without phase, as in AWS's example",
            r#"[{"time":"2022-10-12T00:01:15.000Z","type":"platform.initRuntimeDone","record":{"initializationType":"on-demand","status":"success","spans":[{"name":"someTimeSpan","start":"2022-06-02T12:02:33.913Z","durationMs":70.5}]}}]"#,
            Record::InitRuntimeDone {
                initialization_type: InitType::OnDemand,
                phase: None,
                status: Status::Success,
            },
        ),
        (
            "snap-start init with error status",
            r#"[{"type":"platform.initRuntimeDone","record":{"initializationType":"snap-start","phase":"init","status":"error","errorType":"Runtime.ExitError"}}]"#,
            Record::InitRuntimeDone {
                initialization_type: InitType::SnapStart,
                phase: Some(Phase::Init),
                status: Status::Error,
            },
        ),
        (
            "provisioned concurrency, suppressed init",
            r#"[{"type":"platform.initStart","record":{"initializationType":"provisioned-concurrency","phase":"invoke"}}]"#,
            Record::InitStart {
                initialization_type: InitType::ProvisionedConcurrency,
                phase: Phase::Invoke,
                time_unix_nanos: None,
            },
        ),
        (
            "future init type and phase",
            r#"[{"type":"platform.initStart","record":{"initializationType":"warp-drive","phase":"pre-init"}}]"#,
            Record::InitStart {
                initialization_type: InitType::Other("warp-drive".to_owned()),
                phase: Phase::Other("pre-init".to_owned()),
                time_unix_nanos: None,
            },
        ),
        (
            "runtimeDone without metrics, spans null",
            r#"[{"type":"platform.runtimeDone","record":{"requestId":"r","status":"failure","errorType":"Runtime.ExitError","spans":null}}]"#,
            Record::RuntimeDone {
                request_id: "r".to_owned(),
                status: Status::Failure,
                error_type: Some("Runtime.ExitError".to_owned()),
                duration_ms: None,
                produced_bytes: None,
                spans: vec![],
                tracing: None,
            },
        ),
        (
            "integral float count, extra fields",
            r#"[{"type":"platform.runtimeDone","extra":true,"record":{"requestId":"r","status":"success","metrics":{"durationMs":5,"producedBytes":16.0,"future":1}}}]"#,
            Record::RuntimeDone {
                request_id: "r".to_owned(),
                status: Status::Success,
                error_type: None,
                duration_ms: Some(5.0),
                produced_bytes: Some(16),
                spans: vec![],
                tracing: None,
            },
        ),
        (
            "snapstart report with restore duration",
            r#"[{"type":"platform.report","record":{"requestId":"r","status":"success","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":1024,"maxMemoryUsedMB":201,"restoreDurationMs":380.21,"billedRestoreDurationMs":381}}}]"#,
            Record::Report {
                request_id: "r".to_owned(),
                status: Status::Success,
                error_type: None,
                duration_ms: 12.5,
                billed_duration_ms: 13.0,
                memory_size_mb: 1024.0,
                max_memory_used_mb: 201.0,
                init_duration_ms: None,
                restore_duration_ms: Some(380.21),
                billed_restore_duration_ms: Some(381.0),
                tracing: None,
            },
        ),
        (
            "restoreReport without metrics",
            r#"[{"type":"platform.restoreReport","record":{"status":"failure","errorType":"Runtime.RestoreError"}}]"#,
            Record::RestoreReport {
                duration_ms: None,
                status: Status::Failure,
            },
        ),
    ];
    for (name, body, expected) in cases {
        let batch = parse_batch(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(batch.records, vec![expected], "{name}");
        assert_eq!((batch.malformed, batch.unknown), (0, 0), "{name}");
    }
}

#[test]
fn enums_round_trip_their_wire_strings() {
    for wire in ["success", "failure", "error", "timeout", "something-new"] {
        assert_eq!(Status::from(wire.to_owned()).as_str(), wire);
    }
    for wire in [
        "on-demand",
        "provisioned-concurrency",
        "snap-start",
        "lambda-managed-instances",
        "x",
    ] {
        assert_eq!(InitType::from(wire.to_owned()).to_string(), wire);
    }
    for wire in ["init", "invoke", "snap-start", "y"] {
        assert_eq!(Phase::from(wire.to_owned()).to_string(), wire);
    }
    assert!(Status::Success.is_success());
    assert!(!Status::Other("success ".to_owned()).is_success());
}

#[test]
fn type_names_match_the_wire() {
    let batch = parse_batch(include_bytes!(
        "../../../testdata/telemetry/mixed-batch.json"
    ))
    .unwrap();
    let names: Vec<&str> = batch.records.iter().map(Record::type_name).collect();
    assert_eq!(
        names,
        [
            "platform.telemetrySubscription",
            "platform.initStart",
            "extension",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.start",
            "function",
            "function",
            "platform.runtimeDone",
            "platform.report",
            "platform.start",
            "platform.runtimeDone",
            "platform.logsDropped",
        ]
    );
}

#[test]
fn errors_say_what_was_wrong_and_keep_the_cause() {
    use std::error::Error as _;
    let not_array = parse_batch(b"{}").unwrap_err();
    assert_eq!(not_array.to_string(), "telemetry batch is not a json array");
    assert!(
        not_array
            .source()
            .unwrap()
            .to_string()
            .contains("expected a json array")
    );
    let invalid = parse_batch(b"[").unwrap_err();
    assert_eq!(invalid.to_string(), "telemetry batch is not valid json");
    assert!(invalid.source().is_some());
}
