//! End to end: the built `websocket-demo` function runs beside the built `liftwatch`
//! extension in the local sandbox, with its connection table in moto (DynamoDB) and a
//! recording HTTP server on 127.0.0.1 standing in for the API Gateway Management API
//! (`MANAGEMENT_ENDPOINT`): moto's `PostToConnection` can neither answer 410 Gone nor be
//! read back. It is invoked with the API Gateway WebSocket events of
//! `fixtures/websocket/` and tokens signed here with `jsonwebtoken`; the store is read back
//! through the SDK's `ConnectionStore`, the posts from the recorder, and the metrics from
//! the EMF the extension printed.
//!
//! `ActiveConnections` is read by the extension at an INVOKE (the first one, then one
//! `LIFTWATCH_CONNECTIONS_INTERVAL` = 10 s after each read) and published at a later flush.
//! To make its values deterministic, the test only changes the store while no read can be
//! in flight: it starts with refused connects (which change nothing) until the first
//! read's value is published, which must be the one seeded connection; and once every
//! change is done, it waits out the interval and invokes with refused connects again until
//! a read of the final state (2) is published.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use liftwatch::connections::{Connection, ConnectionStore, create_table};
use liftwatch_sandbox::emf::{EmfMetric, total};
use liftwatch_sandbox::recorder::{RecordingServer, Reply};
use liftwatch_sandbox::{InvokeOutcome, Sandbox, SandboxConfig, built_binary, moto};
use serde_json::{Value, json};

const FUNCTION: &str = "websocket-demo";
/// The current signing secret.
const SECRET: &str = "liftwatch-e2e-current-secret-0123456789";
/// The previous one, still accepted (rotation): the fixtures' token is signed with it.
const DEMO_SECRET: &str = "liftwatch-websocket-demo-secret-0001";
const ISSUER: &str = "https://auth.example.com/";
const AUDIENCE: &str = "chat-api";
const INTERVAL: Duration = Duration::from_secs(10);

/// `connect.json`'s connection, with its own token: alice of acme.
const ALICE: &str = "CqYWbcK7oAMCLMw=";
const BOB: &str = "CqYWeFvSIAMCJ6g=";
/// The connection the Management API stand-in answers 410 Gone for.
const CAROL: &str = "CqYWgH1xoAMCKpA=";
const DAVE: &str = "CqYWiQ2DIAMCLzw=";
/// Saved before the sandbox starts, as by another sandbox of the fleet.
const ELSEWHERE: &str = "CqYVz9aLoAMCIkQ=";
const REFUSED: &str = "CqYWaAAAoAMCAAA=";

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/websocket")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn token(secret: &str, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes());
    encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

fn claims(sub: &str, tenant: &str) -> Value {
    json!({
        "sub": sub, "tenant_id": tenant, "iss": ISSUER, "aud": AUDIENCE,
        "iat": now_secs(), "exp": now_secs() + 3_600,
    })
}

/// Where a `$connect` carries its token.
enum Credential {
    Bearer(String),
    Protocol(String),
    Query(String),
    Nothing,
}

/// `connect.json` for connection `id`, its `Authorization` header replaced by `credential`.
fn connect_event(id: &str, credential: Credential) -> Value {
    let mut event = fixture("connect");
    event["requestContext"]["connectionId"] = json!(id);
    for headers in ["headers", "multiValueHeaders"] {
        event[headers]
            .as_object_mut()
            .unwrap()
            .remove("Authorization");
    }
    fn header(event: &mut Value, name: &str, value: String) {
        event["headers"][name] = json!(value);
        event["multiValueHeaders"][name] = json!([value]);
    }
    match credential {
        Credential::Bearer(token) => header(&mut event, "Authorization", format!("Bearer {token}")),
        Credential::Protocol(token) => {
            header(
                &mut event,
                "Sec-WebSocket-Protocol",
                format!("bearer, {token}"),
            );
        }
        Credential::Query(token) => {
            event["queryStringParameters"] = json!({ "token": token });
            event["multiValueQueryStringParameters"] = json!({ "token": [token] });
        }
        Credential::Nothing => {}
    }
    event
}

