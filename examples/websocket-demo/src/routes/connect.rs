//! `$connect`: verify the JWT (Authorization, then Sec-WebSocket-Protocol, then the `token`
//! query parameter), save the connection keyed by the token's `sub` and `tenant_id`, and
//! report it. A refused token is a bare 401, counted in `ConnectRejected` by a reason from
//! a closed set; nothing is stored.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::http::HeaderValue;
use liftwatch::connections::{Connection, Saved};
use liftwatch::jwt::{Claims, JwtError, PROTOCOL_MARKER, RequestParts, TokenSource};
use liftwatch::{Metric, Unit};

use liftwatch::error_chain;

use super::status;
use crate::app::App;

/// The custom metric counting refused connections, with dimension [`REASON_DIMENSION`].
pub const REJECTED_METRIC: &str = "ConnectRejected";
/// Its one dimension, valued by [`Reject::as_str`].
pub const REASON_DIMENSION: &str = "Reason";

/// Why a connection was refused: a closed set, so the metric's dimension stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// No token in any source.
    Missing,
    /// Not a well-formed JWT, or two different tokens.
    Malformed,
    /// Expired or not valid yet.
    Expired,
    /// Wrong or unknown key, or an algorithm not allowed.
    Signature,
    /// Wrong issuer or audience, a claim of the wrong type, or no `sub` or `tenant_id`.
    Claims,
}

impl Reject {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Missing => "missing",
            Reject::Malformed => "malformed",
            Reject::Expired => "expired",
            Reject::Signature => "signature",
            Reject::Claims => "claims",
        }
    }

    /// The reason for a verifier error (all but `Clock`, which is a 500).
    fn of(error: &JwtError) -> Reject {
        match error {
            JwtError::Missing => Reject::Missing,
            JwtError::Malformed(_) | JwtError::MultipleTokens => Reject::Malformed,
            JwtError::Expired | JwtError::NotYetValid => Reject::Expired,
            JwtError::BadSignature | JwtError::UnknownKey | JwtError::AlgorithmNotAllowed(_) => {
                Reject::Signature
            }
            _ => Reject::Claims,
        }
    }
}

/// Who the token says is connecting.
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    user: String,
    tenant: String,
    /// The token came in `Sec-WebSocket-Protocol`: the answer must select the marker.
    via_protocol: bool,
}

/// Handles `$connect`.
pub async fn handle(
    app: &App,
    request: &ApiGatewayWebsocketProxyRequest,
    connection_id: &str,
) -> ApiGatewayProxyResponse {
    let identity = match authenticate(app, &request_parts(request)) {
        Ok(identity) => identity,
        Err(Refusal::Server(error)) => {
            tracing::error!(error = %error, connection_id, "cannot verify tokens");
            return status(500, "Internal Server Error");
        }
        Err(Refusal::Unauthorized(reason)) => {
            tracing::info!(
                reason = reason.as_str(),
                connection_id,
                "connection refused"
            );
            app.metrics.send(
                Metric::count(REJECTED_METRIC, 1.0)
                    .unit(Unit::Count)
                    .dimension(REASON_DIMENSION, reason.as_str()),
            );
            return status(401, "Unauthorized");
        }
    };
    let mut connection = Connection::new(connection_id)
        .user(identity.user.as_str())
        .tenant(identity.tenant.as_str());
    if let Some(ip) = request.request_context.identity.source_ip.as_deref() {
        connection = connection.metadata("source_ip", ip);
    }
    match app.store.save(&connection).await {
        Ok(Saved::Created) => app.metrics.connection_opened(),
        // A retried $connect: stored and counted by the first one.
        Ok(Saved::AlreadySaved) => tracing::info!(connection_id, "connection already saved"),
        Err(error) => {
            tracing::error!(error = %error_chain(&error), connection_id, "cannot save the connection");
            return status(500, "Internal Server Error");
        }
    }
    let mut response = status(200, "Connected");
    if identity.via_protocol {
        response.headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(PROTOCOL_MARKER),
        );
    }
    response
}

