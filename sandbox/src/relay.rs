//! The telemetry relay: an HTTP server on 127.0.0.1 that stands between the simulator's
//! Telemetry API delivery and the extension's listener. The intercepting proxy rewrites
//! each subscription's `destination.URI` to a route of the relay ([`TelemetryRelay::route`]);
//! the simulator then POSTs its batches here, the relay passes each batch (a JSON array of
//! `{"time","type","record"}` records) through a transform the sandbox configures, forwards
//! the result to the extension's original URI (same method and content type) and answers
//! the simulator with the extension's status and body.
//!
//! The relay knows nothing about Lambda's lifecycle: what to drop, rewrite or inject is the
//! transform's business ([`BatchTransform`]; the sandbox's own is `platform::PlatformEdit`).
//! A body that is not a JSON array is forwarded unchanged.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Turns one batch of telemetry records into the batch the extension receives: records
/// may be dropped, rewritten or injected. One instance serves one destination, so it may
/// keep state across batches (e.g. "inject once").
pub trait BatchTransform: Send {
    /// The records to forward in place of `batch`.
    fn transform(&mut self, batch: Vec<Value>) -> Vec<Value>;
}

/// Forwards every batch unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unchanged;

impl BatchTransform for Unchanged {
    fn transform(&mut self, batch: Vec<Value>) -> Vec<Value> {
        batch
    }
}

/// Makes the transform of each new destination, given the record types its subscription
/// asked for (`platform`, `function`, `extension`).
pub type TransformFactory = Arc<dyn Fn(&[String]) -> Box<dyn BatchTransform> + Send + Sync>;

/// One batch the relay forwarded.
#[derive(Debug, Clone)]
pub struct RelayedBatch {
    /// The extension's original destination URI.
    pub destination: String,
    /// The records forwarded (after the transform); `None` when the body the simulator
    /// sent was not a JSON array and went on unchanged.
    pub records: Option<Vec<Value>>,
    /// The status the extension answered (502 when it could not be reached).
    pub status: u16,
}

/// One destination's transform, shared by every route to it.
type SharedTransform = Arc<Mutex<Box<dyn BatchTransform>>>;

struct Route {
    destination: String,
    transform: SharedTransform,
}

struct RelayState {
    factory: TransformFactory,
    client: Client<HttpConnector, Full<Bytes>>,
    /// Route `n` (the `/r<n>` path prefix) → destination.
    routes: Mutex<Vec<Route>>,
    /// One transform per destination URI, kept across re-subscriptions to it.
    transforms: Mutex<HashMap<String, SharedTransform>>,
    relayed: Mutex<Vec<RelayedBatch>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running relay; stops when dropped.
pub struct TelemetryRelay {
    addr: SocketAddr,
    state: Arc<RelayState>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for TelemetryRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryRelay")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TelemetryRelay {
    /// Listens on a free port of 127.0.0.1; each destination gets a transform from
    /// `factory`.
    pub async fn start(factory: TransformFactory) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(RelayState {
            factory,
            client: Client::builder(TokioExecutor::new()).build_http(),
            routes: Mutex::new(Vec::new()),
            transforms: Mutex::new(HashMap::new()),
            relayed: Mutex::new(Vec::new()),
        });
        let serving = Arc::clone(&state);
        let accept = crate::serve::spawn(listener, move |req| relay(Arc::clone(&serving), req));
        Ok(TelemetryRelay {
            addr,
            state,
            accept,
        })
    }

    /// Where the relay listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers `destination` (a subscription's `destination.URI`, subscribed to `types`)
    /// and returns the URI to subscribe with instead: `http://<relay>/r<n>/<original path>`.
    /// A destination keeps the transform of its first subscription.
    pub fn route(&self, destination: &str, types: &[String]) -> String {
        // The simulator resolves `sandbox.localdomain` itself; with the URI rewritten it
        // no longer sees that name, so the relay does the same.
        let destination = destination.replace("sandbox.localdomain", "127.0.0.1");
        let transform = Arc::clone(
            lock(&self.state.transforms)
                .entry(destination.clone())
                .or_insert_with(|| Arc::new(Mutex::new((self.state.factory)(types)))),
        );
        let path = destination
            .parse::<hyper::Uri>()
            .ok()
            .and_then(|u| u.path_and_query().map(|p| p.as_str().to_owned()))
            .unwrap_or_else(|| "/".to_owned());
        let mut routes = lock(&self.state.routes);
        let token = routes.len();
        routes.push(Route {
            destination,
            transform,
        });
        format!("http://{}/r{token}{path}", self.addr)
    }

