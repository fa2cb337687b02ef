//! The example senders in docs/PROTOCOL.md and the README's ten-line ones, run exactly as
//! written against a UDP socket bound here, with what arrives decoded by the extension's
//! decoder: the docs and the protocol cannot drift apart. Python and Node.js run with `-c`/`-e`; Go with `go run`.
//! The rate-limit and connection sections' Python blocks (fenced `python ratelimit`,
//! `python connection`) run the same way.
//! A test whose interpreter is not installed prints why and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use liftwatch::protocol::{self, ConnectionEvent, Event, MetricEvent, RateLimitEvent};
use liftwatch::{KeyClass, MetricKind, Outcome, Resolution, Unit};

fn protocol_doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one fenced block whose info string is exactly `language`, without its fences.
fn code_block(doc: &str, language: &str) -> String {
    let fence = format!("\n```{language}\n");
    let mut blocks = doc.match_indices(&fence);
    let (start, _) = blocks
        .next()
        .unwrap_or_else(|| panic!("no ```{language} block"));
    assert!(blocks.next().is_none(), "more than one ```{language} block");
    let body = &doc[start + fence.len()..];
    let end = body.find("\n```\n").expect("a closing fence");
    body[..=end].to_owned()
}

/// The two metrics every example sends.
fn expected() -> Vec<Event> {
    [
        MetricEvent {
            name: "OrdersPlaced".to_owned(),
            value: 1.0,
            count: 1,
            unit: Unit::Count,
            kind: MetricKind::Count,
            dimensions: Vec::new(),
            resolution: Resolution::Standard,
        },
        MetricEvent {
            name: "PaymentLatency".to_owned(),
            value: 87.5,
            count: 1,
            unit: Unit::Milliseconds,
            kind: MetricKind::Distribution,
            dimensions: vec![("Tenant".to_owned(), "acme".to_owned())],
            resolution: Resolution::Standard,
        },
    ]
    .into_iter()
    .map(Event::Metric)
    .collect()
}

/// Runs `command` with `LIFTWATCH_PORT` set; `None` when its program is not installed.
fn run(mut command: Command, port: u16) -> Option<Output> {
    match command.env("LIFTWATCH_PORT", port.to_string()).output() {
        Ok(output) => Some(output),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => panic!("{command:?}: {e}"),
    }
}

/// Runs the sender against a bound socket and checks what arrived, then against a closed
/// port and checks that it still exits cleanly. Returns false when it was skipped.
fn check_sender(name: &str, expected: &[Event], command: impl Fn() -> Command) -> bool {
    let intake = UdpSocket::bind("127.0.0.1:0").unwrap();
    intake
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = intake.local_addr().unwrap().port();
    let Some(output) = run(command(), port) else {
        eprintln!("skipping the {name} example: {name} is not installed");
        return false;
    };
    assert!(
        output.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut received = Vec::new();
    let mut buf = vec![0; protocol::MAX_DATAGRAM_BYTES + 1];
    while received.len() < expected.len() {
        let len = intake.recv(&mut buf).expect("the example's datagrams");
        protocol::decode_datagram(&buf[..len], |event| match event {
            Ok(event) => received.push(event),
            other => panic!("{name} sent a bad event: {other:?}"),
        });
    }
    assert_eq!(received, expected, "{name}");

    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run(command(), closed).unwrap();
    assert!(
        output.status.success(),
        "{name} must not fail without a listener"
    );
    true
}

#[test]
fn the_python_example_is_decoded_by_the_extension() {
    let code = code_block(&protocol_doc(), "python");
    check_sender("python3", &expected(), || {
        let mut command = Command::new("python3");
        command.arg("-c").arg(&code);
        command
    });
}

#[test]
fn the_node_example_is_decoded_by_the_extension() {
    let code = code_block(&protocol_doc(), "js");
    check_sender("node", &expected(), || {
        let mut command = Command::new("node");
        command.arg("-e").arg(&code);
        command
    });
}

#[test]
fn the_go_example_is_decoded_by_the_extension() {
    let code = code_block(&protocol_doc(), "go");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("liftwatch-go-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), code).unwrap();
    check_sender("go", &expected(), || {
        let mut command = Command::new("go");
        command.arg("run").arg("main.go").current_dir(&dir);
        command
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_python_rate_limit_example_is_decoded_by_the_extension() {
    let code = code_block(&protocol_doc(), "python ratelimit");
    let decision = RateLimitEvent {
        rule: "login".to_owned(),
        outcome: Outcome::Allowed,
        // The Python hash agrees with the SDK's.
        key_class: KeyClass::hashed("user-42", 16).as_str().map(str::to_owned),
        limit: Some(100),
        remaining: Some(42),
        window_seconds: 60,
        window_start: None,
    };
    check_sender("python3", &[Event::RateLimit(decision)], || {
        let mut command = Command::new("python3");
        command.arg("-c").arg(&code);
        command
    });
}

#[test]
fn the_python_connection_example_is_decoded_by_the_extension() {
    let code = code_block(&protocol_doc(), "python connection");
    let events = [
        Event::Connection(ConnectionEvent::Opened),
        Event::Connection(ConnectionEvent::Message { bytes: 31 }),
    ];
    check_sender("python3", &events, || {
        let mut command = Command::new("python3");
        command.arg("-c").arg(&code);
        command
    });
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The two metrics the README's ten-line examples send.
fn readme_expected() -> Vec<Event> {
    let mut events = expected();
    if let Event::Metric(latency) = &mut events[1] {
        latency.dimensions.clear();
    }
    events
}

#[test]
fn the_readme_examples_are_decoded_by_the_extension() {
    let doc = readme();
    let python = code_block(&doc, "python readme");
    check_sender("python3", &readme_expected(), || {
        let mut command = Command::new("python3");
        command.arg("-c").arg(&python);
        command
    });
    let js = code_block(&doc, "js readme");
    check_sender("node", &readme_expected(), || {
        let mut command = Command::new("node");
        command.arg("-e").arg(&js);
        command
    });
    let go = code_block(&doc, "go readme");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("liftwatch-go-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), go).unwrap();
    check_sender("go", &readme_expected(), || {
        let mut command = Command::new("go");
        command.arg("run").arg("main.go").current_dir(&dir);
        command
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_example_block_is_found_whole() {
    let doc = protocol_doc();
    let python = code_block(&doc, "python");
    assert!(python.starts_with("import json, os, socket\n"), "{python}");
    assert!(
        python.ends_with("dimensions={\"Tenant\": \"acme\"})\n"),
        "{python}"
    );
    assert!(code_block(&doc, "js").starts_with("const dgram = require(\"node:dgram\");\n"));
    assert!(code_block(&doc, "go").trim_end().ends_with('}'));
    let rate_limit = code_block(&doc, "python ratelimit");
    assert!(
        rate_limit.starts_with("import json, os, socket\n"),
        "{rate_limit}"
    );
    assert!(
        rate_limit.ends_with("limit=100, remaining=42)\n"),
        "{rate_limit}"
    );
}
