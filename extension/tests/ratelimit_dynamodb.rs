//! The rate-limit statistics table against moto's DynamoDB (`scripts/moto.sh start`):
//! totals from concurrent sandboxes equal what was sent, per rule, window and key class;
//! a write whose answer was lost is not counted twice, within a flush or at the next one;
//! every update refreshes `expires_at`; the query path returns the same totals.
//!
//! Each test uses its own table, so tests share one moto without resetting it. They fail,
//! never pass silently, when moto is not running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "ratelimit_dynamodb/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use liftwatch_extension::ratelimit::{
    Counts, DEFAULT_RETENTION, Outcome, RateLimitAggregator, Totals, query_totals,
};
use liftwatch_sandbox::moto::moto_url;
use liftwatch_sandbox::proxy::faults::{Fault, FaultProxy};
use support::{
    Lcg, WINDOW, client, decision, get_item, item_counts, number, table, window_start, writer,
};

/// The requests whose answers the proxy drops.
const UPDATE_ITEM: &str = "DynamoDB_20120810.UpdateItem";
const RULES: [&str; 3] = ["login", "search", "upload"];
const CLASSES: [&str; 8] = [
    "free", "paid", "trial", "internal", "partner", "bot", "anon", "admin",
];
const DAY: u64 = 24 * 3_600;

