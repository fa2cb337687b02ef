//! liftwatch: the thin client handlers use to send metrics and events to the liftwatch
//! Lambda extension over localhost UDP. Default build: `std` + `serde` only.
//!
//! ```
//! let client = liftwatch::Client::from_env();
//! client.count("OrdersPlaced", 1.0);
//! client.timing("PaymentLatency", 87.0);
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

mod client;
mod metric;
pub mod protocol;
mod unit;

pub use client::{Batch, Client, PORT_VAR, SendError};
pub use metric::Metric;
pub use protocol::{MetricKind, Resolution};
pub use unit::{Unit, UnknownUnit};
