//! websocket-demo: a Lambda function (on `lambda_runtime`) behind an API Gateway WebSocket
//! API. `$connect` checks a JWT and saves the connection in a DynamoDB table
//! (`liftwatch::connections::ConnectionStore`), `$disconnect` deletes it, `$default`
//! posts the message to the sender's tenant's other connections; each reports its event
//! to the liftwatch extension (`ConnectionsOpened`, `ConnectionsClosed`, `Messages`,
//! `MessageBytes`), which also publishes the fleet's `ActiveConnections` from the same
//! table when given it as `LIFTWATCH_CONNECTIONS_TABLE`.
//!
//! `websocket-demo create-table` creates the table named by `CONNECTIONS_TABLE` (for local
//! runs against an emulator); see README.md.

mod app;
mod config;
mod routes;
mod setup;

use std::convert::Infallible;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

use crate::app::App;
use crate::config::{Config, ConfigError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Logs go to stderr (stdout is left alone); Lambda timestamps each line itself.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();

    if std::env::args().nth(1).as_deref() == Some("create-table") {
        return setup::create_table().await;
    }
    let app = match init().await {
        Ok(app) => Arc::new(app),
        Err(error) => {
            tracing::error!(error = %liftwatch::error_chain(&error), "the function cannot start");
            return Err(error.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(routes::handle(&app, event.payload).await) }
    }))
    .await
}

/// Cold start: the configuration, then every client, once.
async fn init() -> Result<App, ConfigError> {
    App::init(&Config::from_env()?).await
}
