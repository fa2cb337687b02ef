//! Rate-limit decisions end to end: key classes are the documented FNV-1a buckets (checked
//! against a hash computed here and against fixed values, so a change to the hash fails),
//! and decisions sent by the client or a batch arrive as the canonical `ratelimit` lines,
//! decoded by the extension's decoder; invalid decisions are refused and counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::time::Duration;

use liftwatch::protocol::{self, Event, ProtocolError, RateLimitEvent};
use liftwatch::{Client, KeyClass, Outcome, RateLimitDecision, SendError, fnv1a_64};

/// FNV-1a 64 written out from its definition, independent of the SDK's.
fn reference_fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 14_695_981_039_346_656_037;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(1_099_511_628_211);
    }
    hash
}

#[test]
fn hashed_classes_are_stable_fnv1a_buckets() {
    // (key, hash, bucket of 16, bucket of 256): fixed forever, the protocol depends on it.
    let known = [
        ("user-42", 0x32c6_d7a5_4d35_dacb_u64, "h11", "h203"),
        ("alice@example.com", 0x6702_3fc4_a7ff_2a46, "h06", "h70"),
        ("203.0.113.7", 0x8f71_6444_4e03_4d60, "h00", "h96"),
    ];
    for (key, hash, of_16, of_256) in known {
        assert_eq!(reference_fnv1a(key), hash, "{key}");
        assert_eq!(fnv1a_64(key.as_bytes()), hash, "{key}");
        assert_eq!(KeyClass::hashed(key, 16).as_str(), Some(of_16), "{key}");
        assert_eq!(KeyClass::hashed_default(key).as_str(), Some(of_16), "{key}");
        assert_eq!(KeyClass::hashed(key, 256).as_str(), Some(of_256), "{key}");
        let bucket = reference_fnv1a(key) % 16;
        assert_eq!(
            KeyClass::hashed(key, 16).as_str(),
            Some(format!("h{bucket:02}").as_str())
        );
    }
    // The published FNV-1a 64 test vectors.
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    // UTF-8 bytes, not UTF-16 units or chars.
    assert_eq!(fnv1a_64("日本".as_bytes()), reference_fnv1a("日本"));
    assert_eq!(KeyClass::hashed("日本", 16).as_str(), Some("h01"));
}

fn intake() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

fn receive(socket: &UdpSocket) -> (String, Vec<Result<Event, ProtocolError>>) {
    let mut buf = vec![0; 70_000];
    let len = socket.recv(&mut buf).expect("a datagram within 5 s");
    let mut events = Vec::new();
    protocol::decode_datagram(&buf[..len], |e| events.push(e));
    (String::from_utf8(buf[..len].to_vec()).unwrap(), events)
}

#[test]
fn a_decision_arrives_as_the_canonical_line() {
    let (socket, port) = intake();
    let client = Client::new(port);
    client.rate_limit(
        RateLimitDecision::allowed("login", 60)
            .key_class(KeyClass::hashed("user-42", 16))
            .limit(100)
            .remaining(42)
            .window_start(1_764_300_000),
    );
    let (line, events) = receive(&socket);
    assert_eq!(
        line,
        r#"{"v":1,"type":"ratelimit","rule":"login","outcome":"allowed","key_class":"h11","limit":100,"remaining":42,"window_seconds":60,"window_start":1764300000}"#
    );
    let expected = RateLimitEvent {
        rule: "login".to_owned(),
        outcome: Outcome::Allowed,
        key_class: Some("h11".to_owned()),
        limit: Some(100),
        remaining: Some(42),
        window_seconds: 60,
        window_start: Some(1_764_300_000),
    };
    assert_eq!(events, [Ok(Event::RateLimit(expected))]);

    client.rate_limit(RateLimitDecision::blocked("login", 60).key_class(KeyClass::all()));
    let (line, _) = receive(&socket);
    assert_eq!(
        line,
        r#"{"v":1,"type":"ratelimit","rule":"login","outcome":"blocked","window_seconds":60}"#
    );
    assert_eq!((client.sent(), client.failed()), (2, 0));
}

#[test]
fn a_batch_carries_decisions_and_metrics_together() {
    let (socket, port) = intake();
    let client = Client::new(port);
    let mut batch = client.batch();
    batch.count("Logins", 1.0);
    batch.rate_limit(RateLimitDecision::error("login", 1).key_class(KeyClass::named("paid")));
    batch.rate_limit(RateLimitDecision::allowed("login", 0));
    assert_eq!(batch.len(), 2, "the invalid decision is refused");
    batch.flush().unwrap();
    let (_, events) = receive(&socket);
    assert!(matches!(&events[0], Ok(Event::Metric(m)) if m.name == "Logins"));
    let Ok(Event::RateLimit(decision)) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (
            decision.outcome,
            decision.key_class.as_deref(),
            decision.window_seconds
        ),
        (Outcome::Error, Some("paid"), 1)
    );
    assert_eq!((client.sent(), client.failed()), (2, 1));
}

#[test]
fn invalid_decisions_are_refused_and_counted() {
    let client = Client::new(9);
    let field = |decision| match client.try_rate_limit(decision) {
        Err(SendError::Invalid(ProtocolError::InvalidField { field, .. })) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(RateLimitDecision::allowed("", 60)), "rule");
    assert_eq!(field(RateLimitDecision::allowed("a#b", 60)), "rule");
    assert_eq!(
        field(RateLimitDecision::allowed("r", 86_401)),
        "window_seconds"
    );
    assert_eq!(
        field(RateLimitDecision::allowed("r", 60).key_class(KeyClass::named("a@b"))),
        "key_class"
    );
    assert_eq!(
        field(RateLimitDecision::allowed("r", 60).key_class(KeyClass::hashed("k", 0))),
        "key_class"
    );
    assert_eq!(
        field(RateLimitDecision::allowed("r", 60).limit(1).remaining(2)),
        "remaining"
    );
    assert_eq!(
        field(RateLimitDecision::allowed("r", 60).window_start(61)),
        "window_start"
    );
    assert_eq!((client.sent(), client.failed()), (0, 7));
}
