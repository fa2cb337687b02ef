//! The OTLP exporter's HTTP/1.1 client: hyper-util's pooled client over plain TCP, or
//! for `https://` endpoints over the rustls + aws-lc-rs stack the AWS SDK already links
//! (system root certificates), so no second TLS stack enters the binary.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::config::OtlpConfigError;

type Body = Full<Bytes>;

/// The HTTP client: plain, or TLS for `https://` endpoints.
#[derive(Debug, Clone)]
pub enum Transport {
    Http(Client<HttpConnector, Body>),
    Https(Client<HttpsConnector<HttpConnector>, Body>),
}

impl Transport {
    /// A client for plain or TLS endpoints; TLS fails without usable root certificates.
    pub fn new(https: bool) -> Result<Self, OtlpConfigError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(Duration::from_secs(30));
        if !https {
            return Ok(Transport::Http(builder.build(http)));
        }
        // `http` must accept https URIs: the TLS layer wraps it.
        http.enforce_http(false);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(OtlpConfigError::Tls)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Transport::Https(builder.build(connector)))
    }

    /// Sends one request.
    pub async fn request(
        &self,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        match self {
            Transport::Http(client) => client.request(request).await,
            Transport::Https(client) => client.request(request).await,
        }
    }
}
