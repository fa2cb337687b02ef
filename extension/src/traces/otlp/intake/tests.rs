//! Tests for `intake`: the router without a socket, over protobuf, JSON and gzip bodies
//! and every error status.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use hyper::header::HeaderName;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::*;
use crate::traces::otlp::counters::IntakeSnapshot;
use crate::traces::otlp::encode;
use crate::traces::span::{AttributeValue, Resource, SpanId, SpanKind, SpanStatus, TraceId};

const JSON: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
  {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
   "name":"GET /orders","kind":2,"startTimeUnixNano":"1700000000000000000",
   "endTimeUnixNano":"1700000000500000000"},
  {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00f067aa0ba902b7",
   "parentSpanId":"b7ad6b7169203331","name":"SELECT","kind":3,
   "startTimeUnixNano":"1700000000100000000","endTimeUnixNano":"1700000000200000000",
   "attributes":[{"key":"db.rows","value":{"intValue":"12"}}]}
]}]}]}"#;

fn span(id: u8, parent: Option<u8>) -> Span {
    Span {
        trace_id: TraceId([0x11; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|p| SpanId([p; 8])),
        name: format!("span-{id}"),
        kind: SpanKind::Server,
        start_unix_nanos: 100,
        end_unix_nanos: 200,
        status: SpanStatus::Ok,
        attributes: vec![("k".into(), AttributeValue::Str("v".into()))],
        sampled: true,
        detail: None,
    }
}

/// A request, the status expected, and the answer's content type if checked.
type Case = (Request<Full<Bytes>>, u16, Option<&'static str>);

struct Harness {
    intake: OtlpIntake,
    spans: mpsc::Receiver<Vec<Span>>,
}

fn harness(capacity: usize) -> Harness {
    let (tx, rx) = mpsc::channel(capacity);
    let stats: StatsSource = Arc::new(|| serde_json::json!({"spans": 42}));
    Harness {
        intake: OtlpIntake::new(tx, Arc::default(), stats),
        spans: rx,
    }
}

impl Harness {
    fn counts(&self) -> IntakeSnapshot {
        self.intake.counters().snapshot()
    }
}

fn post(content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    request(
        Method::POST,
        TRACES_PATH,
        &[(CONTENT_TYPE, content_type)],
        body,
    )
}

fn request(
    method: Method,
    path: &str,
    headers: &[(HeaderName, &str)],
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    builder.body(Full::new(body.into())).unwrap()
}

async fn answer(response: Response<Full<Bytes>>) -> (StatusCode, String, Bytes) {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn protobuf_spans_reach_the_channel_and_get_an_empty_response() {
    let mut h = harness(4);
    let body = encode::encode(&[span(1, None), span(2, Some(1))], &Resource::default());
    let (status, content_type, reply) =
        answer(h.intake.route(post("application/x-protobuf", body)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-protobuf");
    let response = ExportTraceServiceResponse::decode(reply).unwrap();
    assert_eq!(response.partial_success, None);
    let spans = h.spans.try_recv().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].parent_span_id, Some(SpanId([1; 8])));
    assert_eq!(spans[1].name, "span-2");
    assert_eq!(h.counts().spans_received, 2);
}

#[tokio::test]
async fn json_spans_reach_the_channel_and_get_an_empty_json_object() {
    let mut h = harness(4);
    let post = post("application/json; charset=utf-8", JSON);
    let (status, content_type, reply) = answer(h.intake.route(post).await).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    assert_eq!(&reply[..], b"{}");
    let spans = h.spans.try_recv().unwrap();
    assert_eq!(spans[0].name, "GET /orders");
    assert_eq!(spans[0].kind, SpanKind::Server);
    assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
    assert_eq!(
        spans[1].attribute("db.rows"),
        Some(&AttributeValue::Int(12))
    );
    assert_eq!(spans[1].start_unix_nanos, 1_700_000_000_100_000_000);
}

#[tokio::test]
async fn gzip_bodies_are_accepted_in_both_encodings() {
    let mut h = harness(4);
    let proto = encode::encode(&[span(1, None)], &Resource::default());
    for (content_type, body) in [
        ("application/x-protobuf", gzip(&proto)),
        ("application/json", gzip(JSON.as_bytes())),
    ] {
        let headers = [(CONTENT_TYPE, content_type), (CONTENT_ENCODING, "gzip")];
        let req = request(Method::POST, TRACES_PATH, &headers, body);
        assert_eq!(h.intake.route(req).await.status(), StatusCode::OK);
    }
    assert_eq!(h.spans.try_recv().unwrap().len(), 1);
    assert_eq!(h.spans.try_recv().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_spans_are_reported_as_a_partial_success() {
    let mut h = harness(4);
    let mut request = encode::export_request(&[span(1, None), span(2, None)], &Resource::default());
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![1, 2, 3];
    let (status, _, reply) = answer(
        h.intake
            .route(post("application/x-protobuf", request.encode_to_vec()))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let partial = ExportTraceServiceResponse::decode(reply)
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert_eq!(h.spans.try_recv().unwrap().len(), 1);

    let bad_json = JSON.replace("00f067aa0ba902b7", "0000000000000000");
    let (status, _, reply) = answer(h.intake.route(post("application/json", bad_json)).await).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(
        json["partialSuccess"]["rejectedSpans"].as_i64(),
        Some(1),
        "{json}"
    );
    assert_eq!(
        h.counts(),
        IntakeSnapshot {
            spans_received: 2,
            spans_rejected: 2,
            spans_dropped: 0,
            malformed_requests: 0,
            connections_refused: 0,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn an_empty_request_is_a_success_that_sends_nothing() {
    let mut h = harness(4);
    let empty = ExportTraceServiceRequest::default().encode_to_vec();
    assert_eq!(
        h.intake
            .route(post("application/x-protobuf", empty))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        h.intake
            .route(post("application/json", "{}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert!(h.spans.try_recv().is_err());
}

#[tokio::test]
async fn a_full_or_closed_pipeline_answers_503_and_counts_the_drop() {
    let mut h = harness(1);
    let body = encode::encode(&[span(1, None), span(2, None)], &Resource::default());
    let first = h
        .intake
        .route(post("application/x-protobuf", body.clone()))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = h
        .intake
        .route(post("application/x-protobuf", body.clone()))
        .await;
    assert_eq!(second.headers()[RETRY_AFTER], "1");
    let (status, _, reply) = answer(second).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        RpcStatus::decode(reply).unwrap().code,
        rpc_status::UNAVAILABLE
    );
    assert_eq!(h.counts().spans_dropped, 2);

    h.spans.close();
    let closed = h.intake.route(post("application/json", JSON)).await;
    assert_eq!(closed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.counts().spans_dropped, 4);
    assert_eq!(h.counts().spans_received, 2);
}

/// A request to `path` with these `Content-Type` and `Content-Encoding` ("" for none).
fn raw(
    method: Method,
    path: &str,
    ct: &str,
    ce: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let headers: Vec<(HeaderName, &str)> = [(CONTENT_TYPE, ct), (CONTENT_ENCODING, ce)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    request(method, path, &headers, body)
}

#[tokio::test]
async fn every_error_status() {
    const JSON_TYPE: &str = "application/json";
    const PROTO_TYPE: &str = "application/x-protobuf";
    let h = harness(4);
    let bad_id = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#;
    let (post, t) = (Method::POST, TRACES_PATH);
    // (request, status, content type of the answer if checked)
    let cases: Vec<Case> = vec![
        (
            raw(post.clone(), t, PROTO_TYPE, "", &b"\x0a\xff\xff"[..]),
            400,
            Some(PROTO_TYPE),
        ),
        (
            raw(post.clone(), t, JSON_TYPE, "", "{not json"),
            400,
            Some(JSON_TYPE),
        ),
        (raw(post.clone(), t, JSON_TYPE, "", bad_id), 400, None),
        (raw(post.clone(), t, JSON_TYPE, "gzip", "{}"), 400, None),
        (raw(post.clone(), t, "text/plain", "", "x"), 415, None),
        (
            raw(post.clone(), t, "application/protobuf", "", "x"),
            415,
            None,
        ),
        (raw(post.clone(), t, "", "", "{}"), 415, None),
        (raw(post.clone(), t, JSON_TYPE, "br", "{}"), 415, None),
        (raw(Method::GET, t, "", "", ""), 405, None),
        (raw(Method::PUT, t, JSON_TYPE, "", "{}"), 405, None),
        (raw(post.clone(), STATS_PATH, "", "", ""), 405, None),
        (raw(post.clone(), "/v1/metrics", "", "", ""), 404, None),
        (raw(Method::GET, "/", "", "", ""), 404, None),
    ];
    for (i, (req, expected, content_type)) in cases.into_iter().enumerate() {
        let (status, got_type, _) = answer(h.intake.route(req).await).await;
        assert_eq!(status.as_u16(), expected, "case {i}");
        if let Some(content_type) = content_type {
            assert_eq!(got_type, content_type, "case {i}");
        }
    }
    // 400 and 415 count as malformed; 404 and 405 do not.
    assert_eq!(h.counts().malformed_requests, 8);
    let allow = h.intake.route(raw(Method::GET, t, "", "", "")).await;
    assert_eq!(allow.headers()[ALLOW], "POST");
}

#[tokio::test]
async fn bodies_above_the_limit_answer_413_compressed_or_not() {
    let h = harness(4);
    let small = h.intake.clone().with_max_body(64);
    let big = format!(r#"{{"resourceSpans":[],"pad":"{}"}}"#, "x".repeat(100));
    let json = (CONTENT_TYPE, "application/json");
    let declared = request(
        Method::POST,
        TRACES_PATH,
        &[json.clone(), (CONTENT_LENGTH, "10000000")],
        "{}",
    );
    let (status, content_type, _) = answer(h.intake.route(declared).await).await;
    assert_eq!(
        (status.as_u16(), content_type.as_str()),
        (413, "application/json")
    );
    let plain = raw(
        Method::POST,
        TRACES_PATH,
        "application/json",
        "",
        big.clone(),
    );
    assert_eq!(small.route(plain).await.status().as_u16(), 413);
    let gzipped = raw(
        Method::POST,
        TRACES_PATH,
        "application/json",
        "gzip",
        gzip(big.as_bytes()),
    );
    assert!(gzip(big.as_bytes()).len() <= 64);
    assert_eq!(small.route(gzipped).await.status().as_u16(), 413);
    assert_eq!(h.counts().malformed_requests, 3);
}

#[tokio::test]
async fn bad_request_bodies_carry_a_status_message() {
    let h = harness(4);
    let (_, _, reply) = answer(h.intake.route(post("application/json", "[1]")).await).await;
    let status: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(status["code"], rpc_status::INVALID_ARGUMENT);
    assert!(
        status["message"].as_str().unwrap().contains("OTLP/JSON"),
        "{status}"
    );
}

#[tokio::test]
async fn stats_come_from_the_source_and_the_query_string_is_ignored() {
    let h = harness(4);
    let (status, content_type, body) = answer(
        h.intake
            .route(request(Method::GET, "/v1/stats?pretty", &[], ""))
            .await,
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"spans": 42})
    );
}

#[tokio::test]
async fn arbitrary_bytes_never_panic() {
    let h = harness(64);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..300 {
        let len = (round * 7) % 200;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for content_type in ["application/x-protobuf", "application/json"] {
            let status = h
                .intake
                .route(post(content_type, body.clone()))
                .await
                .status();
            assert!(
                [StatusCode::OK, StatusCode::BAD_REQUEST].contains(&status),
                "{status} for {body:?}"
            );
        }
    }
}

mod metrics {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

    const METRICS_JSON: &str = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"orders","unit":"{order}","sum":{"aggregationTemporality":1,"isMonotonic":true,
        "dataPoints":[{"asInt":"3","attributes":[{"key":"shop","value":{"stringValue":"x"}}]}]}},
      {"name":"Invocations","gauge":{"dataPoints":[{"asDouble":1}]}},
      {"name":"q","summary":{"dataPoints":[{"count":"1","sum":2}]}}
    ]}]}]}"#;

    fn harness(capacity: usize) -> (OtlpIntake, mpsc::Receiver<Vec<Point>>) {
        let (spans, _) = mpsc::channel(1);
        let (points, rx) = mpsc::channel(capacity);
        let stats: StatsSource = Arc::new(|| serde_json::json!({}));
        let intake = OtlpIntake::new(spans, Arc::default(), stats)
            .with_metrics(points, DimensionRule::Attributes);
        (intake, rx)
    }

    fn post(content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
        request(
            Method::POST,
            METRICS_PATH,
            &[(CONTENT_TYPE, content_type)],
            body,
        )
    }

    #[tokio::test]
    async fn points_reach_the_channel_and_refused_ones_are_a_partial_success() {
        let (intake, mut rx) = harness(4);
        let (status, content_type, reply) =
            answer(intake.route(post("application/json", METRICS_JSON)).await).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/json")
        );
        let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(
            reply["partialSuccess"]["rejectedDataPoints"].as_i64(),
            Some(2),
            "{reply}"
        );
        let points = rx.try_recv().unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].name, "orders");
        assert_eq!(points[0].dimensions, [("shop".to_owned(), "x".to_owned())]);
        let counts = intake.counters().snapshot();
        assert_eq!((counts.points_received, counts.points_rejected), (1, 2));

        // The same request in protobuf, gzip-compressed.
        let request: ExportMetricsServiceRequest = serde_json::from_str(METRICS_JSON).unwrap();
        let body = gzip(&request.encode_to_vec());
        let mut req = post("application/x-protobuf", body);
        req.headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let (status, _, reply) = answer(intake.route(req).await).await;
        assert_eq!(status, StatusCode::OK);
        let reply = ExportMetricsServiceResponse::decode(reply).unwrap();
        assert_eq!(reply.partial_success.unwrap().rejected_data_points, 2);
        assert_eq!(rx.try_recv().unwrap()[0].name, "orders");
    }

    #[tokio::test]
    async fn a_full_pipeline_answers_503_and_counts_the_points() {
        let (intake, _rx) = harness(1);
        let first = intake.route(post("application/json", METRICS_JSON)).await;
        assert_eq!(first.status(), StatusCode::OK);
        let second = intake.route(post("application/json", METRICS_JSON)).await;
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(intake.counters().snapshot().points_dropped, 1);
        let bad = intake.route(post("application/json", "[]")).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let get = request(Method::GET, METRICS_PATH, &[], "");
        assert_eq!(
            intake.route(get).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
