//! The `liftwatch-sandbox` command as a user runs it: the built binary beside the built
//! `liftwatch` extension and `hello-function`, one warm sandbox playing an events file,
//! each response shown in order, and the `--json` summary read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use liftwatch_sandbox::built_binary;
use serde_json::Value;

/// Runs the sandbox CLI with the workspace's extension and example function.
fn sandbox_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liftwatch-sandbox"))
        .arg("--extension")
        .arg(built_binary("liftwatch"))
        .arg("--function")
        .arg(built_binary("hello-function"))
        .args(args)
        .output()
        .expect("the sandbox CLI runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A conversation of four events; the third asks `hello-function` to fail.
fn conversation(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("conversation.jsonl");
    std::fs::write(
        &path,
        "# one warm sandbox, four invocations\n\
         {\"items\": 1}\n\
         {\"items\": 2}\n\
         \n\
         {\"items\": 4, \"fail\": true}\n\
         {\"items\": 3}\n",
    )
    .unwrap();
    path
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("liftwatch-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `stat` (`sum`, `max`, …) of metric `name` with only the `FunctionName` dimension,
/// from a `--json` summary.
fn function_metric(summary: &Value, name: &str, stat: &str) -> f64 {
    summary["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["name"] == name
                && m["dimensions"].as_object().unwrap().len() == 1
                && m["dimensions"]["FunctionName"].is_string()
        })
        .unwrap_or_else(|| panic!("no {name} in {summary}"))[stat]
        .as_f64()
        .unwrap()
}

#[test]
fn an_events_file_plays_in_order_in_one_warm_sandbox_and_shows_each_response() {
    let dir = scratch("events");
    let out = sandbox_cli(&["--events", conversation(&dir).to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");

    // Each invocation's line, then its response (or error object) below it, in order.
    let shown: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("invocation ") || l.starts_with("  "))
        .collect();
    let items: Vec<String> = shown
        .iter()
        .filter_map(|l| l.trim().strip_prefix("\"items\": "))
        .map(|v| v.trim_end_matches(',').to_owned())
        .collect();
    assert_eq!(items, ["1", "2", "3"], "{stderr}");
    let statuses: Vec<&str> = shown
        .iter()
        .filter(|l| l.starts_with("invocation "))
        .map(|l| {
            l.split(", response")
                .next()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(statuses, ["ok", "ok", "error", "ok"], "{stderr}");
    let error_at = shown
        .iter()
        .position(|l| l.contains("\"errorMessage\": \"asked to fail\""));
    let third = shown.iter().position(|l| l.starts_with("invocation 3/4"));
    let fourth = shown.iter().position(|l| l.starts_with("invocation 4/4"));
    assert!(third < error_at && error_at < fourth, "{stderr}");

    // One cold start for the four: the sandbox stayed warm.
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name} "))
                    && l.contains("FunctionName=liftwatch-sandbox-function ")
            })
            .unwrap_or_else(|| panic!("no {name} row in\n{stdout}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // metric, dimensions, unit, samples, sum, …
    assert_eq!(row("Invocations")[4], "4", "{stdout}");
    assert_eq!(row("ColdStarts")[4], "1", "{stdout}");
    assert_eq!(row("Errors")[4], "1", "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_summarizes_invocations_responses_metrics_and_shutdown() {
    let dir = scratch("json");
    let out = sandbox_cli(&["--events", conversation(&dir).to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");

    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    let invocations = summary["invocations"].as_array().unwrap();
    let statuses: Vec<&str> = invocations
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["success", "success", "error", "success"]);
    let items: Vec<u64> = invocations
        .iter()
        .filter_map(|i| i["response"]["items"].as_u64())
        .collect();
    assert_eq!(items, [1, 2, 3]);
    for invocation in invocations.iter().filter(|i| i["status"] == "success") {
        assert_eq!(
            invocation["response"]["request_id"],
            invocation["request_id"]
        );
    }
    assert_eq!(invocations[2]["error"]["errorMessage"], "asked to fail");
    for invocation in invocations {
        let (response, done) = (
            invocation["response_ms"].as_f64().unwrap(),
            invocation["done_ms"].as_f64().unwrap(),
        );
        assert!(response > 0.0 && done >= response, "{invocation}");
    }

    let sum = |name: &str| function_metric(&summary, name, "sum");
    assert_eq!(sum("Invocations"), 4.0);
    assert_eq!(sum("Errors"), 1.0);
    assert_eq!(sum("ColdStarts"), 1.0);
    // hello-function counts its items before it fails: 1 + 2 + 4 + 3.
    assert_eq!(sum("ItemsProcessed"), 10.0);
    assert!(summary["emf"]["documents"].as_u64().unwrap() >= 1);
    assert_eq!(summary["shutdown"]["delivered"], true);
    assert_eq!(summary["shutdown"]["extension"]["exit_code"], 0);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_bad_events_line_and_a_mistyped_flag_are_clear_errors() {
    let dir = scratch("bad");
    let path = dir.join("bad.jsonl");
    std::fs::write(&path, "{}\n{\"open\": \n").unwrap();
    let out = sandbox_cli(&["--events", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 2: not a JSON value"), "{stderr}");
    assert!(
        !stderr.contains("sandbox started"),
        "nothing starts: {stderr}"
    );

    let out = sandbox_cli(&["--invocatons", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("a similar argument exists: '--invocations'"));

    let out = Command::new(env!("CARGO_BIN_EXE_liftwatch-sandbox"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        format!("liftwatch-sandbox {}", env!("CARGO_PKG_VERSION"))
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The pids descended from `ancestor` (not itself), from `/proc/<pid>/stat`.
fn descendants(ancestor: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![ancestor];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid) in &parents {
            if found.contains(ppid) && !found.contains(pid) {
                found.push(*pid);
                grew = true;
            }
        }
    }
    found.retain(|pid| *pid != ancestor);
    found
}

fn fds_and_threads(pids: &[u32]) -> (u64, u64) {
    pids.iter().fold((0, 0), |(fds, threads), pid| {
        let open = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let count = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        (fds + open, threads + count)
    })
}

fn every_pid() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn resource_figures_are_the_sandboxs_own_processes_and_tmp() {
    let dir = scratch("resources");
    let events = dir.join("slow.jsonl");
    std::fs::write(&events, "{\"sleep_ms\": 1500}\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_liftwatch-sandbox"))
        .arg("--extension")
        .arg(built_binary("liftwatch"))
        .arg("--function")
        .arg(built_binary("hello-function"))
        .args(["--events", events.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-invocation: the sandbox's processes (the CLI's descendants) and the whole host.
    std::thread::sleep(std::time::Duration::from_millis(900));
    let sandbox_pids = descendants(child.id());
    let (fds, threads) = fds_and_threads(&sandbox_pids);
    let (host_fds, _) = fds_and_threads(&every_pid());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let max = |name: &str| function_metric(&summary, name, "max");
    assert_eq!(
        sandbox_pids.len(),
        2,
        "the extension and the function: {sandbox_pids:?}"
    );
    let (fd_use, threads_use) = (max("FdUse"), max("ThreadsUse"));
    assert!(
        (fd_use - fds as f64).abs() <= 6.0,
        "FdUse {fd_use} vs {fds} open in the sandbox's processes ({host_fds} on the host)"
    );
    assert!(fd_use < host_fds as f64, "FdUse {fd_use}, host {host_fds}");
    assert!(
        (threads_use - threads as f64).abs() <= 3.0,
        "ThreadsUse {threads_use} vs {threads}"
    );
    // The sandbox's own, empty tmp against Lambda's default 512 MiB, not the host's /tmp.
    assert_eq!(max("TmpMax"), 536_870_912.0);
    assert!(max("TmpUsed") < 65_536.0, "TmpUsed {}", max("TmpUsed"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn three_thousand_periodic_invocations_finish_without_a_stall() {
    let out = sandbox_cli(&["--invocations", "3000", "--flush", "periodic:1", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let invocations = summary["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 3000);
    let slowest = invocations
        .iter()
        .map(|i| i["done_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(slowest < 5_000.0, "an invocation took {slowest} ms");
    assert!(invocations.iter().all(|i| i["status"] == "success"));
    let invocations_metric = function_metric(&summary, "Invocations", "sum");
    assert_eq!(invocations_metric, 3000.0);
}

#[test]
fn a_timed_out_invocation_resets_the_sandbox_and_the_next_one_is_a_cold_start() {
    let dir = scratch("timeout");
    let events = dir.join("slow.jsonl");
    std::fs::write(
        &events,
        "{\"sleep_ms\": 5000}\n{\"items\": 1}\n{\"items\": 2}\n",
    )
    .unwrap();
    let out = sandbox_cli(&[
        "--timeout",
        "1",
        "--events",
        events.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = summary["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["timeout", "success", "success"]);
    assert_eq!(
        summary["invocations"][0]["error"]["errorType"],
        "Sandbox.Timedout"
    );
    assert_eq!(summary["sandboxes"], 2, "reset once");
    let sum = |name: &str| function_metric(&summary, name, "sum");
    assert_eq!(sum("Invocations"), 3.0);
    assert_eq!(sum("Timeouts"), 1.0);
    assert_eq!(
        sum("ColdStarts"),
        2.0,
        "the sandbox after the reset starts cold"
    );
    assert_eq!(
        sum("ItemsProcessed"),
        3.0,
        "the timed-out handler never got there"
    );
    assert!(text(&out.stderr).contains("resetting the sandbox after the timeout"));
    std::fs::remove_dir_all(dir).ok();
}
