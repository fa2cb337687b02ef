//! A recording HTTP/1.1 server on 127.0.0.1 for end-to-end tests: it stands in for an
//! HTTP API a function calls (the API Gateway Management API's `PostToConnection`, say),
//! keeps every request it receives, and answers each with what a test-supplied closure
//! says, so a test can make one call fail (a 410 Gone) and read back exactly what was sent.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use liftwatch_sandbox::recorder::{RecordingServer, Reply};
//! let server = RecordingServer::start(|request| {
//!     if request.path.ends_with("/gone-one") { Reply::status(410) } else { Reply::status(200) }
//! })
//! .await?;
//! let endpoint = format!("{}/prod", server.url()); // give this to the function
//! // ... invoke ...
//! let posted = server.requests();
//! # let _ = (endpoint, posted); Ok(()) }
//! ```

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, percent-decoded (`/prod/@connections/abc=`).
    pub path: String,
    /// The path as sent (`/prod/@connections/abc%3D`).
    pub raw_path: String,
    /// The query string, if any, as sent.
    pub query: Option<String>,
    /// The headers, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// `status` with a JSON body (and its content type).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: Bytes::from(body.to_string()),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Responder = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

struct State {
    responder: Box<Responder>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// The running server; stops when dropped.
pub struct RecordingServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for RecordingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RecordingServer {
    /// Listens on a free port of 127.0.0.1; every request is recorded, then answered
    /// with `responder`'s reply.
    pub async fn start<F>(responder: F) -> std::io::Result<Self>
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            responder: Box::new(responder),
            requests: Mutex::default(),
        });
        let serving = Arc::clone(&state);
        let accept = crate::serve::spawn(listener, move |req| answer(Arc::clone(&serving), req));
        Ok(RecordingServer {
            addr,
            state,
            accept,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn answer(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let raw_path = parts.uri.path().to_owned();
    let request = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: percent_decode(&raw_path),
        raw_path,
        query: parts.uri.query().map(str::to_owned),
        headers,
        body,
    };
    let reply = (state.responder)(&request);
    state
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::OK);
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

/// `%XX` sequences decoded (invalid ones kept as they are), as UTF-8 with replacement.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                let value = hex(hi).unwrap_or(0) * 16 + hex(lo).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percent_sequences_are_decoded_and_bad_ones_kept() {
        assert_eq!(
            percent_decode("/prod/@connections/abc%3D%3d"),
            "/prod/@connections/abc=="
        );
        assert_eq!(percent_decode("/a%2"), "/a%2");
        assert_eq!(percent_decode("/a%zz/%C3%A9"), "/a%zz/é");
    }

    #[tokio::test]
    async fn records_requests_and_answers_as_told() {
        let server = RecordingServer::start(|request| {
            if request.path.ends_with("gone=") {
                Reply::json(410, &serde_json::json!({"message": null}))
                    .header("x-amzn-errortype", "GoneException")
            } else {
                Reply::status(200)
            }
        })
        .await
        .unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let request = "POST /prod/@connections/gone%3D?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer)
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 410"), "{answer}");
        assert!(
            answer.contains("x-amzn-errortype: GoneException"),
            "{answer}"
        );
        let recorded = server.requests();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].method, "POST");
        assert_eq!(recorded[0].path, "/prod/@connections/gone=");
        assert_eq!(recorded[0].raw_path, "/prod/@connections/gone%3D");
        assert_eq!(recorded[0].query.as_deref(), Some("x=1"));
        assert_eq!(recorded[0].header("HOST"), Some("a"));
        assert_eq!(&recorded[0].body[..], b"hi");
        server.clear();
        assert!(server.requests().is_empty());
    }
}
