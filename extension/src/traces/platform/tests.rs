//! The platform span tree from a cold invocation's records, and the edge cases: no or a
//! bad trace header, a report without a start, too many open invocations.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::telemetry::record::Span as PlatformSpan;

const T0: u64 = 1_764_300_000_000_000_000;
const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn tracing(value: &str) -> Option<TraceContext> {
    Some(TraceContext {
        kind: "X-Amzn-Trace-Id".into(),
        value: value.into(),
        span_id: Some("0a1b2c3d4e5f6071".into()),
    })
}

fn cold_invocation(tracer: &mut PlatformTracer, header: &str, status: Status) -> Vec<Span> {
    let mut out = Vec::new();
    let records = [
        Record::InitStart {
            initialization_type: InitType::OnDemand,
            phase: Phase::Init,
            time_unix_nanos: Some(T0),
        },
        Record::InitReport {
            initialization_type: InitType::OnDemand,
            phase: Phase::Init,
            status: Status::Success,
            duration_ms: 120.0,
        },
        Record::Start {
            request_id: "r1".into(),
            tracing: tracing(header),
            time_unix_nanos: Some(T0 + 200_000_000),
        },
        Record::RuntimeDone {
            request_id: "r1".into(),
            status: status.clone(),
            error_type: (!status.is_success()).then(|| "Handler.Error".to_owned()),
            duration_ms: Some(50.0),
            produced_bytes: Some(12),
            spans: vec![
                PlatformSpan {
                    name: "responseLatency".into(),
                    start: "2025-11-28T03:20:00.210Z".into(),
                    duration_ms: 40.0,
                },
                PlatformSpan {
                    name: "responseDuration".into(),
                    start: "2025-11-28T03:20:00.250Z".into(),
                    duration_ms: 0.5,
                },
            ],
            tracing: tracing(header),
        },
        Record::Report {
            request_id: "r1".into(),
            status,
            error_type: None,
            duration_ms: 60.0,
            billed_duration_ms: 61.0,
            memory_size_mb: 128.0,
            max_memory_used_mb: 40.0,
            init_duration_ms: Some(120.0),
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            tracing: tracing(header),
        },
    ];
    for record in &records {
        tracer.record(record, T0 + 999_000_000_000, &mut out);
    }
    out
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name} in {spans:?}"))
}

#[test]
fn a_cold_invocation_becomes_a_tree_under_lambdas_segment() {
    let mut tracer = PlatformTracer::new("orders");
    let spans = cold_invocation(&mut tracer, HEADER, Status::Success);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "orders",
            "Initialization",
            "Invocation",
            "responseLatency",
            "responseDuration",
            "Overhead"
        ]
    );
    let root = named(&spans, "orders");
    assert_eq!(
        root.trace_id.to_xray(),
        "1-5759e988-bd862e3fe1be46a994272793"
    );
    assert_eq!(
        root.parent_span_id.map(|p| p.to_hex()).as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert_eq!(
        root.span_id.to_hex(),
        "0a1b2c3d4e5f6071",
        "the platform's own span id"
    );
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(
        (root.start_unix_nanos, root.end_unix_nanos),
        (T0 + 200_000_000, T0 + 260_000_000)
    );
    assert_eq!(root.status, SpanStatus::Ok);
    assert_eq!(
        root.attribute("faas.invocation_id"),
        Some(&AttributeValue::Str("r1".into()))
    );
    assert_eq!(
        root.attribute("faas.coldstart"),
        Some(&AttributeValue::Bool(true))
    );
    assert!(
        spans
            .iter()
            .all(|s| s.sampled && s.trace_id == root.trace_id)
    );
    let init = named(&spans, "Initialization");
    assert_eq!(
        (init.start_unix_nanos, init.end_unix_nanos),
        (T0, T0 + 120_000_000)
    );
    let runtime = named(&spans, "Invocation");
    assert_eq!(runtime.parent_span_id, Some(root.span_id));
    assert_eq!(runtime.end_unix_nanos, T0 + 250_000_000);
    let latency = named(&spans, "responseLatency");
    assert_eq!(latency.parent_span_id, Some(runtime.span_id));
    assert_eq!(
        latency.end_unix_nanos - latency.start_unix_nanos,
        40_000_000
    );
    let overhead = named(&spans, "Overhead");
    assert_eq!(
        (overhead.start_unix_nanos, overhead.end_unix_nanos),
        (T0 + 250_000_000, T0 + 260_000_000)
    );
    assert_eq!(tracer.take_malformed_headers(), 0);
    // The next invocation is warm: no Initialization.
    let warm = cold_invocation(&mut PlatformTracer::new("orders"), HEADER, Status::Success);
    assert_eq!(warm.len(), 6);
    let mut out = Vec::new();
    tracer.record(
        &Record::Start {
            request_id: "r2".into(),
            tracing: tracing(HEADER),
            time_unix_nanos: Some(T0),
        },
        T0,
        &mut out,
    );
    assert!(out.is_empty(), "spans come with the report");
}

