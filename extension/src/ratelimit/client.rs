//! The DynamoDB client behind the statistics writer, built lazily at the first write the
//! way the CloudWatch sink builds its own (`sink::cloudwatch::client`): region, credentials
//! and endpoint from the environment unless overridden, the SDK's retries off (the writer's
//! loop owns them), a short connect timeout, a fresh connection pool after a long idle, and
//! a timeout per attempt.

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::{Client, Config};

/// How long a TCP (and TLS) connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A client idle longer than this gets a fresh connection pool (a frozen sandbox may hold
/// pooled connections that answer nothing).
pub const REFRESH_AFTER_IDLE: Duration = Duration::from_secs(20);

/// Where and as whom the client connects; everything unset comes from the environment.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// AWS region.
    pub region: String,
    /// Endpoint override (tests); `AWS_ENDPOINT_URL*` apply when unset.
    pub endpoint: Option<String>,
    /// Static credentials (tests); the default chain applies when unset.
    pub credentials: Option<Credentials>,
}

/// A built client and when it was last used.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    client: Client,
    last_used: Instant,
}

impl Connection {
    /// Loads the configuration and builds a client without retries of its own.
    pub async fn open(options: &ClientOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(options.region.clone()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts(None));
        if let Some(credentials) = options.credentials.clone() {
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let config = builder.build();
        Connection {
            client: Client::from_conf(config.clone()),
            config,
            last_used: Instant::now(),
        }
    }

    /// The client to use at `now`: a new one (a new connection pool) after a long idle.
    pub fn client(&mut self, now: Instant) -> Client {
        if now.saturating_duration_since(self.last_used) > REFRESH_AFTER_IDLE {
            self.client = Client::from_conf(self.config.clone());
        }
        self.last_used = now;
        self.client.clone()
    }
}

/// The timeouts: the connect timeout fixed, the attempt timeout per call.
pub fn timeouts(attempt: Option<Duration>) -> TimeoutConfig {
    let mut builder = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT);
    builder.set_operation_attempt_timeout(attempt);
    builder.build()
}

/// A per-call configuration override giving the attempt `attempt` to finish.
pub fn attempt_override(attempt: Duration) -> aws_sdk_dynamodb::config::Builder {
    Config::builder().timeout_config(timeouts(Some(attempt)))
}
