//! A fault-injecting HTTP proxy for tests of AWS clients: it stands between a client and
//! moto, forwards every request, counts them, and on demand answers with an injected
//! error (500s, throttling, refusals) or forwards a request and then drops moto's answer
//! (closes the connection: a timeout after the write succeeded).
//!
//! ```no_run
//! # async fn example(moto: &str) -> std::io::Result<()> {
//! use liftwatch_sandbox::proxy::faults::{Fault, FaultProxy};
//! let proxy = FaultProxy::start(moto).await?;
//! proxy.set(Fault::fail(400, "Throttling").times(2)); // then forwards again
//! // ... point the client at proxy.url ...
//! proxy.set(Fault::DropAnswer.on_target("DynamoDB_20120810.UpdateItem"));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::Upstream;
use super::forward::{forward, header};

/// What the proxy does to a request the current [`Injection`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass it upstream.
    Forward,
    /// Answer with `status` and an awsQuery (XML) error `code`, without forwarding.
    Fail { status: u16, code: &'static str },
    /// Forward it, then close the connection instead of answering: upstream applied the
    /// request, the client sees it fail.
    DropAnswer,
}

impl Fault {
    /// [`Fault::Fail`].
    #[must_use]
    pub fn fail(status: u16, code: &'static str) -> Self {
        Fault::Fail { status, code }
    }

    /// This fault for the next `n` requests it applies to, then [`Fault::Forward`].
    #[must_use]
    pub fn times(self, n: usize) -> Injection {
        Injection::from(self).times(n)
    }

    /// This fault only for requests whose `X-Amz-Target` is `target` (say
    /// `DynamoDB_20120810.UpdateItem`); others are forwarded.
    #[must_use]
    pub fn on_target(self, target: &'static str) -> Injection {
        Injection::from(self).on_target(target)
    }
}

/// A [`Fault`], the requests it applies to and how many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// The fault.
    pub fault: Fault,
    /// Only requests with this `X-Amz-Target` header; every request when `None`.
    pub target: Option<&'static str>,
    /// How many more requests it applies to (forever when `None`).
    pub remaining: Option<usize>,
}

impl Injection {
    /// For the next `n` requests it applies to, then [`Fault::Forward`].
    #[must_use]
    pub fn times(self, n: usize) -> Self {
        Injection {
            remaining: Some(n),
            ..self
        }
    }

    /// Only for requests whose `X-Amz-Target` is `target`.
    #[must_use]
    pub fn on_target(self, target: &'static str) -> Self {
        Injection {
            target: Some(target),
            ..self
        }
    }
}

impl From<Fault> for Injection {
    fn from(fault: Fault) -> Self {
        Injection {
            fault,
            target: None,
            remaining: None,
        }
    }
}

#[derive(Debug)]
struct State {
    upstream: String,
    injection: Mutex<Injection>,
    requests: AtomicUsize,
    /// Requests per `X-Amz-Target` (`""` for requests without one).
    targets: Mutex<HashMap<String, usize>>,
    dropped: AtomicUsize,
    client: Upstream,
}

impl State {
    /// Takes one use of the current injection when it applies to a request with `target`
    /// and is `kind`; the fault taken, if any.
    fn take(&self, target: Option<&str>, kind: fn(&Fault) -> bool) -> Option<Fault> {
        let mut injection = self
            .injection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let applies = kind(&injection.fault)
            && injection.target.is_none_or(|t| Some(t) == target)
            && injection.remaining != Some(0);
        if !applies {
            return None;
        }
        if let Some(n) = injection.remaining.as_mut() {
            *n -= 1;
        }
        Some(injection.fault)
    }
}

/// The running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: the endpoint to give the client.
    pub url: String,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        Self::start_on(0, upstream).await
    }

    /// Listens on `port` of 127.0.0.1 (a free one when 0) and forwards to `upstream`.
    pub async fn start_on(port: u16, upstream: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let upstream = upstream.trim_start_matches("http://");
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            injection: Mutex::new(Fault::Forward.into()),
            requests: AtomicUsize::new(0),
            targets: Mutex::default(),
            dropped: AtomicUsize::new(0),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let serving = Arc::clone(&state);
        let accept = crate::serve::spawn(listener, move |req| handle(Arc::clone(&serving), req));
        Ok(FaultProxy { url, state, accept })
    }

    /// What to do with the requests from now on.
    pub fn set(&self, injection: impl Into<Injection>) {
        *self
            .state
            .injection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = injection.into();
    }

    /// Requests seen so far, forwarded or not.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Requests seen so far with `X-Amz-Target: target` (`DynamoDB_20120810.UpdateItem`).
    pub fn requests_for(&self, target: &str) -> usize {
        let targets = self
            .state
            .targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        targets.get(target).copied().unwrap_or(0)
    }

    /// Answers dropped so far ([`Fault::DropAnswer`]).
    pub fn dropped(&self) -> usize {
        self.state.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The handler's error when an answer is dropped: hyper then closes the connection.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by the fault-injecting proxy")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let target = header(request.headers(), "x-amz-target");
    *state
        .targets
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(target.clone().unwrap_or_default())
        .or_default() += 1;
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let failure = state.take(target.as_deref(), |f| matches!(f, Fault::Fail { .. }));
    if let Some(Fault::Fail { status, code }) = failure {
        return Ok(query_error(status, code));
    }
    let answer = forward(&state.client, &state.upstream, parts, body).await;
    // Decided after upstream answered, so a fault changed meanwhile applies at once.
    if state
        .take(target.as_deref(), |f| *f == Fault::DropAnswer)
        .is_some()
    {
        state.dropped.fetch_add(1, Ordering::SeqCst);
        return Err(Dropped);
    }
    Ok(answer.map(Full::new))
}

/// An awsQuery error document, as CloudWatch answers.
fn query_error(status: u16, code: &str) -> Response<Full<Bytes>> {
    let xml = format!(
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error>\
         <Type>Sender</Type><Code>{code}</Code><Message>injected by the test</Message>\
         </Error><RequestId>test</RequestId></ErrorResponse>"
    );
    let mut response = Response::new(Full::new(Bytes::from(xml)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/xml"),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn state(injection: Injection) -> State {
        State {
            upstream: String::new(),
            injection: Mutex::new(injection),
            requests: AtomicUsize::new(0),
            targets: Mutex::default(),
            dropped: AtomicUsize::new(0),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn fails(f: &Fault) -> bool {
        matches!(f, Fault::Fail { .. })
    }

    #[test]
    fn a_counted_fault_runs_out_and_a_targeted_one_skips_other_requests() {
        let state = state(Fault::fail(400, "Throttling").times(2));
        assert_eq!(
            state.take(None, fails),
            Some(Fault::fail(400, "Throttling"))
        );
        assert_eq!(
            state.take(None, fails),
            Some(Fault::fail(400, "Throttling"))
        );
        assert_eq!(state.take(None, fails), None);

        let state = self::state(Fault::DropAnswer.on_target("T.UpdateItem").times(1));
        let drops = |f: &Fault| *f == Fault::DropAnswer;
        assert_eq!(state.take(Some("T.GetItem"), drops), None);
        assert_eq!(state.take(None, drops), None);
        assert_eq!(state.take(Some("T.UpdateItem"), fails), None);
        assert_eq!(
            state.take(Some("T.UpdateItem"), drops),
            Some(Fault::DropAnswer)
        );
        assert_eq!(state.take(Some("T.UpdateItem"), drops), None);
    }
}
