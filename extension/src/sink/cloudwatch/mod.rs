//! The CloudWatch API sink: publishes flushed batches with `PutMetricData`, for functions
//! where logs (EMF) are not an option. Chosen with `LIFTWATCH_SINKS=cloudwatch`.
//!
//! `batch` turns series into datums and requests within the API's limits, `client` builds
//! the SDK client lazily on the first export and classifies errors for the workspace's
//! retry loop (`liftwatch::retry`, one request retried until the deadline), and `buffer` keeps what was not sent for the next export.
//!
//! Pinned to `aws-sdk-cloudwatch` 1.99.0, the last release on the awsQuery protocol: from
//! 1.100.0 on the client speaks RPCv2 CBOR, which moto's server (our test emulator)
//! answers with 404. CloudWatch still accepts the query protocol, as older SDKs use it.

mod batch;
mod buffer;
mod client;

use std::time::Instant;

use aws_sdk_cloudwatch::config::Credentials;
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::types::MetricDatum;

use crate::metrics::MetricBatch;
use crate::sink::{ExportReport, Sink, SinkError, SinkFuture};

use batch::Datum;
use buffer::Kept;
use client::{ClientOptions, Connection, open};
use liftwatch::retry::{self, Failed, Last, Policy};

pub use buffer::{MAX_KEPT_DATUMS, MAX_KEPT_VALUES};

/// How long one background retry (breaker open) may take.
pub const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Why data did not reach CloudWatch.
#[derive(Debug, thiserror::Error)]
pub enum CloudWatchError {
    /// The `PutMetricData` call failed.
    #[error("putmetricdata failed")]
    Put(#[source] Box<SdkError<PutMetricDataError, HttpResponse>>),
    /// An attempt got no answer within its timeout.
    #[error("no answer from cloudwatch within {0:?}")]
    AttemptTimeout(std::time::Duration),
    /// The AWS configuration did not load before the deadline.
    #[error("the aws configuration did not load before the deadline")]
    ConfigTimeout,
    /// The deadline left no time to try.
    #[error("the deadline left no time to send")]
    Deadline,
}

/// Publishes metrics through the CloudWatch API, keeping what it could not send.
#[derive(Debug)]
pub struct CloudWatchSink {
    namespace: String,
    options: ClientOptions,
    connection: Option<Connection>,
    kept: Kept,
    /// Open: the last send delivered nothing, so flushes no longer wait for CloudWatch
    /// (in `end` mode a flush is on the response path); the kept data is retried in a
    /// task of its own, and the first retry that delivers closes it again.
    open: bool,
    retry: Option<tokio::task::JoinHandle<Progress>>,
    /// The values the background retry in flight carries (lost with it if it is aborted).
    retry_values: u64,
    /// The least time between two sends; flushes in between keep their data (0: every flush
    /// sends). Each sandbox calling `PutMetricData` at every 20-s flush would spend the
    /// account's 500 requests a second at 10,000 sandboxes (`docs/SCALING.md`).
    interval: std::time::Duration,
    /// When the next send is due; `None`: at the next export.
    next_send: Option<Instant>,
}

/// What one round of sending achieved.
#[derive(Debug, Default)]
struct Progress {
    /// Values CloudWatch accepted.
    written: u64,
    /// Values CloudWatch refused for good.
    refused: u64,
    /// Datums not sent by the deadline, oldest first.
    unsent: Vec<Datum>,
    /// The last failure, if any.
    error: Option<CloudWatchError>,
}

impl CloudWatchSink {
    /// A sink publishing to `namespace` in `region`; credentials and the endpoint override
    /// come from the environment when the client is built, at the first export.
    pub fn new(namespace: String, region: String) -> Self {
        CloudWatchSink {
            namespace,
            options: ClientOptions {
                region,
                endpoint: None,
                credentials: None,
            },
            connection: None,
            kept: Kept::default(),
            open: false,
            retry: None,
            retry_values: 0,
            interval: std::time::Duration::ZERO,
            next_send: None,
        }
    }