#[test]
fn errors_and_missing_or_bad_headers() {
    let mut tracer = PlatformTracer::new("f");
    let failed = cold_invocation(&mut tracer, HEADER, Status::Error);
    assert_eq!(
        named(&failed, "f").status,
        SpanStatus::Error("error".into())
    );
    assert_eq!(
        named(&failed, "Invocation").status,
        SpanStatus::Error("Handler.Error".into())
    );
    let mut tracer = PlatformTracer::new("f");
    let unreadable = cold_invocation(&mut tracer, "Root=garbage", Status::Success);
    assert_eq!(
        tracer.take_malformed_headers(),
        1,
        "counted once per invocation"
    );
    assert!(
        unreadable.iter().all(|s| !s.sampled),
        "no header: a new trace, not sampled"
    );
    assert_eq!(named(&unreadable, "f").parent_span_id, None);
    let unsampled = cold_invocation(
        &mut PlatformTracer::new("f"),
        &HEADER.replace("Sampled=1", "Sampled=0"),
        Status::Success,
    );
    assert!(unsampled.iter().all(|s| !s.sampled));
}

#[test]
fn a_report_alone_still_makes_a_span_and_open_invocations_are_bounded() {
    let mut tracer = PlatformTracer::new("f");
    let now = T0 + 5_000_000_000;
    let mut out = Vec::new();
    let report = Record::Report {
        request_id: "lonely".into(),
        status: Status::Timeout,
        error_type: None,
        duration_ms: 3_000.0,
        billed_duration_ms: 3_000.0,
        memory_size_mb: 128.0,
        max_memory_used_mb: 20.0,
        init_duration_ms: None,
        restore_duration_ms: None,
        billed_restore_duration_ms: None,
        tracing: None,
    };
    tracer.record(&report, now, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].start_unix_nanos, out[0].end_unix_nanos),
        (now - 3_000_000_000, now)
    );
    assert_eq!(out[0].status, SpanStatus::Error("timeout".into()));
    for i in 0..MAX_OPEN_INVOCATIONS + 3 {
        let start = Record::Start {
            request_id: format!("r{i}"),
            tracing: None,
            time_unix_nanos: Some(T0),
        };
        tracer.record(&start, T0, &mut out);
    }
    assert_eq!(tracer.take_forgotten(), 3);
    assert!(tracer.invocation_of(TraceId([9; 16])).is_none());
}

#[test]
fn a_restore_becomes_a_restore_span_with_new_ids() {
    let batch = br#"[
        {"time":"2026-12-04T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"snap-start","phase":"init"}},
        {"time":"2026-12-04T10:00:00.300Z","type":"platform.initReport","record":{"initializationType":"snap-start","phase":"init","status":"success","metrics":{"durationMs":300}}},
        {"time":"2026-12-04T13:00:00.000Z","type":"platform.restoreStart","record":{}},
        {"time":"2026-12-04T13:00:00.150Z","type":"platform.restoreReport","record":{"status":"success","metrics":{"durationMs":150}}},
        {"time":"2026-12-04T13:00:00.200Z","type":"platform.start","record":{"requestId":"r1","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}},
        {"time":"2026-12-04T13:00:00.250Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60,"restoreDurationMs":150}}}
    ]"#;
    let records = crate::telemetry::record::parse_batch(batch)
        .unwrap()
        .records;
    let mut copies = Vec::new();
    for _ in 0..2 {
        // Two sandboxes restored from one snapshot: the same state before the restore.
        let mut tracer = PlatformTracer::new("fn");
        let mut spans = Vec::new();
        for record in &records {
            tracer.record(record, 0, &mut spans);
        }
        copies.push(spans);
    }
    let spans = &copies[0];
    assert!(
        spans.iter().all(|s| s.name != "Initialization"),
        "the init was another sandbox's"
    );
    let restore = named(spans, "Restore");
    let start = 1_796_389_200_000_000_000u64;
    assert_eq!(restore.start_unix_nanos, start);
    assert_eq!(restore.end_unix_nanos, start + 150_000_000);
    let root = named(spans, "fn");
    assert_eq!(restore.parent_span_id, Some(root.span_id));
    assert_eq!(
        root.attributes
            .iter()
            .find(|(k, _)| k == "faas.coldstart")
            .map(|(_, v)| v.clone()),
        Some(AttributeValue::Bool(true))
    );
    let ids = |spans: &[Span]| -> Vec<SpanId> {
        spans
            .iter()
            .filter(|s| s.name != "fn")
            .map(|s| s.span_id)
            .collect()
    };
    assert!(
        ids(&copies[0])
            .iter()
            .all(|id| !ids(&copies[1]).contains(id)),
        "span ids drawn after a restore differ between copies"
    );
}
