//! The DynamoDB fixed-window limiter against moto: requests get exactly `limit` allowances
//! per key and window, the headers say so, and an unreachable table fails open or closed as
//! configured. (Sequential on purpose: moto's server can lose one of two concurrent ADDs on
//! an item, which real DynamoDB never does.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use liftwatch::limiter::{FailureMode, FixedWindow, SlidingWindow, Verdict};
use liftwatch_sandbox::moto;

async fn table(client: &Client) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("liftwatch-limiter-{nanos}");
    let created = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    // The SDK retries a CreateTable whose answer was slow; the retry then finds the table
    // its first attempt made (seen once under load): the table is there either way.
    if let Err(error) = created {
        let exists = error
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception());
        assert!(exists, "{error:?}");
    }
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_of_five_allows_exactly_five_per_key_and_window() {
    let client = Client::new(&moto::sdk_config(&moto::moto_url()));
    let table = table(&client).await;
    // A one-hour window: the test cannot straddle two windows.
    let limiter = FixedWindow::new(client, &table, "login", 5, 3_600, FailureMode::Open);
    let mut verdicts = Vec::new();
    for _ in 0..8 {
        verdicts.push(limiter.check("user-42").await);
    }
    let allowed = verdicts.iter().filter(|v| v.allowed).count();
    assert_eq!(allowed, 5);
    assert!(verdicts.iter().all(|v| !v.error));
    assert_eq!(verdicts[0].remaining, 4);
    assert_eq!(verdicts[4].remaining, 0);
    let refused = &verdicts[7];
    assert!(!refused.allowed);
    let headers = refused.headers();
    assert!(headers.contains(&("X-RateLimit-Limit", "5".to_owned())));
    assert!(headers.contains(&("X-RateLimit-Remaining", "0".to_owned())));
    assert!(
        headers
            .iter()
            .any(|(name, value)| *name == "Retry-After" && value.parse::<u64>().unwrap() <= 3_600)
    );
    assert!(
        !verdicts[0]
            .headers()
            .iter()
            .any(|(name, _)| *name == "Retry-After")
    );
    // Another key has its own budget.
    assert!(limiter.check("user-43").await.allowed);
    // The decision to report names the rule and outcome, never the raw key.
    let event = refused.decision().into_event().unwrap();
    assert_eq!(event.rule, "login");
    assert_eq!(event.outcome, liftwatch::Outcome::Blocked);
    assert!(event.key_class.unwrap().starts_with('h'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_table_fails_open_or_closed_as_configured() {
    let client = Client::new(&moto::sdk_config("http://127.0.0.1:9"));
    let open = FixedWindow::new(client.clone(), "t", "login", 5, 60, FailureMode::Open);
    let closed = FixedWindow::new(client, "t", "login", 5, 60, FailureMode::Closed);
    let (a, b) = (open.check("k").await, closed.check("k").await);
    assert_failure_verdicts(&a, &b);
    assert_eq!(a.decision().into_event().map(|_| ()), Ok(()));
}

/// A limit of 5 with the table unreachable: failing open allows with `limit - 1` left,
/// failing closed refuses with 0 left and a `Retry-After`, in the headers and in the
/// decision reported to the extension; both are errors.
fn assert_failure_verdicts(open: &Verdict, closed: &Verdict) {
    assert!(open.error && open.allowed);
    assert!(closed.error && !closed.allowed);
    assert_eq!((open.remaining, closed.remaining), (4, 0));
    assert!(closed.retry_after >= 1);
    let header = |v: &Verdict, name: &str| {
        v.headers()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    };
    assert_eq!(
        header(closed, "X-RateLimit-Remaining").as_deref(),
        Some("0")
    );
    assert!(header(closed, "Retry-After").is_some());
    assert_eq!(closed.decision().into_event().unwrap().remaining, Some(0));
}

/// A minute-aligned instant (2027-01-15) so a test picks where in a window it stands.
const BASE_MS: u64 = 1_800_000_000_000 / 60_000 * 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sliding_window_weighs_the_previous_window_by_its_overlap() {
    let client = Client::new(&moto::sdk_config(&moto::moto_url()));
    let table = table(&client).await;
    let limiter = SlidingWindow::new(client, &table, "search", 10, 60, FailureMode::Closed);
    let mut allowed = 0;
    for _ in 0..12 {
        allowed += u64::from(limiter.check_at("k", BASE_MS - 30_000).await.allowed);
    }
    assert_eq!(allowed, 10, "the previous window alone: the plain limit");
    // Halfway through the next window the previous 10 weigh ceil(10 × 30/60) = 5.
    let mut verdicts = Vec::new();
    for _ in 0..7 {
        verdicts.push(limiter.check_at("k", BASE_MS + 30_000).await);
    }
    let allowed: Vec<bool> = verdicts.iter().map(|v| v.allowed).collect();
    assert_eq!(allowed, [true, true, true, true, true, false, false]);
    assert_eq!(verdicts[0].remaining, 4);
    assert_eq!(verdicts[4].remaining, 0);
    assert!(verdicts.iter().all(|v| !v.error));
    assert_eq!(verdicts[5].reset_at, BASE_MS / 1_000 + 60);
    // The weight drops to 4 at 36 s: the earliest retry is 6 s away.
    assert!(
        verdicts[5]
            .headers()
            .contains(&("Retry-After", "6".to_owned()))
    );
    // At 54 s the previous window weighs ceil(10 × 6/60) = 1: 9 in all, 4 more.
    let mut late = 0;
    for _ in 0..6 {
        late += u64::from(limiter.check_at("k", BASE_MS + 54_000).await.allowed);
    }
    assert_eq!(late, 4);
    // Another key is untouched by all this.
    let other = limiter.check_at("other", BASE_MS + 54_000).await;
    assert!(other.allowed);
    assert_eq!(other.remaining, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_at_a_window_boundary_passes_a_fixed_window_but_not_a_sliding_one() {
    let client = Client::new(&moto::sdk_config(&moto::moto_url()));
    let table = table(&client).await;
    let fixed = FixedWindow::new(client.clone(), &table, "fixed", 10, 60, FailureMode::Closed);
    let sliding = SlidingWindow::new(client, &table, "sliding", 10, 60, FailureMode::Closed);
    let (mut through_fixed, mut through_sliding) = (0, 0);
    // 15 requests in the last second of a window and 15 in the first of the next.
    for at in [BASE_MS - 500, BASE_MS + 500] {
        for _ in 0..15 {
            through_fixed += u64::from(fixed.check_at("k", at).await.allowed);
            through_sliding += u64::from(sliding.check_at("k", at).await.allowed);
        }
    }
    assert_eq!(through_fixed, 20, "two full budgets within one second");
    assert_eq!(through_sliding, 10, "one budget in any 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sliding_window_fails_open_or_closed_as_configured() {
    let client = Client::new(&moto::sdk_config("http://127.0.0.1:9"));
    let open = SlidingWindow::new(client.clone(), "t", "login", 5, 60, FailureMode::Open);
    let closed = SlidingWindow::new(client, "t", "login", 5, 60, FailureMode::Closed);
    let (a, b) = (open.check("k").await, closed.check("k").await);
    assert_failure_verdicts(&a, &b);
    assert_eq!(
        b.decision().into_event().unwrap().outcome,
        liftwatch::Outcome::Error
    );
}
