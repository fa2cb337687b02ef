//! `$disconnect`: delete the connection from the store and report it closed. A connection
//! that is already gone (a repeated `$disconnect`, or one a broadcast found gone and
//! removed, which reported it closed then) is not reported twice.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use liftwatch::connections::Removed;

use liftwatch::error_chain;

use super::status;
use crate::app::App;

/// Handles `$disconnect`. API Gateway ignores the answer; a failure is logged.
pub async fn handle(app: &App, connection_id: &str) -> ApiGatewayProxyResponse {
    match app.store.delete(connection_id).await {
        Ok(Removed::Deleted | Removed::Expired) => {
            app.metrics.connection_closed();
            status(200, "Disconnected")
        }
        Ok(Removed::AlreadyGone) => {
            tracing::info!(connection_id, "connection already gone");
            status(200, "Disconnected")
        }
        Err(error) => {
            tracing::error!(error = %error_chain(&error), connection_id, "cannot delete the connection");
            status(500, "Internal Server Error")
        }
    }
}
