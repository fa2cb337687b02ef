//! Rate-limit statistics end to end: the built extension runs beside the example function
//! in the local sandbox with `LIFTWATCH_RATELIMIT_TABLE` pointing at a table in moto; the
//! function reports decisions through the SDK; after SHUTDOWN the table holds exactly the
//! decisions sent, read back with `query_totals` (the same path users query with).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "ratelimit_dynamodb/model.rs"]
mod model;
#[path = "ratelimit_dynamodb/support.rs"]
#[allow(dead_code)]
mod support;

use liftwatch::KeyClass;
use liftwatch_extension::ratelimit::query_totals;
use liftwatch_sandbox::proxy::silent::{only_the_first_waits, silent_server};
use liftwatch_sandbox::{InvokeStatus, Sandbox, SandboxConfig, built_binary, moto};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_from_the_function_land_in_the_statistics_table() {
    let url = moto::moto_url();
    let table = support::table(&url, "sandbox").await;
    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name("ratelimited")
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_RATELIMIT_TABLE", &table)
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let decisions = [
        ("login", "alice", false),
        ("login", "bob", true),
        ("login", "alice", true),
        ("login", "dave", false),
        ("search", "carol", false),
        ("search", "carol", false),
    ];
    for (rule, user, blocked) in decisions {
        let payload = json!({ "rule": rule, "user": user, "blocked": blocked });
        assert_eq!(
            sandbox.invoke(payload).await.unwrap().status,
            InvokeStatus::Success
        );
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    let client = support::client(&url);
    let now = support::now_unix();
    let login = query_totals(&client, &table, "login", None, now - 3_600, now + 60)
        .await
        .unwrap();
    assert_eq!(
        (
            login.counts.requests,
            login.counts.allowed,
            login.counts.blocked,
            login.counts.errors
        ),
        (4, 2, 2, 0)
    );
    let search = query_totals(&client, &table, "search", None, now - 3_600, now + 60)
        .await
        .unwrap();
    assert_eq!((search.counts.requests, search.counts.allowed), (2, 2));
    let alice = KeyClass::hashed("alice", 16);
    let class = query_totals(
        &client,
        &table,
        "login",
        alice.as_str(),
        now - 3_600,
        now + 60,
    )
    .await
    .unwrap();
    assert!(
        class.counts.allowed >= 1 && class.counts.blocked >= 1,
        "{class:?}"
    );
    let stderr = sandbox.extension_stderr().join("\n");
    assert!(
        !stderr.contains("metrics only"),
        "a table is configured: {stderr}"
    );
}

/// The fleet case in small: sandboxes one after another (each a cold start with an id of
/// its own) report decisions on one rule. Each writes an item of its own, so the totals
/// stay exact and no item grows with the number of sandboxes (the earlier layout grew one
/// `seq#<writer>` attribute, about 40 bytes, per sandbox); one `UpdateItem` per item,
/// counted at moto's port, as the fleet model predicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sandboxes_writing_one_rule_keep_exact_totals_and_items_of_one_size() {
    const SANDBOXES: u64 = 8;
    let url = moto::moto_url();
    let table = support::table(&url, "fleet").await;
    let proxy = liftwatch_sandbox::proxy::faults::FaultProxy::start(&url)
        .await
        .unwrap();
    let started = support::now_unix();
    for sandbox in 0..SANDBOXES {
        let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
            .function_name("fleet")
            .env("LIFTWATCH_FLUSH", "end")
            .env("LIFTWATCH_RATELIMIT_TABLE", &table)
            .env("AWS_REGION", moto::REGION)
            .env("AWS_ENDPOINT_URL", &proxy.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        let mut running = Sandbox::start(config).await.unwrap();
        for blocked in [false, false, true] {
            let payload = json!({ "rule": "fleet", "user": "alice", "blocked": blocked });
            let outcome = running.invoke(payload).await.unwrap();
            assert_eq!(outcome.status, InvokeStatus::Success, "sandbox {sandbox}");
        }
        let shutdown = running.shutdown().await.unwrap();
        assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    }

    let client = support::client(&url);
    let now = support::now_unix();
    let totals = query_totals(&client, &table, "fleet", None, started - 60, now)
        .await
        .unwrap();
    assert_eq!(
        (
            totals.counts.requests,
            totals.counts.allowed,
            totals.counts.blocked
        ),
        (3 * SANDBOXES, 2 * SANDBOXES, SANDBOXES),
        "exact totals"
    );
    let items = model::scan(&client, &table).await;
    assert_eq!(items.len() as u64, totals.items);
    // One item per sandbox and window (a sandbox whose decisions straddle a minute writes
    // two), each written by exactly one request.
    assert!(
        (SANDBOXES..=2 * SANDBOXES).contains(&totals.items),
        "{totals:?}"
    );
    let updates = proxy.requests_for("DynamoDB_20120810.UpdateItem");
    assert_eq!(updates as u64, totals.items, "one UpdateItem per item");
    let sizes: Vec<usize> = items.iter().map(model::item_size).collect();
    let (smallest, largest) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
    // Sizes differ only by the digits of numbers (sort key, counts); the earlier layout's
    // last item would have been 7 x ~40 bytes larger than its first.
    assert!(largest - smallest <= 3, "{sizes:?}");
    for item in &items {
        assert_eq!(
            model::item_size(item),
            model::modelled_size(item),
            "the fleet model's item for the same writer, window and counts: {item:?}"
        );
    }
}

/// A statistics table that accepts connections and never answers, written at every flush
/// (`LIFTWATCH_RATELIMIT_TABLE_INTERVAL=0`) in `end` mode: the first write waits out the
/// flush's budget, the breaker opens, and later invocations reach `/next` without waiting
/// for the table while retries run off the response path. The metrics are all published;
/// what never reached the table is counted at SHUTDOWN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_never_answers_holds_only_the_first_end_mode_invocation() {
    let (url, held) = silent_server().await.unwrap();
    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary("hello-function"))
        .function_name("stalled")
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_RESOURCES", "off")
        .env("LIFTWATCH_RATELIMIT_TABLE", "limits")
        .env("LIFTWATCH_RATELIMIT_TABLE_INTERVAL", "0")
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let mut after_response = Vec::new();
    for i in 0..8 {
        // 1-s windows, one invocation a window: each flush has a complete window to write.
        tokio::time::sleep(std::time::Duration::from_millis(1_050)).await;
        let payload =
            json!({ "rule": "login", "user": format!("u{i}"), "blocked": false, "window": 1 });
        let outcome = sandbox.invoke(payload).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
        after_response.push(outcome.wall_time.saturating_sub(outcome.response_time));
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    held.abort();

    only_the_first_waits(&after_response).unwrap();
    let metrics = sandbox.emf().metrics;
    let dims = [("FunctionName", "stalled")];
    assert_eq!(
        liftwatch_sandbox::emf::total(&metrics, "Invocations", &dims),
        8.0
    );
    let requests = liftwatch_sandbox::emf::total(
        &metrics,
        "RateLimitRequests",
        &[("FunctionName", "stalled"), ("Rule", "login")],
    );
    assert_eq!(requests, 8.0, "every decision in the metrics");
    assert!(liftwatch_sandbox::emf::total(&metrics, "SinkErrors", &dims) >= 1.0);
    assert!(
        liftwatch_sandbox::emf::total(&metrics, "EventsDropped", &dims) >= 1.0,
        "the table's updates that never landed are counted"
    );
}
