//! `OtlpExporter`: the `SpanExporter` that posts spans as OTLP/HTTP protobuf
//! (`application/x-protobuf`, HTTP/1.1) to a collector. All retries happen inside
//! `export`, which returns by its deadline: 429/502/503/504 and connection failures are
//! retried with backoff (a `Retry-After` in seconds is honoured when it fits before the
//! deadline), any other status drops the batch, and a partial success's `rejected_spans`
//! count as dropped.
//! `https://` endpoints are supported (see `transport`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request};
use liftwatch::retry::{self, Attempt, Backoff, Failed, Last, Policy};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::config::OtlpConfig;
use super::encode;
use super::retry::{self as status, Verdict};
use super::rpc_status::RpcStatus;
use super::transport::Transport;
use crate::sink::SinkFuture;
use crate::traces::export::{SpanExporter, SpanReport};
use crate::traces::span::{Resource, Span};

/// The largest response body read (a collector's answer is a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const PROTOBUF: &str = "application/x-protobuf";
const AGENT: &str = concat!("liftwatch/", env!("CARGO_PKG_VERSION"));
/// Waits between attempts: 50 ms doubling up to 2 s.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(50),
    max: Duration::from_secs(2),
};

/// Exports spans to an OTLP/HTTP traces endpoint.
#[derive(Debug)]
pub struct OtlpExporter {
    transport: Transport,
    config: OtlpConfig,
    backoff: Backoff,
}

impl OtlpExporter {
    /// An exporter for `config`. For `https://` the system's root certificates are read
    /// at the first export; without a usable one every export fails and is counted.
    pub fn new(config: OtlpConfig) -> Self {
        OtlpExporter {
            transport: Transport::new(config.is_https()),
            config,
            backoff: BACKOFF,
        }
    }

    /// Replaces the retry backoff (tests use short waits).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &OtlpConfig {
        &self.config
    }

    /// Posts `body` (holding `count` spans) until accepted, refused, or out of time.
    async fn send(&self, body: Bytes, count: u64, deadline: Instant) -> SpanReport {
        let endpoint = &self.config.endpoint;
        let policy = Policy::until(deadline)
            .with_backoff(self.backoff)
            .with_attempt_limit(self.config.timeout);
        let outcome = retry::run(&policy, tokio::time::sleep, |_, _| {
            self.attempt(body.clone())
        })
        .await;
        let error = match outcome {
            Ok(rejected) => {
                let rejected = rejected.min(count);
                if rejected > 0 {
                    tracing::warn!(%endpoint, rejected, "otlp collector rejected spans");
                }
                return SpanReport {
                    exported: count - rejected,
                    dropped: rejected,
                    truncated: 0,
                };
            }
            Err(Failed::Rejected(error)) => {
                tracing::warn!(%endpoint, %error, count, "otlp export refused: spans dropped");
                return SpanReport::dropped(count);
            }
            Err(Failed::GaveUp(Last::NotStarted)) => "no time for an attempt".to_owned(),
            Err(Failed::GaveUp(Last::Failed(why))) => why,
            Err(Failed::GaveUp(Last::TimedOut(timeout))) => format!("no answer within {timeout:?}"),
        };
        tracing::warn!(%endpoint, %error, count, "otlp export out of time: spans dropped");
        SpanReport::dropped(count)
    }

    /// One POST: done with the number of spans the collector rejected, or why not.
    async fn attempt(&self, body: Bytes) -> Attempt<u64, String> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.config.endpoint.clone();
        let headers = request.headers_mut();
        for (name, value) in &self.config.headers {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));

        let response = match self.transport.request(request).await {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Retry {
                    error: liftwatch::error_chain(&error),
                    after: None,
                };
            }
        };
        let (parts, body) = response.into_parts();
        let verdict = status::verdict(parts.status);
        let body = match Limited::new(body, MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            // A 2xx whose body broke off still means the spans arrived.
            Err(_) if verdict == Verdict::Accepted => Bytes::new(),
            Err(error) => {
                return Attempt::Retry {
                    error: format!("response body failed: {error}"),
                    after: None,
                };
            }
        };
        match verdict {
            Verdict::Accepted => Attempt::Done(rejected_spans(&body)),
            Verdict::Retry => Attempt::Retry {
                error: format!("collector answered {}: {}", parts.status, message(&body)),
                after: status::retry_after(parts.headers.get(RETRY_AFTER)),
            },
            Verdict::Refused => Attempt::Rejected(format!(
                "collector answered {}: {}",
                parts.status,
                message(&body)
            )),
        }
    }
}

impl SpanExporter for OtlpExporter {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export<'a>(
        &'a mut self,
        spans: &'a [Span],
        resource: &'a Resource,
        deadline: Instant,
    ) -> SinkFuture<'a, SpanReport> {
        Box::pin(async move {
            if spans.is_empty() {
                return SpanReport::default();
            }
            let body = Bytes::from(encode::encode(spans, resource));
            self.send(body, spans.len() as u64, deadline).await
        })
    }
}

/// `partial_success.rejected_spans` of a protobuf `ExportTraceServiceResponse` (0 for an
/// empty or unreadable body: the status already said the spans were accepted).
fn rejected_spans(body: &[u8]) -> u64 {
    ExportTraceServiceResponse::decode(body)
        .ok()
        .and_then(|response| response.partial_success)
        .map_or(0, |partial| {
            u64::try_from(partial.rejected_spans).unwrap_or(0)
        })
}

/// A collector's error message: a `google.rpc.Status` if the body is one, else the text.
fn message(body: &[u8]) -> String {
    match RpcStatus::decode(body) {
        Ok(status) if !status.message.is_empty() => status.message,
        _ => String::from_utf8_lossy(body).chars().take(256).collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    use super::*;

    #[test]
    fn partial_success_counts_are_read_from_the_response() {
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "bad ids".into(),
            }),
        };
        assert_eq!(rejected_spans(&response.encode_to_vec()), 3);
        assert_eq!(rejected_spans(b""), 0);
        assert_eq!(rejected_spans(b"\xff\xff"), 0);
        let negative = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: -1,
                error_message: String::new(),
            }),
        };
        assert_eq!(rejected_spans(&negative.encode_to_vec()), 0);
    }

    #[test]
    fn error_messages_come_from_a_status_or_the_text() {
        let status = RpcStatus {
            code: 3,
            message: "span too large".into(),
        };
        assert_eq!(message(&status.encode_to_vec()), "span too large");
        assert_eq!(message(b"plain text error"), "plain text error");
    }

    #[tokio::test]
    async fn https_endpoints_build_with_the_system_roots_and_empty_batches_send_nothing() {
        let config = OtlpConfig::new("https://collector.invalid/v1/traces").unwrap();
        let mut exporter = OtlpExporter::new(config);
        assert!(matches!(exporter.transport, Transport::Https(_)));
        let report = exporter
            .export(&[], &Resource::default(), Instant::now())
            .await;
        assert_eq!(report, SpanReport::default());
    }
}
