//! The OTLP/HTTP receiver handlers' OpenTelemetry SDKs export to: `POST /v1/traces` and
//! `POST /v1/metrics` (when metrics are on) on 127.0.0.1 (port 4318 unless the caller picks
//! another), protobuf or JSON, optionally gzip. Decoded spans and data points go to the
//! pipeline over bounded channels with `try_send`; a full queue is answered 503 and counted. `GET /v1/stats` serves a JSON snapshot the caller
//! provides.
//!
//! Answers follow the OTLP/HTTP spec: 200 with an `ExportTraceServiceResponse` in the
//! request's encoding (a partial success names the spans rejected for bad ids), 400 for an
//! undecodable body, 404, 405, 413 above the body limit (compressed or not), 415 for an
//! unknown `Content-Type` or `Content-Encoding`, 503 when the pipeline is full; 400, 413
//! and 503 carry a `google.rpc.Status`.
//!
//! The stats source is a function (`Arc<dyn Fn() -> serde_json::Value>`) rather than a
//! watch channel: it is called per request, so it can read live atomics and nobody has to
//! keep a snapshot up to date.

use std::hash::RandomState;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{
    ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::mpsc;

use super::counters::IntakeCounters;
use super::decode::{self, DecodeError, Encoding};
use super::rpc_status::{self, RpcStatus};
use crate::otlp_metrics::{self, Point, decode::DimensionRule};
use crate::traces::span::Span;

/// The OTLP/HTTP port.
pub const DEFAULT_PORT: u16 = 4318;
/// The largest request body accepted, before and after decompression.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The traces path.
pub const TRACES_PATH: &str = "/v1/traces";
/// The metrics path.
pub const METRICS_PATH: &str = "/v1/metrics";
/// The stats path.
pub const STATS_PATH: &str = "/v1/stats";

/// Where `GET /v1/stats` reads its answer, called once per request.
pub type StatsSource = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The receiver's state and router; cheap to clone (one per connection).
#[derive(Clone)]
pub struct OtlpIntake {
    spans: mpsc::Sender<Vec<Span>>,
    counters: Arc<IntakeCounters>,
    stats: StatsSource,
    metrics: Option<Arc<MetricsRoute>>,
    max_body: usize,
}

/// Where `/v1/metrics` sends the points it decodes, and how it decodes them.
#[derive(Debug)]
struct MetricsRoute {
    points: mpsc::Sender<Vec<Point>>,
    rule: DimensionRule,
    /// Seeds the stream hash, once per process.
    keys: RandomState,
}

impl std::fmt::Debug for OtlpIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpIntake")
            .field("counters", &self.counters)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl OtlpIntake {
    /// A receiver handing spans to `spans`, counting into `counters`, serving `stats`.
    pub fn new(
        spans: mpsc::Sender<Vec<Span>>,
        counters: Arc<IntakeCounters>,
        stats: StatsSource,
    ) -> Self {
        OtlpIntake {
            spans,
            counters,
            stats,
            metrics: None,
            max_body: MAX_BODY_BYTES,
        }
    }

    /// Also takes OTLP metrics on `/v1/metrics`, handing their points to `points`, with
    /// dimensions chosen by `rule`.
    pub fn with_metrics(mut self, points: mpsc::Sender<Vec<Point>>, rule: DimensionRule) -> Self {
        self.metrics = Some(Arc::new(MetricsRoute {
            points,
            rule,
            keys: RandomState::new(),
        }));
        self
    }

    /// Changes the body limit (default [`MAX_BODY_BYTES`]).
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The counters this intake adds to.
    pub fn counters(&self) -> &Arc<IntakeCounters> {
        &self.counters
    }

    /// Answers one request; never fails, never panics. Tests call it without a socket.
    pub async fn route<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let method = request.method();
        match request.uri().path() {
            TRACES_PATH if method == Method::POST => self.traces(request).await,
            METRICS_PATH if method == Method::POST => match &self.metrics {
                Some(route) => self.metrics(route, request).await,
                None => text(StatusCode::NOT_FOUND, "otlp metrics are off"),
            },
            STATS_PATH if method == Method::GET => self.stats(),
            TRACES_PATH | METRICS_PATH => not_allowed("POST"),
            STATS_PATH => not_allowed("GET"),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// The body of a POST, checked and decompressed, or the error answer to send.
    async fn body<B>(&self, request: Request<B>) -> Result<(Encoding, Bytes), Response<Full<Bytes>>>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let headers = request.headers();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let Some(encoding) = header(CONTENT_TYPE).and_then(Encoding::from_content_type) else {
            self.counters.malformed();
            return Err(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be application/x-protobuf or application/json",
            ));
        };
        let gzip = match header(CONTENT_ENCODING).map(str::trim) {
            None | Some("") => false,
            Some(value) if value.eq_ignore_ascii_case("identity") => false,
            Some(value) if value.eq_ignore_ascii_case("gzip") => true,
            Some(_) => {
                self.counters.malformed();
                return Err(text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "content-encoding must be gzip or identity",
                ));
            }
        };
        let declared = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body as u64) {
            return Err(self.too_large(encoding));
        }
        let body = match Limited::new(request.into_body(), self.max_body)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(self.too_large(encoding));
            }
            Err(error) => {
                let message = format!("unreadable body: {error}");
                return Err(self.bad_request(encoding, &message));
            }
        };
        if !gzip {
            return Ok((encoding, body));
        }
        match decode::gunzip(&body, self.max_body) {
            Ok(plain) => Ok((encoding, Bytes::from(plain))),
            Err(DecodeError::TooLarge { .. }) => Err(self.too_large(encoding)),
            Err(error) => Err(self.bad_request(encoding, &error.to_string())),
        }
    }

    /// The request's export message, decoded by `decode`, or the error answer to send.
    async fn message<B, M>(
        &self,
        request: Request<B>,
        decode: fn(&[u8], Encoding) -> Result<M, DecodeError>,
    ) -> Result<(Encoding, M), Response<Full<Bytes>>>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (encoding, body) = self.body(request).await?;
        match decode(&body, encoding) {
            Ok(message) => Ok((encoding, message)),
            Err(error) => Err(self.bad_request(encoding, &error.to_string())),
        }
    }

    async fn traces<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (encoding, request) = match self.message(request, decode::decode_request).await {
            Ok(decoded) => decoded,
            Err(answer) => return answer,
        };
        let decoded = decode::spans_from_request(request);
        self.counters.rejected(decoded.rejected);
        let count = decoded.spans.len() as u64;
        if count > 0 {
            if let Err(error) = self.spans.try_send(decoded.spans) {
                self.counters.dropped(count);
                tracing::debug!(count, %error, "otlp intake: pipeline busy, spans dropped");
                return busy(encoding);
            }
            self.counters.received(count);
        }
        success(encoding, decoded.rejected)
    }

    async fn metrics<B>(&self, route: &MetricsRoute, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (encoding, request) = match self.message(request, otlp_metrics::decode_request).await {
            Ok(decoded) => decoded,
            Err(answer) => return answer,
        };
        let decoded = otlp_metrics::points_from_request(request, &route.rule, &route.keys);
        self.counters.points_rejected(decoded.rejected);
        let count = decoded.points.len() as u64;
        if count > 0 {
            if let Err(error) = route.points.try_send(decoded.points) {
                self.counters.points_dropped(count);
                tracing::debug!(count, %error, "otlp intake: pipeline busy, data points dropped");
                return busy(encoding);
            }
            self.counters.points_received(count);
        }
        metrics_success(encoding, decoded.rejected, decoded.first_error)
    }

    fn stats(&self) -> Response<Full<Bytes>> {
        let body = serde_json::to_vec(&(self.stats)()).unwrap_or_default();
        with_type(StatusCode::OK, "application/json", body)
    }

    fn too_large(&self, encoding: Encoding) -> Response<Full<Bytes>> {
        self.counters.malformed();
        let message = format!("the body is larger than {} bytes", self.max_body);
        let code = rpc_status::RESOURCE_EXHAUSTED;
        status(encoding, StatusCode::PAYLOAD_TOO_LARGE, code, &message)
    }

    fn bad_request(&self, encoding: Encoding, message: &str) -> Response<Full<Bytes>> {
        self.counters.malformed();
        tracing::debug!(%message, "otlp intake: undecodable request");
        let code = rpc_status::INVALID_ARGUMENT;
        status(encoding, StatusCode::BAD_REQUEST, code, message)
    }
}

