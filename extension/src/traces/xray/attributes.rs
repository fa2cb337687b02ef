//! Span attributes in X-Ray's terms: names and annotation keys sanitized to the characters
//! X-Ray accepts, OpenTelemetry semantic attributes moved to the fields X-Ray reads
//! (`http`, `aws`, `cause`), and everything else split between `annotations` (indexed:
//! string, number and boolean values under a sanitized key) and `metadata` (the rest, under
//! the original key).

use serde_json::{Map, Value};

use crate::traces::span::AttributeValue;

/// The longest `name`, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest annotation key, in characters.
pub const MAX_ANNOTATION_KEY_CHARS: usize = 500;
/// The longest annotation string value, in characters.
pub const MAX_ANNOTATION_VALUE_CHARS: usize = 1_000;
/// X-Ray indexes at most 50 annotations per trace; more per span are sent as metadata.
pub const MAX_ANNOTATIONS: usize = 50;

/// The symbols a name may hold besides letters, numbers and whitespace.
const NAME_SYMBOLS: &str = "_.:/%&#=+\\-@";

/// `name` with every character X-Ray does not accept replaced (whitespace by a space,
/// anything else by `_`), cut to 200 characters; `fallback` when nothing printable is left.
pub fn sanitize_name(name: &str, fallback: &str) -> String {
    let name: String = name
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| match c {
            ' ' => ' ',
            c if c.is_alphabetic() || c.is_numeric() || NAME_SYMBOLS.contains(c) => c,
            c if c.is_whitespace() => ' ',
            _ => '_',
        })
        .collect();
    if name.trim().is_empty() {
        fallback.to_owned()
    } else {
        name
    }
}

/// `key` as an annotation key: ASCII letters, digits and `_` (anything else becomes `_`),
/// at most 500 characters; `None` when empty.
pub fn annotation_key(key: &str) -> Option<String> {
    let key: String = key
        .chars()
        .take(MAX_ANNOTATION_KEY_CHARS)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    (!key.is_empty()).then_some(key)
}

/// An attribute value as JSON; non-finite floats (not JSON numbers) become strings.
pub fn json_value(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Str(s) => Value::String(s.clone()),
        AttributeValue::Int(i) => Value::from(*i),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
    }
}

/// A span's attributes sorted into the places X-Ray reads them from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mapped {
    /// `aws`: `account_id`, `region`, `request_id`, `operation`.
    pub aws: Map<String, Value>,
    /// `http.request` (`method`, `url`, `user_agent`).
    pub http_request: Map<String, Value>,
    /// `http.response.status`.
    pub http_status: Option<i64>,
    /// `rpc.system = aws-api`: the span is an AWS SDK call (subsegment namespace `aws`).
    pub aws_api: bool,
    /// `exception.type`.
    pub exception_type: Option<String>,
    /// `exception.message`.
    pub exception_message: Option<String>,
    /// Indexed annotations, sanitized keys, at most `MAX_ANNOTATIONS`.
    pub annotations: Vec<(String, Value)>,
    /// Everything else, original keys (namespace `default`).
    pub metadata: Vec<(String, Value)>,
}

/// Sorts `attributes` (a span's) into X-Ray's fields. A segment's `aws` object has no
/// `region`, `request_id` or `operation` (those describe a subsegment's AWS call), so for a
/// segment (`subsegment` false) those attributes stay annotations.
pub fn map_attributes(attributes: &[(String, AttributeValue)], subsegment: bool) -> Mapped {
    let aws_api = attributes
        .iter()
        .any(|(k, v)| k == "rpc.system" && matches!(v, AttributeValue::Str(s) if s == "aws-api"));
    let mut mapped = Mapped {
        aws_api: aws_api && subsegment,
        ..Mapped::default()
    };
    for (key, value) in attributes {
        if !mapped.take_semantic(key, value, subsegment) {
            mapped.push_generic(key, value);
        }
    }
    mapped
}

impl Mapped {
    /// Moves a semantic attribute to its X-Ray field; false when `key` is not one.
    fn take_semantic(&mut self, key: &str, value: &AttributeValue, subsegment: bool) -> bool {
        use AttributeValue::{Int, Str};
        let (target, field, text) = match (key, value) {
            ("http.request.method" | "http.method", Str(s)) => {
                (&mut self.http_request, "method", s)
            }
            ("url.full" | "http.url", Str(s)) => (&mut self.http_request, "url", s),
            ("user_agent.original" | "http.user_agent", Str(s)) => {
                (&mut self.http_request, "user_agent", s)
            }
            ("cloud.account.id", Str(s)) => (&mut self.aws, "account_id", s),
            ("aws.region", Str(s)) if subsegment => (&mut self.aws, "region", s),
            ("aws.request_id", Str(s)) if subsegment => (&mut self.aws, "request_id", s),
            ("rpc.method", Str(s)) if self.aws_api => (&mut self.aws, "operation", s),
            ("http.response.status_code" | "http.status_code", Int(status)) => {
                self.http_status = Some(*status);
                return true;
            }
            ("exception.type", Str(s)) => {
                self.exception_type = Some(s.clone());
                return true;
            }
            ("exception.message", Str(s)) => {
                self.exception_message = Some(s.clone());
                return true;
            }
            _ => return false,
        };
        target.insert(field.to_owned(), Value::String(text.clone()));
        true
    }

    /// An annotation when the value is indexable and there is room, metadata otherwise.
    fn push_generic(&mut self, key: &str, value: &AttributeValue) {
        let indexable = match value {
            AttributeValue::Str(s) => s.chars().count() <= MAX_ANNOTATION_VALUE_CHARS,
            AttributeValue::Float(f) => f.is_finite(),
            AttributeValue::Int(_) | AttributeValue::Bool(_) => true,
        };
        if indexable
            && self.annotations.len() < MAX_ANNOTATIONS
            && let Some(sanitized) = annotation_key(key)
            && !self.annotations.iter().any(|(k, _)| *k == sanitized)
        {
            self.annotations.push((sanitized, json_value(value)));
            return;
        }
        self.metadata.push((key.to_owned(), json_value(value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            Value::Object(mapped.aws.clone()),
            json!({"operation": "PutItem", "region": "us-east-1", "request_id": "ABC"})
        );
        assert_eq!(
            Value::Object(mapped.http_request.clone()),
            json!({"method": "POST", "url": "https://example.com/x"})
        );
        assert_eq!(mapped.http_status, Some(503));
        assert_eq!(mapped.exception_type.as_deref(), Some("Timeout"));
        assert_eq!(mapped.exception_message.as_deref(), Some("took too long"));
        assert_eq!(
            mapped.annotations,
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
            mapped.metadata,
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
            mapped.annotations[0],
            ("rpc_method".to_owned(), json!("Get"))
        );
        assert_eq!(mapped.metadata.len(), 11);
        assert_eq!(mapped.metadata[0], ("k49".to_owned(), json!(49)));
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
        assert_eq!(
            Value::Object(mapped.aws),
            json!({"account_id": "123456789012"})
        );
        assert_eq!(
            mapped.annotations,
            vec![
                ("rpc_system".to_owned(), json!("aws-api")),
                ("rpc_method".to_owned(), json!("PutItem")),
                ("aws_request_id".to_owned(), json!("ABC")),
            ]
        );
    }
}