/// Expected counts per (rule, window start): totals and per key class.
type Expected = BTreeMap<(String, u64), (Counts, BTreeMap<String, Counts>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sandboxes_add_up_to_exactly_what_was_sent() {
    const SANDBOXES: u64 = 4;
    const PER_SANDBOX: usize = 25_000;
    const FLUSH_EVERY: usize = 1_000;
    let moto = moto_url();
    let table = table(&moto, "concurrent").await;
    let windows = [window_start(2), window_start(1), window_start(0)];
    // moto's server runs requests on threads and updates items without a lock, so two
    // concurrent `UpdateItem`s of one item can lose an `ADD` (seen here: about 5% of the
    // counts with 4 concurrent writers). DynamoDB applies each update atomically; the test
    // keeps the sandboxes concurrent but lets one flush at a time reach moto.
    let moto_lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    let mut tasks = Vec::new();
    for sandbox in 0..SANDBOXES {
        let (moto, table, moto_lock) = (moto.clone(), table.clone(), moto_lock.clone());
        tasks.push(tokio::spawn(async move {
            let mut aggregator = RateLimitAggregator::new();
            let mut writer = writer(&moto, &table, DEFAULT_RETENTION);
            let mut expected = Expected::new();
            let mut random = Lcg(sandbox * 7_919 + 1);
            let mut updates = 0;
            for i in 0..PER_SANDBOX {
                let rule = RULES[random.next(RULES.len())];
                let class = match random.next(10) {
                    0 => None,
                    _ => Some(CLASSES[random.next(CLASSES.len())]),
                };
                let outcome = [
                    Outcome::Allowed,
                    Outcome::Allowed,
                    Outcome::Blocked,
                    Outcome::Error,
                ][random.next(4)];
                // Windows advance with time, with some stragglers in the previous one.
                let w = (i * windows.len() / PER_SANDBOX).saturating_sub(random.next(3) / 2);
                let start = windows[w];
                let (totals, classes) = expected.entry((rule.to_owned(), start)).or_default();
                totals.add(outcome);
                if let Some(class) = class {
                    classes.entry(class.to_owned()).or_default().add(outcome);
                }
                assert!(aggregator.record(decision(rule, class, outcome, start)));
                if (i + 1) % FLUSH_EVERY == 0 {
                    let batch = aggregator.flush();
                    let _one_at_a_time = moto_lock.lock().await;
                    let deadline = Instant::now() + Duration::from_secs(10);
                    let report = writer.write(batch, deadline).await;
                    assert!(report.error.is_none(), "{:?}", report.error);
                    assert_eq!(
                        (report.kept, report.dropped, report.already_applied),
                        (0, 0, 0)
                    );
                    updates += report.applied;
                }
            }
            (expected, updates)
        }));
    }
    let mut expected = Expected::new();
    let mut updates = 0;
    for task in tasks {
        let (sent, writes) = task.await.unwrap();
        updates += writes;
        for (key, (totals, classes)) in sent {
            let (all, all_classes) = expected.entry(key).or_default();
            all.merge(&totals);
            for (class, counts) in classes {
                all_classes.entry(class).or_default().merge(&counts);
            }
        }
    }
    let sent: u64 = expected.values().map(|(t, _)| t.requests).sum();
    assert_eq!(sent, SANDBOXES * PER_SANDBOX as u64);
    assert!(
        updates <= 4 * 25 * RULES.len() * windows.len(),
        "one update per rule and window per flush: {updates}"
    );

    let reader = client(&moto);
    for ((rule, start), (totals, classes)) in &expected {
        let item = get_item(&reader, &table, rule, *start).await;
        assert_eq!(item_counts(&item, ""), *totals, "{rule} at {start}");
        for class in CLASSES {
            let want = classes.get(class).copied().unwrap_or_default();
            assert_eq!(
                item_counts(&item, &format!("kc#{class}#")),
                want,
                "{rule} {class} at {start}"
            );
        }
        let window = query_totals(&reader, &table, rule, None, *start, *start)
            .await
            .unwrap();
        assert_eq!((window.counts, window.windows), (*totals, 1));
        let writers = support::window_items(&reader, &table, rule, *start).await;
        assert_eq!(window.items, writers.len() as u64);
        assert!(
            (1..=SANDBOXES).contains(&window.items),
            "one item per writer"
        );
    }
    for rule in RULES {
        let mut want = Counts::default();
        let mut want_paid = Counts::default();
        for ((r, _), (totals, classes)) in &expected {
            if r == rule {
                want.merge(totals);
                want_paid.merge(&classes.get("paid").copied().unwrap_or_default());
            }
        }
        let got = query_totals(&reader, &table, rule, None, windows[0], windows[2])
            .await
            .unwrap();
        assert_eq!(got.counts, want, "{rule}");
        let paid = query_totals(&reader, &table, rule, Some("paid"), windows[0], windows[2])
            .await
            .unwrap();
        assert_eq!(paid.counts, want_paid, "{rule} paid");
        let none = query_totals(&reader, &table, rule, None, 0, windows[0] - 1)
            .await
            .unwrap();
        assert_eq!(none, Totals::default(), "outside the range");
    }
}

fn batch_of(
    aggregator: &mut RateLimitAggregator,
    rule: &str,
    start: u64,
    allowed: u64,
    blocked: u64,
) {
    for _ in 0..allowed {
        aggregator.record(decision(rule, Some("free"), Outcome::Allowed, start));
    }
    for _ in 0..blocked {
        aggregator.record(decision(rule, Some("paid"), Outcome::Blocked, start));
    }
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_retried_and_counted_once() {
    let moto = moto_url();
    let table = table(&moto, "lost-answer").await;
    let proxy = FaultProxy::start(&moto).await.unwrap();
    let mut writer = writer(&proxy.url, &table, DEFAULT_RETENTION);
    let mut aggregator = RateLimitAggregator::new();
    let (w0, w1) = (window_start(1), window_start(0));
    batch_of(&mut aggregator, "login", w0, 5, 2);
    batch_of(&mut aggregator, "login", w1, 3, 1);

    // Within one flush: the first answer is lost after moto applied the update.
    proxy.set(Fault::DropAnswer.on_target(UPDATE_ITEM).times(1));
    let report = writer
        .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(proxy.dropped(), 1);
    assert_eq!(
        (report.applied, report.already_applied, report.kept),
        (1, 1, 0),
        "{report:?}"
    );
    let reader = client(&moto);
    let item = get_item(&reader, &table, "login", w0).await;
    assert_eq!(
        item_counts(&item, ""),
        Counts {
            requests: 7,
            allowed: 5,
            blocked: 2,
            errors: 0
        }
    );

    // Across flushes: every answer is lost until the deadline, so the flush is kept; the
    // next flush retries it with the same sequence number, then writes its own deltas.
    proxy.set(Fault::DropAnswer.on_target(UPDATE_ITEM));
    batch_of(&mut aggregator, "login", w1, 10, 0);
    let report = writer
        .write(
            aggregator.flush(),
            Instant::now() + Duration::from_millis(800),
        )
        .await;
    assert_eq!((report.applied, report.kept), (0, 1), "{report:?}");
    assert!(proxy.dropped() >= 2);
    assert_eq!(
        number(&get_item(&reader, &table, "login", w1).await, "requests"),
        14,
        "applied, answer lost"
    );
    proxy.set(Fault::Forward);
    batch_of(&mut aggregator, "login", w1, 0, 4);
    let report = writer
        .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(
        (report.applied, report.already_applied, report.kept),
        (1, 1, 0),
        "{report:?}"
    );
    let item = get_item(&reader, &table, "login", w1).await;
    assert_eq!(
        item_counts(&item, ""),
        Counts {
            requests: 18,
            allowed: 13,
            blocked: 5,
            errors: 0
        }
    );
    assert_eq!(
        item_counts(&item, "kc#free#"),
        Counts {
            requests: 13,
            allowed: 13,
            blocked: 0,
            errors: 0
        }
    );
    let got = query_totals(&reader, &table, "login", None, w0, w1)
        .await
        .unwrap();
    assert_eq!(
        got.counts,
        Counts {
            requests: 25,
            allowed: 18,
            blocked: 7,
            errors: 0
        }
    );
}

#[tokio::test]
async fn every_update_sets_expires_at_to_the_window_end_plus_the_retention() {
    let moto = moto_url();
    let table = table(&moto, "ttl").await;
    let reader = client(&moto);
    let start = window_start(0);
    let end = start + u64::from(WINDOW);
    let mut aggregator = RateLimitAggregator::new();
    let mut short = writer(&moto, &table, Duration::from_secs(DAY));
    batch_of(&mut aggregator, "api", start, 1, 0);
    let report = short
        .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(
        number(&get_item(&reader, &table, "api", start).await, "expires_at"),
        end + DAY
    );

    let mut default = writer(&moto, &table, DEFAULT_RETENTION);
    for round in 1..=3 {
        batch_of(&mut aggregator, "api", start, 1, 1);
        let report = default
            .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
            .await;
        assert_eq!(report.applied, 1, "{report:?}");
        let item = get_item(&reader, &table, "api", start).await;
        assert_eq!(
            number(&item, "expires_at"),
            end + 30 * DAY,
            "after update {round}"
        );
        assert_eq!(number(&item, "window_seconds"), u64::from(WINDOW));
        assert_eq!(number(&item, "requests"), 1 + 2 * round);
    }

    // An item whose TTL passed (moto never reaps it) is left out of the totals.
    let old = 1_000 * u64::from(WINDOW);
    batch_of(&mut aggregator, "api", old, 9, 0);
    default
        .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(
        number(&get_item(&reader, &table, "api", old).await, "expires_at"),
        old + 60 + 30 * DAY
    );
    let got = query_totals(&reader, &table, "api", None, 0, start)
        .await
        .unwrap();
    assert_eq!(
        got,
        Totals {
            counts: Counts {
                requests: 7,
                allowed: 4,
                blocked: 3,
                errors: 0
            },
            windows: 1,
            items: 2,
        },
        "one item per writer: the short and the default retention's"
    );
}

/// Two sandboxes restored from one SnapStart snapshot start with the same writer id and
/// flush numbers. Without a new id their second update passes for the first one's
/// ("applied already") and its counts are lost; after `restored()` both count.
#[tokio::test]
async fn writers_restored_from_one_snapshot_both_count() {
    let moto = moto_url();
    let table = table(&moto, "snapstart").await;
    let start = window_start(1);
    let deadline = || Instant::now() + Duration::from_secs(10);
    let flush = |outcome| {
        let mut aggregator = RateLimitAggregator::new();
        for _ in 0..3 {
            assert!(aggregator.record(decision("restore", None, outcome, start)));
        }
        aggregator.flush()
    };
    let copy = |id: &str| writer(&moto, &table, DEFAULT_RETENTION).with_sandbox_id(id);

    // The failure the restore hook prevents: same id, same flush number.
    let (mut a, mut b) = (copy("snapshot-id"), copy("snapshot-id"));
    let first = a.write(flush(Outcome::Allowed), deadline()).await;
    let second = b.write(flush(Outcome::Blocked), deadline()).await;
    assert_eq!(
        (first.applied, second.applied, second.already_applied),
        (1, 0, 1)
    );
    let item = get_item(&client(&moto), &table, "restore", start).await;
    assert_eq!(
        number(&item, "requests"),
        3,
        "the second copy's counts were lost"
    );

    // With the restore hook each copy draws an id of its own.
    let start_b = window_start(2);
    let flush_b = |outcome| {
        let mut aggregator = RateLimitAggregator::new();
        for _ in 0..3 {
            assert!(aggregator.record(decision("restored", None, outcome, start_b)));
        }
        aggregator.flush()
    };
    let (mut a, mut b) = (copy("snapshot-id"), copy("snapshot-id"));
    a.restored();
    b.restored();
    assert_ne!(a.sandbox_id(), b.sandbox_id());
    assert_ne!(a.sandbox_id(), "snapshot-id");
    let first = a.write(flush_b(Outcome::Allowed), deadline()).await;
    let second = b.write(flush_b(Outcome::Blocked), deadline()).await;
    assert_eq!((first.applied, second.applied), (1, 1), "{second:?}");
    let item = get_item(&client(&moto), &table, "restored", start_b).await;
    let counts = item_counts(&item, "");
    assert_eq!(
        (counts.requests, counts.allowed, counts.blocked),
        (6, 3, 3),
        "both copies counted"
    );
}

/// Items of the earlier layout (one per rule and window, `pk` = `rule#<rule>`, a `seq#`
/// attribute per writer) are still summed with the current ones until they expire.
#[tokio::test]
async fn items_of_the_earlier_layout_still_count_until_they_expire() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let moto = moto_url();
    let table = table(&moto, "legacy").await;
    let reader = client(&moto);
    let (w0, w1) = (window_start(2), window_start(1));
    let n = |v: u64| AttributeValue::N(v.to_string());
    for (start, expires) in [(w0, w0 + 60 + DAY), (w1, 1)] {
        reader
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("rule#migrated".to_owned()))
            .item("sk", n(start))
            .item("window_seconds", n(60))
            .item("requests", n(5))
            .item("allowed", n(4))
            .item("blocked", n(1))
            .item("kc#paid#allowed", n(4))
            .item("seq#0123456789abcdef0123456789abcdef", n(3))
            .item("expires_at", n(expires))
            .send()
            .await
            .unwrap();
    }
    let mut aggregator = RateLimitAggregator::new();
    batch_of(&mut aggregator, "migrated", w0, 2, 1);
    let report = writer(&moto, &table, DEFAULT_RETENTION)
        .write(aggregator.flush(), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(report.applied, 1, "{report:?}");

    let got = query_totals(&reader, &table, "migrated", None, w0, w1)
        .await
        .unwrap();
    assert_eq!(
        got,
        Totals {
            counts: Counts {
                requests: 8,
                allowed: 6,
                blocked: 2,
                errors: 0
            },
            windows: 1,
            items: 2,
        },
        "the old item of w0 and the writer's own; w1's old item has expired"
    );
    let paid = query_totals(&reader, &table, "migrated", Some("paid"), w0, w1)
        .await
        .unwrap();
    assert_eq!((paid.counts.allowed, paid.counts.blocked), (4, 1));
}
