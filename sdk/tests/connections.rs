//! The WebSocket connection store against moto's DynamoDB: the counter stays equal to the
//! number of connection items under hundreds of concurrent connects and disconnects
//! (repeats included), expired items are never returned, tenants never see each other,
//! erasure removes a user's every item, queries follow every page, `reconcile` fixes
//! drift; and the broadcast helper against a recording Management API stand-in.
//!
//! The concurrent tests reach moto through a proxy that hands it one request at a time:
//! moto's server does not apply concurrent requests atomically (see
//! `connections_support/serial.rs`, and the ignored `moto_alone_under_concurrency` test
//! that shows it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod connections_support;

use std::time::Duration;

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Builder as ManagementConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use liftwatch::connections::{
    BroadcastError, Broadcaster, Connection, ConnectionStore, Erasure, ManagementEndpoint, Removed,
    Saved, StoreError,
};
use liftwatch_sandbox::moto;

use connections_support::management::ManagementApi;
use connections_support::serial::serializing_proxy;
use connections_support::workload::{Op, expected, run_phase, workload};
use connections_support::{
    drift_counter, dynamo, fresh_store, new_table, put_expired, scan_connection_items,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_and_disconnects_keep_the_counter_exact() {
    let proxy = serializing_proxy(&moto::moto_url());
    let client = dynamo(&proxy.url);
    for shards in [1, 4] {
        let table = new_table(&client, &format!("concurrent{shards}")).await;
        let store = ConnectionStore::new(client.clone(), &table).with_counter_shards(shards);
        let outcome = workload(&store, &client, 32).await;
        assert_eq!(outcome, expected(), "{shards} shard(s)");
        // Saves and deletes of the same ids racing each other: any interleaving may win,
        // but the counter moves exactly with the items.
        let mut races = Vec::new();
        for i in 0..70 {
            let id = format!("race{i}");
            races.extend([Op::Save(id.clone()), Op::Delete(id.clone()), Op::Save(id)]);
        }
        let raced = run_phase(&store, &client, races, 32).await;
        assert_eq!(raced.errors, 0);
        assert_eq!(raced.counter, raced.items, "{raced:?}");
        let net = i64::try_from(raced.created).unwrap() - i64::try_from(raced.deleted).unwrap();
        assert_eq!(raced.items, 220 + net, "{raced:?}");
        assert_eq!(raced.created + raced.already_saved, 140);
        assert_eq!(raced.deleted + raced.already_gone, 70);
    }
    // The requests really were concurrent; moto just got them one at a time.
    assert!(
        proxy.peak_concurrency() >= 16,
        "peak {}",
        proxy.peak_concurrency()
    );
}

/// Not run by default: the same workload straight against moto, at concurrency 1 and 32,
/// printing what moto ends up with. At 1 it is exact every time. At 32 moto's server,
/// which runs requests on threads without locking its tables, loses committed
/// transactions (e.g. 240 `Created` but 239 items), lets the counter and the items
/// diverge (e.g. counter 226, items 222), and now and then answers a
/// `TransactWriteItems` with a 500 page ("dictionary changed size during iteration" from
/// the deep copy it takes for rollback), counted here as `errors`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "shows a moto defect; run with --ignored to see it"]
async fn moto_alone_under_concurrency() {
    let client = dynamo(&moto::moto_url());
    for concurrency in [1, 32] {
        let table = new_table(&client, &format!("direct{concurrency}")).await;
        let store = ConnectionStore::new(client.clone(), &table);
        let outcome = workload(&store, &client, concurrency).await;
        eprintln!("concurrency {concurrency}: {outcome:?}");
        if concurrency == 1 {
            assert_eq!(outcome, expected());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_connections_are_neither_listed_nor_returned() {
    let (store, client, table) = fresh_store("ttl").await;
    let live = Connection::new("live")
        .tenant("acme")
        .user("u1")
        .metadata("ip", "203.0.113.7");
    assert_eq!(store.save(&live).await.unwrap(), Saved::Created);
    put_expired(&client, &table, "stale", Some("acme"), Some("u1")).await;
    assert_eq!(
        scan_connection_items(&client, &table).await,
        2,
        "moto keeps expired items"
    );

    assert_eq!(store.get("live").await.unwrap(), Some(live.clone()));
    assert_eq!(store.get("stale").await.unwrap(), None);
    assert_eq!(
        store.list_by_tenant("acme").await.unwrap(),
        vec![live.clone()]
    );
    assert_eq!(
        store.list_by_user(Some("acme"), "u1").await.unwrap(),
        vec![live]
    );

    let expired = Connection::new("late").expires_at(std::time::UNIX_EPOCH);
    assert!(matches!(
        store.save(&expired).await,
        Err(StoreError::AlreadyExpired)
    ));
    // Saving over an expired leftover stores the new connection.
    assert_eq!(
        store
            .save(&Connection::new("stale").tenant("acme"))
            .await
            .unwrap(),
        Saved::Created
    );
    assert_eq!(store.count_active().await.unwrap(), 2);
    assert_eq!(store.list_by_tenant("acme").await.unwrap().len(), 2);
    // Deleting an expired item removes it without touching the counter.
    put_expired(&client, &table, "gone", None, None).await;
    assert_eq!(store.delete("gone").await.unwrap(), Removed::Expired);
    assert_eq!(store.delete("gone").await.unwrap(), Removed::AlreadyGone);
    assert_eq!(store.count_active().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated_even_with_the_same_user_ids() {
    let (store, _, _) = fresh_store("tenants").await;
    let saves = [
        ("a1", Some("acme"), "u1"),
        ("a2", Some("acme"), "u1"),
        ("a3", Some("acme"), "u2"),
        ("g1", Some("globex"), "u1"),
        ("g2", Some("globex"), "u2"),
        ("n1", None, "u1"),
        // Separator tricks must not reach another tenant's partition.
        ("t1", Some("acme#u1"), "u1"),
        ("t2", Some("4:acme"), "u1"),
    ];
    for (id, tenant, user) in saves {
        let mut connection = Connection::new(id).user(user);
        if let Some(tenant) = tenant {
            connection = connection.tenant(tenant);
        }
        store.save(&connection).await.unwrap();
    }
    let ids = |found: Vec<Connection>| {
        let mut ids: Vec<String> = found.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(store.list_by_tenant("acme").await.unwrap()),
        ["a1", "a2", "a3"]
    );
    assert_eq!(
        ids(store.list_by_tenant("globex").await.unwrap()),
        ["g1", "g2"]
    );
    assert_eq!(
        ids(store.list_by_user(Some("acme"), "u1").await.unwrap()),
        ["a1", "a2"]
    );
    assert_eq!(
        ids(store.list_by_user(Some("globex"), "u1").await.unwrap()),
        ["g1"]
    );
    assert_eq!(ids(store.list_by_user(None, "u1").await.unwrap()), ["n1"]);
    assert!(store.list_by_tenant("initech").await.unwrap().is_empty());

    let erased = store.delete_user(Some("acme"), "u1").await.unwrap();
    assert_eq!(
        erased,
        Erasure {
            deleted: 2,
            expired: 0
        }
    );
    assert_eq!(
        ids(store.list_by_user(Some("globex"), "u1").await.unwrap()),
        ["g1"]
    );
    assert_eq!(ids(store.list_by_user(None, "u1").await.unwrap()), ["n1"]);
    assert_eq!(ids(store.list_by_tenant("acme").await.unwrap()), ["a3"]);
    assert_eq!(store.count_active().await.unwrap(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_user_removes_every_item_and_lowers_the_counter() {
    let (store, client, table) = fresh_store("erasure").await;
    for i in 0..5 {
        let connection = Connection::new(format!("mine{i}"))
            .tenant("acme")
            .user("u1")
            .metadata("email", "someone@example.com");
        store.save(&connection).await.unwrap();
    }
    for i in 0..2 {
        store
            .save(
                &Connection::new(format!("other{i}"))
                    .tenant("acme")
                    .user("u2"),
            )
            .await
            .unwrap();
    }
    put_expired(&client, &table, "mine-expired", Some("acme"), Some("u1")).await;
    assert_eq!(store.count_active().await.unwrap(), 7);

    let erased = store.delete_user(Some("acme"), "u1").await.unwrap();
    assert_eq!(
        erased,
        Erasure {
            deleted: 5,
            expired: 1
        }
    );
    let left = client
        .scan()
        .table_name(&table)
        .filter_expression("user_id = :u")
        .expression_attribute_values(":u", AttributeValue::S("u1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(left.count, 0, "no item of the user is left, expired or not");
    assert_eq!(store.count_active().await.unwrap(), 2);
    assert_eq!(scan_connection_items(&client, &table).await, 2);
    assert_eq!(
        store.delete_user(Some("acme"), "u1").await.unwrap(),
        Erasure::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_follow_every_page() {
    let (store, client, table) = fresh_store("pages").await;
    let store = store.with_page_size(4);
    let mut saved = Vec::new();
    for i in 0..23 {
        let at = std::time::SystemTime::now() - Duration::from_secs(100 - i);
        let connection = Connection::new(format!("p{i:02}"))
            .tenant("acme")
            .user("u1")
            .created_at(at);
        store.save(&connection).await.unwrap();
        saved.push(connection);
        if i % 5 == 0 {
            put_expired(
                &client,
                &table,
                &format!("x{i:02}"),
                Some("acme"),
                Some("u1"),
            )
            .await;
        }
    }
    // moto does paginate a Limit-ed query, so one page could not have held them all.
    let first_page = client
        .query()
        .table_name(&table)
        .index_name("by_tenant")
        .key_condition_expression("tenant_key = :t")
        .expression_attribute_values(":t", AttributeValue::S("tenant#acme".into()))
        .limit(4)
        .send()
        .await
        .unwrap();
    assert_eq!(first_page.count, 4);
    assert!(first_page.last_evaluated_key.is_some());

    assert_eq!(
        store.list_by_tenant("acme").await.unwrap(),
        saved,
        "oldest first"
    );
    assert_eq!(
        store.list_by_user(Some("acme"), "u1").await.unwrap().len(),
        23
    );
    let erased = store.delete_user(Some("acme"), "u1").await.unwrap();
    assert_eq!(
        erased,
        Erasure {
            deleted: 23,
            expired: 5
        }
    );
    assert_eq!(store.count_active().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_corrects_a_drifted_counter() {
    let (store, client, table) = fresh_store("reconcile").await;
    for shards in [1, 4] {
        let store = store.clone().with_counter_shards(shards);
        for i in 0..10 {
            store
                .save(&Connection::new(format!("s{shards}-{i}")))
                .await
                .unwrap();
        }
        // Seven connections that expired without a disconnect: counted, then reaped by TTL.
        drift_counter(&client, &table, shards - 1, 7).await;
        put_expired(&client, &table, &format!("s{shards}-stale"), None, None).await;
        let live = if shards == 1 { 10 } else { 20 };
        assert_eq!(store.count_active().await.unwrap(), live + 7);

        let fixed = store.reconcile().await.unwrap();
        assert_eq!(
            (fixed.previous, fixed.counted, fixed.drift()),
            (live + 7, live, 7)
        );
        assert_eq!(store.count_active().await.unwrap(), live);
        assert_eq!(store.reconcile().await.unwrap().drift(), 0);
        // The counter keeps working after a reconcile.
        store.delete(&format!("s{shards}-0")).await.unwrap();
        store
            .save(&Connection::new(format!("s{shards}-0")))
            .await
            .unwrap();
        assert_eq!(store.count_active().await.unwrap(), live);
    }
    // A reconcile folds the whole count into shard 0 and zeroes the others.
    assert_eq!(store.count_active().await.unwrap(), 20);
}

/// Earlier versions kept counter shards as sort keys of `counter#active`: such an item is
/// still counted, and a reconcile folds it into shard 0 like any other shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_shards_of_the_earlier_layout_are_counted_and_reconciled() {
    let (store, client, table) = fresh_store("legacy-shards").await;
    for i in 0..6 {
        store.save(&Connection::new(format!("c{i}"))).await.unwrap();
    }
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("counter#active".into()))
        .item("sk", AttributeValue::N("3".into()))
        .item("count", AttributeValue::N("4".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(store.count_active().await.unwrap(), 10);
    let read = liftwatch::connections::read_count(&client, &table, false)
        .await
        .unwrap();
    assert_eq!(read, 10, "the extension's eventually consistent read");
    let fixed = store.reconcile().await.unwrap();
    assert_eq!((fixed.previous, fixed.counted), (10, 6));
    assert_eq!(store.count_active().await.unwrap(), 6);
}

fn management_base() -> ManagementConfig {
    ManagementConfig::new()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(moto::credentials())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_deletes_gone_connections_and_reports_failures() {
    let (store, _, _) = fresh_store("broadcast").await;
    let api = ManagementApi::start(&[("gone=", 410), ("boom", 500)], Duration::from_millis(100));
    for id in ["ok-1", "ok-2", "ok-3", "gone=", "boom"] {
        store
            .save(&Connection::new(id).tenant("acme"))
            .await
            .unwrap();
    }
    store
        .save(&Connection::new("elsewhere").tenant("globex"))
        .await
        .unwrap();

    let endpoint = ManagementEndpoint::from_request_context(
        "abc123.execute-api.eu-west-1.amazonaws.com",
        "prod",
    )
    .with_url(format!("http://{}/prod", api.addr));
    let client = endpoint.client_with(management_base(), |_| Some("us-west-2".into()));
    let broadcaster = Broadcaster::new(store.clone(), client).with_concurrency(2);
    let report = broadcaster
        .post_to_tenant("acme", b"{\"hello\":1}")
        .await
        .unwrap();

    assert_eq!(report.delivered, ["ok-1", "ok-2", "ok-3"]);
    assert_eq!(report.gone, ["gone="]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].connection_id, "boom");
    assert!(matches!(report.failed[0].error, BroadcastError::Post(_)));
    assert_eq!(
        store.get("gone=").await.unwrap(),
        None,
        "the gone one is deleted"
    );
    assert!(
        store.get("boom").await.unwrap().is_some(),
        "a failure is not a disconnect"
    );
    assert_eq!(store.count_active().await.unwrap(), 5);

    let requests = api.requests();
    assert!(requests.iter().all(|r| r.connection_id != "elsewhere"));
    let gone = api.requests_for("gone=");
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].method, "POST");
    assert_eq!(
        gone[0].path, "/prod/@connections/gone%3D",
        "stage kept, id encoded"
    );
    assert_eq!(gone[0].body, b"{\"hello\":1}");
    assert!(
        gone[0]
            .authorization
            .contains("/eu-west-1/execute-api/aws4_request"),
        "signed for the domain's region: {}",
        gone[0].authorization
    );
    assert!(!api.requests_for("boom").is_empty());
    assert!(
        api.max_in_flight() <= 2,
        "at most 2 posts in flight, saw {}",
        api.max_in_flight()
    );
    assert_eq!(api.max_in_flight(), 2, "posts overlapped");
}

/// moto's server does answer PostToConnection (at the endpoint root, not under a stage
/// path, and 200 for any id), so a broadcast through it is delivered; it cannot answer
/// 410 or fail, hence the recording stand-in above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_accepts_post_to_connection() {
    let (store, _, _) = fresh_store("motopost").await;
    store
        .save(&Connection::new("abc=").tenant("acme"))
        .await
        .unwrap();
    let endpoint = ManagementEndpoint::from_url(moto::moto_url()).with_region(moto::REGION);
    let broadcaster = Broadcaster::new(store, endpoint.client_with(management_base(), |_| None));
    let report = broadcaster.post_to_tenant("acme", b"hi").await.unwrap();
    assert_eq!(report.delivered, ["abc="]);
    assert!(report.gone.is_empty() && report.failed.is_empty());
}
