//! Tracing: spans of every invocation built from platform telemetry, spans from handlers
//! (SDK span events and OTLP/HTTP), trace statistics, and the exporters (OTLP/HTTP, X-Ray
//! segments over UDP).
//!
//! `span` is the model all of them share.

pub mod context;
pub mod export;
pub mod span;

pub use context::{TraceHeader, parse_xray};
pub use export::{SpanExporter, SpanReport};
pub use span::{AttributeValue, Resource, Span, SpanId, SpanKind, SpanStatus, TraceId};
