//! Entities written as compact JSON straight from their borrowed parts, with no
//! intermediate `serde_json::Value`: `pack` counts an entity's size by writing it to a
//! counter, and writes each document once. Object keys are written in sorted order, the
//! order of a `serde_json` map, so every object reads as if built as one.

use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};

use super::attributes::{Aws, HttpRequest, Val};
use super::pack::Packed;
use super::segment::{Cause, Entity, Entries, ORIGIN, Placement};
use crate::traces::span::{AttributeValue, SpanId, TraceId};

/// An entity with the subsegments nested in it, as a JSON object.
#[derive(Debug, Clone, Copy)]
pub struct EntityJson<'e, 'a> {
    pub entity: &'e Entity<'a>,
    pub subsegments: &'e [Packed<'a>],
}

impl Serialize for EntityJson<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.entity;
        let mut map = serializer.serialize_map(None)?;
        if !e.annotations.is_empty() {
            map.serialize_entry("annotations", &e.annotations)?;
        }
        if !e.aws.is_empty() {
            map.serialize_entry("aws", &e.aws)?;
        }
        if let Some(cause) = &e.cause {
            map.serialize_entry("cause", &One("exceptions", [cause]))?;
        }
        if let Some(end) = e.end_time {
            map.serialize_entry("end_time", &end)?;
        }
        if e.error {
            map.serialize_entry("error", &true)?;
        }
        if e.fault {
            map.serialize_entry("fault", &true)?;
        }
        if !e.http_request.is_empty() || e.http_status.is_some() {
            map.serialize_entry("http", &Http(e))?;
        }
        map.serialize_entry("id", &Hex(e.id))?;
        if e.end_time.is_none() {
            map.serialize_entry("in_progress", &true)?;
        }
        if !e.metadata.is_empty() {
            map.serialize_entry("metadata", &One("default", &e.metadata))?;
        }
        map.serialize_entry("name", &*e.name)?;
        if let Some(namespace) = e.namespace {
            map.serialize_entry("namespace", namespace)?;
        }
        if e.placement == Placement::Segment {
            map.serialize_entry("origin", ORIGIN)?;
        }
        if let Placement::Independent { parent } = e.placement {
            map.serialize_entry("parent_id", &Hex(parent))?;
        }
        if let Some(version) = e.service_version {
            map.serialize_entry("service", &One("version", version))?;
        }
        map.serialize_entry("start_time", &e.start_time)?;
        if !self.subsegments.is_empty() {
            map.serialize_entry("subsegments", self.subsegments)?;
        }
        if e.throttle {
            map.serialize_entry("throttle", &true)?;
        }
        if e.placement != Placement::Nested {
            map.serialize_entry("trace_id", &XrayTraceId(e.trace_id))?;
        }
        if let Placement::Independent { .. } = e.placement {
            map.serialize_entry("type", "subsegment")?;
        }
        map.end()
    }
}

impl Serialize for Packed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(serializer)
    }
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.sorted())
    }
}

impl Serialize for Val<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Val::Text(text) => serializer.serialize_str(text),
            Val::Attribute(AttributeValue::Str(text)) => serializer.serialize_str(text),
            Val::Attribute(AttributeValue::Int(i)) => serializer.serialize_i64(*i),
            Val::Attribute(AttributeValue::Bool(b)) => serializer.serialize_bool(*b),
            Val::Attribute(AttributeValue::Float(f)) if f.is_finite() => {
                serializer.serialize_f64(*f)
            }
            // NaN and the infinities are no JSON numbers.
            Val::Attribute(AttributeValue::Float(f)) => serializer.collect_str(f),
            Val::Attribute(AttributeValue::Array(items)) => {
                serializer.collect_seq(items.iter().map(Val::Attribute))
            }
        }
    }
}

impl Serialize for Aws<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let fields = [
            ("account_id", self.account_id),
            ("operation", self.operation),
            ("region", self.region),
            ("request_id", self.request_id),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        if self.xray {
            let sdk = [
                ("sdk", "liftwatch"),
                ("sdk_version", env!("CARGO_PKG_VERSION")),
            ];
            map.serialize_entry("xray", &Object(&sdk))?;
        }
        map.end()
    }
}

impl Serialize for HttpRequest<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = [
            ("method", self.method),
            ("url", self.url),
            ("user_agent", self.user_agent),
        ];
        serializer.collect_map(fields.iter().filter_map(|(k, v)| v.map(|v| (k, v))))
    }
}

impl Serialize for Cause<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &Hex(self.id))?;
        if let Some(message) = self.message {
            map.serialize_entry("message", message)?;
        }
        if let Some(kind) = self.kind {
            map.serialize_entry("type", kind)?;
        }
        map.end()
    }
}

/// An entity's `http`: `request` and `response.status`.
struct Http<'e, 'a>(&'e Entity<'a>);

impl Serialize for Http<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if !self.0.http_request.is_empty() {
            map.serialize_entry("request", &self.0.http_request)?;
        }
        if let Some(status) = self.0.http_status {
            map.serialize_entry("response", &One("status", status))?;
        }
        map.end()
    }
}

/// An object of one entry.
struct One<V>(&'static str, V);

impl<V: Serialize> Serialize for One<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &self.1)?;
        map.end()
    }
}

/// An object of text entries, in the order given (sorted by the caller).
struct Object<'o>(&'o [(&'static str, &'static str)]);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().copied())
    }
}

/// A span id as 16 lowercase hex digits, written without allocating.
struct Hex(SpanId);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; 16];
        hex_into(&self.0.0, &mut text);
        serializer.serialize_str(std::str::from_utf8(&text).map_err(S::Error::custom)?)
    }
}

/// A trace id in the X-Ray form `1-<8 hex digits>-<24 hex digits>`.
struct XrayTraceId(TraceId);

impl Serialize for XrayTraceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [b'-'; 35];
        text[0] = b'1';
        let (time, random) = self.0.0.split_at(4);
        hex_into(time, &mut text[2..10]);
        hex_into(random, &mut text[11..]);
        serializer.serialize_str(std::str::from_utf8(&text).map_err(S::Error::custom)?)
    }
}

/// Writes `bytes` as lowercase hex digits into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// The size of `value` as compact JSON, counted without keeping it (`usize::MAX` if it
/// cannot be written).
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
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
