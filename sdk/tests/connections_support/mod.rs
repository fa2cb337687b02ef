//! Helpers for the connection store tests: DynamoDB clients for moto (directly or behind
//! the serializing proxy), a fresh table per test made by `create_table`, raw items in
//! the documented schema (to plant expired items or drift the counter as TTL would),
//! a Scan that counts connection items, and a bounded JoinSet runner.

pub mod http;
pub mod management;
pub mod serial;
pub mod workload;

use std::collections::HashMap;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use liftwatch::connections::{self, ConnectionStore};
use liftwatch_sandbox::moto;
use tokio::task::JoinSet;

pub fn dynamo(endpoint: &str) -> Client {
    Client::new(&moto::sdk_config(endpoint))
}

/// A new table made by the crate's own `create_table`.
pub async fn new_table(client: &Client, test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("liftwatch-conn-{test}-{nanos}");
    connections::create_table(client, &table).await.unwrap();
    table
}

/// A store on a fresh table straight on moto (for tests without concurrent writes).
pub async fn fresh_store(test: &str) -> (ConnectionStore, Client, String) {
    let client = dynamo(&moto::moto_url());
    let table = new_table(&client, test).await;
    (ConnectionStore::new(client.clone(), &table), client, table)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A connection item written as the module docs describe it, expiring at `expires_at`.
pub fn raw_item(
    id: &str,
    tenant: Option<&str>,
    user: Option<&str>,
    expires_at: u64,
) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let created = (unix_now() - 3_600) * 1_000;
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&format!("conn#{id}"))),
        ("sk".to_owned(), n(0)),
        ("connection_id".to_owned(), s(id)),
        ("created_at".to_owned(), n(created)),
        ("last_seen".to_owned(), n(created)),
        ("expires_at".to_owned(), n(expires_at)),
    ]);
    if let Some(tenant) = tenant {
        item.insert("tenant_id".into(), s(tenant));
        item.insert("tenant_key".into(), s(&format!("tenant#{tenant}")));
    }
    if let Some(user) = user {
        item.insert("user_id".into(), s(user));
        let key = match tenant {
            Some(t) => format!("user#{}:{t}#{user}", t.len()),
            None => format!("user#-#{user}"),
        };
        item.insert("user_key".into(), s(&key));
    }
    item
}

/// Plants an item whose TTL passed a minute ago (DynamoDB has not reaped it yet).
pub async fn put_expired(
    client: &Client,
    table: &str,
    id: &str,
    tenant: Option<&str>,
    user: Option<&str>,
) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(raw_item(id, tenant, user, unix_now() - 60)))
        .send()
        .await
        .unwrap();
}

/// Moves counter shard `shard` by `delta` outside any transaction (drift).
pub async fn drift_counter(client: &Client, table: &str, shard: u32, delta: i64) {
    client
        .update_item()
        .table_name(table)
        .key(
            "pk",
            AttributeValue::S(connections::counter_partition_key(shard)),
        )
        .key("sk", AttributeValue::N("0".into()))
        .update_expression("ADD #count :delta")
        .expression_attribute_names("#count", connections::COUNT_ATTR)
        .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
        .send()
        .await
        .unwrap();
}

/// Counts connection items (live or not) with a paginated Scan.
pub async fn scan_connection_items(client: &Client, table: &str) -> i64 {
    let mut total = 0;
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .select(Select::Count)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", AttributeValue::S("conn#".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        total += i64::from(out.count);
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return total,
        }
    }
}

/// Runs every future as its own task on the multi-thread runtime, at most `concurrency`
/// at once; results in completion order.
pub async fn run_bounded<T, F>(work: Vec<F>, concurrency: usize) -> Vec<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut results = Vec::with_capacity(work.len());
    for future in work {
        if tasks.len() >= concurrency {
            results.push(tasks.join_next().await.unwrap().unwrap());
        }
        tasks.spawn(future);
    }
    while let Some(result) = tasks.join_next().await {
        results.push(result.unwrap());
    }
    results
}
