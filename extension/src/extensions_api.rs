//! Client for the Lambda Extensions API (`/2020-01-01/extension/...`) and the Telemetry
//! API subscription: register, next event, error reports. Requests are small pure
//! builders; one pooled HTTP/1.1 client talks to `AWS_LAMBDA_RUNTIME_API`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

const EXTENSION_NAME_HEADER: &str = "Lambda-Extension-Name";
const EXTENSION_ID_HEADER: &str = "Lambda-Extension-Identifier";
const ERROR_TYPE_HEADER: &str = "Lambda-Extension-Function-Error-Type";

/// A failed call to the Extensions or Telemetry API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request to the lambda api failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("could not build the request")]
    Build(#[source] hyper::http::Error),
    #[error("reading the response body failed")]
    Body(#[source] hyper::Error),
    #[error("the lambda api answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("the lambda api sent an unexpected body")]
    Json(#[source] serde_json::Error),
    #[error("the register response has no {EXTENSION_ID_HEADER} header")]
    MissingIdentifier,
}

/// The next lifecycle event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "eventType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NextEvent {
    #[serde(rename_all = "camelCase")]
    Invoke {
        request_id: String,
        deadline_ms: u64,
        #[serde(default)]
        invoked_function_arn: String,
        #[serde(default)]
        tracing: Option<Tracing>,
    },
    #[serde(rename_all = "camelCase")]
    Shutdown {
        #[serde(default)]
        shutdown_reason: String,
        deadline_ms: u64,
    },
}

/// The INVOKE event's trace header.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tracing {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub value: String,
}

/// What registration returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The `Lambda-Extension-Identifier` to send on every later call.
    pub id: String,
    /// `functionName` from the response body, when present.
    pub function_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    function_name: Option<String>,
}

/// The Extensions API client. Cheap to clone: the pool is shared.
#[derive(Debug, Clone)]
pub struct ExtensionsApi {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl ExtensionsApi {
    /// A client for `runtime_api` (`host:port`, as in `AWS_LAMBDA_RUNTIME_API`).
    pub fn new(runtime_api: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(None)
            .build(connector);
        ExtensionsApi {
            client,
            base: format!("http://{runtime_api}"),
        }
    }

    async fn call(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(hyper::HeaderMap, Bytes), ApiError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(ApiError::Request)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(ApiError::Body)?.to_bytes();
        if !parts.status.is_success() {
            return Err(ApiError::Status {
                status: parts.status,
                body: String::from_utf8_lossy(&body).chars().take(512).collect(),
            });
        }
        Ok((parts.headers, body))
    }

    /// Registers for INVOKE and SHUTDOWN under `name` (the executable's file name).
    pub async fn register(&self, name: &str) -> Result<Registration, ApiError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/2020-01-01/extension/register", self.base))
            .header(EXTENSION_NAME_HEADER, name)
            .header("Content-Type", "application/json")
            .body(Full::from(r#"{"events":["INVOKE","SHUTDOWN"]}"#))
            .map_err(ApiError::Build)?;
        let (headers, body) = self.call(request).await?;
        let id = headers
            .get(EXTENSION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(ApiError::MissingIdentifier)?
            .to_owned();
        let function_name = serde_json::from_slice::<RegisterBody>(&body)
            .ok()
            .and_then(|b| b.function_name);
        Ok(Registration { id, function_name })
    }

    /// Long-polls for the next lifecycle event; the sandbox may freeze inside this call.
    pub async fn next(&self, id: &str) -> Result<NextEvent, ApiError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}/2020-01-01/extension/event/next", self.base))
            .header(EXTENSION_ID_HEADER, id)
            .body(Full::default())
            .map_err(ApiError::Build)?;
        let (_, body) = self.call(request).await?;
        serde_json::from_slice(&body).map_err(ApiError::Json)
    }

    /// Subscribes to the Telemetry API with a prepared JSON body.
    pub async fn subscribe_telemetry(&self, id: &str, body: String) -> Result<(), ApiError> {
        let request = Request::builder()
            .method(Method::PUT)
            .uri(format!("{}/2022-07-01/telemetry", self.base))
            .header(EXTENSION_ID_HEADER, id)
            .header("Content-Type", "application/json")
            .body(Full::from(body))
            .map_err(ApiError::Build)?;
        self.call(request).await.map(|_| ())
    }

    /// Reports a failure: `init` during init (Lambda then fails the init), `exit` before
    /// exiting on an error.
    pub async fn report_error(
        &self,
        id: &str,
        phase: ErrorPhase,
        error_type: &str,
        message: &str,
    ) -> Result<(), ApiError> {
        let path = match phase {
            ErrorPhase::Init => "init/error",
            ErrorPhase::Exit => "exit/error",
        };
        let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/2020-01-01/extension/{path}", self.base))
            .header(EXTENSION_ID_HEADER, id)
            .header(ERROR_TYPE_HEADER, error_type)
            .header("Content-Type", "application/json")
            .body(Full::from(body.to_string()))
            .map_err(ApiError::Build)?;
        self.call(request).await.map(|_| ())
    }
}

/// Which error endpoint to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPhase {
    Init,
    Exit,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_documented_invoke_and_shutdown_events() {
        let invoke = r#"{"eventType":"INVOKE","deadlineMs":1700000000123,"requestId":"3da1f2dc-3222-475e-9205-e2e6c6318895","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:ExtensionTest","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1"}}"#;
        let NextEvent::Invoke {
            request_id,
            deadline_ms,
            tracing,
            ..
        } = serde_json::from_str(invoke).unwrap()
        else {
            unreachable!("not an invoke")
        };
        assert_eq!(request_id, "3da1f2dc-3222-475e-9205-e2e6c6318895");
        assert_eq!(deadline_ms, 1_700_000_000_123);
        assert!(tracing.unwrap().value.starts_with("Root=1-5f35ae12"));

        let shutdown =
            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1700000002000}"#;
        assert_eq!(
            serde_json::from_str::<NextEvent>(shutdown).unwrap(),
            NextEvent::Shutdown {
                shutdown_reason: "spindown".into(),
                deadline_ms: 1_700_000_002_000
            }
        );
    }

    #[test]
    fn unknown_event_types_are_errors_not_panics() {
        assert!(
            serde_json::from_str::<NextEvent>(r#"{"eventType":"RESTORE","deadlineMs":1}"#).is_err()
        );
        assert!(serde_json::from_str::<NextEvent>("[]").is_err());
    }
}