    /// Sends at most every `interval`, the first time after `phase` (0 to 1) of it: flushes
    /// in between keep their data (within [`MAX_KEPT_DATUMS`]) for the next send, and
    /// SHUTDOWN sends everything.
    pub fn with_send_interval(mut self, interval: std::time::Duration, phase: f64) -> Self {
        self.interval = interval;
        self.next_send =
            (!interval.is_zero()).then(|| Instant::now() + interval.mul_f64(phase.clamp(0.0, 1.0)));
        self
    }

    /// Sends to `url` instead of the endpoint the environment names (tests, emulators).
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.options.endpoint = Some(url.into());
        self
    }

    /// Signs with these static credentials instead of the default chain (tests).
    pub fn with_static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.options.credentials = Some(Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "liftwatch-static",
        ));
        self
    }

    /// The number of values kept for the next export.
    pub fn kept_values(&self) -> u64 {
        self.kept.value_count()
    }

    /// The number of datums kept for the next export.
    pub fn kept_datums(&self) -> usize {
        self.kept.len()
    }

    async fn export_batch(
        &mut self,
        batch: &MetricBatch,
        deadline: Instant,
    ) -> Result<ExportReport, SinkError> {
        let mut report = ExportReport::default();
        let mut error = None;
        if self
            .retry
            .as_ref()
            .is_some_and(tokio::task::JoinHandle::is_finished)
            && let Some(retry) = self.retry.take()
        {
            error = self.settle_retry(retry.await, &mut report);
        }
        let mut pending = self.kept.take();
        report.values_rejected = batch::datums(batch, &mut pending);
        if pending.is_empty() {
            return Ok(report);
        }
        let now = Instant::now();
        if !self.open && self.next_send.is_some_and(|due| now < due) {
            // Not due yet: the next send takes it along.
            report.values_dropped += self.kept.keep(pending);
            return Ok(report);
        }
        if !self.interval.is_zero() {
            self.next_send = Some(now + self.interval);
        }
        if self.open {
            // Not on this flush's time: keep it and retry in the background.
            report.values_dropped += self.kept.keep(pending);
            self.start_retry();
        } else {
            let progress = self.send(pending, deadline).await;
            self.open = progress.written == 0 && !progress.unsent.is_empty();
            if self.open {
                tracing::warn!(
                    sink = "cloudwatch",
                    "nothing delivered: later flushes keep the data and retry it in the background"
                );
            }
            report.values_written += progress.written;
            report.values_dropped += progress.refused + self.kept.keep(progress.unsent);
            error = progress.error.or(error);
        }
        let values_kept = self.kept.value_count();
        match error {
            Some(cause) if values_kept > 0 || report.values_dropped > 0 => {
                Err(SinkError::Incomplete {
                    report,
                    values_kept,
                    cause: Box::new(cause),
                })
            }
            _ => Ok(report),
        }
    }

    /// Takes in a background retry: what it wrote counts, what it did not send is kept
    /// again, and the breaker closes if it delivered. Returns its error, if any.
    fn settle_retry(
        &mut self,
        joined: Result<Progress, tokio::task::JoinError>,
        report: &mut ExportReport,
    ) -> Option<CloudWatchError> {
        let progress = joined.unwrap_or_else(|_| Progress {
            error: Some(CloudWatchError::Deadline),
            ..Progress::default()
        });
        if progress.written > 0 || progress.unsent.is_empty() {
            self.open = false;
        }
        report.values_written += progress.written;
        report.values_dropped += progress.refused + self.kept.keep(progress.unsent);
        progress.error
    }

    /// Starts a background send of everything kept, unless one runs or there is no client.
    fn start_retry(&mut self) {
        if self.retry.is_some() || self.kept.is_empty() {
            return;
        }
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        let client = connection.client(Instant::now());
        let namespace = self.namespace.clone();
        let pending = self.kept.take();
        self.retry_values = batch::value_count(&pending);
        self.retry = Some(tokio::spawn(send(
            client,
            namespace,
            pending,
            Instant::now() + RETRY_BUDGET,
        )));
    }

    /// Sends `pending` in order, request by request, until done or out of time.
    async fn send(&mut self, pending: Vec<Datum>, deadline: Instant) -> Progress {
        match self.client(deadline).await {
            Ok(client) => send(client, self.namespace.clone(), pending, deadline).await,
            Err(error) => Progress {
                unsent: pending,
                error: Some(error),
                ..Progress::default()
            },
        }
    }

    /// The client, built on first use within the deadline.
    async fn client(
        &mut self,
        deadline: Instant,
    ) -> Result<aws_sdk_cloudwatch::Client, CloudWatchError> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let until = tokio::time::Instant::from_std(deadline);
                let opened = tokio::time::timeout_at(until, open(&self.options))
                    .await
                    .map_err(|_| CloudWatchError::ConfigTimeout)?;
                self.connection.insert(opened)
            }
        };
        Ok(connection.client(Instant::now()))
    }

    /// Sends what is kept (after the background retry, if one runs) by `deadline`;
    /// returns the values dropped.
    async fn flush_kept(&mut self, deadline: Instant) -> u64 {
        let mut lost = 0;
        if let Some(mut retry) = self.retry.take() {
            let mut report = ExportReport::default();
            match tokio::time::timeout_at(deadline.into(), &mut retry).await {
                Ok(joined) => {
                    self.settle_retry(joined, &mut report);
                }
                Err(_) => {
                    retry.abort();
                    report.values_dropped += self.retry_values;
                    tracing::warn!(
                        sink = "cloudwatch",
                        values = self.retry_values,
                        "background retry still running at shutdown; its values dropped"
                    );
                }
            }
            lost += report.values_dropped;
        }
        if self.kept.is_empty() {
            return lost;
        }
        let pending = self.kept.take();
        let progress = self.send(pending, deadline).await;
        let dropped = batch::value_count(&progress.unsent) + progress.refused;
        if dropped > 0 {
            let cause = progress.error.unwrap_or(CloudWatchError::Deadline);
            let chain = DisplayErrorContext(&cause);
            tracing::warn!(
                sink = "cloudwatch",
                values = dropped,
                error = %chain,
                "values dropped at shutdown"
            );
        }
        lost + dropped
    }
}

