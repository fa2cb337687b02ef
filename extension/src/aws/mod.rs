//! What every AWS client of the extension shares (the CloudWatch sink, the rate-limit
//! statistics writer): built lazily from the environment (region, credentials,
//! `AWS_ENDPOINT_URL*`) unless overridden, the SDK's own retries off (each caller's loop
//! owns them, inside its deadline), a short connect timeout, a timeout per attempt, and a
//! fresh connection pool after a long idle: a freeze longer than the endpoint's keep-alive
//! leaves pooled connections that may answer nothing at all.

pub mod dynamodb;
mod environment;

use std::time::{Duration, Instant};

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::config::SharedHttpClient;
use environment::Environment;

/// How long a TCP (and TLS) connect may take: a live regional endpoint answers in a few
/// milliseconds, so a second means the network path is gone.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A client idle longer than this gets a fresh connection pool.
pub const REFRESH_AFTER_IDLE: Duration = Duration::from_secs(20);

/// Where and as whom a client connects; everything unset comes from the environment.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// AWS region.
    pub region: String,
    /// Endpoint override (tests); `AWS_ENDPOINT_URL*` apply when unset.
    pub endpoint: Option<String>,
    /// Static credentials (tests); the default chain applies when unset.
    pub credentials: Option<Credentials>,
}

impl ClientOptions {
    /// The extension's configuration, as Lambda provides it: credentials from the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) or,
    /// where Lambda puts none there (SnapStart), from its container credentials endpoint
    /// (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, `AWS_CONTAINER_AUTHORIZATION_TOKEN`), and
    /// the `AWS_*` service settings of the environment (`AWS_ENDPOINT_URL*`). Not the SDK's
    /// whole default chain (config files, SSO, web identity, instance metadata): nothing of
    /// it exists in Lambda, and leaving it out keeps about 0.3 MB out of the layer. The
    /// command-line tools, run by people, use [`load_default_chain`](Self::load_default_chain).
    #[must_use]
    pub fn load(&self) -> SdkConfig {
        let http = https_client();
        let environment = Environment::from_process();
        let credentials = match self.credentials.clone() {
            Some(credentials) => SharedCredentialsProvider::new(credentials),
            None => lambda_credentials(&http),
        };
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(credentials)
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts(None));
        builder.set_endpoint_url(environment.endpoint_url());
        builder.set_use_fips(environment.use_fips());
        builder.set_use_dual_stack(environment.use_dual_stack());
        builder.service_config(environment).build()
    }

    /// The configuration with the AWS SDK's default credentials chain (profiles, SSO, web
    /// identity, instance metadata, ...), for the command-line tools.
    #[cfg(feature = "cli")]
    pub async fn load_default_chain(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .region(Region::new(self.region.clone()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts(None));
        if let Some(credentials) = self.credentials.clone() {
            loader = loader.credentials_provider(credentials);
        }
        loader.load().await
    }
}

/// Lambda's credentials: the environment's, else the container endpoint's (SnapStart).
fn lambda_credentials(http: &SharedHttpClient) -> SharedCredentialsProvider {
    let container = ProviderConfig::without_region().with_http_client(http.clone());
    let chain = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder()
            .configure(&container)
            .build(),
    );
    SharedCredentialsProvider::new(chain)
}

/// The HTTPS client every AWS client shares: the SDK's hyper + rustls client with ring as
/// its crypto (the SDK's default brings aws-lc, several hundred KB more in the binary).
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The timeouts: the connect timeout always the same (the SDK caches one connector per
/// connect/read timeout pair), the attempt timeout per call.
pub fn timeouts(attempt: Option<Duration>) -> TimeoutConfig {
    let mut builder = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT);
    builder.set_operation_attempt_timeout(attempt);
    builder.build()
}

/// A built client, the configuration to rebuild it from, and when it was last used.
#[derive(Debug)]
pub struct Connection<Config, Client> {
    config: Config,
    client: Client,
    make: fn(Config) -> Client,
    last_used: Instant,
}

impl<Config: Clone, Client: Clone> Connection<Config, Client> {
    /// A connection whose clients are built by `make` (a service's `Client::from_conf`).
    pub fn new(config: Config, make: fn(Config) -> Client) -> Self {
        Connection {
            client: make(config.clone()),
            config,
            make,
            last_used: Instant::now(),
        }
    }

    /// The client to use at `now`: a new one (a new connection pool) after a long idle.
    pub fn client(&mut self, now: Instant) -> Client {
        if now.saturating_duration_since(self.last_used) > REFRESH_AFTER_IDLE {
            self.client = (self.make)(self.config.clone());
        }
        self.last_used = now;
        self.client.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_rebuilt_only_after_a_long_idle() {
        fn make(config: u32) -> (u32, Instant) {
            (config, Instant::now())
        }
        let mut connection = Connection::new(7, make);
        let start = connection.last_used;
        let first = connection.client(start + Duration::from_secs(1));
        let same = connection.client(start + Duration::from_secs(10));
        assert_eq!(first, same, "used within the idle limit: the same pool");
        let fresh = connection.client(start + Duration::from_secs(10) + REFRESH_AFTER_IDLE * 2);
        assert_ne!(first.1, fresh.1, "after a long idle: a new client");
        assert_eq!(fresh.0, 7);
    }

    #[test]
    fn timeouts_keep_the_connect_timeout_and_set_the_attempt() {
        let t = timeouts(Some(Duration::from_millis(300)));
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(
            t.operation_attempt_timeout(),
            Some(Duration::from_millis(300))
        );
        assert_eq!(timeouts(None).operation_attempt_timeout(), None);
    }
}
