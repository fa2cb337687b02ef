//! Helpers for the rate-limit statistics tests: clients and writers pointed at moto (or a
//! proxy in front of it), a fresh table per test, reading items back, a small generator.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use liftwatch::stats::layout;
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

/// Every writer's item of `rule`'s window starting at `start`, read consistently from each
/// shard partition.
pub async fn window_items(
    client: &Client,
    table: &str,
    rule: &str,
    start: u64,
) -> Vec<HashMap<String, AttributeValue>> {
    let (from, to) = layout::sort_key_range(start, start);
    let mut items = Vec::new();
    for shard in 0..layout::SHARDS {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(layout::shard_partition_key(shard, rule)),
            )
            .expression_attribute_values(":from", AttributeValue::N(from.to_string()))
            .expression_attribute_values(":to", AttributeValue::N(to.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert!(page.last_evaluated_key().is_none(), "one page per shard");
        items.extend(page.items().iter().cloned());
    }
    items
}

/// `rule`'s window starting at `start` as one item: every writer's counters summed, the
/// largest `expires_at` and `window_seconds`. Panics when no writer wrote it.
pub async fn get_item(
    client: &Client,
    table: &str,
    rule: &str,
    start: u64,
) -> HashMap<String, AttributeValue> {
    let items = window_items(client, table, rule, start).await;
    assert!(!items.is_empty(), "no item for {rule} at {start}");
    let mut merged: HashMap<String, u64> = HashMap::new();
    for item in &items {
        for (name, value) in item {
            let Ok(n) = value.as_n() else { continue };
            let Ok(n) = n.parse::<u64>() else { continue };
            let slot = merged.entry(name.clone()).or_default();
            match name.as_str() {
                "expires_at" | "window_seconds" | "seq" => *slot = (*slot).max(n),
                _ => *slot += n,
            }
        }
    }
    merged
        .into_iter()
        .map(|(name, n)| (name, AttributeValue::N(n.to_string())))
        .collect()
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
