//! The X-Ray exporter: sampled spans as X-Ray segment documents, sent over UDP to the
//! X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`), one document per datagram behind the daemon's
//! `{"format": "json", "version": 1}` header line. It sits beside the OTLP exporter at the
//! end of the tracing pipeline.
//!
//! - Shape (`pack`). Spans are grouped by trace; a span whose parent is in the batch is
//!   nested in that parent's `subsegments`. In Lambda the function's segment belongs to
//!   the Lambda service: it writes `AWS::Lambda::Function` itself, and the `Parent=` of the
//!   trace header is that segment's id. So, as the X-Ray SDKs do in Lambda (their "facade
//!   segment" is never sent), a span whose parent is outside the batch goes out as an
//!   independent subsegment document (`type: "subsegment"`, `parent_id`, `trace_id`) and
//!   X-Ray attaches it under the function segment. Sending it as a segment with a
//!   `parent_id` instead would add a second node for the same function to the trace map.
//!   Only a span with no parent at all (the extension made the trace) becomes a segment,
//!   named after the service, with `origin: "AWS::Lambda::Function"`.
//! - Errors (`segment`). An error status sets `fault` (X-Ray's server-side failure) on the
//!   span serving the invocation (kind `Server`, or a trace root) and `error` on any other:
//!   a failed step inside the function may have been handled, and X-Ray's fault rate
//!   should count failed invocations, not every failed step. An HTTP status, when
//!   present, decides as X-Ray reads it (429 throttle, 4xx error, 5xx fault). The message
//!   (or `exception.*`, from the span's attributes or the OpenTelemetry SDKs' `exception`
//!   event) goes into `cause.exceptions`. Other events and links have no place in X-Ray:
//!   the OTLP exporter carries them.
//! - Attributes (`attributes`). HTTP and AWS-call semantic attributes fill `http` and
//!   `aws`; other string, number and boolean values become annotations (indexed, keys
//!   sanitized to `[A-Za-z0-9_]`, at most 50 per trace, across batches); the rest (long
//!   strings, NaN, clashing keys, annotations past the trace's 50) goes into
//!   `metadata.default`. The resource goes
//!   into the top document's `metadata.default` as `otel.resource.*` (a segment also takes
//!   `aws.account_id` and `service.version` from it); a span an OpenTelemetry SDK sent
//!   carries its sender's resource the same way, and its scope as `otel.scope.*`. Array
//!   attributes go into metadata, typed.
//! - Size (`pack`). A datagram is at most 64,000 bytes. When a tree does not fit, its
//!   largest subtrees are sent as independent subsegments; when one span does not fit,
//!   its exception message, metadata, annotations, `http` and `aws` are cut in that order
//!   (counted in `SpansTruncated`). What still cannot be sent is counted dropped; nothing
//!   panics.
//! - Writing (`json`). Entities borrow from the spans and are written as JSON directly,
//!   keys in the sorted order of a JSON map, with no intermediate `serde_json::Value`:
//!   each entity's size is counted once and each document written once.

pub mod address;
pub mod attributes;
mod json;
pub mod pack;
pub mod segment;
pub mod udp;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod schema;
#[cfg(test)]
mod size_tests;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Instant;

pub use address::{DAEMON_ADDRESS_ENV, DEFAULT_DAEMON_ADDRESS, parse_daemon_address};
pub use pack::{Document, Encoded, TraceAnnotations, encode, encode_with};
pub use udp::{HEADER, MAX_DATAGRAM_BYTES, UdpError, UdpSender, frame};

use super::export::{SpanExporter, SpanReport};
use super::span::{Resource, Span};
use crate::sink::SinkFuture;

/// Sends spans to the X-Ray daemon over UDP.
#[derive(Debug)]
pub struct XrayExporter {
    sender: UdpSender,
    /// Annotations already given to recent traces (50 per trace are indexed).
    annotations: TraceAnnotations,
}

impl XrayExporter {
    /// An exporter to the daemon at `daemon` (see `parse_daemon_address`).
    pub fn new(daemon: SocketAddr) -> Self {
        XrayExporter {
            sender: UdpSender::new(daemon),
            annotations: TraceAnnotations::default(),
        }
    }

    /// The daemon's address.
    pub fn daemon(&self) -> SocketAddr {
        self.sender.daemon()
    }

    async fn send(&mut self, spans: &[Span], resource: &Resource, deadline: Instant) -> SpanReport {
        let max = MAX_DATAGRAM_BYTES - HEADER.len();
        let encoded = encode_with(spans, resource, max, &mut self.annotations);
        let mut report = SpanReport::dropped(encoded.dropped);
        report.truncated = encoded.truncated;
        let mut failure = None;
        for document in &encoded.documents {
            let sent = if Instant::now() >= deadline {
                Err(UdpError::Deadline)
            } else {
                self.sender.send(&frame(&document.json), deadline).await
            };
            match sent {
                Ok(()) => report.exported += document.spans,
                Err(error) => {
                    report.dropped += document.spans;
                    failure.get_or_insert(error);
                }
            }
        }
        if report.dropped > 0 {
            let error = match &failure {
                Some(e) => match std::error::Error::source(e) {
                    Some(source) => format!("{e}: {source}"),
                    None => e.to_string(),
                },
                None => "too large".to_owned(),
            };
            tracing::warn!(
                dropped = report.dropped,
                exported = report.exported,
                error = %error,
                "x-ray: spans dropped"
            );
        }
        report
    }
}

impl SpanExporter for XrayExporter {
    fn name(&self) -> &'static str {
        "xray"
    }

    fn export<'a>(
        &'a mut self,
        spans: &'a [Span],
        resource: &'a Resource,
        deadline: Instant,
    ) -> SinkFuture<'a, SpanReport> {
        Box::pin(self.send(spans, resource, deadline))
    }
}
