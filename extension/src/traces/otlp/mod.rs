//! OTLP/HTTP for traces: the exporter that sends our spans to a collector
//! (`OtlpExporter`, configured from `OTEL_EXPORTER_OTLP_*` by `OtlpConfig`) and the
//! receiver handlers' OpenTelemetry SDKs export to (`OtlpIntake` served by `OtlpListener`
//! on 127.0.0.1:4318), both on the official `opentelemetry-proto` messages.
//!
//! Files: `encode` (spans → request), `decode` (bodies → spans); for export `config`,
//! `retry` (the policy), `transport` (HTTP client, optional TLS) and `exporter`; for
//! intake `intake` (the router), `listener` (the socket) and `counters`; `rpc_status`
//! (`google.rpc.Status`, the error body both sides use).

pub mod config;
pub mod counters;
pub mod decode;
pub mod encode;
pub mod exporter;
pub mod intake;
pub mod listener;
pub mod retry;
pub mod rpc_status;
mod transport;

pub use config::{OtlpConfig, OtlpConfigError};
pub use counters::{IntakeCounters, IntakeSnapshot};
pub use exporter::OtlpExporter;
pub use intake::{DEFAULT_PORT, OtlpIntake, StatsSource};
pub use listener::OtlpListener;
