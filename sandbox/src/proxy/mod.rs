//! The intercepting reverse proxy between the sandbox's children and the simulator: the
//! children's `AWS_LAMBDA_RUNTIME_API` points here. It forwards every Runtime, Extensions
//! and Telemetry API request unchanged (status, headers and body, long-polls without a
//! timeout), and adds what the simulator lacks:
//!
//! - `PUT /2022-07-01/telemetry` after init answers 403 `Telemetry.SubscriptionNotAllowed`,
//!   as Lambda does. Init is over once the runtime and every registered extension have
//!   called their `/next` (Lambda's definition; the runtime's first `/next` alone would
//!   reject an extension that is still subscribing while a fast runtime is already ready).
//! - With `refuse_telemetry_subscription`, every subscription answers 500.
//! - Register and subscribe requests are passed on as `Content-Type: application/json`
//!   whatever the caller sent (the simulator answers 415 otherwise; Lambda does not), and
//!   the runtime's events come back as `application/json`, as Lambda sends them (the
//!   simulator says `text/plain`).
//! - With a telemetry relay, each subscription's `destination.URI` is replaced by a route
//!   of the relay (the recorded subscription keeps the extension's own document).
//! - `GET /2018-06-01/runtime/restore/next` (SnapStart: the runtime is ready for the
//!   snapshot) ends the runtime's init and is held until the sandbox restores
//!   ([`InterceptingProxy::release_restore`]); the simulator does not serve it.
//! - An extension's `/next` after an INVOKE waits until the runtime's answer to it was
//!   accepted (`readiness.rs`: a race in the simulator's readiness otherwise stalls about
//!   2 invocations in 1,000 for the function timeout).
//! - It records what it sees: registrations, subscription attempts and their verdicts,
//!   and the moment each extension receives SHUTDOWN (with its `deadlineMs`).

pub mod faults;
mod forward;
mod observations;
mod readiness;
pub mod silent;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::relay::TelemetryRelay;
use forward::{error_response, forward, header};
use observations::Log;
pub use observations::{
    ProxyObservations, Registration, ShutdownDelivery, SubscriptionAttempt, SubscriptionVerdict,
};
use readiness::{answered_request, invoke_request};

/// The Telemetry API subscription path.
pub const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
const RUNTIME_NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// SnapStart: the runtime is ready for the snapshot; answered once restored.
const RESTORE_NEXT: &str = "/2018-06-01/runtime/restore/next";
const EXTENSION_REGISTER: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT: &str = "/2020-01-01/extension/event/next";
const EXTENSION_ID: &str = "lambda-extension-identifier";
const EXTENSION_NAME: &str = "lambda-extension-name";

type Upstream = Client<HttpConnector, Full<Bytes>>;

/// What the proxy changes on top of the simulator.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Answer every Telemetry API subscription with 500.
    pub refuse_telemetry_subscription: bool,
    /// Subscribe through this relay: each subscription's `destination.URI` is replaced by
    /// a route of the relay, which forwards the batches to the original URI.
    pub relay: Option<Arc<TelemetryRelay>>,
}

#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    options: ProxyOptions,
    client: Upstream,
    log: Mutex<Log>,
    version: watch::Sender<u64>,
}

impl State {
    fn read<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn update<T>(&self, f: impl FnOnce(&mut Log) -> T) -> T {
        let out = f(&mut self.log.lock().unwrap_or_else(PoisonError::into_inner));
        self.version.send_modify(|v| *v += 1);
        out
    }
}

/// The running proxy; stops when dropped.
#[derive(Debug)]
pub struct InterceptingProxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl InterceptingProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, options: ProxyOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (version, _) = watch::channel(0);
        let state = Arc::new(State {
            upstream,
            options,
            client: Client::builder(TokioExecutor::new()).build_http(),
            log: Mutex::new(Log::default()),
            version,
        });
        let serving = Arc::clone(&state);
        let accept = crate::serve::spawn(listener, move |req| handle(Arc::clone(&serving), req));
        Ok(InterceptingProxy {
            addr,
            state,
            accept,
        })
    }

    /// The address to give children as `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of what the proxy has seen.
    pub fn observations(&self) -> ProxyObservations {
        self.state.read(|log| log.seen.clone())
    }

    /// Waits until `predicate` holds for the observations; false after `timeout`.
    pub async fn wait_for(
        &self,
        predicate: impl Fn(&ProxyObservations) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.state.version.subscribe();
        loop {
            if predicate(&self.observations()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }

    /// Answers the runtime's held `/runtime/restore/next` (SnapStart: the sandbox was
    /// restored); a later call is answered at once.
    pub fn release_restore(&self) {
        self.state.update(|log| log.seen.restore_released = true);
    }

    /// Passes every held extension `/next` on (SHUTDOWN: the invocation may never be
    /// answered).
    pub fn release_polls(&self) {
        self.state.update(|log| log.readiness.release_all());
    }

    /// Stops accepting and drops every open connection.
    pub fn stop(&self) {
        self.accept.abort();
    }
}

impl Drop for InterceptingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(answer(&state, req).await.map(Full::new))
}

