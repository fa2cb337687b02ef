//! The Python and Node clients (clients/) against the Rust SDK, line by line: every golden
//! line the Rust decoder accepts as a metric or rate-limit event, each client writes byte
//! for byte as the Rust encoder does; every one the Rust side refuses for a field, each
//! client refuses too; and their reserved metric names are the protocol's. Each client's
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
