//! liftwatch-extension: the AWS Lambda external extension that turns platform telemetry
//! and handler events into CloudWatch metrics without adding latency to the function.
//!
//! Pipeline: `lifecycle` (Extensions API) and the intakes (`telemetry`, `intake`) feed
//! the `pipeline` task, which owns the `aggregate` state and flushes `metrics` batches to
//! the `sink`s (EMF on stdout by default) as the `flush_policy` says.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod active_connections;
pub mod aggregate;
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
#[cfg(feature = "cli")]
pub mod dashboard;
pub mod emf;
pub mod extensions_api;
pub mod flush_policy;
pub mod health;
pub mod http_server;
pub mod intake;
pub mod lifecycle;
pub mod metrics;
pub mod otlp_metrics;
pub mod pipeline;
pub mod ratelimit;
pub mod resources;
pub mod sink;
pub mod telemetry;
pub mod traces;