fn message_event(id: &str, body: &str) -> Value {
    let mut event = fixture("message");
    event["requestContext"]["connectionId"] = json!(id);
    event["body"] = json!(body);
    event
}

fn disconnect_event(id: &str) -> Value {
    let mut event = fixture("disconnect");
    event["requestContext"]["connectionId"] = json!(id);
    event
}

/// The function's answer: status, lowercase headers, body as JSON.
struct Answer {
    status: i64,
    headers: Value,
    body: Value,
}

async fn invoke(sandbox: &Sandbox, event: Value) -> Answer {
    let outcome: InvokeOutcome = sandbox.invoke(event).await.unwrap();
    assert!(outcome.is_success(), "{:?}", outcome.error);
    let response = outcome.response.unwrap();
    let body = response["body"].as_str().unwrap_or("null");
    Answer {
        status: response["statusCode"].as_i64().unwrap(),
        headers: response["headers"].clone(),
        body: serde_json::from_str(body).unwrap(),
    }
}

/// Every `ActiveConnections` value published so far, in order.
async fn active_published(sandbox: &Sandbox) -> Vec<f64> {
    // The flush is written before the extension's /next; give the pipe reader a moment.
    let _ = sandbox
        .wait_for_stdout(
            |line| line.contains("\"ActiveConnections\""),
            Duration::from_millis(200),
        )
        .await;
    active_values(&sandbox.emf().metrics)
}

fn active_values(metrics: &[EmfMetric]) -> Vec<f64> {
    metrics
        .iter()
        .filter(|m| m.name == "ActiveConnections")
        .flat_map(|m| m.values.iter().copied())
        .collect()
}

