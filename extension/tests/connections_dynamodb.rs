//! The fleet lease and the count against moto, through the real AWS SDK: one sandbox of
//! several holds the lease and reads the counter the SDK's `ConnectionStore` keeps; the
//! others learn until when the lease runs; a released lease passes on at once; an expired
//! one is taken over; sharded counters are summed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use liftwatch::connections::{Connection, ConnectionStore, create_table};
use liftwatch_extension::active_connections::Attempt;
use liftwatch_extension::active_connections::store::{attempt, release};
use liftwatch_sandbox::moto;

const LEASE: Duration = Duration::from_secs(180);
const TIMEOUT: Duration = Duration::from_secs(5);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn table(client: &Client, test: &str) -> String {
    let name = format!("liftwatch-connections-{test}-{}", now_ms());
    create_table(client, &name).await.unwrap();
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sandbox_holds_the_lease_and_reads_the_exact_count() {
    let client = Client::new(&moto::sdk_config(&moto::moto_url()));
    let table = table(&client, "lease").await;
    let store = ConnectionStore::new(client.clone(), &table);
    for i in 0..7 {
        store
            .save(&Connection::new(format!("c{i}")).user("u").tenant("t"))
            .await
            .unwrap();
    }
    store.delete("c0").await.unwrap();
    let now = now_ms();
    assert_eq!(
        attempt(&client, &table, "sandbox-a", now, (LEASE, TIMEOUT, false)).await,
        Attempt::Published(6)
    );
    let until = now + LEASE.as_millis() as u64;
    assert_eq!(
        attempt(
            &client,
            &table,
            "sandbox-b",
            now + 1_000,
            (LEASE, TIMEOUT, false)
        )
        .await,
        Attempt::HeldElsewhere(Some(until)),
        "another sandbox learns when the lease runs out"
    );
    // The holder renews at its next interval; the count follows the store.
    store.save(&Connection::new("c9")).await.unwrap();
    assert_eq!(
        attempt(
            &client,
            &table,
            "sandbox-a",
            now + 60_000,
            (LEASE, TIMEOUT, false)
        )
        .await,
        Attempt::Published(7)
    );
    // Once the lease has run out, another sandbox takes it over.
    let later = now + 60_000 + LEASE.as_millis() as u64 + 1;
    assert_eq!(
        attempt(&client, &table, "sandbox-b", later, (LEASE, TIMEOUT, false)).await,
        Attempt::Published(7)
    );
    assert!(matches!(
        attempt(
            &client,
            &table,
            "sandbox-a",
            later + 1,
            (LEASE, TIMEOUT, false)
        )
        .await,
        Attempt::HeldElsewhere(Some(_))
    ));
    // A peek (read first) sees the same lease and writes nothing.
    let held = attempt(
        &client,
        &table,
        "sandbox-a",
        later + 2,
        (LEASE, TIMEOUT, true),
    )
    .await;
    assert_eq!(
        held,
        Attempt::HeldElsewhere(Some(later + LEASE.as_millis() as u64))
    );
    // Released at SHUTDOWN: the next attempt of anyone wins at once; only the holder can.
    assert!(!release(&client, &table, "sandbox-a", TIMEOUT).await);
    assert!(release(&client, &table, "sandbox-b", TIMEOUT).await);
    assert_eq!(
        attempt(
            &client,
            &table,
            "sandbox-c",
            later + 3,
            (LEASE, TIMEOUT, true)
        )
        .await,
        Attempt::Published(7)
    );
    // The lease item is no connection: the store's own count is unchanged.
    assert_eq!(store.count_active().await.unwrap(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_counters_are_summed_and_a_missing_table_is_a_failure() {
    let client = Client::new(&moto::sdk_config(&moto::moto_url()));
    let table = table(&client, "shards").await;
    let store = ConnectionStore::new(client.clone(), &table).with_counter_shards(4);
    for i in 0..9 {
        store.save(&Connection::new(format!("s{i}"))).await.unwrap();
    }
    assert_eq!(
        attempt(&client, &table, "a", now_ms(), (LEASE, TIMEOUT, false)).await,
        Attempt::Published(9)
    );
    assert_eq!(
        attempt(
            &client,
            "no-such-table",
            "a",
            now_ms(),
            (LEASE, TIMEOUT, false)
        )
        .await,
        Attempt::Failed
    );
    let unreachable = Client::new(&moto::sdk_config("http://127.0.0.1:9"));
    assert_eq!(
        attempt(&unreachable, &table, "a", now_ms(), (LEASE, TIMEOUT, false)).await,
        Attempt::Failed
    );
}
