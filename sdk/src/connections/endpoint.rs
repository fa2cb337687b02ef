//! Where one WebSocket API stage's Management API lives (`https://{domainName}/{stage}`
//! from the event's request context, or any URL given) and in which region it is signed;
//! and the Management API client configured for it (feature `websocket`).

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::{Builder, Region};

use super::region::{region_from_domain, resolve_region};

/// The Management API endpoint of one WebSocket API stage.
///
/// ```
/// use liftwatch::connections::ManagementEndpoint;
/// // From `requestContext.domainName` and `requestContext.stage`:
/// let endpoint = ManagementEndpoint::from_request_context("abc.execute-api.eu-west-1.amazonaws.com", "prod");
/// assert_eq!(endpoint.url(), "https://abc.execute-api.eu-west-1.amazonaws.com/prod");
/// assert_eq!(endpoint.region_with(|_| None), "eu-west-1");
/// // A custom domain mapped to the API: give the URL and region.
/// let custom = ManagementEndpoint::from_url("https://ws.example.com/chat").with_region("eu-west-1");
/// assert_eq!(custom.region_with(|_| None), "eu-west-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementEndpoint {
    url: String,
    context_region: Option<String>,
    region: Option<String>,
}

impl ManagementEndpoint {
    /// `https://{domain_name}/{stage}`, with the region parsed from the domain name when it
    /// is an `execute-api` one.
    pub fn from_request_context(domain_name: &str, stage: &str) -> Self {
        let domain = domain_name.trim().trim_end_matches('/');
        let stage = stage.trim().trim_matches('/');
        let url = if stage.is_empty() {
            format!("https://{domain}")
        } else {
            format!("https://{domain}/{stage}")
        };
        ManagementEndpoint {
            url,
            context_region: region_from_domain(domain).map(str::to_owned),
            region: None,
        }
    }

    /// Any endpoint URL (a custom domain with its base path, or a local test server).
    pub fn from_url(url: impl Into<String>) -> Self {
        ManagementEndpoint {
            url: url.into(),
            context_region: None,
            region: None,
        }
    }

    /// Replaces the URL, keeping the region settings.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Sets the region explicitly; it wins over every other source.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the request context's region, for a domain name it cannot be parsed from.
    #[must_use]
    pub fn with_context_region(mut self, region: impl Into<String>) -> Self {
        self.context_region = Some(region.into());
        self
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The region (see [`resolve_region`] for the order), the environment read through
    /// `lookup`.
    pub fn region_with<F: Fn(&str) -> Option<String>>(&self, lookup: F) -> String {
        resolve_region(
            self.region.as_deref(),
            self.context_region.as_deref(),
            lookup,
        )
    }

    /// A Management API client for this endpoint: `base` (credentials, retries, HTTP
    /// client; e.g. `Builder::from(&sdk_config)`) with this URL and region, the environment
    /// read from the process.
    ///
    /// ```no_run
    /// # fn f(base: aws_sdk_apigatewaymanagement::config::Builder) {
    /// use liftwatch::connections::ManagementEndpoint;
    /// // base: `Builder::from(&aws_config::load_defaults(BehaviorVersion::latest()).await)`
    /// let endpoint = ManagementEndpoint::from_request_context("abc.execute-api.eu-west-1.amazonaws.com", "prod");
    /// let client = endpoint.client(base);
    /// # let _ = client; }
    /// ```
    pub fn client(&self, base: Builder) -> Client {
        self.client_with(base, |name| std::env::var(name).ok())
    }

    /// [`client`](Self::client) with the environment read through `lookup`.
    pub fn client_with<F: Fn(&str) -> Option<String>>(&self, base: Builder, lookup: F) -> Client {
        let config = base
            .endpoint_url(&self.url)
            .region(Region::new(self.region_with(lookup)))
            .build();
        Client::from_conf(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_comes_from_domain_and_stage_and_can_be_overridden() {
        let endpoint = ManagementEndpoint::from_request_context(
            "abc.execute-api.eu-west-1.amazonaws.com/",
            "/prod/",
        );
        assert_eq!(
            endpoint.url(),
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
        );
        let env = |name: &str| (name == "AWS_REGION").then(|| "us-west-2".to_owned());
        assert_eq!(endpoint.region_with(env), "eu-west-1");
        let local = endpoint.clone().with_url("http://127.0.0.1:9000/prod");
        assert_eq!(local.url(), "http://127.0.0.1:9000/prod");
        assert_eq!(
            local.region_with(env),
            "eu-west-1",
            "the region survives a new URL"
        );
        assert_eq!(
            local.with_region("ap-south-1").region_with(env),
            "ap-south-1"
        );
    }

    #[test]
    fn a_custom_domain_falls_back_to_the_environment() {
        let endpoint = ManagementEndpoint::from_request_context("ws.example.com", "chat");
        let env = |name: &str| (name == "AWS_DEFAULT_REGION").then(|| "eu-north-1".to_owned());
        assert_eq!(endpoint.region_with(env), "eu-north-1");
        assert_eq!(endpoint.region_with(|_| None), "us-east-1");
        let given = endpoint.with_context_region("sa-east-1");
        assert_eq!(given.region_with(env), "sa-east-1");
    }
}
