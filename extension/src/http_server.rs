//! The one accept loop of the extension's HTTP servers (the Telemetry API listener and the
//! OTLP receiver): each connection is served with HTTP/1.1 in a task of its own, every
//! request answered by `handler`. A failed accept (out of file descriptors, say) is logged
//! and retried after a pause instead of spinning.
//!
//! Every server is bounded ([`Limits`]): at most `max_connections` at once (one more is
//! accepted and closed at once, and counted), and a connection that has not sent a whole
//! request head within `header_timeout` (a slow or idle client) is closed. Lambda gives a
//! sandbox 1,024 file descriptors: with the OTLP receiver capped, idle local clients can
//! no longer starve the Telemetry API listener or the UDP intake.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How much one server may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// The longest a connection may take to send a request head, and so the longest it may
    /// sit idle between requests.
    pub header_timeout: Duration,
    /// Whether a connection may carry more than one request. Off, every response closes
    /// its connection, so no client ever sends on a connection the server is closing.
    pub keep_alive: bool,
}

/// Serves `listener` until the task is dropped; `server` names it in logs, `refused` is
/// called for every connection closed because `limits.max_connections` were open.
pub async fn serve<H, Fut>(
    listener: TcpListener,
    server: &'static str,
    limits: Limits,
    refused: impl Fn() + Send + 'static,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(server, %error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Closed at once: the client sees a reset, not a hang.
            drop(stream);
            refused();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |request| {
                let response = handler(request);
                async move { Ok::<_, std::convert::Infallible>(response.await) }
            });
            if let Err(error) = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(limits.keep_alive)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(server, %error, "connection ended with an error");
            }
        });
    }
}
