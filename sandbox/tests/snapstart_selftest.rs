//! Self-test of the telemetry relay and the SnapStart lifecycle with the bash + curl
//! stand-ins: the extension's Telemetry API listener (a sink in the test, standing for the
//! stand-in extension's own, keeping every record in arrival order) gets
//! `platform.initStart` before `platform.initRuntimeDone` on an on-demand cold start; with
//! SnapStart it gets the restore records instead of the init records, after a frozen gap
//! of at least the pause, and the first report carries the restore durations.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use liftwatch_sandbox::platform::{FUNCTION_VERSION, RUNTIME_VERSION};
use liftwatch_sandbox::{InitializationType, Sandbox};
use serde_json::{Value, json};

mod common;

use common::{config_with_sink, have_tools};

const INIT_RECORDS: [&str; 3] = [
    "platform.initStart",
    "platform.initRuntimeDone",
    "platform.initReport",
];
const RESTORE_RECORDS: [&str; 3] = [
    "platform.restoreStart",
    "platform.restoreRuntimeDone",
    "platform.restoreReport",
];

fn time(event: &Value) -> anyhow::Result<DateTime<Utc>> {
    let time = event["time"].as_str().context("no time")?;
    Ok(DateTime::parse_from_rfc3339(time)?.with_timezone(&Utc))
}

fn position(types: &[String], event_type: &str) -> anyhow::Result<usize> {
    types
        .iter()
        .position(|t| t == event_type)
        .with_context(|| format!("no {event_type} in {types:?}"))
}

fn count(types: &[String], event_type: &str) -> usize {
    types.iter().filter(|t| *t == event_type).count()
}

/// The line both stand-ins print first about their environment.
fn env_line(init_type: &str, log_group: &str, log_stream: &str) -> String {
    format!(
        "env AWS_LAMBDA_INITIALIZATION_TYPE={init_type} AWS_LAMBDA_LOG_GROUP_NAME={log_group} \
         AWS_LAMBDA_LOG_STREAM_NAME={log_stream}"
    )
}

fn stderr_lines(sandbox: &Sandbox) -> [Vec<String>; 2] {
    [sandbox.extension_stderr(), sandbox.function_stderr()]
}

