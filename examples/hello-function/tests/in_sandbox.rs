//! The example function as a user meets it: beside the built `liftwatch` extension in the
//! local sandbox, its response and the custom metrics it sends read back from the EMF the
//! extension printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use liftwatch_sandbox::{InvokeStatus, SandboxConfig, built_binary, emf};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_its_custom_metrics_are_published() {
    let mut sandbox = SandboxConfig::new(
        built_binary("liftwatch"),
        env!("CARGO_BIN_EXE_hello-function"),
    )
    .function_name("hello")
    .env("LIFTWATCH_FLUSH", "end")
    .start()
    .await
    .unwrap();
    let ok = sandbox.invoke(json!({"items": 3})).await.unwrap();
    assert_eq!(ok.status, InvokeStatus::Success);
    let response = ok.response.clone().unwrap();
    assert_eq!(response["items"], 3);
    assert_eq!(response["request_id"], ok.request_id.as_str());
    let failed = sandbox
        .invoke(json!({"items": 2, "fail": true}))
        .await
        .unwrap();
    assert_eq!(failed.status, InvokeStatus::Error);
    assert_eq!(failed.error.unwrap().error_message, "asked to fail");
    sandbox.shutdown().await.unwrap();

    let metrics = sandbox.emf().metrics;
    let function = [("FunctionName", "hello")];
    assert_eq!(emf::total(&metrics, "ItemsProcessed", &function), 5.0);
    assert_eq!(emf::total(&metrics, "Failures", &function), 1.0);
    assert_eq!(emf::total(&metrics, "Invocations", &function), 2.0);
    let sizes: Vec<f64> = metrics
        .iter()
        .filter(|m| {
            m.name == "ItemSize" && m.dimensions.get("Shop").map(String::as_str) == Some("demo")
        })
        .flat_map(|m| m.values.iter().copied())
        .collect();
    assert_eq!(sizes.len(), 5, "one distribution value per item: {sizes:?}");
}