/// Sends `pending` to `namespace` in order, request by request, until done or out of time.
async fn send(
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
    pending: Vec<Datum>,
    deadline: Instant,
) -> Progress {
    let mut progress = Progress::default();
    for range in batch::requests(&pending, &namespace) {
        let chunk = pending.get(range.clone()).unwrap_or_default();
        let data: Vec<MetricDatum> = chunk.iter().map(client::to_sdk).collect();
        let (client, namespace, data) = (&client, namespace.as_str(), data.as_slice());
        let policy = Policy::until(deadline);
        let outcome = retry::run(&policy, tokio::time::sleep, |_, timeout| {
            client::put(client, namespace, data, timeout)
        })
        .await;
        match outcome {
            Ok(()) => progress.written += batch::value_count(chunk),
            Err(Failed::Rejected(error)) => {
                let values = batch::value_count(chunk);
                let chain = DisplayErrorContext(&error);
                tracing::warn!(values, error = %chain, "cloudwatch refused a request; dropped");
                progress.refused += values;
                progress.error = Some(error);
            }
            Err(Failed::GaveUp(last)) => {
                progress.unsent = pending.get(range.start..).unwrap_or_default().to_vec();
                progress.error = Some(match last {
                    Last::NotStarted => CloudWatchError::Deadline,
                    Last::Failed(error) => error,
                    Last::TimedOut(timeout) => CloudWatchError::AttemptTimeout(timeout),
                });
                break;
            }
        }
    }
    progress
}

impl Sink for CloudWatchSink {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    fn export<'a>(
        &'a mut self,
        batch: &'a MetricBatch,
        deadline: Instant,
    ) -> SinkFuture<'a, Result<ExportReport, SinkError>> {
        Box::pin(self.export_batch(batch, deadline))
    }

    /// Tries once more, within `deadline`, to send what is kept; drops (and logs) the rest.
    fn restored(&mut self) {
        self.connection = None;
    }

    fn shutdown(&mut self, deadline: Instant) -> SinkFuture<'_, u64> {
        Box::pin(self.flush_kept(deadline))
    }
}
