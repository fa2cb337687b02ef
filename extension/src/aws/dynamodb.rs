//! The DynamoDB client of the statistics writer and the connection counter, built lazily with
//! what every AWS client of the extension shares (`crate::aws`: environment, no SDK
//! retries, connect and attempt timeouts, a fresh pool after a long idle).

use std::time::Duration;

use aws_sdk_dynamodb::{Client, Config};

pub use crate::aws::ClientOptions;

/// A DynamoDB client that is rebuilt after a long idle.
pub type Connection = crate::aws::Connection<Config, Client>;

/// Loads the configuration and builds a client without retries of its own.
pub async fn open(options: &ClientOptions) -> Connection {
    let shared = options.load();
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Connection::new(builder.build(), Client::from_conf)
}

/// A per-call configuration override giving the attempt `attempt` to finish.
pub fn attempt_override(attempt: Duration) -> aws_sdk_dynamodb::config::Builder {
    Config::builder().timeout_config(crate::aws::timeouts(Some(attempt)))
}
