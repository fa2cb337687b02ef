//! The CloudWatch client behind the sink: built lazily from the environment (region,
//! credentials, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_CLOUDWATCH`), one `PutMetricData`
//! call per request, and errors classified for the retry loop.
//!
//! Connections that may have died while the sandbox was frozen are replaced, not retried
//! until a timeout: see `crate::aws` (rebuilt after a long idle, a short connect timeout,
//! a timeout per attempt); the SDK also drops a connection after a transient error.

use std::time::Duration;

use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatch::{Client, Config};

use liftwatch::retry::Attempt;

use super::CloudWatchError;
use super::batch::Datum;

pub use crate::aws::ClientOptions;

/// A CloudWatch client that is rebuilt after a long idle.
pub type Connection = crate::aws::Connection<Config, Client>;

/// Loads the configuration from the environment and builds a client without retries of
/// its own (the sink's loop owns them).
pub async fn open(options: &ClientOptions) -> Connection {
    let shared = options.load();
    let mut builder = aws_sdk_cloudwatch::config::Builder::from(&shared);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Connection::new(builder.build(), Client::from_conf)
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
) -> Attempt<(), CloudWatchError> {
    let result = client
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data.to_vec()))
        .customize()
        .config_override(
            Config::builder().timeout_config(crate::aws::timeouts(Some(attempt_timeout))),
        )
        .send()
        .await;
    match result {
        Ok(_) => Attempt::Done(()),
        Err(error) => classify(error),
    }
}

/// What the loop should do about `error`.
fn classify(error: SdkError<PutMetricDataError, HttpResponse>) -> Attempt<(), CloudWatchError> {
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
        Verdict::Delivered => Attempt::Done(()),
        Verdict::Transient => Attempt::Retry { error, after: None },
        Verdict::Rejected => Attempt::Rejected(error),
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
