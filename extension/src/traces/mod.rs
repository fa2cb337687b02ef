//! Tracing: spans of every invocation built from platform telemetry, spans from handlers
//! (SDK span events and OTLP/HTTP), trace statistics, and the exporters (OTLP/HTTP, X-Ray
//! segments over UDP).
//!
//! `span` is the model all of them share.

pub mod breaker;
pub mod collector;
pub mod context;
pub mod export;
pub mod ids;
pub mod otlp;
pub mod platform;
pub mod setup;
pub mod span;
pub mod xray;

pub use collector::{MAX_BUFFERED_SPANS, TraceCollector};
pub use context::{TraceHeader, parse_xray};
pub use export::{SpanExporter, SpanReport};
pub use otlp::{IntakeCounters, OtlpConfig, OtlpExporter, OtlpIntake, OtlpListener};
pub use span::{AttributeValue, Resource, Span, SpanId, SpanKind, SpanStatus, TraceId};
pub use xray::XrayExporter;
