//! The Python and Node clients (clients/) against the Rust SDK, line by line: every golden
//! line the Rust decoder accepts as a metric or rate-limit event, each client writes byte
//! for byte as the Rust encoder does; every one the Rust side refuses for a field, each
//! client refuses too; their reserved metric names are the protocol's; a span is written
//! byte for byte as the Rust SDK writes it; and all three share one version. Each client's
//! `conformance/encode_golden` script prints one answer per golden line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use liftwatch::protocol::names::RESERVED_METRIC_NAMES;
use liftwatch::protocol::{self, Event, ProtocolError};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_python_client_writes_and_refuses_every_golden_line_as_the_rust_sdk_does() {
    check("python3", "clients/python/conformance/encode_golden.py");
}

#[test]
fn the_node_client_writes_and_refuses_every_golden_line_as_the_rust_sdk_does() {
    check("node", "clients/node/conformance/encode_golden.js");
}

fn check(interpreter: &str, script: &str) {
    let golden = root().join("sdk/testdata/golden");
    let output = Command::new(interpreter)
        .arg(root().join(script))
        .arg(&golden)
        .output()
        .unwrap_or_else(|e| panic!("{interpreter} runs ({e}): the test script installs it"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut answers = stdout.lines();

    let reserved: Vec<String> = serde_json::from_str(answers.next().unwrap()).unwrap();
    let mut expected: Vec<&str> = RESERVED_METRIC_NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(reserved, expected, "{script}: reserved names");

    let mut files: Vec<_> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let (mut written, mut refused) = (0, 0);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
            let answer = answers.next().expect("one answer per line");
            let at = format!("{script}, {}: {line}", file.display());
            match protocol::decode_line(line) {
                Ok(event @ (Event::Metric(_) | Event::RateLimit(_))) => {
                    let mut canonical = Vec::new();
                    protocol::encode(&event, &mut canonical);
                    let canonical = String::from_utf8(canonical).unwrap();
                    assert_eq!(answer, format!("OK {canonical}"), "{at}");
                    written += 1;
                }
                Err(ProtocolError::InvalidField { .. } | ProtocolError::TooLong(_))
                    if line.contains(r#""type":"metric""#)
                        || line.contains(r#""type":"ratelimit""#) =>
                {
                    assert!(answer.starts_with("ERR"), "{at}: the client sent {answer}");
                    refused += 1;
                }
                _ => {}
            }
        }
    }
    assert!(
        answers.next().is_none(),
        "{script}: as many answers as lines"
    );
    assert!(
        written >= 60 && refused >= 50,
        "{script}: {written} written, {refused} refused"
    );
}

/// The `version` of a `key = "x"` or `"key": "x"` line, the first in `text`.
fn version_in(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("version = \"")
            .or_else(|| line.strip_prefix("\"version\": \""))?;
        rest.split('"').next()
    })
}

#[test]
fn the_three_packages_are_released_with_one_version() {
    let read = |path: &str| std::fs::read_to_string(root().join(path)).unwrap();
    let python = read("clients/python/pyproject.toml");
    let node = read("clients/node/package.json");
    let rust = env!("CARGO_PKG_VERSION");
    assert_eq!(
        version_in(&python),
        Some(rust),
        "clients/python/pyproject.toml"
    );
    assert_eq!(version_in(&node), Some(rust), "clients/node/package.json");
}

/// The span every client writes below, as the Rust SDK writes it.
fn rust_span_line() -> String {
    let line = r#"{"v":1,"type":"span","name":"db.query","trace_id":"5759e988bd862e3fe1be46a994272793","span_id":"a1b2c3d4e5f60718","parent_span_id":"53995c3f42cd8ad8","start_unix_nano":1764300000000000000,"end_unix_nano":1764300000012000000,"kind":"client","error":"throttled","sampled":true,"attributes":{"rows":3,"db.system":"dynamodb","ok":true,"ratio":0.5,"tags":["a",2,false]}}"#;
    let event = protocol::decode_line(line).unwrap();
    assert!(matches!(event, Event::Span(_)));
    let mut buf = Vec::new();
    protocol::encode(&event, &mut buf);
    String::from_utf8(buf).unwrap()
}

/// What `interpreter` prints running `code` (`flag`: `-c` for python, `-e` for node).
fn client_line(interpreter: &str, flag: &str, code: &str) -> String {
    let output = Command::new(interpreter)
        .current_dir(root())
        .args([flag, code])
        .output()
        .unwrap_or_else(|e| panic!("{interpreter}: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn both_clients_write_a_span_as_the_rust_sdk_does() {
    let python = r#"
import sys; sys.path.insert(0, "clients/python/src")
from liftwatch import _protocol as p
print(p.span_line("db.query", "5759e988bd862e3fe1be46a994272793", "a1b2c3d4e5f60718",
    "53995c3f42cd8ad8", 1764300000000000000, 1764300000012000000, "client", "throttled", True,
    {"rows": 3, "db.system": "dynamodb", "ok": True, "ratio": 0.5, "tags": ["a", 2, False]}))"#;
    let node = r#"
const p = require("./clients/node/protocol.js");
console.log(p.spanLine({ name: "db.query", traceId: "5759e988bd862e3fe1be46a994272793",
  spanId: "a1b2c3d4e5f60718", parentSpanId: "53995c3f42cd8ad8",
  startUnixNano: 1764300000000000000n, endUnixNano: 1764300000012000000n, kind: "client",
  error: "throttled", sampled: true, attributes: { rows: 3, "db.system": "dynamodb", ok: true, ratio: 0.5, tags: ["a", 2, false] } }));"#;
    let rust = rust_span_line();
    let python = client_line("python3", "-c", python);
    assert_eq!(python, rust, "python");
    assert_eq!(client_line("node", "-e", node), rust, "node");
    assert!(
        matches!(protocol::decode_line(&python), Ok(Event::Span(s)) if s.attributes.len() == 5)
    );
}
