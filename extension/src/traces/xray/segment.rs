//! One span as an X-Ray entity: a segment (the trace's root), an independent subsegment
//! (a top-level document hanging under a `parent_id` outside the batch) or a nested
//! subsegment. Pure: the document's own fields, annotations and metadata, kept apart so
//! `pack` can trim them and nest children within the size limit.

use serde_json::{Map, Value, json};

use super::attributes::{json_value, map_attributes, sanitize_name};
use crate::traces::span::{Resource, Span, SpanId, SpanKind, SpanStatus};

/// `origin` of a root segment: the function itself.
pub const ORIGIN: &str = "AWS::Lambda::Function";
/// The name of a span whose name has nothing X-Ray accepts.
const FALLBACK_NAME: &str = "span";
/// Where resource attributes go in `metadata.default` (as the OpenTelemetry collector's
/// X-Ray exporter names them).
const RESOURCE_PREFIX: &str = "otel.resource.";

/// What a span becomes in the document it is sent in.
#[derive(Debug, Clone, Copy)]
pub enum Role<'r> {
    /// The trace's root (no parent): a segment named after the service, with `origin`,
    /// `service`, `aws` and the resource.
    Segment(&'r Resource),
    /// A top-level subsegment document (`type`, `parent_id`, `trace_id`), with the resource
    /// when it is the first of the function's spans under a parent outside the batch.
    Independent {
        parent: SpanId,
        resource: Option<&'r Resource>,
    },
    /// Inside its parent's `subsegments`.
    Nested,
}

/// An entity's document without its `subsegments`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// Every field but `annotations`, `metadata` and `subsegments`.
    pub fields: Map<String, Value>,
    /// `annotations` (sanitized keys).
    pub annotations: Vec<(String, Value)>,
    /// `metadata.default` (original keys).
    pub metadata: Vec<(String, Value)>,
}

