//! The CloudWatch client behind the sink: built lazily from the environment (region,
//! credentials, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_CLOUDWATCH`), one `PutMetricData`
//! call per request, and errors classified for the retry loop.
//!
//! Connections that may have died while the sandbox was frozen are replaced, not retried
//! until a timeout: the client (and so its connection pool) is rebuilt when it sat idle
//! longer than [`REFRESH_AFTER_IDLE`]; connects give up after [`CONNECT_TIMEOUT`]; the SDK
//! drops a connection after a transient error; every attempt has its own timeout.

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::config::{Credentials, Region};
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatch::{Client, Config};

use super::CloudWatchError;
use super::batch::Datum;
use super::retry::Failure;

/// How long a TCP (and TLS) connect may take: a live regional endpoint answers in a few
/// milliseconds, so a second means the network path is gone.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A client idle longer than this gets a fresh connection pool: a freeze longer than the
/// endpoint's keep-alive leaves pooled connections that may answer nothing at all.
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
    /// Loads the configuration from the environment and builds a client: no retries of its
    /// own (the sink's loop owns them), a short connect timeout.
    pub async fn open(options: &ClientOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(options.region.clone()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts(None));
        if let Some(credentials) = options.credentials.clone() {
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_cloudwatch::config::Builder::from(&shared);
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
        if needs_refresh(self.last_used, now) {
            self.client = Client::from_conf(self.config.clone());
        }
        self.last_used = now;
        self.client.clone()
    }
}

/// True when a client last used at `last_used` should not be trusted with its pool at `now`.
fn needs_refresh(last_used: Instant, now: Instant) -> bool {
    now.saturating_duration_since(last_used) > REFRESH_AFTER_IDLE
}

/// The timeouts: the connect timeout always the same (the SDK caches one connector per
/// connect/read timeout pair), the attempt timeout per call.
fn timeouts(attempt: Option<Duration>) -> TimeoutConfig {
    let mut builder = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT);
    builder.set_operation_attempt_timeout(attempt);
    builder.build()
}

/// The SDK form of a datum.
pub fn to_sdk(datum: &Datum) -> MetricDatum {
    let timestamp = i64::try_from(datum.timestamp_ms).unwrap_or(i64::MAX);
    let counts = if datum.counts_are_ones() {
        None
    } else {
        Some(datum.values.iter().map(|&(_, c)| f64::from(c)).collect())
    };
    MetricDatum::builder()
        .metric_name(&datum.name)
        .set_dimensions(Some(
            datum
                .dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect(),
        ))
        .timestamp(DateTime::from_millis(timestamp))
        .set_values(Some(datum.values.iter().map(|&(v, _)| v).collect()))
        .set_counts(counts)
        .unit(StandardUnit::from(datum.unit.as_str()))
        .storage_resolution(i32::try_from(datum.resolution.seconds()).unwrap_or(60))
        .build()
}

/// One `PutMetricData` call with `attempt_timeout` for the whole attempt.
pub async fn put(
    client: &Client,
    namespace: &str,
    data: &[MetricDatum],
    attempt_timeout: Duration,
) -> Result<(), Failure> {
    let result = client
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data.to_vec()))
        .customize()
        .config_override(Config::builder().timeout_config(timeouts(Some(attempt_timeout))))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) => classify(error),
    }
}