async fn answer(state: &State, req: Request<Incoming>) -> Response<Bytes> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let extension_id = header(req.headers(), EXTENSION_ID);
    let extension_name = header(req.headers(), EXTENSION_NAME);
    state.update(|log| {
        log.seen.requests += 1;
        if method == Method::GET && path == RUNTIME_NEXT {
            log.seen.runtime_polled = true;
            if log.seen.restore_released {
                log.seen.runtime_polled_after_restore = true;
            }
        }
        if method == Method::GET && path == RESTORE_NEXT {
            log.seen.runtime_polled = true;
            log.seen.restore_polled = true;
        }
        if method == Method::GET
            && path == EXTENSION_NEXT
            && let Some(id) = &extension_id
        {
            log.polled_extensions.insert(id.clone());
        }
        log.refresh_init();
    });

    if method == Method::GET && path == RESTORE_NEXT {
        return restore_next(state).await;
    }

    if method == Method::GET
        && path == EXTENSION_NEXT
        && let Some(id) = &extension_id
    {
        await_answer(state, id).await;
    }

    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string()),
    };

    let subscribing = method == Method::PUT && path == TELEMETRY_PATH;
    if subscribing && let Some(reply) = intercept_subscription(state, &extension_id, &body) {
        return reply;
    }

    let upstream_body = match (&state.options.relay, subscribing) {
        (Some(relay), true) => through_relay(relay, &body),
        _ => body.clone(),
    };
    let response = forward(&state.client, state.upstream, parts, upstream_body).await;
    let status = response.status();
    if subscribing {
        record_subscription(
            state,
            &extension_id,
            &body,
            SubscriptionVerdict::Forwarded,
            status,
        );
    } else if status == StatusCode::OK && method == Method::POST && path == EXTENSION_REGISTER {
        if let Some(id) = header(response.headers(), EXTENSION_ID) {
            let name = extension_name.unwrap_or_default();
            state.update(|log| log.seen.registered.push(Registration { name, id }));
        }
    } else if status == StatusCode::OK && method == Method::GET && path == EXTENSION_NEXT {
        if let (Some(id), Some(request)) = (&extension_id, invoke_request(response.body())) {
            state.update(|log| log.readiness.delivered(id, request));
        }
        note_shutdown(state, extension_id, response.body());
    } else if status == StatusCode::ACCEPTED
        && method == Method::POST
        && let Some(request) = answered_request(&path)
    {
        state.update(|log| log.readiness.answered(request));
    }
    response
}

/// Holds an extension's `/next` while its last INVOKE is unanswered (see `readiness.rs`).
async fn await_answer(state: &State, extension_id: &str) {
    let mut changes = state.version.subscribe();
    while state.read(|log| log.readiness.must_wait(extension_id)) {
        if changes.changed().await.is_err() {
            break;
        }
    }
}

/// `GET /runtime/restore/next` (the simulator does not serve it): held until the sandbox
/// releases the restore, then 200 with an empty body, as Lambda answers after a restore.
async fn restore_next(state: &State) -> Response<Bytes> {
    let mut changes = state.version.subscribe();
    while !state.read(|log| log.seen.restore_released) {
        if changes.changed().await.is_err() {
            break;
        }
    }
    Response::new(Bytes::new())
}

/// The proxy's own answer to a subscription, or `None` to forward it.
fn intercept_subscription(
    state: &State,
    extension_id: &Option<String>,
    body: &Bytes,
) -> Option<Response<Bytes>> {
    let (verdict, reply) = if state.options.refuse_telemetry_subscription {
        let reply = error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Telemetry.ServiceError",
            "the sandbox was told to refuse telemetry subscriptions",
        );
        (SubscriptionVerdict::Refused, reply)
    } else if state.read(|log| log.seen.init_complete) {
        let reply = error_response(
            StatusCode::FORBIDDEN,
            "Telemetry.SubscriptionNotAllowed",
            "telemetry subscriptions are only allowed during the Init phase",
        );
        (SubscriptionVerdict::RejectedAfterInit, reply)
    } else {
        return None;
    };
    record_subscription(state, extension_id, body, verdict, reply.status());
    Some(reply)
}

/// The subscription document with `destination.URI` routed through `relay`; unchanged
/// when it has no such string (the simulator then answers it as it would have).
fn through_relay(relay: &TelemetryRelay, body: &Bytes) -> Bytes {
    let Ok(mut document) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let Some(destination) = document
        .pointer("/destination/URI")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return body.clone();
    };
    let types: Vec<String> = document
        .get("types")
        .and_then(Value::as_array)
        .map(|types| {
            types
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let routed = relay.route(&destination, &types);
    let Some(uri) = document
        .get_mut("destination")
        .and_then(|d| d.get_mut("URI"))
    else {
        return body.clone();
    };
    *uri = Value::String(routed);
    serde_json::to_vec(&document).map_or_else(|_| body.clone(), Bytes::from)
}

fn record_subscription(
    state: &State,
    extension_id: &Option<String>,
    body: &Bytes,
    verdict: SubscriptionVerdict,
    status: StatusCode,
) {
    state.update(|log| {
        let during_init = !log.seen.init_complete;
        log.seen.subscriptions.push(SubscriptionAttempt {
            extension_id: extension_id.clone(),
            verdict,
            status: status.as_u16(),
            during_init,
            body: String::from_utf8_lossy(body).into_owned(),
        });
    });
}

fn note_shutdown(state: &State, extension_id: Option<String>, body: &Bytes) {
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if event.get("eventType").and_then(Value::as_str) != Some("SHUTDOWN") {
        return;
    }
    let delivery = ShutdownDelivery {
        extension_id: extension_id.unwrap_or_default(),
        at: Instant::now(),
        deadline_ms: event.get("deadlineMs").and_then(Value::as_i64),
        reason: event
            .get("shutdownReason")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    state.update(|log| log.seen.shutdown_deliveries.push(delivery));
}
