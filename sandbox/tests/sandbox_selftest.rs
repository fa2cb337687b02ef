//! Self-test of the sandbox with stand-in processes (bash + curl scripts in
//! `tests/fixtures/`): invocations complete with the Runtime API headers forwarded, the
//! proxy rejects a late telemetry subscription with 403 and refuses every one with 500
//! when told to, telemetry is delivered over HTTP, and SHUTDOWN ends a cooperative
//! extension cleanly and kills one that ignores it at the deadline.

use std::time::Duration;

use anyhow::{Context, ensure};
use liftwatch_sandbox::{
    InvokeStatus, Role, Sandbox, SandboxConfig, SandboxError, SubscriptionVerdict, emf,
};
use serde_json::{Value, json};

mod common;

use common::{config, config_with_sink, fixture, have_tools, process_state};

#[tokio::test(flavor = "multi_thread")]
async fn three_invocations_with_forwarded_headers_and_a_rejected_late_subscription()
-> anyhow::Result<()> {
    if !have_tools() {
        return Ok(());
    }
    let (config, telemetry) = config_with_sink().await?;
    let mut sandbox = config.start().await?;
    assert_eq!(sandbox.ports().telemetry, telemetry.port);
    assert!(
        sandbox
            .extension_path()
            .ends_with("opt/extensions/standin-extension")
    );

    let seen = sandbox.proxy_observations();
    assert_eq!(seen.registered.len(), 1);
    assert_eq!(seen.registered[0].name, "standin-extension");
    assert!(seen.init_complete);
    assert_eq!(seen.subscriptions.len(), 1);
    assert_eq!(
        seen.subscriptions[0].verdict,
        SubscriptionVerdict::Forwarded
    );
    assert_eq!(seen.subscriptions[0].status, 200);
    assert!(seen.subscriptions[0].during_init);

    let mut request_ids = Vec::new();
    for i in 0..3 {
        let payload = json!({ "n": i, "name": "world" });
        let outcome = sandbox.invoke(payload.clone()).await?;
        assert_eq!(outcome.status, InvokeStatus::Success, "{outcome:?}");
        let response = outcome.response.clone().context("no response")?;
        assert_eq!(response["echo"], payload);
        assert_eq!(response["requestId"], outcome.request_id.as_str());
        let deadline: i64 = response["deadlineMs"].as_str().unwrap_or("").parse()?;
        assert!(deadline > 1_600_000_000_000, "deadline header {deadline}");
        // Lambda's shape: Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1.
        let header = response["traceId"].as_str().unwrap_or("");
        let fields: Vec<(&str, &str)> = header
            .split(';')
            .filter_map(|field| field.split_once('='))
            .collect();
        let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["Root", "Parent", "Sampled"], "{header}");
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(
            fields[0].1.starts_with("1-")
                && hex(&fields[0].1[2..10], 8)
                && hex(&fields[0].1[11..], 24),
            "{header}"
        );
        assert!(hex(fields[1].1, 16), "{header}");
        assert_eq!(fields[2].1, "1", "active tracing by default: {header}");
        // Lambda reports the Init phase's duration with the first invocation only.
        assert_eq!(
            outcome.report["metrics"].get("initDurationMs").is_some(),
            i == 0,
            "{}",
            outcome.report
        );
        assert_eq!(
            response["arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:selftest-fn"
        );
        assert_eq!(outcome.report["requestId"], outcome.request_id.as_str());
        assert_eq!(outcome.report["metrics"]["memorySizeMB"], 256);
        assert!(outcome.wall_time >= outcome.response_time);
        assert!(
            sandbox.is_frozen(),
            "the sandbox freezes after each invocation"
        );
        for pid in [sandbox.extension_pid(), sandbox.function_pid()] {
            assert_eq!(process_state(pid)?, 'T', "process {pid} is stopped");
        }
        request_ids.push(outcome.request_id);
    }

    let seen = sandbox.proxy_observations();
    assert_eq!(seen.subscriptions.len(), 2, "{:?}", seen.subscriptions);
    let late = &seen.subscriptions[1];
    assert_eq!(late.verdict, SubscriptionVerdict::RejectedAfterInit);
    assert_eq!(late.status, 403);
    assert!(!late.during_init);
    let stderr = sandbox.extension_stderr();
    assert!(
        stderr.iter().any(|l| l == "subscribe init 200"),
        "{stderr:?}"
    );
    assert!(
        stderr.iter().any(|l| l == "subscribe after-init 403"),
        "{stderr:?}"
    );

    let reports = sandbox.platform_reports().await;
    let reported: Vec<&str> = reports
        .iter()
        .filter_map(|r| r["requestId"].as_str())
        .collect();
    assert_eq!(reported, request_ids);
    assert_eq!(sandbox.runtime_done_records().await.len(), 3);
    assert_eq!(sandbox.init_reports().await.len(), 1);

    // Platform telemetry reached the subscriber over HTTP.
    for _ in 0..200 {
        if telemetry.records_of("platform.runtimeDone").len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered: Vec<Value> = telemetry
        .records_of("platform.runtimeDone")
        .into_iter()
        .map(|e| e["record"]["requestId"].clone())
        .collect();
    assert_eq!(
        delivered,
        request_ids.iter().map(|r| json!(r)).collect::<Vec<_>>()
    );

    sandbox
        .wait_for_stdout(|l| l.contains("StandinInvokes"), Duration::from_secs(5))
        .await?;
    let shutdown = sandbox.shutdown().await?;
    assert!(shutdown.delivered, "{shutdown:?}");
    assert!(shutdown.extension.clean(), "{shutdown:?}");
    assert!(!shutdown.runtime.exited_before_shutdown);
    let after = shutdown
        .extension_exit_after_delivery
        .context("no exit timing")?;
    assert!(after < Duration::from_secs(1), "{shutdown}");

    let metrics = sandbox.emf().metrics;
    let function = [("FunctionName", "selftest-fn")];
    assert_eq!(emf::total(&metrics, "StandinInvokes", &function), 3.0);
    assert_eq!(emf::total(&metrics, "StandinShutdowns", &function), 1.0);
    assert_eq!(
        sandbox.platform_reports().await.len(),
        3,
        "snapshot survives shutdown"
    );
    assert!(matches!(
        sandbox.invoke(json!({})).await,
        Err(SandboxError::ShutDown)
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_subscriptions_get_500_and_invocations_still_work() -> anyhow::Result<()> {
    if !have_tools() {
        return Ok(());
    }
    let mut sandbox = config()
        .refuse_telemetry_subscription(true)
        .freeze(false)
        .start()
        .await?;
    let first = sandbox.invoke(json!({"a": 1})).await?;
    let failed = sandbox.invoke(json!({"please": "fail"})).await?;
    assert!(first.is_success());
    assert_eq!(failed.status, InvokeStatus::Error);
    let error = failed.error.context("no error")?;
    assert_eq!(error.error_type, "StandinError");
    assert!(!sandbox.is_frozen());

    let seen = sandbox.proxy_observations();
    let verdicts: Vec<(SubscriptionVerdict, u16, bool)> = seen
        .subscriptions
        .iter()
        .map(|s| (s.verdict, s.status, s.during_init))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (SubscriptionVerdict::Refused, 500, true),
            (SubscriptionVerdict::Refused, 500, false),
        ]
    );
    let stderr = sandbox.extension_stderr();
    assert!(
        stderr.iter().any(|l| l == "subscribe init 500"),
        "{stderr:?}"
    );
    let statuses: Vec<String> = sandbox
        .runtime_done_records()
        .await
        .iter()
        .filter_map(|r| r["status"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(statuses, vec!["success", "error"]);
    let shutdown = sandbox.shutdown().await?;
    assert!(shutdown.extension.clean(), "{shutdown:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_kills_an_extension_that_ignores_it_at_the_deadline() -> anyhow::Result<()> {
    if !have_tools() {
        return Ok(());
    }
    let deadline = Duration::from_millis(2_000);
    // A live subscriber: the simulator flushes buffered telemetry before SHUTDOWN and
    // retries a dead destination for ~1 s, which would delay delivery.
    let (config, _telemetry) = config_with_sink().await?;
    let mut sandbox = config
        .env("STANDIN_IGNORE_SHUTDOWN", "1")
        .shutdown_deadline(deadline)
        .start()
        .await?;
    sandbox.invoke(json!({})).await?;
    let shutdown = sandbox.shutdown().await?;
    eprintln!("{shutdown}");
    ensure!(
        shutdown.delivered,
        "SHUTDOWN was not delivered: {shutdown:?}"
    );
    assert!(shutdown.extension.killed, "{shutdown:?}");
    let signal = shutdown
        .extension
        .status
        .and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
    assert_eq!(signal, Some(9));
    // Killed at the event's deadlineMs: the budget counts from delivery, as in Lambda.
    let after = shutdown
        .extension_exit_after_delivery
        .context("no timing")?;
    assert!(after >= deadline - Duration::from_millis(50), "{shutdown}");
    assert!(after <= deadline + Duration::from_millis(500), "{shutdown}");
    let delivered = shutdown.delivered_after.context("no delivery timing")?;
    assert!(delivered < Duration::from_millis(500), "{shutdown}");
    assert!(
        shutdown.extension.after_start <= deadline + Duration::from_secs(1),
        "{shutdown}"
    );
    assert!(
        sandbox
            .extension_stderr()
            .iter()
            .any(|l| l == "ignoring SHUTDOWN")
    );
    assert!(
        !sandbox
            .extension_stdout()
            .iter()
            .any(|l| l.contains("StandinShutdowns")),
        "a killed extension never gets to publish"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_binary_is_reported_before_anything_starts() -> anyhow::Result<()> {
    let missing = fixture("no-such-extension");
    let result = SandboxConfig::new(&missing, fixture("standin-function"))
        .start()
        .await;
    match result {
        Err(SandboxError::BinaryNotFound { role, path }) => {
            assert_eq!(role, Role::Extension);
            assert_eq!(path, missing);
        }
        other => anyhow::bail!("expected BinaryNotFound, got {other:?}"),
    }
    Ok(())
}

#[test]
fn the_sandbox_can_move_between_tasks() {
    fn is_send<T: Send + Sync>() {}
    is_send::<Sandbox>();
}

/// The function's output reaches a subscriber of `function` records, in time order with
/// the platform records, and no one else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_log_records_go_to_subscribers_that_ask_for_them() -> anyhow::Result<()> {
    if !common::have_tools() {
        return Ok(());
    }
    for (types, wanted) in [("platform,function", true), ("platform", false)] {
        let mut sandbox = SandboxConfig::new(
            liftwatch_sandbox::built_binary("liftwatch"),
            common::fixture("standin-function"),
        )
        .env("LIFTWATCH_TELEMETRY_TYPES", types)
        .env("LIFTWATCH_FLUSH", "end")
        .start()
        .await?;
        let mut ids = Vec::new();
        for _ in 0..2 {
            ids.push(sandbox.invoke(json!({"name": "world"})).await?.request_id);
        }
        sandbox.shutdown().await?;
        let records: Vec<Value> = sandbox
            .relayed_telemetry()
            .into_iter()
            .flat_map(|batch| batch.records.unwrap_or_default())
            .collect();
        let logs: Vec<&str> = records
            .iter()
            .filter(|r| r["type"] == "function")
            .filter_map(|r| r["record"].as_str())
            .collect();
        if !wanted {
            assert!(logs.is_empty(), "{types}: {logs:?}");
            continue;
        }
        // The stand-in's first line (during init), then one line per invocation.
        assert!(
            logs[0].starts_with("env AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"),
            "{logs:?}"
        );
        for id in &ids {
            let line = format!("handling {id}");
            let at = records
                .iter()
                .position(|r| r["type"] == "function" && r["record"] == line.as_str())
                .with_context(|| format!("{line} in {logs:?}"))?;
            let start = records
                .iter()
                .position(|r| {
                    r["type"] == "platform.start" && r["record"]["requestId"] == id.as_str()
                })
                .context("platform.start")?;
            let report = records
                .iter()
                .position(|r| {
                    r["type"] == "platform.report" && r["record"]["requestId"] == id.as_str()
                })
                .context("platform.report")?;
            assert!(
                start < at && at < report,
                "the line sits in its invocation: {start} {at} {report}"
            );
        }
        // The extension took every record it was sent.
        let malformed =
            liftwatch_sandbox::emf::total(&sandbox.emf().metrics, "EventsMalformed", &[]);
        assert_eq!(malformed, 0.0);
    }
    Ok(())
}
