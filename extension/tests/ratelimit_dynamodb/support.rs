//! Helpers for the rate-limit statistics tests: clients and writers pointed at moto (or a
//! proxy in front of it), a fresh table per test, reading items back, a small generator.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use liftwatch_extension::ratelimit::{
    ClientOptions, Counts, Decision, Outcome, RateLimitWriter, create_table,
};
use liftwatch_sandbox::moto::{REGION, credentials, sdk_config};

/// The window length the tests use.
pub const WINDOW: u32 = 60;

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn client(endpoint: &str) -> Client {
    Client::new(&sdk_config(endpoint))
}

pub fn writer(endpoint: &str, table: &str, retention: Duration) -> RateLimitWriter {
    let options = ClientOptions {
        region: REGION.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        credentials: Some(credentials()),
    };
    RateLimitWriter::new(table.to_owned(), retention, options)
}

/// A fresh table of its own for `test`.
pub async fn table(moto: &str, test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("liftwatch-ratelimit-{test}-{nanos}");
    create_table(&client(moto), &name).await.unwrap();
    name
}

/// The current window's start, `back` windows ago.
pub fn window_start(back: u64) -> u64 {
    let now = now_unix();
    now - now % u64::from(WINDOW) - back * u64::from(WINDOW)
}

pub fn decision(rule: &str, class: Option<&str>, outcome: Outcome, start: u64) -> Decision {
    Decision {
        rule: rule.to_owned(),
        key_class: class.map(str::to_owned),
        outcome,
        window_seconds: WINDOW,
        window_start: start,
    }
}

pub async fn get_item(
    client: &Client,
    table: &str,
    rule: &str,
    start: u64,
) -> HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("rule#{rule}")))
        .key("sk", AttributeValue::N(start.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .unwrap_or_else(|| panic!("no item for {rule} at {start}"))
}

pub fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .map_or(0, |v| v.as_n().unwrap().parse().unwrap())
}

pub fn item_counts(item: &HashMap<String, AttributeValue>, prefix: &str) -> Counts {
    let (allowed, blocked, errors) = (
        number(item, &format!("{prefix}allowed")),
        number(item, &format!("{prefix}blocked")),
        number(item, &format!("{prefix}errors")),
    );
    let requests = if prefix.is_empty() {
        number(item, "requests")
    } else {
        allowed + blocked + errors
    };
    Counts {
        requests,
        allowed,
        blocked,
        errors,
    }
}

/// A small deterministic generator (64-bit LCG, high bits).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}
