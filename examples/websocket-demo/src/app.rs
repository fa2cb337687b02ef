//! What the function builds once at cold start and every route shares: the AWS clients
//! (from the environment, so `AWS_ENDPOINT_URL` points them at an emulator), the
//! connection store, the JWT verifier, the liftwatch client, and the Management API
//! broadcasters (the configured endpoint's, or one per API stage the events name, made on
//! first use and kept).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_config::BehaviorVersion;
use aws_sdk_apigatewaymanagement::config::Builder as ManagementConfig;
use liftwatch::connections::{Broadcaster, ConnectionStore, ManagementEndpoint};
use liftwatch::jwt::Verifier;

use crate::config::{Config, ConfigError};

/// The shared state of the function.
#[derive(Debug)]
pub struct App {
    /// The connection table.
    pub store: ConnectionStore,
    /// Checks `$connect` tokens.
    pub verifier: Verifier,
    /// Reports connection events to the liftwatch extension.
    pub metrics: liftwatch::Client,
    management: ManagementConfig,
    /// The broadcaster for `MANAGEMENT_ENDPOINT`, when set.
    fixed: Option<Broadcaster>,
    /// Broadcasters by Management API URL, from the events' domain name and stage.
    by_endpoint: Mutex<HashMap<String, Broadcaster>>,
}

impl App {
    /// Loads the AWS configuration and builds every client.
    pub async fn init(config: &Config) -> Result<App, ConfigError> {
        let verifier = config.verifier()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let store = ConnectionStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
        let management = ManagementConfig::from(&sdk);
        let fixed = config.management_endpoint.as_ref().map(|url| {
            let client = ManagementEndpoint::from_url(url).client(management.clone());
            Broadcaster::new(store.clone(), client)
        });
        Ok(App {
            store,
            verifier,
            metrics: liftwatch::Client::from_env(),
            management,
            fixed,
            by_endpoint: Mutex::default(),
        })
    }

    /// The broadcaster for the API stage an event came through: the configured endpoint
    /// if any, else `https://{domain_name}/{stage}`. `None` when neither is known.
    pub fn broadcaster(
        &self,
        domain_name: Option<&str>,
        stage: Option<&str>,
    ) -> Option<Broadcaster> {
        if let Some(fixed) = &self.fixed {
            return Some(fixed.clone());
        }
        let endpoint = ManagementEndpoint::from_request_context(domain_name?, stage?);
        let mut cache = self
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let broadcaster = cache.entry(endpoint.url().to_owned()).or_insert_with(|| {
            let client = endpoint.client(self.management.clone());
            Broadcaster::new(self.store.clone(), client)
        });
        Some(broadcaster.clone())
    }
}
