//! The collector: statistics from platform and handler spans, re-parenting, the bounded
//! buffer, and unsampled or export-less spans that only count.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::telemetry::record::{Status, TraceContext};
use crate::traces::span::{SpanId, SpanKind};

const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn tracing(header: &str) -> Option<TraceContext> {
    Some(TraceContext {
        kind: "X-Amzn-Trace-Id".into(),
        value: header.into(),
        span_id: None,
    })
}

fn start(id: &str, header: &str) -> Record {
    Record::Start {
        request_id: id.into(),
        tracing: tracing(header),
        time_unix_nanos: Some(1_000_000_000),
    }
}

fn report(id: &str, status: Status) -> Record {
    Record::Report {
        request_id: id.into(),
        status,
        error_type: None,
        duration_ms: 10.0,
        billed_duration_ms: 10.0,
        memory_size_mb: 128.0,
        max_memory_used_mb: 30.0,
        init_duration_ms: None,
        restore_duration_ms: None,
        billed_restore_duration_ms: None,
        tracing: None,
    }
}

fn handler_span(trace: TraceId, parent: Option<SpanId>, sampled: bool) -> Span {
    Span {
        trace_id: trace,
        span_id: SpanId([5; 8]),
        parent_span_id: parent,
        name: "db.query".into(),
        kind: SpanKind::Client,
        start_unix_nanos: 1_000_000_000,
        end_unix_nanos: 1_005_000_000,
        status: SpanStatus::Unset,
        attributes: Vec::new(),
        sampled,
        detail: None,
    }
}

fn series(collector: &mut TraceCollector) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    collector.flush_into("f", &mut out);
    out.into_iter().map(|s| (s.name, s.values[0])).collect()
}

#[test]
fn handler_spans_nest_under_the_invocation_and_everything_counts_once() {
    let mut collector = TraceCollector::new("f", true);
    let trace = TraceId::from_xray("1-5759e988-bd862e3fe1be46a994272793").unwrap();
    let parent = SpanId::from_hex("53995c3f42cd8ad8");
    // The handler's span arrives before the telemetry that opens its invocation.
    collector.record_handler_span(handler_span(trace, parent, true));
    collector.record_telemetry(&start("r1", HEADER), 0);
    collector.record_telemetry(&report("r1", Status::Error), 0);
    collector.record_telemetry(&start("r2", &HEADER.replace("Sampled=1", "Sampled=0")), 0);
    collector.record_telemetry(&report("r2", Status::Success), 0);
    let spans = collector.take_spans();
    let runtime = spans.iter().find(|s| s.name == "f").unwrap();
    let handler = spans.iter().find(|s| s.name == "db.query").unwrap();
    assert_ne!(
        handler.parent_span_id, parent,
        "re-parented away from Lambda's segment"
    );
    assert!(handler.parent_span_id.is_some());
    assert_eq!(runtime.status, SpanStatus::Error("error".into()));
    assert_eq!(spans.len(), 2, "r2 is unsampled: counted, not exported");
    assert_eq!(
        series(&mut collector),
        [
            ("TracesGenerated".to_owned(), 2.0),
            ("TracesSampled".to_owned(), 1.0),
            ("TraceErrors".to_owned(), 1.0)
        ]
    );
    collector.exported(SpanReport {
        exported: 2,
        dropped: 0,
        truncated: 0,
    });
    let snapshot = collector.snapshot();
    assert_eq!(snapshot["traces_generated"], 2);
    assert_eq!(snapshot["spans_exported"], 2);
    assert_eq!(snapshot["last_trace_unix_ms"], 1_010);
    assert_eq!(series(&mut collector), [("SpansExported".to_owned(), 2.0)]);
    assert!(series(&mut collector).is_empty());
}

#[test]
fn handler_spans_take_their_invocation_s_sampling_decision_not_their_flag() {
    let mut collector = TraceCollector::new("f", true);
    let sampled = TraceId::from_xray("1-5759e988-bd862e3fe1be46a994272793").unwrap();
    let declined = TraceId::from_xray("1-5759e988-bd862e3fe1be46a994272794").unwrap();
    collector.record_telemetry(&start("r1", HEADER), 0);
    collector.record_telemetry(
        &start(
            "r2",
            &HEADER
                .replace("Sampled=1", "Sampled=0")
                .replace("a994272793", "a994272794"),
        ),
        0,
    );
    // Flagged unsampled by its sender, in a sampled trace; and the other way round.
    collector.record_handler_span(handler_span(sampled, None, false));
    collector.record_handler_span(handler_span(declined, None, true));
    let spans = collector.take_spans();
    let handler: Vec<TraceId> = spans
        .iter()
        .filter(|s| s.name == "db.query")
        .map(|s| s.trace_id)
        .collect();
    assert_eq!(handler, [sampled]);
}

#[test]
fn stats_count_handler_spans_as_they_arrive() {
    let mut collector = TraceCollector::new("f", true);
    for _ in 0..3 {
        collector.record_handler_span(handler_span(TraceId([2; 16]), None, true));
    }
    let snapshot = collector.snapshot();
    assert_eq!(snapshot["handler_spans_received"], 3, "before any flush");
    assert_eq!(snapshot["spans_buffered"], 3);
}

#[test]
fn the_buffer_is_bounded_and_without_an_exporter_spans_only_count() {
    let mut collector = TraceCollector::new("f", true);
    for _ in 0..MAX_BUFFERED_SPANS + 7 {
        collector.record_handler_span(handler_span(TraceId([1; 16]), None, true));
    }
    assert_eq!(collector.take_spans().len(), MAX_BUFFERED_SPANS);
    let counts = series(&mut collector);
    assert!(
        counts.contains(&("SpansDropped".to_owned(), 7.0)),
        "{counts:?}"
    );
    assert!(counts.contains(&("TracesGenerated".to_owned(), MAX_BUFFERED_SPANS as f64)));
    let mut silent = TraceCollector::new("f", false);
    silent.record_handler_span(handler_span(TraceId([1; 16]), None, true));
    assert!(silent.take_spans().is_empty());
    assert_eq!(
        series(&mut silent),
        [
            ("TracesGenerated".to_owned(), 1.0),
            ("TracesSampled".to_owned(), 1.0)
        ]
    );
}

#[test]
fn unreadable_headers_are_counted() {
    let mut collector = TraceCollector::new("f", true);
    collector.record_telemetry(&start("r1", "Root=nope"), 0);
    assert_eq!(collector.take_malformed(), 1);
    assert_eq!(collector.take_malformed(), 0);
}
