//! The CloudWatch sink against moto's server (`scripts/moto.sh start`), read back through
//! the real `GetMetricStatistics`: exact statistics, large batches, and the endpoint down
//! (refused connections, 500s, throttling, refusals) with the kept data arriving once.
//!
//! Each test publishes to its own namespace, so tests share one moto without resetting it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "cloudwatch_sink/moto.rs"]
mod moto;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use liftwatch::{Resolution, Unit};
use liftwatch_extension::metrics::{MetricBatch, Series};
use liftwatch_extension::sink::{CloudWatchSink, ExportReport, Sink, SinkError};
use liftwatch_sandbox::proxy::faults::{Fault, FaultProxy, Injection};
use moto::{moto_url, namespace, reader, sink, stat, stats};

/// Lateness allowed past a deadline for the runtime to schedule the returning task.
const SCHEDULING_SLACK: Duration = Duration::from_millis(150);

fn series(name: &str, unit: Unit, values: Vec<f64>) -> Series {
    Series {
        name: name.to_owned(),
        unit,
        resolution: Resolution::Standard,
        dimensions: vec![("FunctionName".to_owned(), "fn".to_owned())],
        values,
        counts: Vec::new(),
    }
}

fn batch(series: Vec<Series>) -> MetricBatch {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    MetricBatch {
        timestamp_ms: u64::try_from(now.as_millis()).unwrap(),
        series,
    }
}

fn durations(values: &[f64]) -> MetricBatch {
    batch(vec![series(
        "Duration",
        Unit::Milliseconds,
        values.to_vec(),
    )])
}

fn incomplete(result: Result<ExportReport, SinkError>) -> (ExportReport, u64) {
    match result {
        Err(SinkError::Incomplete {
            report,
            values_kept,
            ..
        }) => (report, values_kept),
        other => panic!("expected an incomplete export, got {other:?}"),
    }
}

fn soon(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

/// The statistics of `Duration` in `ns`, read back from moto.
async fn durations_read_back(moto: &str, ns: &str) -> liftwatch_sandbox::moto::Stats {
    stats(&reader(moto), ns, "Duration").await
}

/// moto's URL, a fresh namespace for `test`, a proxy in front of moto doing `fault`, and a
/// sink writing to that namespace through the proxy.
async fn through_proxy(
    test: &str,
    fault: impl Into<Injection>,
) -> (String, String, FaultProxy, CloudWatchSink) {
    let moto = moto_url();
    let ns = namespace(test);
    let proxy = FaultProxy::start(&moto).await.unwrap();
    proxy.set(fault);
    let sink = sink(&ns, &proxy.url);
    (moto, ns, proxy, sink)
}

#[tokio::test]
async fn a_distribution_and_a_count_read_back_exactly() {
    let moto = moto_url();
    let ns = namespace("exact");
    let mut sink = sink(&ns, &moto);
    let batch = batch(vec![
        series(
            "Duration",
            Unit::Milliseconds,
            vec![10.0, 20.0, f64::NAN, 20.0, 30.0],
        ),
        series("Invocations", Unit::Count, vec![7.0]),
    ]);
    let report = sink.export(&batch, soon(10_000)).await.unwrap();
    assert_eq!(
        report,
        ExportReport {
            values_written: 5,
            values_rejected: 1,
            values_dropped: 0
        }
    );
    let reader = reader(&moto);
    assert_eq!(
        stats(&reader, &ns, "Duration").await,
        stat(4.0, 80.0, 10.0, 30.0)
    );
    assert_eq!(
        stats(&reader, &ns, "Invocations").await,
        stat(1.0, 7.0, 7.0, 7.0)
    );
    sink.shutdown(soon(1_000)).await;
}

#[tokio::test]
async fn a_typical_flush_is_one_request() {
    let (moto, ns, proxy, mut sink) = through_proxy("typical", Fault::Forward).await;
    // 12 invocation metrics and 14 resource metrics, 20 invocations each.
    let all: Vec<Series> = (0..26)
        .map(|m| {
            series(
                &format!("M{m}"),
                Unit::Milliseconds,
                (1..=20).map(f64::from).collect(),
            )
        })
        .collect();
    let report = sink.export(&batch(all), soon(10_000)).await.unwrap();
    assert_eq!(report.values_written, 26 * 20);
    assert_eq!(proxy.requests(), 1);
    assert_eq!(
        stats(&reader(&moto), &ns, "M25").await,
        stat(20.0, 210.0, 1.0, 20.0)
    );
}

#[tokio::test]
async fn over_150_values_and_over_1000_series_arrive_complete() {
    let (moto, ns, proxy, mut sink) = through_proxy("large", Fault::Forward).await;
    let mut all = vec![series(
        "Big",
        Unit::Milliseconds,
        (1..=400).map(f64::from).collect(),
    )];
    all.extend((0..1_100).map(|i| series(&format!("S{i}"), Unit::Count, vec![f64::from(i)])));
    let report = sink.export(&batch(all), soon(30_000)).await.unwrap();
    assert_eq!(report.values_written, 400 + 1_100);
    assert_eq!(proxy.requests(), 2, "1,103 datums: 1,000 then 103");
    let reader = reader(&moto);
    assert_eq!(
        stats(&reader, &ns, "Big").await,
        stat(400.0, 80_200.0, 1.0, 400.0)
    );
    for i in [0, 549, 1_099] {
        let v = f64::from(i);
        assert_eq!(
            stats(&reader, &ns, &format!("S{i}")).await,
            stat(1.0, v, v, v)
        );
    }
    let pages = reader
        .list_metrics()
        .namespace(&ns)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let listed: usize = pages.iter().map(|page| page.metrics().len()).sum();
    assert_eq!(listed, 1_101);
}

/// With the breaker open, exports `values` and then empty batches until the background
/// retry's result comes back; returns the values written meanwhile (none synchronously).
async fn written_in_background(sink: &mut CloudWatchSink, values: &[f64]) -> u64 {
    let first = sink.export(&durations(values), soon(10_000)).await.unwrap();
    assert_eq!(
        first.values_written, 0,
        "the export did not wait for CloudWatch"
    );
    let mut written = 0;
    let until = Instant::now() + std::time::Duration::from_secs(10);
    while written == 0 && Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        written += sink
            .export(&batch(Vec::new()), soon(1_000))
            .await
            .unwrap()
            .values_written;
    }
    written
}