impl Parts {
    /// The entity for `span` in `role`.
    pub fn build(span: &Span, role: Role<'_>) -> Parts {
        let subsegment = !matches!(role, Role::Segment(_));
        let mapped = map_attributes(&span.attributes, subsegment);
        let mut fields = Map::new();
        let mut metadata = Vec::new();
        let mut aws = mapped.aws;
        let mut name = span.name.as_str();
        match role {
            Role::Segment(resource) => {
                if let Some(service) =
                    text(resource, "service.name").or(text(resource, "faas.name"))
                {
                    if service != span.name {
                        metadata.push(("span.name".to_owned(), json!(span.name)));
                    }
                    name = service;
                }
                fields.insert("trace_id".into(), json!(span.trace_id.to_xray()));
                fields.insert("origin".into(), json!(ORIGIN));
                if let Some(version) =
                    text(resource, "service.version").or(text(resource, "faas.version"))
                {
                    fields.insert("service".into(), json!({ "version": version }));
                }
                if let Some(account) = text(resource, "cloud.account.id") {
                    aws.entry("account_id").or_insert_with(|| json!(account));
                }
                aws.insert(
                    "xray".into(),
                    json!({ "sdk": "liftwatch", "sdk_version": env!("CARGO_PKG_VERSION") }),
                );
                metadata.extend(resource_metadata(resource));
            }
            Role::Independent { parent, resource } => {
                fields.insert("type".into(), json!("subsegment"));
                fields.insert("parent_id".into(), json!(parent.to_hex()));
                fields.insert("trace_id".into(), json!(span.trace_id.to_xray()));
                metadata.extend(resource.map(resource_metadata).unwrap_or_default());
            }
            Role::Nested => {}
        }
        metadata.extend(mapped.metadata);
        fields.insert("name".into(), json!(sanitize_name(name, FALLBACK_NAME)));
        fields.insert("id".into(), json!(span.span_id.to_hex()));
        fields.insert("start_time".into(), json!(seconds(span.start_unix_nanos)));
        if span.end_unix_nanos == 0 {
            fields.insert("in_progress".into(), json!(true));
        } else {
            let end = span.end_unix_nanos.max(span.start_unix_nanos);
            fields.insert("end_time".into(), json!(seconds(end)));
        }
        if subsegment && mapped.aws_api {
            fields.insert("namespace".into(), json!("aws"));
        } else if subsegment && span.kind == SpanKind::Client {
            fields.insert("namespace".into(), json!("remote"));
        }

        // Error status: `fault` (a server-side failure, X-Ray's 5xx) for the span that
        // serves the invocation, `error` (a failure the service may have handled, X-Ray's
        // 4xx) for the work inside it. An HTTP status, when known, decides as X-Ray does.
        let failed = matches!(span.status, SpanStatus::Error(_));
        let serves = span.kind == SpanKind::Server || span.parent_span_id.is_none();
        let (mut error, mut fault, mut throttle) = (failed && !serves, failed && serves, false);
        match mapped.http_status {
            Some(429) => (error, throttle) = (true, true),
            Some(400..=499) => error = true,
            Some(500..=599) => fault = true,
            _ => {}
        }
        for (flag, set) in [("error", error), ("fault", fault), ("throttle", throttle)] {
            if set {
                fields.insert(flag.into(), json!(true));
            }
        }
        let message = mapped.exception_message.or(match &span.status {
            SpanStatus::Error(message) if !message.is_empty() => Some(message.clone()),
            _ => None,
        });
        if mapped.exception_type.is_some() || (failed && message.is_some()) {
            let mut exception = Map::new();
            exception.insert("id".into(), json!(exception_id(span.span_id)));
            if let Some(message) = message {
                exception.insert("message".into(), json!(message));
            }
            if let Some(kind) = mapped.exception_type {
                exception.insert("type".into(), json!(kind));
            }
            fields.insert("cause".into(), json!({ "exceptions": [exception] }));
        }

        let mut http = Map::new();
        if !mapped.http_request.is_empty() {
            http.insert("request".into(), Value::Object(mapped.http_request));
        }
        if let Some(status) = mapped.http_status {
            http.insert("response".into(), json!({ "status": status }));
        }
        if !http.is_empty() {
            fields.insert("http".into(), Value::Object(http));
        }
        if !aws.is_empty() {
            fields.insert("aws".into(), Value::Object(aws));
        }
        Parts {
            fields,
            annotations: mapped.annotations,
            metadata,
        }
    }

    /// The document, with `subsegments` when there are any.
    pub fn to_value(&self, subsegments: Vec<Value>) -> Value {
        let mut fields = self.fields.clone();
        if !self.annotations.is_empty() {
            fields.insert(
                "annotations".into(),
                Value::Object(self.annotations.iter().cloned().collect()),
            );
        }
        if !self.metadata.is_empty() {
            let default: Map<String, Value> = self.metadata.iter().cloned().collect();
            fields.insert("metadata".into(), json!({ "default": default }));
        }
        if !subsegments.is_empty() {
            fields.insert("subsegments".into(), Value::Array(subsegments));
        }
        Value::Object(fields)
    }

    /// The size of the document without subsegments, in bytes of compact JSON.
    pub fn json_len(&self) -> usize {
        json_len(&self.to_value(Vec::new()))
    }
}

/// The size of `value` as compact JSON (`usize::MAX` if it cannot be written).
pub fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// Unix nanoseconds as X-Ray's epoch seconds, to the microsecond (exact in an `f64`).
pub fn seconds(unix_nanos: u64) -> f64 {
    (unix_nanos / 1_000) as f64 / 1_000_000.0
}

/// An id for the span's exception, distinct from the span's own id.
fn exception_id(span: SpanId) -> String {
    SpanId(span.0.map(|b| !b)).to_hex()
}

fn text<'r>(resource: &'r Resource, key: &str) -> Option<&'r str> {
    match resource.attribute(key) {
        Some(crate::traces::span::AttributeValue::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn resource_metadata(resource: &Resource) -> Vec<(String, Value)> {
    resource
        .attributes
        .iter()
        .map(|(k, v)| (format!("{RESOURCE_PREFIX}{k}"), json_value(v)))
        .collect()
}