/// What the loop should do about `error`.
fn classify(error: SdkError<PutMetricDataError, HttpResponse>) -> Result<(), Failure> {
    let status = error.raw_response().map(|r| r.status().as_u16());
    let verdict = match (&error, status) {
        (SdkError::ServiceError(_) | SdkError::ResponseError(_), Some(status)) => {
            verdict(status, error.code())
        }
        // Timeouts, connection errors and requests that could not be built (credentials
        // not there yet, say) may go through later.
        _ => Verdict::Transient,
    };
    let error = CloudWatchError::Put(Box::new(error));
    match verdict {
        Verdict::Delivered => Ok(()),
        Verdict::Transient => Err(Failure::Transient(error)),
        Verdict::Rejected => Err(Failure::Rejected(error)),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A 2xx whose body did not parse: CloudWatch took the data.
    Delivered,
    Transient,
    Rejected,
}

/// Error codes that mean "slow down" or "try again", whatever the status.
const RETRYABLE_CODES: [&str; 8] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// The verdict for an HTTP answer with `status` and error `code`.
fn verdict(status: u16, code: Option<&str>) -> Verdict {
    if code.is_some_and(|code| RETRYABLE_CODES.contains(&code)) {
        return Verdict::Transient;
    }
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 => Verdict::Transient,
        400..=499 => Verdict::Rejected,
        _ => Verdict::Transient,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use liftwatch::{Resolution, Unit};

    use super::*;

    #[test]
    fn throttling_5xx_and_timeouts_are_retried_other_4xx_are_not() {
        let cases = [
            (400, Some("Throttling"), Verdict::Transient),
            (400, Some("RequestLimitExceeded"), Verdict::Transient),
            (429, None, Verdict::Transient),
            (408, None, Verdict::Transient),
            (500, Some("InternalFailure"), Verdict::Transient),
            (503, Some("ServiceUnavailable"), Verdict::Transient),
            (502, None, Verdict::Transient),
            (400, Some("InvalidParameterValue"), Verdict::Rejected),
            (400, Some("MissingParameter"), Verdict::Rejected),
            (403, Some("AccessDenied"), Verdict::Rejected),
            (404, None, Verdict::Rejected),
            (413, None, Verdict::Rejected),
            (200, None, Verdict::Delivered),
        ];
        for (status, code, expected) in cases {
            assert_eq!(verdict(status, code), expected, "{status} {code:?}");
        }
    }

    #[test]
    fn an_idle_client_is_refreshed() {
        let start = Instant::now();
        assert!(!needs_refresh(start, start + Duration::from_secs(5)));
        assert!(!needs_refresh(start, start + REFRESH_AFTER_IDLE));
        assert!(needs_refresh(
            start,
            start + REFRESH_AFTER_IDLE + Duration::from_millis(1)
        ));
        assert!(
            !needs_refresh(start + Duration::from_secs(1), start),
            "clock never goes back"
        );
    }

    #[test]
    fn a_datum_becomes_values_counts_and_its_attributes() {
        let datum = Datum {
            name: "Duration".to_owned(),
            unit: Unit::BytesPerSecond,
            resolution: Resolution::High,
            dimensions: vec![("FunctionName".to_owned(), "f".to_owned())],
            timestamp_ms: 1_700_000_000_123,
            values: vec![(10.0, 1), (20.0, 2)],
        };
        let sdk = to_sdk(&datum);
        assert_eq!(sdk.metric_name(), Some("Duration"));
        assert_eq!(sdk.values(), [10.0, 20.0]);
        assert_eq!(sdk.counts(), [1.0, 2.0]);
        assert_eq!(sdk.unit(), Some(&StandardUnit::BytesSecond));
        assert_eq!(sdk.storage_resolution(), Some(1));
        assert_eq!(
            sdk.timestamp().map(|t| t.to_millis().ok()),
            Some(Some(1_700_000_000_123))
        );
        let dims: Vec<(Option<&str>, Option<&str>)> = sdk
            .dimensions()
            .iter()
            .map(|d| (d.name(), d.value()))
            .collect();
        assert_eq!(dims, [(Some("FunctionName"), Some("f"))]);
        let ones = Datum {
            values: vec![(1.0, 1), (2.0, 1)],
            ..datum
        };
        assert!(
            to_sdk(&ones).counts().is_empty(),
            "counts of 1 are left out"
        );
    }

    #[test]
    fn our_units_and_cloudwatch_standard_units_are_the_same_set() {
        let names = StandardUnit::values();
        assert_eq!(names.len(), 27);
        for name in names {
            let unit: Unit = name.parse().unwrap();
            assert_eq!(StandardUnit::from(unit.as_str()).as_str(), *name);
        }
    }
}
