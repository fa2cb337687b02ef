//! The fleet model: plays N liftwatch sandboxes (cold starts, recycling, table writes,
//! lease attempts, WebSocket connects and disconnects, metric flushes) against a model of
//! DynamoDB and CloudWatch that charges what AWS charges (item sizes, request units,
//! transactions, per-partition and per-table throughput, the item size limit, the
//! `PutMetricData` quota) and prices the result at list prices.
//!
//! `benches/fleet.rs` prints the table for 10 to 100,000 sandboxes (`docs/SCALING.md`);
//! the layout builders are what the extension and the SDK write, so a test can compare
//! them with items read back from moto (`extension/tests/ratelimit_sandbox.rs`).
//!
//! - `dynamo`: item sizes, request units, a table with per-partition throughput;
//! - `layout`: the items liftwatch writes, in the current layout and the earlier one;
//! - `workload`: what the fleet does; `sim`: the event-driven run; `price`: list prices;
//! - `report`: the figures of one run, and their table.

pub mod dynamo;
pub mod layout;
pub mod price;
pub mod random;
pub mod report;
pub mod sim;
pub mod workload;
