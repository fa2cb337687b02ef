//! Rate-limit statistics end to end: the built extension runs beside the example function
//! in the local sandbox with `LIFTWATCH_RATELIMIT_TABLE` pointing at a table in moto; the
//! function reports decisions through the SDK; after SHUTDOWN the table holds exactly the
//! decisions sent, read back with `query_totals` (the same path users query with).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "ratelimit_dynamodb/support.rs"]
#[allow(dead_code)]
mod support;

use liftwatch::KeyClass;
use liftwatch_extension::ratelimit::query_totals;
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
