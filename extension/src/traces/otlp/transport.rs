//! The OTLP exporter's HTTP/1.1 client: hyper-util's pooled client over plain TCP, or
//! for `https://` endpoints over the rustls + ring stack the AWS clients use
//! (system root certificates), so no second TLS stack enters the binary. The TLS client is
//! built at the first request, not with the exporter: reading and parsing the system's root
//! certificates takes milliseconds that init, the path to the first `/next`, must not pay.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Body = Full<Bytes>;
type HttpsClient = Client<HttpsConnector<HttpConnector>, Body>;

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("no usable root certificate for https on this system")]
    Tls(#[source] Arc<std::io::Error>),
}

/// The HTTP client: plain, or TLS for `https://` endpoints (built at the first request).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant, reason = "one per exporter, built once")]
pub enum Transport {
    Http(Client<HttpConnector, Body>),
    Https(Arc<OnceLock<Result<HttpsClient, Arc<std::io::Error>>>>),
}

impl Transport {
    /// A client for plain or TLS endpoints; nothing is read from the system yet.
    pub fn new(https: bool) -> Self {
        if https {
            Transport::Https(Arc::default())
        } else {
            Transport::Http(builder().build(connector()))
        }
    }

    /// Sends one request.
    pub async fn request(
        &self,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, TransportError> {
        match self {
            Transport::Http(client) => client.request(request).await,
            Transport::Https(client) => match client.get_or_init(https_client) {
                Ok(client) => client.request(request).await,
                Err(error) => return Err(TransportError::Tls(Arc::clone(error))),
            },
        }
        .map_err(TransportError::Request)
    }
}

fn builder() -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_idle_timeout(Duration::from_secs(30));
    builder
}

fn connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http
}

/// The TLS client over the system's root certificates; fails when none is usable.
fn https_client() -> Result<HttpsClient, Arc<std::io::Error>> {
    let mut http = connector();
    // `http` must accept https URIs: the TLS layer wraps it.
    http.enforce_http(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(Arc::new)?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(builder().build(connector))
}