fn assert_refused(answer: &Answer) {
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body,
        json!({ "message": "Unauthorized" }),
        "no detail"
    );
    assert!(answer.headers.get("sec-websocket-protocol").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_broadcasts_disconnects_and_publishes_the_connection_metrics() {
    let url = moto::moto_url();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("liftwatch-websocket-demo-{nanos}");
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config(&url));
    create_table(&client, &table).await.unwrap();
    let store = ConnectionStore::new(client, &table);
    let seeded = Connection::new(ELSEWHERE).user("erin").tenant("initech");
    store.save(&seeded).await.unwrap();

    let gone_path = format!("/prod/@connections/{CAROL}");
    let management = RecordingServer::start(move |request| {
        if request.path == gone_path {
            Reply::json(410, &json!({ "message": null }))
                .header("x-amzn-errortype", "GoneException")
        } else {
            Reply::status(200)
        }
    })
    .await
    .unwrap();

    let config = SandboxConfig::new(built_binary("liftwatch"), built_binary(FUNCTION))
        .function_name(FUNCTION)
        .env("LIFTWATCH_FLUSH", "end")
        .env("LIFTWATCH_CONNECTIONS_TABLE", &table)
        .env(
            "LIFTWATCH_CONNECTIONS_INTERVAL",
            INTERVAL.as_secs().to_string(),
        )
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("CONNECTIONS_TABLE", &table)
        .env("JWT_SECRET", format!("{SECRET},{DEMO_SECRET}"))
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("MANAGEMENT_ENDPOINT", format!("{}/prod", management.url()));
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let mut invocations = 0;
    let mut missing: u32 = 0;

    // 1. Refused tokens change nothing; the first count read (started at the first INVOKE)
    //    is published while the store holds only the seeded connection.
    let expired = token(SECRET, &{
        let mut c = claims("mallory", "acme");
        c["exp"] = json!(now_secs() - 3_600);
        c
    });
    let signed = token(SECRET, &claims("mallory", "evil"));
    let forged = token(SECRET, &claims("mallory", "acme"));
    let (head, _) = forged.rsplit_once('.').unwrap();
    let (_, signature) = signed.rsplit_once('.').unwrap();
    let tampered = format!("{head}.{signature}");
    let other_api = token(SECRET, &{
        let mut c = claims("mallory", "acme");
        c["aud"] = json!("other-api");
        c
    });
    let refused_tokens = [expired.clone(), tampered.clone(), other_api.clone()];
    for (i, token) in refused_tokens.iter().enumerate() {
        let credential = match i {
            0 => Credential::Bearer(token.clone()),
            1 => Credential::Protocol(token.clone()),
            _ => Credential::Query(token.clone()),
        };
        assert_refused(&invoke(&sandbox, connect_event(REFUSED, credential)).await);
        invocations += 1;
    }
    assert_eq!(store.get(REFUSED).await.unwrap(), None, "nothing stored");
    while active_published(&sandbox).await.is_empty() {
        assert!(
            missing < 30,
            "no ActiveConnections after {invocations} invocations"
        );
        let answer = invoke(&sandbox, connect_event(REFUSED, Credential::Nothing)).await;
        assert_refused(&answer);
        invocations += 1;
        missing += 1;
    }
    let first_read_seen = Instant::now();
    assert_eq!(
        active_published(&sandbox).await,
        [1.0],
        "the seeded connection"
    );
    assert_eq!(store.count_active().await.unwrap(), 1);

    // 2. Three connections in acme (the fixture's own token, signed with the previous
    //    secret; one in Sec-WebSocket-Protocol; one in the query), one in globex.
    let connected = invoke(&sandbox, fixture("connect")).await;
    invocations += 1;
    assert_eq!(connected.status, 200);
    assert!(connected.headers.get("sec-websocket-protocol").is_none());
    let bob_token = token(SECRET, &claims("bob", "acme"));
    let by_protocol = connect_event(BOB, Credential::Protocol(bob_token.clone()));
    let connected = invoke(&sandbox, by_protocol.clone()).await;
    invocations += 1;
    assert_eq!(connected.status, 200);
    assert_eq!(connected.headers["sec-websocket-protocol"], "bearer");
    let carol_token = token(SECRET, &claims("carol", "acme"));
    let connected = invoke(
        &sandbox,
        connect_event(CAROL, Credential::Query(carol_token)),
    )
    .await;
    invocations += 1;
    assert_eq!(connected.status, 200);
    let dave_token = token(SECRET, &claims("dave", "globex"));
    let connected = invoke(
        &sandbox,
        connect_event(DAVE, Credential::Bearer(dave_token)),
    )
    .await;
    invocations += 1;
    assert_eq!(connected.status, 200);
    // API Gateway retrying a $connect: stored and counted once.
    assert_eq!(invoke(&sandbox, by_protocol).await.status, 200);
    invocations += 1;

    let alice = store.get(ALICE).await.unwrap().expect("alice is stored");
    assert_eq!(alice.user_id.as_deref(), Some("alice"));
    assert_eq!(alice.tenant_id.as_deref(), Some("acme"));
    assert_eq!(
        alice.metadata.get("source_ip").map(String::as_str),
        Some("203.0.113.7")
    );
    let dave = store.get(DAVE).await.unwrap().expect("dave is stored");
    assert_eq!(
        (dave.user_id.as_deref(), dave.tenant_id.as_deref()),
        (Some("dave"), Some("globex"))
    );
    let acme: BTreeSet<String> = store
        .list_by_tenant("acme")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(acme, BTreeSet::from([ALICE, BOB, CAROL].map(str::to_owned)));
    assert_eq!(store.count_active().await.unwrap(), 5);

    // 3. A message from alice reaches exactly bob and carol; carol is gone (410) and is
    //    deleted. dave's message has nobody else in globex to go to.
    let hello = fixture("message")["body"].as_str().unwrap().to_owned();
    let sent = invoke(&sandbox, message_event(ALICE, &hello)).await;
    invocations += 1;
    assert_eq!(sent.status, 200);
    assert_eq!(sent.body, json!({ "delivered": 1, "gone": 1, "failed": 0 }));
    let posts = management.requests();
    let mut targets: Vec<&str> = posts.iter().map(|r| r.path.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        [
            format!("/prod/@connections/{BOB}"),
            format!("/prod/@connections/{CAROL}")
        ]
    );
    for post in &posts {
        assert_eq!(post.method, "POST");
        assert_eq!(post.body, hello.as_bytes(), "the body as sent");
    }
    assert_eq!(store.get(CAROL).await.unwrap(), None, "gone is deleted");
    assert_eq!(store.count_active().await.unwrap(), 4);
    let ping = "ping from globex";
    let sent = invoke(&sandbox, message_event(DAVE, ping)).await;
    invocations += 1;
    assert_eq!(sent.body, json!({ "delivered": 0, "gone": 0, "failed": 0 }));
    assert_eq!(management.requests().len(), 2, "no post outside the tenant");

    // 4. $disconnect deletes; carol's, after the broadcast removed her, changes nothing.
    for id in [ALICE, CAROL, BOB] {
        assert_eq!(invoke(&sandbox, disconnect_event(id)).await.status, 200);
        invocations += 1;
        assert_eq!(store.get(id).await.unwrap(), None);
    }
    assert_eq!(
        store.count_active().await.unwrap(),
        2,
        "dave and the seeded one"
    );
    assert!(store.list_by_tenant("acme").await.unwrap().is_empty());

    // 5. The store no longer changes: after the interval, the next read is of 2.
    let published_before = active_published(&sandbox).await.len();
    let due = first_read_seen + INTERVAL + Duration::from_millis(300);
    tokio::time::sleep_until(due.into()).await;
    let give_up = Instant::now() + INTERVAL * 3;
    loop {
        let answer = invoke(&sandbox, connect_event(REFUSED, Credential::Nothing)).await;
        assert_refused(&answer);
        invocations += 1;
        missing += 1;
        let values = active_published(&sandbox).await;
        if values.len() > published_before && values.last() == Some(&2.0) {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "no read of the final state: {values:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let shutdown = sandbox.shutdown().await.unwrap();
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");
    let metrics = sandbox.emf().metrics;
    let function = [("FunctionName", FUNCTION)];
    assert_eq!(
        total(&metrics, "Invocations", &function),
        invocations as f64
    );
    assert_eq!(total(&metrics, "ConnectionsOpened", &function), 4.0);
    assert_eq!(
        total(&metrics, "ConnectionsClosed", &function),
        3.0,
        "carol (gone), alice, bob"
    );
    assert_eq!(total(&metrics, "Messages", &function), 2.0);
    let mut sizes: Vec<f64> = metrics
        .iter()
        .filter(|m| m.name == "MessageBytes")
        .flat_map(|m| m.values.iter().copied())
        .collect();
    sizes.sort_by(f64::total_cmp);
    assert_eq!(sizes, [ping.len() as f64, hello.len() as f64]);
    assert_eq!(total(&metrics, "ConnectionCountErrors", &function), 0.0);
    let active = active_values(&metrics);
    assert_eq!(active.first(), Some(&1.0), "{active:?}");
    assert_eq!(active.last(), Some(&2.0), "{active:?}");
    // A read that fell among the changes (only if they took longer than the interval)
    // saw one of the states the store went through.
    assert!(active.iter().all(|v| (1.0..=5.0).contains(v)), "{active:?}");
    for (reason, count) in [
        ("expired", 1),
        ("signature", 1),
        ("claims", 1),
        ("missing", missing),
    ] {
        let rejected = total(&metrics, "ConnectRejected", &[("Reason", reason)]);
        assert_eq!(rejected, f64::from(count), "{reason}");
    }
    assert_eq!(
        total(&metrics, "ConnectRejected", &[]),
        f64::from(3 + missing)
    );

    eprintln!(
        "{invocations} invocations ({missing} without a token); ActiveConnections published: {active:?}"
    );
    let logs = sandbox.function_stderr().join("\n");
    for secret in refused_tokens.iter().chain([&bob_token]) {
        assert!(!logs.contains(secret.as_str()), "a token in the logs");
    }
}
