//! The trace context Lambda hands out: the X-Ray trace header
//! (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`) found in
//! `platform.start` / `runtimeDone` / `report` records' `tracing` and in
//! `_X_AMZN_TRACE_ID`, read with OpenTelemetry's AWS X-Ray propagator. A header the
//! propagator cannot read is `None` (the caller counts it), never a panic.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_aws::trace::XrayPropagator;

use super::span::{SpanId, TraceId};

/// The header name the propagator reads.
const HEADER: &str = "x-amzn-trace-id";

/// A parsed X-Ray trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHeader {
    /// `Root`.
    pub trace_id: TraceId,
    /// `Parent`: the span (segment) the invocation runs under; `None` when the header has
    /// no parent (local tools): the invocation is then the trace's root.
    pub parent: Option<SpanId>,
    /// `Sampled=1`; a header without a decision (`Sampled=?` or none, from local tools) is
    /// sampled: the extension is the first to decide.
    pub sampled: bool,
}

/// Reads an X-Ray trace header value.
pub fn parse_xray(value: &str) -> Option<TraceHeader> {
    if value.len() > 1_024 {
        return None;
    }
    let carrier = HashMap::from([(HEADER.to_owned(), value.to_owned())]);
    let context = XrayPropagator::default().extract(&carrier);
    let span = context.span();
    let span_context = span.span_context();
    let field = |name: &str| {
        value
            .split(';')
            .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
    };
    // The propagator accepts any version digit; X-Ray trace ids are version 1.
    let trace_id = TraceId::from_xray(field("Root")?)?;
    if span_context.is_valid() {
        return Some(TraceHeader {
            trace_id,
            parent: Some(SpanId(span_context.span_id().to_bytes())),
            sampled: span_context.is_sampled(),
        });
    }
    // The propagator wants a parent; a header without one is still a trace.
    if field("Parent").is_some() {
        return None;
    }
    Some(TraceHeader {
        trace_id,
        parent: None,
        sampled: field("Sampled") != Some("0"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lambda_headers_parse_and_bad_ones_do_not() {
        let header = parse_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        );
        let header = header.unwrap();
        assert_eq!(
            header.trace_id.to_xray(),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(
            header.parent.map(|p| p.to_hex()).as_deref(),
            Some("53995c3f42cd8ad8")
        );
        assert!(header.sampled);
        let unsampled = parse_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1",
        );
        assert_eq!(unsampled.map(|h| h.sampled), Some(false));
        // Local tools send a root alone, or an undecided sampling.
        let root_only = parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!((root_only.parent, root_only.sampled), (None, true));
        let undecided = parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?").unwrap();
        assert!(undecided.sampled);
        let declined = parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0").unwrap();
        assert!(!declined.sampled);
        for bad in [
            "",
            "Root=1-5759e988;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=zz995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1",
            "garbage;;;===",
            "Root=1-é759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8;Sampled=1",
        ] {
            assert_eq!(parse_xray(bad), None, "{bad}");
        }
        assert_eq!(parse_xray(&"Root=".repeat(1_000)), None);
    }
}
