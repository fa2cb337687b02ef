//! The DynamoDB fixed-window limiter against moto: requests get exactly `limit` allowances
//! per key and window, the headers say so, and an unreachable table fails open or closed as
//! configured. (Sequential on purpose: moto's server can lose one of two concurrent ADDs on
//! an item, which real DynamoDB never does.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodb::{Client, Config};
use liftwatch::limiter::{FailureMode, FixedWindow};
use liftwatch_sandbox::moto;

fn client(endpoint: &str) -> Client {
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(config)
}

async fn table(client: &Client) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("liftwatch-limiter-{nanos}");
    client
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
        .await
        .unwrap();
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_of_five_allows_exactly_five_per_key_and_window() {
    let client = client(&moto::moto_url());
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
    let client = client("http://127.0.0.1:9");
    let open = FixedWindow::new(client.clone(), "t", "login", 5, 60, FailureMode::Open);
    let closed = FixedWindow::new(client, "t", "login", 5, 60, FailureMode::Closed);
    let (a, b) = (open.check("k").await, closed.check("k").await);
    assert!(a.error && a.allowed);
    assert!(b.error && !b.allowed);
    assert_eq!(a.decision().into_event().map(|_| ()), Ok(()));
}
