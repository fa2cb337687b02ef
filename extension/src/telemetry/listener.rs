//! The HTTP server the Telemetry API posts batches to. Each batch is parsed record by
//! record (a bad record is counted and skipped, never failing the batch), handed to the
//! pipeline over a bounded channel, and only then acknowledged with 200.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::health::Health;
use crate::http_server::{self, Limits};
use crate::telemetry::record::{self, Record};

/// How long a batch may wait for room in the pipeline's queue.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The platform posts one batch at a time over a connection or two: room to spare, and a
/// head within 10 s (it sends it at once). One batch per connection: a kept-alive
/// connection that the listener closes when idle (after the header timeout, which after a
/// long freeze fires the moment the sandbox thaws) could be picked by the platform for its
/// next batch just as it closes, and that batch would be lost. The sandbox saw exactly
/// that: a `platform.report` never arrived (about 1 run in 3 of its WebSocket test).
const LIMITS: Limits = Limits {
    max_connections: 32,
    header_timeout: std::time::Duration::from_secs(10),
    keep_alive: false,
};
/// The largest batch body accepted (the subscription asks for at most 256 KiB).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A bound, not yet serving, Telemetry API listener.
#[derive(Debug)]
pub struct TelemetryListener {
    listener: TcpListener,
}

impl TelemetryListener {
    /// Binds `addr`; done during init, before subscribing.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(TelemetryListener {
            listener: TcpListener::bind(addr).await?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped, sending the batches posted to `path` (the
    /// subscription's) to `batches`; a POST to any other path is answered 404 and counted
    /// in `EventsMalformed`.
    pub async fn serve(
        self,
        path: String,
        batches: mpsc::Sender<Vec<Record>>,
        health: Arc<Health>,
    ) {
        let counted = Arc::clone(&health);
        let refused = move || counted.dropped(1);
        let path: Arc<str> = path.into();
        let handler = move |request: Request<Incoming>| {
            let (batches, health) = (batches.clone(), Arc::clone(&health));
            let expected = request.uri().path() == &*path;
            async move {
                if !expected {
                    health.malformed(1);
                    return reply(StatusCode::NOT_FOUND);
                }
                handle(request, batches, health).await
            }
        };
        http_server::serve(self.listener, "telemetry", LIMITS, refused, handler).await;
    }
}

async fn handle(
    request: Request<Incoming>,
    batches: mpsc::Sender<Vec<Record>>,
    health: Arc<Health>,
) -> Response<Full<Bytes>> {
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            health.malformed(1);
            tracing::warn!(%error, "telemetry batch body unreadable or too large");
            return reply(StatusCode::PAYLOAD_TOO_LARGE);
        }
    };
    reply(accept_batch(&body, &batches, &health).await)
}

/// Parses one batch and queues its good records; the status to answer with. When the
/// pipeline cannot take the batch within [`QUEUE_WAIT`], its records are counted as dropped
/// and the platform is told with 503 (a redelivered batch is not counted twice: the
/// aggregator ignores a request's second report or runtimeDone).
pub async fn accept_batch(
    body: &[u8],
    batches: &mpsc::Sender<Vec<Record>>,
    health: &Health,
) -> StatusCode {
    let parsed = match record::parse_batch(body) {
        Ok(parsed) => parsed,
        Err(error) => {
            health.malformed(1);
            tracing::warn!(%error, "telemetry batch is not a json array");
            return StatusCode::BAD_REQUEST;
        }
    };
    health.malformed(parsed.malformed + parsed.unknown);
    let count = parsed.records.len() as u64;
    if count == 0 {
        return StatusCode::OK;
    }
    match batches.send_timeout(parsed.records, QUEUE_WAIT).await {
        Ok(()) => {
            health.received(count);
            StatusCode::OK
        }
        Err(_) => {
            health.dropped(count);
            tracing::warn!(count, "pipeline busy: telemetry records dropped");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

fn reply(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}