/// Why `authenticate` gave no identity.
#[derive(Debug)]
enum Refusal {
    /// The caller is not authenticated: 401.
    Unauthorized(Reject),
    /// Tokens cannot be checked here at all (the clock): 500.
    Server(JwtError),
}

impl From<JwtError> for Refusal {
    fn from(error: JwtError) -> Self {
        if error.is_unauthorized() {
            Refusal::Unauthorized(Reject::of(&error))
        } else {
            Refusal::Server(error)
        }
    }
}

/// The identity in the request's token.
fn authenticate(app: &App, parts: &RequestParts) -> Result<Identity, Refusal> {
    let token = app.verifier.extract(parts)?;
    let claims = app.verifier.verify(token.as_str())?;
    let via_protocol = matches!(token.source(), TokenSource::WebSocketProtocol(_));
    identity(claims, via_protocol).ok_or(Refusal::Unauthorized(Reject::Claims))
}

/// `sub` and `tenant_id` are both required: connections are kept per user and tenant.
fn identity(claims: Claims, via_protocol: bool) -> Option<Identity> {
    let nonblank = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    Some(Identity {
        user: nonblank(claims.sub)?,
        tenant: nonblank(claims.tenant_id)?,
        via_protocol,
    })
}

/// The headers (single- and multi-valued) and query parameters the token may be in.
fn request_parts(request: &ApiGatewayWebsocketProxyRequest) -> RequestParts {
    let headers = request
        .headers
        .iter()
        .chain(request.multi_value_headers.iter())
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let query = request
        .query_string_parameters
        .iter()
        .chain(request.multi_value_query_string_parameters.iter());
    RequestParts::new().headers(headers).query(query)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn every_verifier_error_maps_into_the_closed_set() {
        let cases = [
            (JwtError::Missing, "missing"),
            (JwtError::MultipleTokens, "malformed"),
            (JwtError::Malformed("not three segments"), "malformed"),
            (JwtError::Expired, "expired"),
            (JwtError::NotYetValid, "expired"),
            (JwtError::BadSignature, "signature"),
            (JwtError::UnknownKey, "signature"),
            (JwtError::AlgorithmNotAllowed(Some("none")), "signature"),
            (JwtError::WrongIssuer, "claims"),
            (JwtError::WrongAudience, "claims"),
            (JwtError::MissingExp, "claims"),
            (JwtError::InvalidClaim("sub".into()), "claims"),
        ];
        for (error, reason) in cases {
            assert_eq!(Reject::of(&error).as_str(), reason, "{error}");
        }
    }

    #[test]
    fn a_user_and_a_tenant_are_required() {
        let claims = |sub: Option<&str>, tenant: Option<&str>| Claims {
            sub: sub.map(str::to_owned),
            tenant_id: tenant.map(str::to_owned),
            ..Claims::default()
        };
        assert_eq!(
            identity(claims(Some("alice"), Some("acme")), true),
            Some(Identity {
                user: "alice".into(),
                tenant: "acme".into(),
                via_protocol: true
            })
        );
        assert_eq!(identity(claims(None, Some("acme")), false), None);
        assert_eq!(identity(claims(Some("alice"), Some(" ")), false), None);
    }

    #[test]
    fn headers_and_query_of_both_shapes_are_read() {
        let event = json!({
            "headers": {"Sec-WebSocket-Protocol": "bearer, abc"},
            "multiValueHeaders": {"Sec-WebSocket-Protocol": ["bearer, abc"]},
            "queryStringParameters": {"token": "xyz"},
            "multiValueQueryStringParameters": {"token": ["xyz"]},
            "requestContext": {"connectedAt": 0, "requestTimeEpoch": 0}
        });
        let request: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).unwrap();
        let parts = request_parts(&request);
        let protocol: Vec<&str> = parts.header_values("sec-websocket-protocol").collect();
        assert_eq!(protocol, ["bearer, abc", "bearer, abc"]);
    }
}