#[tokio::test]
async fn a_refused_connection_keeps_the_data_until_the_endpoint_is_back() {
    let moto = moto_url();
    let ns = namespace("refused");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut sink = sink(&ns, &format!("http://127.0.0.1:{port}"));

    let deadline = soon(800);
    let (report, kept) = incomplete(
        sink.export(&durations(&[10.0, 20.0, 20.0, 30.0]), deadline)
            .await,
    );
    assert!(
        Instant::now() <= deadline + SCHEDULING_SLACK,
        "returned by the deadline"
    );
    assert_eq!(
        (report.values_written, report.values_dropped, kept),
        (0, 0, 4)
    );
    assert_eq!(sink.kept_values(), 4);

    let proxy = FaultProxy::start_on(port, &moto).await.unwrap();
    // The breaker is open: the next export does not wait for CloudWatch; it keeps the
    // value and sends everything kept in the background, in one request.
    assert_eq!(written_in_background(&mut sink, &[40.0]).await, 5);
    assert_eq!(sink.kept_values(), 0);
    assert_eq!(proxy.requests(), 1);
    let empty = sink.export(&batch(Vec::new()), soon(1_000)).await.unwrap();
    assert_eq!(empty.values_written, 0);
    assert_eq!(proxy.requests(), 1, "nothing sent twice");
    assert_eq!(
        durations_read_back(&moto, &ns).await,
        stat(5.0, 120.0, 10.0, 40.0)
    );
}

#[tokio::test]
async fn server_errors_keep_the_data_until_the_endpoint_recovers() {
    let (moto, ns, proxy, mut sink) =
        through_proxy("errors", Fault::fail(500, "InternalFailure")).await;

    let deadline = soon(600);
    let (report, kept) = incomplete(
        sink.export(&durations(&[10.0, 20.0, 20.0, 30.0]), deadline)
            .await,
    );
    assert!(
        Instant::now() <= deadline + SCHEDULING_SLACK,
        "returned by the deadline"
    );
    assert_eq!((report.values_written, kept), (0, 4));
    let attempts = proxy.requests();
    assert!(
        (3..=15).contains(&attempts),
        "retried with backoff: {attempts}"
    );

    proxy.set(Fault::Forward);
    assert_eq!(written_in_background(&mut sink, &[50.0]).await, 5);
    assert_eq!(proxy.requests(), attempts + 1);
    assert_eq!(
        durations_read_back(&moto, &ns).await,
        stat(5.0, 130.0, 10.0, 50.0)
    );
}

