//! Test-only checks of a segment document against the X-Ray segment document schema
//! (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html), the
//! rules moto's emulator does not enforce: id and trace id formats, name characters and
//! length, `end_time` xor `in_progress`, independent subsegment fields, annotation keys and
//! values, metadata namespaces, and the known fields only.
#![allow(clippy::panic)]

use serde_json::Value;

const FIELDS: &[&str] = &[
    "name",
    "id",
    "trace_id",
    "start_time",
    "end_time",
    "in_progress",
    "parent_id",
    "type",
    "namespace",
    "origin",
    "service",
    "user",
    "error",
    "fault",
    "throttle",
    "cause",
    "http",
    "aws",
    "annotations",
    "metadata",
    "subsegments",
];

/// Every schema violation found in the top-level document `doc`.
pub fn violations(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    entity(doc, true, "", &mut out);
    out
}

/// Panics with the violations of `doc`, if any.
pub fn assert_valid(doc: &Value) {
    let found = violations(doc);
    assert!(found.is_empty(), "{found:?} in {doc}");
}

fn entity(v: &Value, top: bool, at: &str, out: &mut Vec<String>) {
    let Some(fields) = v.as_object() else {
        out.push(format!("{at}: not an object"));
        return;
    };
    for key in fields.keys() {
        if !FIELDS.contains(&key.as_str()) {
            out.push(format!("{at}: unknown field {key}"));
        }
    }
    let mut check = |ok: bool, what: &str| {
        if !ok {
            out.push(format!("{at}: {what}"));
        }
    };
    let name = fields.get("name").and_then(Value::as_str).unwrap_or("");
    check(
        (1..=200).contains(&name.chars().count())
            && name.chars().all(|c| {
                c.is_alphabetic()
                    || c.is_numeric()
                    || c.is_whitespace()
                    || "_.:/%&#=+\\-@".contains(c)
            }),
        "name",
    );
    check(fields.get("id").is_some_and(hex16), "id");
    let subsegment = fields.get("type").is_some();
    if top {
        check(fields.get("trace_id").is_some_and(trace_id), "trace_id");
    }
    if subsegment {
        check(top && fields["type"] == "subsegment", "type");
        check(fields.get("parent_id").is_some_and(hex16), "parent_id");
    }
    if let Some(parent) = fields.get("parent_id") {
        check(hex16(parent), "parent_id format");
    }
    let is_segment = top && !subsegment;
    check(
        !fields.contains_key("origin") || is_segment,
        "origin outside a segment",
    );
    check(
        !fields.contains_key("namespace") || !is_segment,
        "namespace on a segment",
    );
    if let Some(namespace) = fields.get("namespace") {
        check(namespace == "aws" || namespace == "remote", "namespace");
    }
    let start = fields.get("start_time").and_then(Value::as_f64);
    check(start.is_some_and(|s| s > 0.0), "start_time");
    match (fields.get("end_time"), fields.get("in_progress")) {
        (Some(end), None) => check(end.as_f64() >= start, "end_time before start_time"),
        (None, Some(progress)) => check(progress == &Value::Bool(true), "in_progress"),
        _ => check(false, "exactly one of end_time and in_progress"),
    }
    for flag in ["error", "fault", "throttle", "in_progress"] {
        check(fields.get(flag).is_none_or(Value::is_boolean), flag);
    }
    if let Some(cause) = fields.get("cause") {
        let exceptions = cause.get("exceptions").and_then(Value::as_array);
        check(
            exceptions.is_some_and(|list| list.iter().all(|e| e.get("id").is_some_and(hex16))),
            "cause.exceptions ids",
        );
    }
    if let Some(annotations) = fields.get("annotations") {
        let annotations = annotations.as_object();
        check(
            annotations.is_some_and(|a| a.len() <= 50),
            "annotation count",
        );
        for (key, value) in annotations.into_iter().flatten() {
            check(
                (1..=500).contains(&key.len())
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "annotation key",
            );
            check(
                value.is_number()
                    || value.is_boolean()
                    || value.as_str().is_some_and(|s| s.chars().count() <= 1_000),
                "annotation value",
            );
        }
    }
    if let Some(metadata) = fields.get("metadata") {
        let namespaces = metadata.as_object();
        check(namespaces.is_some(), "metadata");
        for (namespace, value) in namespaces.into_iter().flatten() {
            check(
                !namespace.starts_with("AWS.") && value.is_object(),
                "metadata namespace",
            );
        }
    }
    for object in ["http", "aws", "service"] {
        check(fields.get(object).is_none_or(Value::is_object), object);
    }
    if let Some(subsegments) = fields.get("subsegments") {
        let Some(list) = subsegments.as_array() else {
            out.push(format!("{at}: subsegments"));
            return;
        };
        for (i, sub) in list.iter().enumerate() {
            entity(sub, false, &format!("{at}/subsegments[{i}]"), out);
        }
    }
}

fn hex16(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn trace_id(v: &Value) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = v.as_str().unwrap_or("").split('-').collect();
    matches!(parts.as_slice(), ["1", time, random] if hex(time, 8) && hex(random, 24))
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let good = serde_json::json!({
        "name": "fn", "id": "0123456789abcdef", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "start_time": 1.5e9, "end_time": 1.5e9,
    });
    assert_eq!(violations(&good), Vec::<String>::new());
    let bad = [
        (
            "trace_id",
            serde_json::json!("5759e988bd862e3fe1be46a994272793"),
        ),
        ("id", serde_json::json!("0123456789ABCDEF")),
        ("name", serde_json::json!("a|b")),
        ("in_progress", serde_json::json!(true)),
        ("annotations", serde_json::json!({"a.b": 1})),
        ("metadata", serde_json::json!({"AWS.x": {}})),
        ("type", serde_json::json!("subsegment")),
        ("bogus", serde_json::json!(1)),
    ];
    for (key, value) in bad {
        let mut doc = good.clone();
        doc[key] = value;
        assert!(!violations(&doc).is_empty(), "{key}: {doc}");
    }
}
