//! The CloudWatch sink as these tests build it: pointed at moto with dummy credentials.

use liftwatch_extension::sink::CloudWatchSink;
pub use liftwatch_sandbox::moto::{REGION, moto_url, namespace, reader, stat};

pub fn sink(namespace: &str, endpoint: &str) -> CloudWatchSink {
    CloudWatchSink::new(namespace.to_owned(), REGION.to_owned())
        .with_endpoint(endpoint)
        .with_static_credentials("testing", "testing")
}

/// The statistics of `name` for the tests' function `fn`.
pub async fn stats(
    reader: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    name: &str,
) -> liftwatch_sandbox::moto::Stats {
    liftwatch_sandbox::moto::stats(reader, namespace, name, "fn").await
}
