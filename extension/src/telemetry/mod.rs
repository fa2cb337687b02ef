//! The Telemetry API side: the subscription request, the HTTP listener the platform
//! posts batches to, and the record-by-record parser.

pub mod listener;
pub mod record;
pub mod subscribe;

pub use listener::TelemetryListener;
pub use record::Record;
