//! `websocket-demo create-table`: creates the connection table named by
//! `CONNECTIONS_TABLE` with `liftwatch::connections::create_table` (keys, both indexes,
//! TTL), through the AWS configuration of the environment (so `AWS_ENDPOINT_URL` reaches
//! an emulator). For local runs; in AWS, create it with your infrastructure tools.

use aws_config::BehaviorVersion;
use lambda_runtime::Error;

use crate::config::TABLE_VAR;

/// Creates the table and says so on stderr.
pub async fn create_table() -> Result<(), Error> {
    let Some(table) = std::env::var(TABLE_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        return Err(format!("{TABLE_VAR} is not set").into());
    };
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    if let Err(error) = liftwatch::connections::create_table(&client, &table).await {
        return Err(liftwatch::error_chain(&error).into());
    }
    tracing::info!(table, "connection table created");
    Ok(())
}
