//! The API Gateway WebSocket routes: one event in, one proxy response out, never an
//! error for the runtime (a bad event is a 400, a failed dependency a 500, both logged on
//! stderr). `connect`, `disconnect` and `message` hold one route each; this module reads
//! the event and picks the route.

mod connect;
mod disconnect;
mod message;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use serde_json::{Value, json};

use crate::app::App;

/// Which route an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `$connect` (eventType `CONNECT`).
    Connect,
    /// `$disconnect` (eventType `DISCONNECT`).
    Disconnect,
    /// `$default` or any custom route (eventType `MESSAGE`).
    Message,
}

impl Route {
    /// The route from `requestContext.eventType`, else from `routeKey`.
    pub fn of(event_type: Option<&str>, route_key: Option<&str>) -> Option<Route> {
        match (event_type, route_key) {
            (Some("CONNECT"), _) => Some(Route::Connect),
            (Some("DISCONNECT"), _) => Some(Route::Disconnect),
            (Some("MESSAGE"), _) => Some(Route::Message),
            (_, Some("$connect")) => Some(Route::Connect),
            (_, Some("$disconnect")) => Some(Route::Disconnect),
            (_, Some(_)) => Some(Route::Message),
            (_, None) => None,
        }
    }
}

/// Handles one invocation.
pub async fn handle(app: &App, event: Value) -> ApiGatewayProxyResponse {
    let request: ApiGatewayWebsocketProxyRequest = match serde_json::from_value(event) {
        Ok(request) => request,
        Err(error) => {
            tracing::warn!(error = %error, "not an API Gateway WebSocket event");
            return status(400, "Bad Request");
        }
    };
    let context = &request.request_context;
    let route = Route::of(context.event_type.as_deref(), context.route_key.as_deref());
    let connection_id = context.connection_id.as_deref().filter(|id| !id.is_empty());
    let (Some(route), Some(connection_id)) = (route, connection_id) else {
        tracing::warn!(
            event_type = ?context.event_type,
            route_key = ?context.route_key,
            "event without a route or a connection id"
        );
        return status(400, "Bad Request");
    };
    match route {
        Route::Connect => connect::handle(app, &request, connection_id).await,
        Route::Disconnect => disconnect::handle(app, connection_id).await,
        Route::Message => message::handle(app, &request, connection_id).await,
    }
}

/// A response with a JSON body.
fn json_response(code: u16, body: &Value) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(code);
    response
        .headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_string()));
    response
}

/// A response whose body says only the status's reason phrase: never why.
fn status(code: u16, reason: &str) -> ApiGatewayProxyResponse {
    json_response(code, &json!({ "message": reason }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_event_type_decides_then_the_route_key() {
        assert_eq!(
            Route::of(Some("CONNECT"), Some("$connect")),
            Some(Route::Connect)
        );
        assert_eq!(Route::of(Some("DISCONNECT"), None), Some(Route::Disconnect));
        assert_eq!(
            Route::of(Some("MESSAGE"), Some("sendmessage")),
            Some(Route::Message)
        );
        assert_eq!(
            Route::of(None, Some("$disconnect")),
            Some(Route::Disconnect)
        );
        assert_eq!(Route::of(None, Some("$default")), Some(Route::Message));
        assert_eq!(Route::of(None, None), None);
    }

    #[test]
    fn responses_are_proxy_responses_with_json_bodies() {
        let response = serde_json::to_value(status(401, "Unauthorized")).unwrap();
        assert_eq!(response["statusCode"], 401);
        assert_eq!(response["headers"]["content-type"], "application/json");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({ "message": "Unauthorized" }));
    }
}
