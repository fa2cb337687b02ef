//! hello-function: a real Lambda function (on `lambda_runtime`) that reports custom
//! metrics to the liftwatch extension through the SDK.
//!
//! The event may carry `{"items": N, "fail": bool, "sleep_ms": N}`: it records `N`
//! `ItemsProcessed` counts, one `ItemSize` distribution sample per item, a
//! `HandlerLatency` timing, and fails the invocation when `fail` is true. With
//! `"rule": "login", "user": "alice", "blocked": bool` it also reports a rate-limit decision
//! for that rule (60 s windows, or `"window": N` seconds), the user hashed into one of 16
//! key classes. With
//! `"span": "name"` it times its work in a span of that name (the whole handler) with a
//! child `work` span, both sent to the extension as span events in the invocation's trace.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use liftwatch::{Client, KeyClass, Metric, RateLimitDecision, Unit};
use serde_json::{Value, json};

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(Client::from_env)
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let started = Instant::now();
    let payload = event.payload;
    let client = client();
    let mut span = payload
        .get("span")
        .and_then(Value::as_str)
        .map(|name| client.span(name));
    let work = span.as_ref().map(|span| span.child("work"));
    if let Some(span) = span.as_mut() {
        span.attribute(
            "items",
            payload.get("items").and_then(Value::as_i64).unwrap_or(1),
        );
    }
    let items = payload.get("items").and_then(Value::as_u64).unwrap_or(1);
    let sleep_ms = payload.get("sleep_ms").and_then(Value::as_u64).unwrap_or(0);
    if sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
    client.count("ItemsProcessed", items as f64);
    for i in 0..items {
        client.send(
            Metric::distribution("ItemSize", (i % 10) as f64)
                .unit(Unit::Bytes)
                .dimension("Shop", "demo"),
        );
    }
    if let Some(rule) = payload.get("rule").and_then(Value::as_str) {
        let user = payload
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("anonymous");
        let blocked = payload.get("blocked").and_then(Value::as_bool) == Some(true);
        let window = payload
            .get("window")
            .and_then(Value::as_u64)
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(60);
        let decision = if blocked {
            RateLimitDecision::blocked(rule, window)
        } else {
            RateLimitDecision::allowed(rule, window)
        };
        client.rate_limit(decision.key_class(KeyClass::hashed(user, 16)));
    }
    drop(work);
    if payload.get("fail").and_then(Value::as_bool) == Some(true) {
        if let Some(span) = span.as_mut() {
            span.error("asked to fail");
        }
        client.count("Failures", 1.0);
        return Err("asked to fail".into());
    }
    client.timing("HandlerLatency", started.elapsed().as_secs_f64() * 1e3);
    Ok(json!({ "request_id": event.context.request_id, "items": items }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
