//! Tests of `attributes`: names and annotation keys sanitized, semantic attributes moved to
//! X-Ray's fields and the rest split between annotations and metadata.

use super::*;
use serde_json::{Value, json};

/// `value` as JSON, as it is written in a document.
fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Owned keys and JSON values, to compare with literals.
fn pairs(entries: &[(Cow<'_, str>, Val<'_>)]) -> Vec<(String, Value)> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), to_json(v)))
        .collect()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::Str(v.to_owned())
}

#[test]
fn names_keep_allowed_characters_and_replace_the_rest() {
    let cases = [
        ("my-function", "my-function"),
        ("GET /users/{id}", "GET /users/_id_"),
        ("a_b.c:d/e%f&g#h=i+j\\k-l@m", "a_b.c:d/e%f&g#h=i+j\\k-l@m"),
        ("café 日本 ٣", "café 日本 ٣"),
        ("tab\there\nnewline", "tab here newline"),
        ("quote\"bang!(x)*", "quote_bang__x__"),
        ("", "fallback"),
        ("   ", "fallback"),
        ("\u{0}", "_"),
    ];
    for (input, expected) in cases {
        assert_eq!(sanitize_name(input, "fallback"), expected, "{input:?}");
    }
    let long = "é".repeat(300);
    assert_eq!(sanitize_name(&long, "x").chars().count(), 200);
    // A name X-Ray accepts as it is, the common case, is not copied.
    assert!(matches!(sanitize_name("GET /users", "x"), Cow::Borrowed(_)));
    assert!(matches!(
        annotation_key("faas_trigger"),
        Some(Cow::Borrowed(_))
    ));
}

#[test]
fn annotation_keys_are_ascii_alphanumeric_and_underscore() {
    assert_eq!(
        annotation_key("faas.coldstart").as_deref(),
        Some("faas_coldstart")
    );
    assert_eq!(annotation_key("Order_ID7").as_deref(), Some("Order_ID7"));
    assert_eq!(
        annotation_key("clé d'accès").as_deref(),
        Some("cl__d_acc_s")
    );
    assert_eq!(annotation_key(""), None);
    assert_eq!(annotation_key(&"k".repeat(600)).map(|k| k.len()), Some(500));
}

#[test]
fn semantic_attributes_go_to_xray_fields_and_the_rest_is_split() {
    let attributes = vec![
        ("faas.invocation_id".to_owned(), s("req-1")),
        ("faas.coldstart".to_owned(), AttributeValue::Bool(true)),
        ("cloud.region".to_owned(), s("eu-west-1")),
        ("rpc.method".to_owned(), s("PutItem")),
        ("rpc.system".to_owned(), s("aws-api")),
        ("aws.region".to_owned(), s("us-east-1")),
        ("aws.request_id".to_owned(), s("ABC")),
        ("http.request.method".to_owned(), s("POST")),
        ("url.full".to_owned(), s("https://example.com/x")),
        (
            "http.response.status_code".to_owned(),
            AttributeValue::Int(503),
        ),
        ("exception.type".to_owned(), s("Timeout")),
        ("exception.message".to_owned(), s("took too long")),
        ("ratio".to_owned(), AttributeValue::Float(0.5)),
        ("nan".to_owned(), AttributeValue::Float(f64::NAN)),
        ("long".to_owned(), s(&"x".repeat(1_001))),
        ("faas_coldstart".to_owned(), AttributeValue::Bool(false)),
        ("...".to_owned(), AttributeValue::Int(3)),
    ];
    let mapped = map_attributes(&attributes, true);
    assert!(mapped.aws_api);
    assert_eq!(
        to_json(&mapped.aws),
        json!({"operation": "PutItem", "region": "us-east-1", "request_id": "ABC"})
    );
    assert_eq!(
        to_json(&mapped.http_request),
        json!({"method": "POST", "url": "https://example.com/x"})
    );
    assert_eq!(mapped.http_status, Some(503));
    assert_eq!(mapped.exception_type, Some("Timeout"));
    assert_eq!(mapped.exception_message, Some("took too long"));
    assert_eq!(
        pairs(&mapped.annotations),
        vec![
            ("faas_invocation_id".to_owned(), json!("req-1")),
            ("faas_coldstart".to_owned(), json!(true)),
            ("cloud_region".to_owned(), json!("eu-west-1")),
            ("rpc_system".to_owned(), json!("aws-api")),
            ("ratio".to_owned(), json!(0.5)),
            ("___".to_owned(), json!(3)),
        ]
    );
    assert_eq!(
        pairs(&mapped.metadata),
        vec![
            ("nan".to_owned(), json!("NaN")),
            ("long".to_owned(), json!("x".repeat(1_001))),
            ("faas_coldstart".to_owned(), json!(false)),
        ]
    );
}

#[test]
fn rpc_method_is_an_annotation_outside_aws_calls_and_annotations_are_capped() {
    let mut attributes = vec![("rpc.method".to_owned(), s("Get"))];
    for i in 0..60 {
        attributes.push((format!("k{i}"), AttributeValue::Int(i)));
    }
    let mapped = map_attributes(&attributes, true);
    assert!(!mapped.aws_api && mapped.aws.is_empty());
    assert_eq!(mapped.annotations.len(), MAX_ANNOTATIONS);
    assert_eq!(
        pairs(&mapped.annotations)[0],
        ("rpc_method".to_owned(), json!("Get"))
    );
    assert_eq!(mapped.metadata.len(), 11);
    assert_eq!(pairs(&mapped.metadata)[0], ("k49".to_owned(), json!(49)));
}

#[test]
fn a_segment_keeps_subsegment_only_aws_fields_as_annotations() {
    let attributes = vec![
        ("rpc.system".to_owned(), s("aws-api")),
        ("rpc.method".to_owned(), s("PutItem")),
        ("aws.request_id".to_owned(), s("ABC")),
        ("cloud.account.id".to_owned(), s("123456789012")),
    ];
    let mapped = map_attributes(&attributes, false);
    assert!(!mapped.aws_api);
    assert_eq!(to_json(&mapped.aws), json!({"account_id": "123456789012"}));
    assert_eq!(
        pairs(&mapped.annotations),
        vec![
            ("rpc_system".to_owned(), json!("aws-api")),
            ("rpc_method".to_owned(), json!("PutItem")),
            ("aws_request_id".to_owned(), json!("ABC")),
        ]
    );
}
