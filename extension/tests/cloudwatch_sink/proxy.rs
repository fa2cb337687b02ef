//! A switchable HTTP proxy in front of moto for the CloudWatch sink tests: it forwards
//! requests, or answers them with an injected error (500s, throttling, refusals), and
//! counts every request it sees.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What the proxy does with the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Pass it to moto.
    Forward,
    /// Answer with `status` and an awsQuery error `code`, `times` more times (forever when
    /// `None`), then forward.
    Fail {
        status: u16,
        code: &'static str,
        times: Option<usize>,
    },
}

impl Mode {
    pub fn fail(status: u16, code: &'static str) -> Self {
        Mode::Fail {
            status,
            code,
            times: None,
        }
    }

    pub fn fail_times(status: u16, code: &'static str, times: usize) -> Self {
        Mode::Fail {
            status,
            code,
            times: Some(times),
        }
    }
}

struct State {
    upstream: String,
    mode: Mutex<Mode>,
    requests: AtomicUsize,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A running proxy; it stops with the test's runtime.
pub struct Proxy {
    pub url: String,
    state: Arc<State>,
}

impl Proxy {
    /// Starts forwarding to `upstream` on `port` (any free port when `None`).
    pub async fn start(port: Option<u16>, upstream: &str) -> Proxy {
        let addr = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0)));
        let listener = TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream: upstream.to_owned(),
            mode: Mutex::new(Mode::Forward),
            requests: AtomicUsize::new(0),
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

    pub fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Requests seen so far, forwarded or failed.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

/// The mode for this request, counting down a limited failure.
fn next_mode(state: &State) -> Mode {
    let mut mode = state.mode.lock().unwrap();
    let current = *mode;
    if let Mode::Fail {
        times: Some(times),
        status,
        code,
    } = current
    {
        *mode = match times {
            0 | 1 => Mode::Forward,
            n => Mode::Fail {
                status,
                code,
                times: Some(n - 1),
            },
        };
        if times == 0 {
            return Mode::Forward;
        }
    }
    current
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    if let Mode::Fail { status, code, .. } = next_mode(&state) {
        let xml = format!(
            "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>injected by the test</Message>\
             </Error><RequestId>test</RequestId></ErrorResponse>"
        );
        let response = Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from(xml)))
            .unwrap();
        return Ok(response);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forward = Request::builder()
        .method(parts.method)
        .uri(format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            forward = forward.header(name, value);
        }
    }
    let answer = state
        .client
        .request(forward.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