    /// Sends `records` to every destination as one batch of the platform's own, through
    /// the destination's transform (for records the simulator cannot emit, such as a
    /// timed-out invocation's). Returns the status each destination answered.
    pub async fn inject(&self, records: &[Value]) -> Vec<u16> {
        let destinations: Vec<(String, SharedTransform)> = {
            let routes = lock(&self.state.routes);
            let mut seen = Vec::new();
            for route in routes.iter() {
                if !seen
                    .iter()
                    .any(|(d, _): &(String, SharedTransform)| *d == route.destination)
                {
                    seen.push((route.destination.clone(), Arc::clone(&route.transform)));
                }
            }
            seen
        };
        let mut statuses = Vec::new();
        for (destination, transform) in destinations {
            let batch = lock(&transform).transform(records.to_vec());
            let body = serde_json::to_vec(&batch)
                .map(Bytes::from)
                .unwrap_or_default();
            let json = hyper::header::HeaderValue::from_static("application/json");
            let answer = deliver(&self.state, destination, body, Some(batch), Some(json)).await;
            statuses.push(answer.status().as_u16());
        }
        statuses
    }

    /// Every batch forwarded so far, in the order the extension answered them.
    pub fn relayed(&self) -> Vec<RelayedBatch> {
        lock(&self.state.relayed).clone()
    }

    /// Stops accepting and drops every open connection.
    pub fn stop(&self) {
        self.accept.abort();
    }
}

impl Drop for TelemetryRelay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The route token of a request path `/r<n>/...`.
fn token(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("/r")?;
    let digits = rest.split('/').next()?;
    digits.parse().ok()
}

async fn relay(
    state: Arc<RelayState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let route = token(req.uri().path()).and_then(|t| {
        lock(&state.routes)
            .get(t)
            .map(|r| (r.destination.clone(), Arc::clone(&r.transform)))
    });
    let Some((destination, transform)) = route else {
        return Ok(plain(StatusCode::NOT_FOUND, "no such telemetry route"));
    };
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(plain(StatusCode::BAD_REQUEST, &e.to_string())),
    };
    let (body, records) = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(batch)) => {
            let records = lock(&transform).transform(batch);
            let body = serde_json::to_vec(&records).map_or(body, Bytes::from);
            (body, Some(records))
        }
        _ => (body, None),
    };
    let content_type = parts.headers.get(hyper::header::CONTENT_TYPE).cloned();
    Ok(deliver(&state, destination, body, records, content_type).await)
}

/// POSTs `body` to `destination` and records the batch; the destination's answer, or 502
/// when it cannot be reached.
async fn deliver(
    state: &RelayState,
    destination: String,
    body: Bytes,
    records: Option<Vec<Value>>,
    content_type: Option<hyper::header::HeaderValue>,
) -> Response<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(hyper::Method::POST)
        .uri(destination.as_str());
    if let Some(content_type) = content_type {
        builder = builder.header(hyper::header::CONTENT_TYPE, content_type);
    }
    let answer = match builder.body(Full::new(body)) {
        Ok(request) => match state.client.request(request).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(http_body_util::Collected::to_bytes)
                    .unwrap_or_default();
                let mut answer = Response::new(Full::new(body));
                *answer.status_mut() = parts.status;
                if let Some(content_type) = parts.headers.get(hyper::header::CONTENT_TYPE) {
                    answer
                        .headers_mut()
                        .insert(hyper::header::CONTENT_TYPE, content_type.clone());
                }
                answer
            }
            Err(e) => plain(StatusCode::BAD_GATEWAY, &e.to_string()),
        },
        Err(e) => plain(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    lock(&state.relayed).push(RelayedBatch {
        destination,
        records,
        status: answer.status().as_u16(),
    });
    answer
}

fn plain(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message.to_owned())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_from_the_path_prefix() {
        assert_eq!(token("/r0/telemetry"), Some(0));
        assert_eq!(token("/r12"), Some(12));
        assert_eq!(token("/r12/"), Some(12));
        assert_eq!(token("/x1/telemetry"), None);
        assert_eq!(token("/r/telemetry"), None);
    }
}
