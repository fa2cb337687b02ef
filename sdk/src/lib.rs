//! liftwatch: the thin client handlers use to send metrics and events to the liftwatch
//! Lambda extension over localhost UDP. Default build: `std` + `serde` only.
//!
//! [`Client`] sends one event per datagram, fire-and-forget; [`Metric`] builds a metric
//! with a unit, dimensions or high resolution; [`RateLimitDecision`] reports a rate-limit
//! decision with its key reduced to a bounded [`KeyClass`]; [`Batch`] packs many events
//! into each datagram. [`protocol`] is the wire format shared with the extension, described for
//! other languages in `docs/PROTOCOL.md`.
//!
//! ```no_run
//! use liftwatch::{Client, KeyClass, Metric, RateLimitDecision, Unit};
//! let client = Client::from_env();
//! client.count("OrdersPlaced", 1.0);
//! client.timing("PaymentLatency", 87.0);
//! client.send(Metric::distribution("CartValue", 42.5).dimension("Tenant", "acme"));
//! client.rate_limit(RateLimitDecision::blocked("login", 60).key_class(KeyClass::hashed("user-42", 16)));
//! let mut batch = client.batch();
//! for size in [512.0, 2048.0] {
//!     batch.send(Metric::distribution("ItemSize", size).unit(Unit::Bytes));
//! }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod client;
pub mod clock;
#[cfg(feature = "dynamodb-core")]
pub mod connections;
#[cfg(feature = "dynamodb-core")]
mod dynamodb_table;
mod error_chain;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "dynamodb-core")]
pub mod limiter;
mod metric;
pub mod protocol;
pub mod random;
mod ratelimit;
pub mod retry;
pub mod stats;
pub mod trace;
mod unit;

pub use client::{AGGREGATE_FLUSH_BYTES, Aggregate, Batch, Client, PORT_VAR, SendError};
#[cfg(feature = "dynamodb-core")]
pub use dynamodb_table::TableError;
pub use error_chain::error_chain;
pub use metric::Metric;
pub use protocol::{MetricKind, Outcome, Resolution};
pub use ratelimit::{DEFAULT_KEY_BUCKETS, KeyClass, MAX_KEY_BUCKETS, RateLimitDecision, fnv1a_64};
pub use trace::{Span, TraceContext};
pub use unit::{Unit, UnknownUnit};
