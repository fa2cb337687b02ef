//! One span as an X-Ray entity: a segment (the trace's root), an independent subsegment
//! (a top-level document hanging under a `parent_id` outside the batch) or a nested
//! subsegment. Pure: the entity's fields, borrowed from the span and the resource, with its
//! annotations and metadata kept apart so `pack` can trim them and nest children within the
//! size limit; `json` writes it.

use std::borrow::Cow;

use super::attributes::{Aws, HttpRequest, Val, map_attributes, sanitize_name};
use crate::traces::span::{AttributeValue, Resource, Span, SpanId, SpanKind, SpanStatus, TraceId};

/// `origin` of a root segment: the function itself.
pub const ORIGIN: &str = "AWS::Lambda::Function";
/// The name of a span whose name has nothing X-Ray accepts.
const FALLBACK_NAME: &str = "span";
/// Where resource attributes go in `metadata.default` (as the OpenTelemetry collector's
/// X-Ray exporter names them).
const RESOURCE_PREFIX: &str = "otel.resource.";

/// What entities take from the resource, prepared once per batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceFields<'r> {
    /// `otel.resource.<key>` and the value, in the resource's order.
    metadata: Vec<(String, &'r AttributeValue)>,
    /// A segment's name: `service.name`, else `faas.name`.
    service: Option<&'r str>,
    /// `service.version`, else `faas.version`.
    version: Option<&'r str>,
    /// `cloud.account.id`.
    account: Option<&'r str>,
}

impl<'r> ResourceFields<'r> {
    pub fn new(resource: &'r Resource) -> Self {
        let text = |key| match resource.attribute(key) {
            Some(AttributeValue::Str(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        };
        ResourceFields {
            metadata: resource
                .attributes
                .iter()
                .map(|(k, v)| (format!("{RESOURCE_PREFIX}{k}"), v))
                .collect(),
            service: text("service.name").or(text("faas.name")),
            version: text("service.version").or(text("faas.version")),
            account: text("cloud.account.id"),
        }
    }

    fn push_metadata<'a>(&'a self, metadata: &mut Vec<(Cow<'a, str>, Val<'a>)>) {
        let entries = self.metadata.iter();
        metadata.extend(entries.map(|(k, v)| (Cow::Borrowed(k.as_str()), Val::Attribute(v))));
    }
}

/// What a span becomes in the document it is sent in.
#[derive(Debug, Clone, Copy)]
pub enum Role<'r> {
    /// The trace's root (no parent): a segment named after the service, with `origin`,
    /// `service`, `aws` and the resource.
    Segment(&'r ResourceFields<'r>),
    /// A top-level subsegment document (`type`, `parent_id`, `trace_id`), with the resource
    /// when it is the first of the function's spans under a parent outside the batch.
    Independent {
        parent: SpanId,
        resource: Option<&'r ResourceFields<'r>>,
    },
    /// Inside its parent's `subsegments`.
    Nested,
}

/// Where an entity stands, which decides its top-level fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// `trace_id` and `origin`.
    Segment,
    /// `type: "subsegment"`, `parent_id` and `trace_id`.
    Independent { parent: SpanId },
    /// None of them.
    Nested,
}

/// An entity without its `subsegments`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity<'a> {
    pub placement: Placement,
    pub trace_id: TraceId,
    pub id: SpanId,
    /// Sanitized.
    pub name: Cow<'a, str>,
    pub start_time: f64,
    /// `None`: `in_progress`.
    pub end_time: Option<f64>,
    pub namespace: Option<&'static str>,
    /// `service.version`, on a segment.
    pub service_version: Option<&'a str>,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
    /// `cause.exceptions`, one exception.
    pub cause: Option<Cause<'a>>,
    pub http_request: HttpRequest<'a>,
    /// `http.response.status`.
    pub http_status: Option<i64>,
    pub aws: Aws<'a>,
    /// `annotations` (sanitized keys).
    pub annotations: Entries<'a>,
    /// `metadata.default` (original keys).
    pub metadata: Entries<'a>,
}

/// The one exception of `cause.exceptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause<'a> {
    pub id: SpanId,
    pub message: Option<&'a str>,
    /// `type`.
    pub kind: Option<&'a str>,
}

