//! moto, the AWS emulator the tests run against: where it runs (`scripts/moto.sh start`
//! writes `target/moto.url`; started on first use when nothing runs), the client configuration every AWS client of the tests uses
//! against it, and reading metrics back through the real CloudWatch API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_types::SdkConfig;

pub const REGION: &str = "us-east-1";

/// moto's URL: `LIFTWATCH_TEST_MOTO_URL`, else the live server `scripts/moto.sh start`
/// wrote to `target/moto.url` (the repository's `target/`, whatever `CARGO_TARGET_DIR`
/// says), else a server this process starts once through `scripts/moto.sh start` (which
/// installs moto into `.venv-moto/` on first use; `scripts/moto.sh stop` stops it), so a
/// plain `cargo test --workspace` needs no set-up.
#[must_use]
pub fn moto_url() -> String {
    if let Ok(url) = std::env::var("LIFTWATCH_TEST_MOTO_URL") {
        let url = trimmed(&url);
        if !answers(&url) {
            panic!("moto at {url} (LIFTWATCH_TEST_MOTO_URL) does not answer");
        }
        return url;
    }
    static STARTED: OnceLock<String> = OnceLock::new();
    STARTED
        .get_or_init(|| running().unwrap_or_else(start))
        .clone()
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/moto.sh");
const URL_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/moto.url");

fn trimmed(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

fn answers(url: &str) -> bool {
    std::net::TcpStream::connect(url.trim_start_matches("http://")).is_ok()
}

/// The server `target/moto.url` names, if it answers.
fn running() -> Option<String> {
    let url = trimmed(&std::fs::read_to_string(URL_FILE).ok()?);
    answers(&url).then_some(url)
}

fn start() -> String {
    eprintln!("starting moto with `scripts/moto.sh start` (stop it with `scripts/moto.sh stop`)");
    let out = Command::new("bash")
        .arg(SCRIPT)
        .arg("start")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {SCRIPT}: {e}"));
    let url = trimmed(&String::from_utf8_lossy(&out.stdout));
    if !out.status.success() || !answers(&url) {
        panic!(
            "no moto server: `scripts/moto.sh start` failed (set LIFTWATCH_TEST_MOTO_URL to use another)"
        );
    }
    url
}

pub fn namespace(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("LiftwatchTest/{test}/{nanos}")
}

/// The dummy credentials moto accepts.
#[must_use]
pub fn credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "test")
}

/// The configuration of an AWS client against `endpoint` (moto, or a proxy in front of
/// it): [`REGION`], dummy [`credentials`], the latest behaviour version. Any service's
/// client takes it: `aws_sdk_dynamodb::Client::new(&sdk_config(&moto_url()))`.
#[must_use]
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(credentials()))
        .build()
}

/// A CloudWatch client against `moto`, for reading metrics back.
#[must_use]
pub fn reader(moto: &str) -> Client {
    Client::new(&sdk_config(moto))
}

/// SampleCount, Sum, Minimum, Maximum over every datapoint of the last and next hour.
#[derive(Debug, PartialEq)]
pub struct Stats {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// The statistics of `name` with the single dimension `FunctionName = function`.
pub async fn stats(reader: &Client, namespace: &str, name: &str, function: &str) -> Stats {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = reader
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(name)
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        )
        .start_time(DateTime::from_secs(now - 3_600))
        .end_time(DateTime::from_secs(now + 3_600))
        .period(60)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Sum)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .unwrap();
    let points = out.datapoints();
    Stats {
        count: points.iter().filter_map(|p| p.sample_count()).sum(),
        sum: points.iter().filter_map(|p| p.sum()).sum(),
        min: points
            .iter()
            .filter_map(|p| p.minimum())
            .fold(f64::INFINITY, f64::min),
        max: points
            .iter()
            .filter_map(|p| p.maximum())
            .fold(f64::NEG_INFINITY, f64::max),
    }
}

pub fn stat(count: f64, sum: f64, min: f64, max: f64) -> Stats {
    Stats {
        count,
        sum,
        min,
        max,
    }
}
