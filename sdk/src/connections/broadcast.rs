//! Posting one message to many connections through the API Gateway Management API
//! (`PostToConnection`, feature `websocket`): a bounded number of posts in flight, a
//! connection API Gateway answers 410 Gone for is deleted from the store, and every other
//! failure is reported with its connection id.

use std::error::Error;
use std::fmt;

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::StreamExt;
use futures_util::stream;

use super::ConnectionStore;
use super::error::StoreError;

/// Posts in flight at once unless [`Broadcaster::with_concurrency`] says otherwise.
pub const DEFAULT_BROADCAST_CONCURRENCY: usize = 16;

/// Sends messages to stored connections and forgets the gone ones.
///
/// ```no_run
/// # async fn f(store: liftwatch::connections::ConnectionStore, base: aws_sdk_apigatewaymanagement::config::Builder) -> Result<(), liftwatch::connections::StoreError> {
/// use liftwatch::connections::{Broadcaster, ManagementEndpoint};
/// let endpoint = ManagementEndpoint::from_request_context("abc.execute-api.eu-west-1.amazonaws.com", "prod");
/// let broadcaster = Broadcaster::new(store, endpoint.client(base)).with_concurrency(32);
/// let report = broadcaster.post_to_tenant("acme", br#"{"type":"refresh"}"#).await?;
/// for failure in &report.failed {
///     eprintln!("{}: {}", failure.connection_id, failure.error);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Broadcaster {
    store: ConnectionStore,
    client: Client,
    concurrency: usize,
}

/// What one broadcast did, connection by connection (each list sorted by id).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BroadcastReport {
    /// Posted successfully.
    pub delivered: Vec<String>,
    /// Answered 410 Gone, and deleted from the store.
    pub gone: Vec<String>,
    /// Not delivered, with why.
    pub failed: Vec<BroadcastFailure>,
}

/// One connection the message did not reach.
#[derive(Debug)]
pub struct BroadcastFailure {
    /// The connection id.
    pub connection_id: String,
    /// Why.
    pub error: BroadcastError,
}

/// Why a post failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BroadcastError {
    /// `PostToConnection` failed (other than 410 Gone): forbidden, throttled, payload too
    /// large, a server error after the client's retries, or a transport failure.
    Post(Box<aws_sdk_apigatewaymanagement::Error>),
    /// The connection was gone, but deleting it from the store failed.
    Cleanup(StoreError),
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::Post(_) => f.write_str("post to connection failed"),
            BroadcastError::Cleanup(_) => f.write_str("could not delete the gone connection"),
        }
    }
}

impl Error for BroadcastError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BroadcastError::Post(source) => Some(source.as_ref()),
            BroadcastError::Cleanup(source) => Some(source),
        }
    }
}

enum Delivery {
    Delivered,
    Gone,
    Failed(BroadcastError),
}

impl Broadcaster {
    /// Posts through `client` (see [`ManagementEndpoint::client`](super::ManagementEndpoint::client))
    /// and cleans up in `store`.
    pub fn new(store: ConnectionStore, client: Client) -> Self {
        Broadcaster {
            store,
            client,
            concurrency: DEFAULT_BROADCAST_CONCURRENCY,
        }
    }

    /// At most `posts` in flight at once (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, posts: usize) -> Self {
        self.concurrency = posts.max(1);
        self
    }

    /// Posts `data` to every connection in `connection_ids`.
    pub async fn post<I, S>(&self, connection_ids: I, data: &[u8]) -> BroadcastReport
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let data = Blob::new(data);
        let mut outcomes = stream::iter(connection_ids)
            .map(|id| self.post_one(id.into(), data.clone()))
            .buffer_unordered(self.concurrency);
        let mut report = BroadcastReport::default();
        while let Some((connection_id, delivery)) = outcomes.next().await {
            match delivery {
                Delivery::Delivered => report.delivered.push(connection_id),
                Delivery::Gone => report.gone.push(connection_id),
                Delivery::Failed(error) => report.failed.push(BroadcastFailure {
                    connection_id,
                    error,
                }),
            }
        }
        report.delivered.sort();
        report.gone.sort();
        report
            .failed
            .sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        report
    }

    /// Posts `data` to every live connection of `tenant`.
    pub async fn post_to_tenant(
        &self,
        tenant: &str,
        data: &[u8],
    ) -> Result<BroadcastReport, StoreError> {
        let connections = self.store.list_by_tenant(tenant).await?;
        Ok(self.post(connections.into_iter().map(|c| c.id), data).await)
    }

    /// Posts `data` to every live connection of `user_id` in `tenant`.
    pub async fn post_to_user(
        &self,
        tenant: Option<&str>,
        user_id: &str,
        data: &[u8],
    ) -> Result<BroadcastReport, StoreError> {
        let connections = self.store.list_by_user(tenant, user_id).await?;
        Ok(self.post(connections.into_iter().map(|c| c.id), data).await)
    }

    async fn post_one(&self, connection_id: String, data: Blob) -> (String, Delivery) {
        let result = self
            .client
            .post_to_connection()
            .connection_id(&connection_id)
            .data(data)
            .send()
            .await;
        let delivery = match result {
            Ok(_) => Delivery::Delivered,
            Err(error) if is_gone(&error) => match self.store.delete(&connection_id).await {
                Ok(_) => Delivery::Gone,
                Err(error) => Delivery::Failed(BroadcastError::Cleanup(error)),
            },
            Err(error) => Delivery::Failed(BroadcastError::Post(Box::new(error.into()))),
        };
        (connection_id, delivery)
    }
}

/// 410 Gone: modelled as `GoneException`, or any 410 the error type did not name.
fn is_gone(error: &SdkError<PostToConnectionError, HttpResponse>) -> bool {
    match error {
        SdkError::ServiceError(e) => {
            matches!(e.err(), PostToConnectionError::GoneException(_))
                || e.raw().status().as_u16() == 410
        }
        _ => false,
    }
}
