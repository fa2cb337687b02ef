//! Relaying one request upstream (the simulator, or moto behind the fault-injecting proxy)
//! and its answer back, fully buffered, keeping status, headers (minus hop-by-hop ones) and
//! body; and the Lambda-style JSON errors the intercepting proxy answers with itself.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::{EXTENSION_REGISTER, RUNTIME_NEXT, TELEMETRY_PATH, Upstream};

/// Sends the request to `upstream` (`host:port`: the simulator, or moto behind the
/// fault-injecting proxy) and buffers the whole answer. A failure to reach it becomes a 502
/// so the caller sees an HTTP error, as a child would in Lambda.
pub(super) async fn forward(
    client: &Upstream,
    upstream: impl std::fmt::Display,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Response<Bytes> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::builder()
        .method(parts.method)
        .uri(format!("http://{upstream}{path}"));
    // The simulator parses these bodies with axum's `Json`, which insists on a JSON
    // content type; Lambda reads the body whatever the header says, so normalise it.
    let json_endpoint = matches!(parts.uri.path(), EXTENSION_REGISTER | TELEMETRY_PATH);
    let runtime_next = parts.uri.path() == RUNTIME_NEXT;
    for (name, value) in &parts.headers {
        let replaced = json_endpoint && name == hyper::header::CONTENT_TYPE;
        if !is_hop_by_hop(name) && name != hyper::header::HOST && !replaced {
            builder = builder.header(name, value);
        }
    }
    if json_endpoint {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let request = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string()),
    };
    let upstream = match client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_GATEWAY,
                "Sandbox.Unreachable",
                &e.to_string(),
            );
        }
    };
    let (parts, body) = upstream.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error_response(
                StatusCode::BAD_GATEWAY,
                "Sandbox.Unreachable",
                &e.to_string(),
            );
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    // Lambda hands the runtime its event as `application/json`; the simulator says
    // `text/plain`, which runtime interface clients (awslambdaric) then pass to the
    // handler undecoded, as bytes.
    if runtime_next && parts.status.is_success() {
        let json = HeaderValue::from_static("application/json");
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, json);
    }
    response
}

/// Headers that describe one connection, not the message; content-length is recomputed.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A Lambda-style JSON error (`errorMessage`, `errorType`).
pub(super) fn error_response(
    status: StatusCode,
    error_type: &str,
    message: &str,
) -> Response<Bytes> {
    let body = json!({ "errorMessage": message, "errorType": error_type }).to_string();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