/// 200 with an `ExportTraceServiceResponse`, naming rejected spans if any.
fn success(encoding: Encoding, rejected: u64) -> Response<Full<Bytes>> {
    let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: "spans with an invalid trace, span or parent id".to_owned(),
    });
    let body = match (encoding, partial_success) {
        (Encoding::Json, None) => b"{}".to_vec(),
        (Encoding::Json, Some(partial)) => {
            let response = ExportTraceServiceResponse {
                partial_success: Some(partial),
            };
            serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec())
        }
        (Encoding::Protobuf, partial_success) => {
            ExportTraceServiceResponse { partial_success }.encode_to_vec()
        }
    };
    with_type(StatusCode::OK, encoding.content_type(), body)
}

/// 503: the pipeline's queue is full.
fn busy(encoding: Encoding) -> Response<Full<Bytes>> {
    let mut response = status(
        encoding,
        StatusCode::SERVICE_UNAVAILABLE,
        rpc_status::UNAVAILABLE,
        "the pipeline is busy: retry later",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 200 with an `ExportMetricsServiceResponse`, naming rejected data points if any.
fn metrics_success(
    encoding: Encoding,
    rejected: u64,
    why: Option<&'static str>,
) -> Response<Full<Bytes>> {
    let partial_success = (rejected > 0).then(|| ExportMetricsPartialSuccess {
        rejected_data_points: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: why.unwrap_or("invalid data points").to_owned(),
    });
    let response = ExportMetricsServiceResponse { partial_success };
    let body = match encoding {
        Encoding::Json if response.partial_success.is_none() => b"{}".to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
        Encoding::Protobuf => response.encode_to_vec(),
    };
    with_type(StatusCode::OK, encoding.content_type(), body)
}

/// An error answer carrying a `google.rpc.Status` in the request's encoding.
fn status(encoding: Encoding, http: StatusCode, code: i32, message: &str) -> Response<Full<Bytes>> {
    let status = RpcStatus {
        code,
        message: message.to_owned(),
    };
    let body = match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&status).unwrap_or_default(),
    };
    with_type(http, encoding.content_type(), body)
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn text(http: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    with_type(
        http,
        "text/plain; charset=utf-8",
        message.as_bytes().to_vec(),
    )
}

fn with_type(http: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = http;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