#[tokio::test]
async fn throttling_is_retried_within_the_export() {
    let (moto, ns, proxy, mut sink) =
        through_proxy("throttled", Fault::fail(400, "Throttling").times(2)).await;
    let report = sink
        .export(&durations(&[1.0, 2.0]), soon(5_000))
        .await
        .unwrap();
    assert_eq!(report.values_written, 2);
    assert_eq!(proxy.requests(), 3);
    assert_eq!(
        durations_read_back(&moto, &ns).await,
        stat(2.0, 3.0, 1.0, 2.0)
    );
}

#[tokio::test]
async fn a_request_cloudwatch_refuses_is_dropped_not_retried() {
    let (_, _, proxy, mut sink) =
        through_proxy("refusal", Fault::fail(400, "InvalidParameterValue")).await;
    let (report, kept) = incomplete(sink.export(&durations(&[1.0, 2.0, 2.0]), soon(5_000)).await);
    assert_eq!(
        (report.values_written, report.values_dropped, kept),
        (0, 3, 0)
    );
    assert_eq!(proxy.requests(), 1);
    assert_eq!(sink.kept_values(), 0);
}

#[tokio::test]
async fn shutdown_sends_what_was_kept_once() {
    let (moto, ns, proxy, mut sink) =
        through_proxy("shutdown", Fault::fail(503, "ServiceUnavailable")).await;
    let (_, kept) = incomplete(sink.export(&durations(&[3.0, 4.0]), soon(300)).await);
    assert_eq!(kept, 2);

    proxy.set(Fault::Forward);
    let before = proxy.requests();
    sink.shutdown(soon(2_000)).await;
    assert_eq!(proxy.requests(), before + 1);
    assert_eq!(sink.kept_values(), 0);
    sink.shutdown(soon(2_000)).await;
    assert_eq!(
        proxy.requests(),
        before + 1,
        "a second shutdown sends nothing"
    );
    assert_eq!(
        durations_read_back(&moto, &ns).await,
        stat(2.0, 7.0, 3.0, 4.0)
    );
}

/// With a send interval, flushes between two sends keep their data: the fleet makes one
/// `PutMetricData` per sandbox per interval whatever the flush mode, and nothing is lost.
#[tokio::test]
async fn a_send_interval_sends_once_per_interval_and_keeps_the_flushes_between() {
    let (moto, ns, proxy, sink) = through_proxy("interval", Fault::Forward).await;
    let mut sink = sink.with_send_interval(Duration::from_millis(600), 0.0);
    let first = sink.export(&durations(&[1.0]), soon(5_000)).await.unwrap();
    assert_eq!(
        (first.values_written, proxy.requests()),
        (1, 1),
        "due at once"
    );
    for value in [2.0, 3.0] {
        let kept = sink
            .export(&durations(&[value]), soon(5_000))
            .await
            .unwrap();
        assert_eq!(kept, ExportReport::default(), "not due: kept, not sent");
    }
    assert_eq!((proxy.requests(), sink.kept_values()), (1, 2));
    tokio::time::sleep(Duration::from_millis(650)).await;
    let due = sink.export(&durations(&[4.0]), soon(5_000)).await.unwrap();
    assert_eq!(
        (due.values_written, proxy.requests()),
        (3, 2),
        "one request"
    );
    sink.export(&durations(&[5.0]), soon(5_000)).await.unwrap();
    assert_eq!(proxy.requests(), 2);
    sink.shutdown(soon(2_000)).await;
    assert_eq!(proxy.requests(), 3, "shutdown sends what waited");
    assert_eq!(
        durations_read_back(&moto, &ns).await,
        stat(5.0, 15.0, 1.0, 5.0)
    );
}

