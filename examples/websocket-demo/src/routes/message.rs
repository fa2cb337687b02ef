//! `$default`: report the message, then post its body to the sender's tenant's other
//! connections through the Management API. Connections API Gateway answers 410 Gone for
//! are deleted from the store by the broadcaster and reported closed here (their later
//! `$disconnect` finds them gone and reports nothing; one racing the broadcast can count
//! twice, as the broadcaster reports gone whatever its delete found). The answer is a
//! summary: `{"delivered": n, "gone": n, "failed": n}`.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use liftwatch::connections::BroadcastReport;
use serde_json::{Value, json};

use liftwatch::error_chain;

use super::{json_response, status};
use crate::app::App;

/// Handles `$default`.
pub async fn handle(
    app: &App,
    request: &ApiGatewayWebsocketProxyRequest,
    connection_id: &str,
) -> ApiGatewayProxyResponse {
    let Some(data) = body_bytes(request.body.as_deref(), request.is_base64_encoded) else {
        tracing::warn!(connection_id, "binary message body is not valid base64");
        return status(400, "Bad Request");
    };
    app.metrics.message(data.len() as u64);

    let tenant = match app.store.get(connection_id).await {
        Ok(Some(sender)) => sender.tenant_id,
        Ok(None) => {
            tracing::warn!(connection_id, "message from a connection not in the store");
            return status(403, "Forbidden");
        }
        Err(error) => {
            tracing::error!(error = %error_chain(&error), connection_id, "cannot read the sender");
            return status(500, "Internal Server Error");
        }
    };
    let Some(tenant) = tenant else {
        return json_response(200, &summary(&BroadcastReport::default()));
    };
    let recipients = match app.store.list_by_tenant(&tenant).await {
        Ok(connections) => connections.into_iter().map(|c| c.id),
        Err(error) => {
            tracing::error!(error = %error_chain(&error), tenant, "cannot list the tenant's connections");
            return status(500, "Internal Server Error");
        }
    };
    let context = &request.request_context;
    let Some(broadcaster) =
        app.broadcaster(context.domain_name.as_deref(), context.stage.as_deref())
    else {
        tracing::error!(
            connection_id,
            "no domainName/stage in the event and no MANAGEMENT_ENDPOINT"
        );
        return status(500, "Internal Server Error");
    };
    let others = recipients.filter(|id| id != connection_id);
    let report = broadcaster.post(others, &data).await;
    for gone in &report.gone {
        tracing::info!(connection_id = %gone, "connection gone; removed from the store");
        app.metrics.connection_closed();
    }
    for failure in &report.failed {
        tracing::warn!(
            connection_id = %failure.connection_id,
            error = %error_chain(&failure.error),
            "message not delivered"
        );
    }
    json_response(200, &summary(&report))
}

/// The message's bytes: the body as sent, base64-decoded for a binary frame; `None` for
/// bad base64. No body is an empty message.
fn body_bytes(body: Option<&str>, base64: bool) -> Option<Vec<u8>> {
    let body = body.unwrap_or_default();
    if base64 {
        STANDARD.decode(body).ok()
    } else {
        Some(body.as_bytes().to_vec())
    }
}

fn summary(report: &BroadcastReport) -> Value {
    json!({
        "delivered": report.delivered.len(),
        "gone": report.gone.len(),
        "failed": report.failed.len(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn text_frames_are_taken_as_sent_and_binary_frames_decoded() {
        assert_eq!(body_bytes(Some("héllo"), false).unwrap().len(), 6);
        assert_eq!(body_bytes(Some("AAEC/w=="), true).unwrap(), [0, 1, 2, 255]);
        assert_eq!(body_bytes(None, false).unwrap(), b"");
        assert_eq!(body_bytes(Some("not base64!"), true), None);
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let report = BroadcastReport::default();
        assert_eq!(
            summary(&report),
            json!({"delivered": 0, "gone": 0, "failed": 0})
        );
    }
}
