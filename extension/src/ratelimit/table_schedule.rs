//! The statistics table's own flush cadence. Metrics flush with every pipeline flush; the
//! table is written at most every [`TABLE_INTERVAL`] (and at SHUTDOWN), and only with the
//! windows that are complete (windows longer than [`MAX_OPEN_SECONDS`] are written while
//! open), so a sandbox makes about one `UpdateItem` per rule and window: at 100
//! decisions/s that is far more than 1,000× fewer writes than one per decision (see
//! `benches/ratelimit.rs`).

use std::time::{Duration, Instant};

use super::aggregate::{Decision, RateLimitAggregator};
use super::store::{RateLimitWriter, WriteReport};

/// The least time between two writes to the statistics table.
pub const TABLE_INTERVAL: Duration = Duration::from_secs(60);
/// Windows up to this long are written once complete; longer ones every interval.
pub const MAX_OPEN_SECONDS: u32 = 300;

/// Decisions waiting for the table, and the writer that puts them there.
#[derive(Debug)]
pub struct TableSchedule {
    aggregator: RateLimitAggregator,
    writer: RateLimitWriter,
    last_write: Instant,
}

impl TableSchedule {
    /// Writes through `writer` at most every [`TABLE_INTERVAL`].
    pub fn new(writer: RateLimitWriter) -> Self {
        TableSchedule {
            aggregator: RateLimitAggregator::new(),
            writer,
            last_write: Instant::now(),
        }
    }

    /// After a SnapStart restore (see [`RateLimitWriter::restored`]): the writer's ids
    /// before and after.
    pub fn restored(&mut self) -> (String, String) {
        let before = self.writer.sandbox_id().to_owned();
        self.writer.restored();
        (before, self.writer.sandbox_id().to_owned())
    }

    /// Counts a decision for the table; false when the table's aggregator dropped it.
    pub fn record(&mut self, decision: Decision) -> bool {
        self.aggregator.record(decision)
    }

    /// Writes what is due: everything when `force` (SHUTDOWN), else, once
    /// [`TABLE_INTERVAL`] has passed, the windows complete at `now_unix`. `None` when
    /// nothing was written.
    pub async fn write_due(
        &mut self,
        force: bool,
        now_unix: u64,
        deadline: Instant,
    ) -> Option<WriteReport> {
        if !force && self.last_write.elapsed() < TABLE_INTERVAL {
            return None;
        }
        self.last_write = Instant::now();
        let batch = if force {
            self.aggregator.flush()
        } else {
            self.aggregator.flush_completed(now_unix, MAX_OPEN_SECONDS)
        };
        if batch.is_empty() && self.writer.kept() == 0 {
            return None;
        }
        Some(self.writer.write(batch, deadline).await)
    }
}
