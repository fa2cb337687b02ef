//! Span attributes in X-Ray's terms: names and annotation keys sanitized to the characters
//! X-Ray accepts, OpenTelemetry semantic attributes moved to the fields X-Ray reads
//! (`http`, `aws`, `cause`), and everything else split between `annotations` (indexed:
//! string, number and boolean values under a sanitized key) and `metadata` (the rest, under
//! the original key). Everything borrows from the span: a key or name is copied only when
//! sanitizing changes it.

use std::borrow::Cow;

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
pub fn sanitize_name<'a>(name: &'a str, fallback: &'a str) -> Cow<'a, str> {
    let kept =
        |c: char| c == ' ' || c.is_alphabetic() || c.is_numeric() || NAME_SYMBOLS.contains(c);
    let name: Cow<'a, str> = if name.chars().take(MAX_NAME_CHARS + 1).count() <= MAX_NAME_CHARS
        && name.chars().all(kept)
    {
        Cow::Borrowed(name)
    } else {
        name.chars()
            .take(MAX_NAME_CHARS)
            .map(|c| match c {
                c if kept(c) => c,
                c if c.is_whitespace() => ' ',
                _ => '_',
            })
            .collect()
    };
    if name.trim().is_empty() {
        Cow::Borrowed(fallback)
    } else {
        name
    }
}

/// `key` as an annotation key: ASCII letters, digits and `_` (anything else becomes `_`),
/// at most 500 characters; `None` when empty.
pub fn annotation_key(key: &str) -> Option<Cow<'_, str>> {
    let kept = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if key.len() <= MAX_ANNOTATION_KEY_CHARS && key.chars().all(kept) {
        return (!key.is_empty()).then_some(Cow::Borrowed(key));
    }
    let key: String = key
        .chars()
        .take(MAX_ANNOTATION_KEY_CHARS)
        .map(|c| if kept(c) { c } else { '_' })
        .collect();
    (!key.is_empty()).then_some(Cow::Owned(key))
}

/// A value in `annotations` or `metadata`, borrowed from the span or the resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    /// An attribute's value (non-finite floats, not JSON numbers, are written as strings).
    Attribute(&'a AttributeValue),
    /// Text, such as the span's own name.
    Text(&'a str),
}

/// `aws`: `account_id`, `operation`, `region`, `request_id`, and `xray` (the SDK, on a
/// segment).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Aws<'a> {
    pub account_id: Option<&'a str>,
    pub operation: Option<&'a str>,
    pub region: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub xray: bool,
}

impl Aws<'_> {
    pub fn is_empty(&self) -> bool {
        *self == Aws::default()
    }
}

/// `http.request`: `method`, `url`, `user_agent`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HttpRequest<'a> {
    pub method: Option<&'a str>,
    pub url: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl HttpRequest<'_> {
    pub fn is_empty(&self) -> bool {
        *self == HttpRequest::default()
    }
}

/// A span's attributes sorted into the places X-Ray reads them from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mapped<'a> {
    /// `aws`: `account_id`, `region`, `request_id`, `operation`.
    pub aws: Aws<'a>,
    /// `http.request` (`method`, `url`, `user_agent`).
    pub http_request: HttpRequest<'a>,
    /// `http.response.status`.
    pub http_status: Option<i64>,
    /// `rpc.system = aws-api`: the span is an AWS SDK call (subsegment namespace `aws`).
    pub aws_api: bool,
    /// `exception.type`.
    pub exception_type: Option<&'a str>,
    /// `exception.message`.
    pub exception_message: Option<&'a str>,
    /// Indexed annotations, sanitized keys, at most `MAX_ANNOTATIONS`.
    pub annotations: Vec<(Cow<'a, str>, Val<'a>)>,
    /// Everything else, original keys (namespace `default`).
    pub metadata: Vec<(Cow<'a, str>, Val<'a>)>,
}

/// Sorts `attributes` (a span's) into X-Ray's fields. A segment's `aws` object has no
/// `region`, `request_id` or `operation` (those describe a subsegment's AWS call), so for a
/// segment (`subsegment` false) those attributes stay annotations.
pub fn map_attributes(attributes: &[(String, AttributeValue)], subsegment: bool) -> Mapped<'_> {
    let aws_api = attributes
        .iter()
        .any(|(k, v)| k == "rpc.system" && matches!(v, AttributeValue::Str(s) if s == "aws-api"));
    let mut mapped = Mapped {
        aws_api: aws_api && subsegment,
        annotations: Vec::with_capacity(attributes.len().min(MAX_ANNOTATIONS)),
        ..Mapped::default()
    };
    for (key, value) in attributes {
        if !mapped.take_semantic(key, value, subsegment) {
            mapped.push_generic(key, value);
        }
    }
    mapped
}

impl<'a> Mapped<'a> {
    /// Moves a semantic attribute to its X-Ray field; false when `key` is not one.
    fn take_semantic(&mut self, key: &str, value: &'a AttributeValue, subsegment: bool) -> bool {
        use AttributeValue::{Int, Str};
        let (target, text) = match (key, value) {
            ("http.request.method" | "http.method", Str(s)) => (&mut self.http_request.method, s),
            ("url.full" | "http.url", Str(s)) => (&mut self.http_request.url, s),
            ("user_agent.original" | "http.user_agent", Str(s)) => {
                (&mut self.http_request.user_agent, s)
            }
            ("cloud.account.id", Str(s)) => (&mut self.aws.account_id, s),
            ("aws.region", Str(s)) if subsegment => (&mut self.aws.region, s),
            ("aws.request_id", Str(s)) if subsegment => (&mut self.aws.request_id, s),
            ("rpc.method", Str(s)) if self.aws_api => (&mut self.aws.operation, s),
            ("exception.type", Str(s)) => (&mut self.exception_type, s),
            ("exception.message", Str(s)) => (&mut self.exception_message, s),
            ("http.response.status_code" | "http.status_code", Int(status)) => {
                self.http_status = Some(*status);
                return true;
            }
            _ => return false,
        };
        *target = Some(text.as_str());
        true
    }

    /// An annotation when the value is indexable and there is room, metadata otherwise.
    fn push_generic(&mut self, key: &'a str, value: &'a AttributeValue) {
        let indexable = match value {
            AttributeValue::Str(s) => s.chars().count() <= MAX_ANNOTATION_VALUE_CHARS,
            AttributeValue::Float(f) => f.is_finite(),
            AttributeValue::Int(_) | AttributeValue::Bool(_) => true,
            // X-Ray indexes scalars only; an array is kept, typed, in metadata.
            AttributeValue::Array(_) => false,
        };
        if indexable
            && self.annotations.len() < MAX_ANNOTATIONS
            && let Some(sanitized) = annotation_key(key)
            && !self.annotations.iter().any(|(k, _)| *k == sanitized)
        {
            self.annotations.push((sanitized, Val::Attribute(value)));
            return;
        }
        self.metadata
            .push((Cow::Borrowed(key), Val::Attribute(value)));
    }
}

#[cfg(test)]
mod tests;