impl<'a> Entity<'a> {
    /// The entity for `span` in `role`.
    pub fn build(span: &'a Span, role: Role<'a>) -> Entity<'a> {
        let subsegment = !matches!(role, Role::Segment(_));
        let mapped = map_attributes(&span.attributes, subsegment);
        let mut metadata = Vec::new();
        let mut aws = mapped.aws;
        let mut name = span.name.as_str();
        let mut service_version = None;
        let placement = match role {
            Role::Segment(resource) => {
                if let Some(service) = resource.service {
                    if service != span.name {
                        metadata.push((Cow::Borrowed("span.name"), Val::Text(&span.name)));
                    }
                    name = service;
                }
                service_version = resource.version;
                aws.account_id = aws.account_id.or(resource.account);
                aws.xray = true;
                resource.push_metadata(&mut metadata);
                Placement::Segment
            }
            Role::Independent { parent, resource } => {
                if let Some(resource) = resource {
                    resource.push_metadata(&mut metadata);
                }
                Placement::Independent { parent }
            }
            Role::Nested => Placement::Nested,
        };
        metadata.extend(mapped.metadata);
        let detail = span.detail.as_deref();
        if let Some(origin) = detail.and_then(|d| d.origin.as_deref()) {
            // The sender's resource and scope, where the extension's own go (metadata).
            for (key, value) in &origin.resource {
                let key = Cow::Owned(format!("{RESOURCE_PREFIX}{key}"));
                metadata.push((key, Val::Attribute(value)));
            }
            if !origin.scope_name.is_empty() {
                metadata.push((
                    Cow::Borrowed("otel.scope.name"),
                    Val::Text(&origin.scope_name),
                ));
            }
            if !origin.scope_version.is_empty() {
                let version = Val::Text(&origin.scope_version);
                metadata.push((Cow::Borrowed("otel.scope.version"), version));
            }
        }
        // The OpenTelemetry SDKs record an exception as an `exception` event: its type
        // and message are the cause, as the X-Ray SDKs write one.
        let exception = detail.and_then(|d| d.events.iter().find(|e| e.name == "exception"));
        let exception_type = mapped
            .exception_type
            .or_else(|| exception.and_then(|e| text(&e.attributes, "exception.type")));
        let exception_message = mapped
            .exception_message
            .or_else(|| exception.and_then(|e| text(&e.attributes, "exception.message")));
        let namespace = if subsegment && mapped.aws_api {
            Some("aws")
        } else if subsegment && span.kind == SpanKind::Client {
            Some("remote")
        } else {
            None
        };

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
        let message = exception_message.or(match &span.status {
            SpanStatus::Error(message) if !message.is_empty() => Some(message.as_str()),
            _ => None,
        });
        let has_cause = exception_type.is_some() || (failed && message.is_some());
        let cause = has_cause.then(|| Cause {
            id: exception_id(span.span_id),
            message,
            kind: exception_type,
        });
        Entity {
            placement,
            trace_id: span.trace_id,
            id: span.span_id,
            name: sanitize_name(name, FALLBACK_NAME),
            start_time: seconds(span.start_unix_nanos),
            end_time: (span.end_unix_nanos != 0)
                .then(|| seconds(span.end_unix_nanos.max(span.start_unix_nanos))),
            namespace,
            service_version,
            error,
            fault,
            throttle,
            cause,
            http_request: mapped.http_request,
            http_status: mapped.http_status,
            aws,
            annotations: Entries::new(mapped.annotations),
            metadata: Entries::new(metadata),
        }
    }
}

/// The string attribute `key` of `attributes`.
fn text<'a>(attributes: &'a [(String, AttributeValue)], key: &str) -> Option<&'a str> {
    attributes.iter().find_map(|(k, v)| match v {
        AttributeValue::Str(s) if k == key => Some(s.as_str()),
        _ => None,
    })
}

/// `annotations` or `metadata.default`: entries in the order they were added (trimming
/// breaks ties in that order), written as a JSON object sorted by key with a repeated key
/// written once, with its last value (as a map would hold them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entries<'a> {
    items: Vec<(Cow<'a, str>, Val<'a>)>,
    /// Indexes into `items` in key order, repeated keys but the last removed.
    sorted: Vec<usize>,
}

impl<'a> Entries<'a> {
    pub fn new(items: Vec<(Cow<'a, str>, Val<'a>)>) -> Self {
        let mut entries = Entries {
            items,
            sorted: Vec::new(),
        };
        entries.sort();
        entries
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// In the order they were added.
    pub fn items(&self) -> &[(Cow<'a, str>, Val<'a>)] {
        &self.items
    }

    /// As they are written: by key, once each.
    pub fn sorted(&self) -> impl Iterator<Item = (&str, &Val<'a>)> {
        let items = &self.items;
        let entry = move |&i: &usize| items.get(i).map(|(k, v)| (k.as_ref(), v));
        self.sorted.iter().filter_map(entry)
    }

    /// Removes and returns the entries from the `at`th on, in the order they were added.
    pub fn split_off(&mut self, at: usize) -> Vec<(Cow<'a, str>, Val<'a>)> {
        let tail = self.items.split_off(at.min(self.items.len()));
        self.sort();
        tail
    }

    /// Adds `more` after the present entries (a repeated key: the last wins).
    pub fn extend(&mut self, more: Vec<(Cow<'a, str>, Val<'a>)>) {
        self.items.extend(more);
        self.sort();
    }

    /// Keeps the entries whose index (in `items`) `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut index = 0;
        self.items.retain(|_| {
            index += 1;
            keep(index - 1)
        });
        self.sort();
    }

    fn sort(&mut self) {
        let items = &self.items;
        let order = &mut self.sorted;
        order.clear();
        order.extend(0..items.len());
        // Stable: of equal keys, the last added stays last.
        order.sort_by(|&a, &b| items[a].0.cmp(&items[b].0));
        let mut kept = 0;
        for n in 0..order.len() {
            let i = order[n];
            if order
                .get(n + 1)
                .is_none_or(|&next| items[next].0 != items[i].0)
            {
                order[kept] = i;
                kept += 1;
            }
        }
        order.truncate(kept);
    }
}

/// Unix nanoseconds as X-Ray's epoch seconds, to the microsecond (exact in an `f64`).
pub fn seconds(unix_nanos: u64) -> f64 {
    (unix_nanos / 1_000) as f64 / 1_000_000.0
}

/// An id for the span's exception, distinct from the span's own id.
fn exception_id(span: SpanId) -> SpanId {
    SpanId(span.0.map(|b| !b))
}
