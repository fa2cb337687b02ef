//! Where and how the OTLP exporter sends spans, read from the standard
//! `OTEL_EXPORTER_OTLP_*` variables through an injectable lookup (tests never touch the
//! process environment).
//!
//! Rules (OpenTelemetry's exporter spec): `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as
//! it is; otherwise `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended (one slash).
//! Headers come from `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`,
//! as `k=v,k2=v2` with percent-encoded values; a bad pair is skipped and counted. The
//! timeout (`..._TRACES_TIMEOUT`, else `..._TIMEOUT`, milliseconds) bounds one attempt.
//! Empty variables count as unset.
//!
//! One deviation: with neither endpoint variable set, export is off (`None`) instead of
//! going to the spec's default `http://localhost:4318`, which inside the sandbox is this
//! extension's own OTLP intake.
//!
//! Lambda gives the function and its extensions one environment, so an
//! `OTEL_EXPORTER_OTLP_ENDPOINT` meant for the extension also sends the function's own
//! OpenTelemetry SDK straight to the collector, around liftwatch. `LIFTWATCH_OTLP_ENDPOINT`
//! (with `/v1/traces` appended) and `LIFTWATCH_OTLP_HEADERS` are the extension's own: when
//! the endpoint is set, it wins and only `LIFTWATCH_OTLP_HEADERS` supplies headers (the
//! `OTEL_*` ones then belong to the function's exporter).

use std::time::Duration;

use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};

pub const LIFTWATCH_ENDPOINT: &str = "LIFTWATCH_OTLP_ENDPOINT";
pub const LIFTWATCH_HEADERS: &str = "LIFTWATCH_OTLP_HEADERS";
pub const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub const TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
pub const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
pub const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
pub const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";

/// The path appended to `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub const TRACES_PATH: &str = "/v1/traces";
/// The only protocol this exporter speaks.
pub const HTTP_PROTOBUF: &str = "http/protobuf";
/// The spec's default timeout for one export.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A configuration the exporter cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum OtlpConfigError {
    #[error("{variable} is not an http:// or https:// url: {value:?}")]
    BadEndpoint {
        variable: &'static str,
        value: String,
    },
    #[error("{variable}={value:?} is not supported: only {HTTP_PROTOBUF} is")]
    UnsupportedProtocol {
        variable: &'static str,
        value: String,
    },
}

/// The OTLP/HTTP traces exporter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// The full traces URL, `http://` or `https://`.
    pub endpoint: Uri,
    /// Sent with every request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The most one attempt may take (the export's deadline may cut it shorter).
    pub timeout: Duration,
    /// `k=v` pairs of the headers variable that were skipped as malformed.
    pub skipped_headers: usize,
}

impl OtlpConfig {
    /// Sends to `endpoint` (the full traces URL) with no headers and the default timeout.
    pub fn new(endpoint: &str) -> Result<Self, OtlpConfigError> {
        Ok(OtlpConfig {
            endpoint: parse_endpoint(TRACES_ENDPOINT, endpoint)?,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            skipped_headers: 0,
        })
    }

    /// Reads the process environment: see [`OtlpConfig::from_lookup`].
    pub fn from_env() -> Result<Option<Self>, OtlpConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the `OTEL_EXPORTER_OTLP_*` variables through `lookup`; `None` when no endpoint
    /// is set. A bad timeout or header pair logs a warning and is ignored.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, OtlpConfigError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some((variable, value)) = first(&get, TRACES_PROTOCOL, PROTOCOL)
            && value != HTTP_PROTOBUF
        {
            return Err(OtlpConfigError::UnsupportedProtocol { variable, value });
        }
        let own = get(LIFTWATCH_ENDPOINT);
        let endpoint = if let Some(value) = &own {
            let full = format!("{}{TRACES_PATH}", value.trim_end_matches('/'));
            parse_endpoint(LIFTWATCH_ENDPOINT, &full)?
        } else if let Some(value) = get(TRACES_ENDPOINT) {
            parse_endpoint(TRACES_ENDPOINT, &value)?
        } else if let Some(value) = get(ENDPOINT) {
            let full = format!("{}{TRACES_PATH}", value.trim_end_matches('/'));
            parse_endpoint(ENDPOINT, &full)?
        } else {
            return Ok(None);
        };
        let header_source = if own.is_some() {
            get(LIFTWATCH_HEADERS).map(|value| (LIFTWATCH_HEADERS, value))
        } else {
            first(&get, TRACES_HEADERS, HEADERS)
        };
        let (headers, skipped_headers) = match header_source {
            Some((variable, value)) => {
                let (headers, skipped) = parse_headers(&value);
                if skipped > 0 {
                    tracing::warn!(variable, skipped, "malformed otlp header pairs skipped");
                }
                (headers, skipped)
            }
            None => (Vec::new(), 0),
        };
        let timeout = match first(&get, TRACES_TIMEOUT, TIMEOUT) {
            Some((variable, value)) => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    tracing::warn!(variable, %value, "bad otlp timeout: using the default");
                    DEFAULT_TIMEOUT
                }
            },
            None => DEFAULT_TIMEOUT,
        };
        Ok(Some(OtlpConfig {
            endpoint,
            headers,
            timeout,
            skipped_headers,
        }))
    }

    /// Whether the endpoint needs TLS.
    pub fn is_https(&self) -> bool {
        self.endpoint.scheme_str() == Some("https")
    }
}

/// The signal-specific variable if set, else the general one.
fn first(
    get: &impl Fn(&str) -> Option<String>,
    specific: &'static str,
    general: &'static str,
) -> Option<(&'static str, String)> {
    get(specific)
        .map(|v| (specific, v))
        .or_else(|| get(general).map(|v| (general, v)))
}

fn parse_endpoint(variable: &'static str, value: &str) -> Result<Uri, OtlpConfigError> {
    let bad = || OtlpConfigError::BadEndpoint {
        variable,
        value: value.to_owned(),
    };
    let uri: Uri = value.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if scheme_ok && host_ok {
        Ok(uri)
    } else {
        Err(bad())
    }
}

/// Parses `k=v,k2=v2` (values percent-decoded); returns the good headers and how many
/// non-empty pairs were skipped (no `=`, empty or invalid name, undecodable value).
pub fn parse_headers(value: &str) -> (Vec<(HeaderName, HeaderValue)>, usize) {
    let mut headers = Vec::new();
    let mut skipped = 0;
    for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
        match parse_pair(pair) {
            Some(header) => headers.push(header),
            None => skipped += 1,
        }
    }
    (headers, skipped)
}

fn parse_pair(pair: &str) -> Option<(HeaderName, HeaderValue)> {
    let (key, value) = pair.split_once('=')?;
    let name = HeaderName::from_bytes(key.trim().as_bytes()).ok()?;
    let decoded = percent_encoding::percent_decode_str(value.trim())
        .decode_utf8()
        .ok()?;
    let value = HeaderValue::from_str(&decoded).ok()?;
    Some((name, value))
}

#[cfg(test)]
mod tests;
