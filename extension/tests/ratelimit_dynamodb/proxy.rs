//! A proxy in front of moto for the rate-limit statistics tests: it forwards every request
//! and can, for DynamoDB `UpdateItem` requests, throw moto's answer away after moto applied
//! the write and close the connection: a timeout after the write succeeded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const UPDATE_ITEM: &str = "DynamoDB_20120810.UpdateItem";

struct State {
    upstream: String,
    /// `UpdateItem` answers still to drop.
    drop_updates: AtomicUsize,
    /// `UpdateItem` answers dropped so far.
    dropped: AtomicUsize,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A running proxy; it stops with the test's runtime.
pub struct Proxy {
    pub url: String,
    state: Arc<State>,
}

impl Proxy {
    /// Starts forwarding to `upstream` on a free port.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream: upstream.to_owned(),
            drop_updates: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let serving = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy { url, state }
    }

    /// Drops the answers of the next `n` `UpdateItem` requests (after forwarding them).
    pub fn drop_update_answers(&self, n: usize) {
        self.state.drop_updates.store(n, Ordering::SeqCst);
    }

    /// `UpdateItem` answers dropped so far.
    pub fn dropped(&self) -> usize {
        self.state.dropped.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by the test proxy")
    }
}

impl std::error::Error for Dropped {}

/// Forwards `request` to moto; returns an error (hyper then closes the connection without
/// answering) when this is an `UpdateItem` whose answer is to be dropped.
async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let is_update = parts
        .headers
        .get("x-amz-target")
        .is_some_and(|t| t.as_bytes() == UPDATE_ITEM.as_bytes());
    let body = body.collect().await.unwrap().to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::builder()
        .method(parts.method)
        .uri(format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            builder = builder.header(name, value);
        }
    }
    let answer = state
        .client
        .request(builder.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let drop_it = is_update
        && state
            .drop_updates
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if drop_it {
        state.dropped.fetch_add(1, Ordering::SeqCst);
        return Err(Dropped);
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}
