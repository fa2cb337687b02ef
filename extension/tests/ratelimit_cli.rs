//! `liftwatch ratelimit-stats`: the built binary reads back, from a statistics table in
//! moto, exactly the totals a writer put there; bad arguments get a usage error (exit 2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "ratelimit_dynamodb/support.rs"]
#[allow(dead_code)]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use liftwatch_extension::ratelimit::{DEFAULT_RETENTION, Outcome, RateLimitAggregator};
use liftwatch_sandbox::moto;

fn liftwatch(args: &[&str], endpoint: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liftwatch"))
        .args(args)
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap()
}

/// `liftwatch ratelimit-stats` for rule `login` of `table` from `from` to `to`, with `extra`
/// arguments; it must succeed, and its JSON output is returned.
fn login_stats(
    endpoint: &str,
    table: &str,
    extra: &[&str],
    from: &str,
    to: &str,
) -> serde_json::Value {
    let mut args = vec!["ratelimit-stats", "--table", table, "--rule", "login"];
    args.extend_from_slice(extra);
    args.extend(["--from", from, "--to", to]);
    let out = liftwatch(&args, endpoint);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_stats_prints_the_table_totals() {
    let url = moto::moto_url();
    let table = support::table(&url, "cli").await;
    let mut aggregator = RateLimitAggregator::new();
    let (earlier, now) = (support::window_start(1), support::window_start(0));
    for (start, outcome, class) in [
        (earlier, Outcome::Allowed, "h01"),
        (earlier, Outcome::Blocked, "h01"),
        (now, Outcome::Allowed, "h02"),
        (now, Outcome::Error, "h01"),
    ] {
        assert!(aggregator.record(support::decision("login", Some(class), outcome, start)));
    }
    let mut writer = support::writer(&url, &table, DEFAULT_RETENTION);
    let report = writer
        .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!((report.applied, report.kept, report.dropped), (2, 0, 0));

    let from = (earlier - 1).to_string();
    let to = (now + 1).to_string();
    let totals = login_stats(&url, &table, &[], &from, &to);
    assert_eq!(totals["windows"], 2);
    assert_eq!(
        (
            &totals["requests"],
            &totals["allowed"],
            &totals["blocked"],
            &totals["errors"]
        ),
        (&4.into(), &2.into(), &1.into(), &1.into())
    );
    let class = login_stats(&url, &table, &["--key", "h01"], &from, &to);
    assert_eq!(
        (&class["requests"], &class["blocked"]),
        (&3.into(), &1.into())
    );
}

#[test]
fn bad_arguments_get_the_usage_and_exit_2() {
    let out = liftwatch(
        &["ratelimit-stats", "--rule", "login"],
        "http://127.0.0.1:9",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--table is required"));
    let out = liftwatch(&["--help"], "http://127.0.0.1:9");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ratelimit-stats"));
}