/// What the sink still holds at SHUTDOWN and cannot deliver is returned as a count, so
/// the final flush publishes it in `EventsDropped`.
#[tokio::test]
async fn shutdown_returns_the_values_it_could_not_deliver() {
    let (_moto, _ns, proxy, sink) =
        through_proxy("shutdown-dropped", Fault::fail(503, "ServiceUnavailable")).await;
    let mut sink = sink.with_send_interval(Duration::from_secs(3_600), 1.0);
    for values in [&[1.0, 2.0][..], &[3.0], &[4.0, 5.0, 6.0]] {
        let kept = sink.export(&durations(values), soon(1_000)).await.unwrap();
        assert_eq!(kept, ExportReport::default(), "not due: kept");
    }
    assert_eq!(proxy.requests(), 0);
    let dropped = sink.shutdown(soon(400)).await;
    assert!(proxy.requests() >= 1, "it tried");
    assert_eq!(dropped, 6, "every kept value");
    assert_eq!(sink.shutdown(soon(400)).await, 0, "counted once");
}

/// Run only by `credentials_and_endpoint_come_from_the_environment`, in a child process
/// with the environment it sets (tests never change their own process's environment).
#[tokio::test]
#[ignore = "run by credentials_and_endpoint_come_from_the_environment as a child process"]
async fn child_exports_with_the_environment_only() {
    let ns = std::env::var("LIFTWATCH_TEST_CHILD_NAMESPACE").unwrap();
    let mut sink = CloudWatchSink::new(ns, moto::REGION.to_owned());
    let batch = durations(&[1.0, 2.0, 3.0]);
    let report = sink.export(&batch, soon(10_000)).await.unwrap();
    assert_eq!(report.values_written, 3);
}

/// Runs `child_exports_with_the_environment_only` in a child process with `AWS_*` exactly
/// as `env` says; its output when it failed.
fn export_in_child(ns: &str, env: &[(&str, &str)]) -> Result<(), String> {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args([
        "--ignored",
        "--exact",
        "child_exports_with_the_environment_only",
    ]);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("AWS_")) {
        child.env_remove(name);
    }
    let output = child
        .envs(env.iter().copied())
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LIFTWATCH_TEST_CHILD_NAMESPACE", ns)
        .output()
        .unwrap();
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

#[tokio::test]
async fn credentials_and_endpoint_come_from_the_environment() {
    let moto = moto_url();
    for endpoint_var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH"] {
        let ns = namespace(endpoint_var);
        let env = [
            (endpoint_var, moto.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
        ];
        if let Err(output) = export_in_child(&ns, &env) {
            panic!("{endpoint_var}: the child export failed: {output}");
        }
        let read = durations_read_back(&moto, &ns).await;
        assert_eq!(read, stat(3.0, 6.0, 1.0, 3.0), "{endpoint_var}");
    }
}

/// A container credentials endpoint as Lambda runs one for SnapStart functions: answers
/// every request with a set of keys and records each request's `Authorization` header.
fn container_credentials_endpoint() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/2018-06-01/credentials",
        listener.local_addr().unwrap()
    );
    let (seen, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut authorization = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = value.trim().to_owned();
                }
                line.clear();
            }
            let _ = seen.send(authorization);
            let body = r#"{"AccessKeyId":"AKIDCONTAINER","SecretAccessKey":"container-secret","Token":"container-token","Expiration":"2099-01-01T00:00:00Z"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

#[tokio::test]
async fn without_keys_in_the_environment_credentials_come_from_the_container_endpoint() {
    // SnapStart functions get no AWS_ACCESS_KEY_ID: Lambda serves the role's credentials
    // at AWS_CONTAINER_CREDENTIALS_FULL_URI, with a token for the Authorization header.
    let moto = moto_url();
    let (credentials_url, seen) = container_credentials_endpoint();
    let ns = namespace("container-credentials");
    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            credentials_url.as_str(),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "lambda-issued-token"),
    ];
    if let Err(output) = export_in_child(&ns, &env) {
        panic!("the child export failed: {output}");
    }
    assert_eq!(
        seen.try_recv().as_deref(),
        Ok("lambda-issued-token"),
        "the credentials were asked for with Lambda's token"
    );
    let read = durations_read_back(&moto, &ns).await;
    assert_eq!(read, stat(3.0, 6.0, 1.0, 3.0));
}
