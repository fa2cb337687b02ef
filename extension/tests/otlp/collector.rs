//! A scripted OTLP/HTTP collector for the exporter tests: a hyper server on 127.0.0.1:0
//! that decodes each request with `opentelemetry-proto`, records it, and answers with the
//! next reply of its script (200 once the script runs out).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the collector answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with an empty `ExportTraceServiceResponse`.
    Ok,
    /// This status, no body.
    Status(u16),
    /// This status with `Retry-After: seconds`.
    RetryAfter(u16, u64),
    /// 200 with a partial success rejecting this many spans.
    Partial(i64),
    /// Never answers.
    Hang,
}

/// One request as the collector saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    pub request: ExportTraceServiceRequest,
}

/// A running collector; stops when dropped.
#[derive(Debug)]
pub struct Collector {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Collector {
    /// Starts a collector answering with `script`, in order.
    pub async fn start(script: Vec<Reply>) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let state = (Arc::clone(&received), script);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (received, script) = state.clone();
                        async move { Ok::<_, Infallible>(answer(request, received, script).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Collector {
            addr,
            received,
            task,
        }
    }

    /// The traces URL to export to.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every span of every request so far, in arrival order.
    pub fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        self.received()
            .into_iter()
            .flat_map(|r| r.request.resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    request: Request<Incoming>,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
) -> Response<Full<Bytes>> {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let request = ExportTraceServiceRequest::decode(body).unwrap();
    received.lock().unwrap().push(Received {
        at,
        headers: parts.headers,
        request,
    });
    let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
    let (status, body, retry_after) = match reply {
        Reply::Ok => (
            200,
            ExportTraceServiceResponse::default().encode_to_vec(),
            None,
        ),
        Reply::Status(status) => (status, Vec::new(), None),
        Reply::RetryAfter(status, seconds) => (status, Vec::new(), Some(seconds)),
        Reply::Partial(rejected) => {
            let response = ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: "rejected by the test".into(),
                }),
            };
            (200, response.encode_to_vec(), None)
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (200, Vec::new(), None)
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-type", "application/x-protobuf".parse().unwrap());
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().unwrap());
    }
    response
}