#[tokio::test(flavor = "multi_thread")]
async fn an_on_demand_cold_start_delivers_init_start_before_init_runtime_done() -> anyhow::Result<()>
{
    if !have_tools() {
        return Ok(());
    }
    let (config, telemetry) = config_with_sink().await?;
    let mut sandbox = config.start().await?;
    assert_eq!(sandbox.initialization_type(), InitializationType::OnDemand);
    assert!(sandbox.restore_timing().is_none());
    let outcome = sandbox.invoke(json!({})).await?;
    assert!(outcome.is_success(), "{outcome:?}");
    telemetry.wait_for("platform.report", 1).await?;

    let types = telemetry.types();
    assert_eq!(count(&types, "platform.initStart"), 1, "{types:?}");
    assert_eq!(types[0], "platform.initStart", "first of the first batch");
    let init_start = position(&types, "platform.initStart")?;
    let runtime_done = position(&types, "platform.initRuntimeDone")?;
    assert!(init_start < runtime_done, "{types:?}");
    assert!(position(&types, "platform.initReport")? > init_start);
    assert!(RESTORE_RECORDS.iter().all(|r| count(&types, r) == 0));

    let records = telemetry.records();
    let start = &records[init_start];
    let record = &start["record"];
    assert_eq!(record["initializationType"], "on-demand");
    assert_eq!(record["phase"], "init");
    assert_eq!(record["runtimeVersion"], RUNTIME_VERSION);
    assert!(
        record["runtimeVersionArn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:lambda:us-east-1::runtime:")),
        "{record}"
    );
    assert_eq!(record["functionName"], "selftest-fn");
    assert_eq!(record["functionVersion"], FUNCTION_VERSION);
    assert_eq!(record["instanceMaxMemory"], 256);
    assert!(time(start)? <= time(&records[runtime_done])?);
    let subscribed = position(&types, "platform.telemetrySubscription")?;
    assert!(time(start)? <= time(&records[subscribed])?);
    assert!(
        outcome.report["metrics"].get("restoreDurationMs").is_none(),
        "{}",
        outcome.report
    );

    // The sandbox's view matches: one initStart, the sandbox's, first.
    let events = sandbox.telemetry_events().await;
    assert_eq!(events[0].event_type, "platform.initStart");
    assert_eq!(events[0].record, *record);
    assert_eq!(
        sandbox.platform_records("platform.initStart").await.len(),
        1
    );
    assert_eq!(sandbox.init_reports().await.len(), 1);
    assert!(sandbox.restore_reports().await.is_empty());
    let relayed = sandbox.relayed_telemetry();
    assert!(!relayed.is_empty());
    assert!(relayed.iter().all(|b| b.status == 200), "{relayed:?}");
    assert!(
        relayed
            .iter()
            .all(|b| b.destination == format!("http://127.0.0.1:{}", telemetry.port)),
        "{relayed:?}"
    );

    // The log stream name is the simulator's; it only has to be set.
    let prefix = env_line("on-demand", "/aws/lambda/selftest-fn", "");
    for lines in stderr_lines(&sandbox) {
        let line = lines
            .iter()
            .find(|l| l.starts_with("env "))
            .context("no env line")?;
        assert!(line.starts_with(&prefix), "{line}");
        assert!(!line.ends_with("=unset"), "{line}");
    }
    let shutdown = sandbox.shutdown().await?;
    assert!(shutdown.extension.clean(), "{shutdown:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn snap_start_freezes_after_init_and_delivers_restore_records_instead_of_init_records()
-> anyhow::Result<()> {
    if !have_tools() {
        return Ok(());
    }
    let pause = Duration::from_millis(1_500);
    let (config, telemetry) = config_with_sink().await?;
    let began = std::time::Instant::now();
    let mut sandbox = config.snap_start(pause).start().await?;
    assert!(began.elapsed() >= pause, "start waited out the snapshot");
    assert_eq!(sandbox.initialization_type(), InitializationType::SnapStart);
    let restore = sandbox.restore_timing().context("no restore")?;
    assert!(
        (restore.started_at - restore.frozen_at).to_std()? >= pause,
        "{restore:?}"
    );
    assert!(
        restore.duration_ms > 0.0 && restore.duration_ms < 1_000.0,
        "{restore:?}"
    );
    assert!(restore.done_at >= restore.started_at);

    let first = sandbox.invoke(json!({"n": 1})).await?;
    let second = sandbox.invoke(json!({"n": 2})).await?;
    assert!(first.is_success() && second.is_success());
    telemetry.wait_for("platform.report", 2).await?;

    let types = telemetry.types();
    for init in INIT_RECORDS {
        assert_eq!(count(&types, init), 0, "{init} in {types:?}");
    }
    for restored in RESTORE_RECORDS {
        assert_eq!(count(&types, restored), 1, "{restored} in {types:?}");
    }
    let restore_start = position(&types, "platform.restoreStart")?;
    let runtime_done = position(&types, "platform.restoreRuntimeDone")?;
    let report = position(&types, "platform.restoreReport")?;
    let invoke_start = position(&types, "platform.start")?;
    assert!(restore_start < runtime_done && runtime_done < report && report < invoke_start);

    let records = telemetry.records();
    let start = &records[restore_start];
    assert_eq!(
        start["record"],
        json!({
            "runtimeVersion": RUNTIME_VERSION,
            "runtimeVersionArn": start["record"]["runtimeVersionArn"],
            "functionName": "selftest-fn",
            "functionVersion": FUNCTION_VERSION,
            "instanceId": start["record"]["instanceId"],
            "instanceMaxMemory": 256,
        })
    );
    assert!(
        start["record"]["runtimeVersionArn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:lambda:us-east-1::runtime:"))
    );
    assert_eq!(time(start)?, restore.started_at);
    assert_eq!(
        records[runtime_done]["record"],
        json!({"status": "success"})
    );
    let restore_ms = (restore.duration_ms * 1_000.0).round() / 1_000.0;
    assert_eq!(
        records[report]["record"],
        json!({"status": "success", "metrics": {"durationMs": restore_ms}})
    );
    assert!(time(&records[report])? <= time(&records[invoke_start])?);

    // The pause: the last init-phase record the extension got (its subscription) and the
    // restore are at least the pause apart.
    let subscribed = position(&types, "platform.telemetrySubscription")?;
    assert!(subscribed < restore_start);
    let gap = (time(start)? - time(&records[subscribed])?).to_std()?;
    assert!(gap >= pause, "gap {gap:?}");

    // Reports: the restore durations on the first only, never initDurationMs.
    let reports = telemetry.records_of("platform.report");
    assert_eq!(reports.len(), 2);
    let metrics = &reports[0]["record"]["metrics"];
    assert_eq!(metrics["restoreDurationMs"], json!(restore_ms));
    let billed = restore.duration_ms.ceil();
    assert_eq!(metrics["billedRestoreDurationMs"].as_f64(), Some(billed));
    assert!(metrics.get("initDurationMs").is_none(), "{metrics}");
    let later = &reports[1]["record"]["metrics"];
    for field in [
        "restoreDurationMs",
        "billedRestoreDurationMs",
        "initDurationMs",
    ] {
        assert!(later.get(field).is_none(), "{field} in {later}");
    }
    assert_eq!(
        first.report["metrics"], *metrics,
        "the outcome's report is the edited one"
    );
    assert_eq!(first.report["requestId"], first.request_id.as_str());

    // The sandbox's view agrees.
    assert!(sandbox.init_reports().await.is_empty());
    let restore_reports = sandbox.restore_reports().await;
    assert_eq!(restore_reports, vec![records[report]["record"].clone()]);
    assert_eq!(
        sandbox.platform_reports().await[0]["metrics"]["restoreDurationMs"],
        json!(restore_ms)
    );

    let expected = env_line("snap-start", "unset", "unset");
    for lines in stderr_lines(&sandbox) {
        assert!(lines.contains(&expected), "{lines:?}");
    }
    let shutdown = sandbox.shutdown().await?;
    assert!(shutdown.extension.clean(), "{shutdown:?}");
    Ok(())
}
