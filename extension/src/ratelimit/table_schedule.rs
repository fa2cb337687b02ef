//! The statistics table's own flush cadence. Metrics flush with every pipeline flush; the
//! table is written at most every [`TABLE_INTERVAL`] (and at SHUTDOWN), and only with the
//! windows that are complete (windows longer than [`MAX_OPEN_SECONDS`] are written while
//! open), so a sandbox makes about one `UpdateItem` per rule and window: at 100
//! decisions/s that is far more than 1,000× fewer writes than one per decision (see
//! `benches/ratelimit.rs`).
//!
//! Each sandbox writes at a phase of its own: the first write is due at a random point of
//! the first interval. A fleet scaled out at once (or restored from one SnapStart
//! snapshot) would otherwise write every closed window in the same second, and the table's
//! partitions would take the whole fleet's minute of writes at once (`docs/SCALING.md`).

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
    interval: Duration,
    next_write: Instant,
}

impl TableSchedule {
    /// Writes through `writer` every [`TABLE_INTERVAL`], the first time at a random point
    /// of the first interval.
    pub fn new(writer: RateLimitWriter) -> Self {
        Self::with_phase(writer, TABLE_INTERVAL, liftwatch::random::fraction())
    }

    /// Writes every `interval`, the first time after `phase` (0 to 1) of it.
    pub fn with_phase(writer: RateLimitWriter, interval: Duration, phase: f64) -> Self {
        TableSchedule {
            aggregator: RateLimitAggregator::new(),
            writer,
            interval,
            next_write: Instant::now() + interval.mul_f64(phase.clamp(0.0, 1.0)),
        }
    }

    /// After a SnapStart restore every copy holds the snapshot's phase: each draws its own.
    fn new_phase(&mut self) {
        self.next_write = Instant::now() + self.interval.mul_f64(liftwatch::random::fraction());
    }

    /// After a SnapStart restore (see [`RateLimitWriter::restored`]): the writer's ids
    /// before and after.
    pub fn restored(&mut self) -> (String, String) {
        let before = self.writer.sandbox_id().to_owned();
        self.writer.restored();
        self.new_phase();
        (before, self.writer.sandbox_id().to_owned())
    }

    /// Counts a decision for the table; false when the table's aggregator dropped it.
    pub fn record(&mut self, decision: Decision) -> bool {
        self.aggregator.record(decision)
    }

    /// Writes what is due: everything when `force` (SHUTDOWN), else, once the next write
    /// is due, the windows complete at `now_unix`. `None` when nothing was written.
    pub async fn write_due(
        &mut self,
        force: bool,
        now_unix: u64,
        deadline: Instant,
    ) -> Option<WriteReport> {
        let now = Instant::now();
        if !force && now < self.next_write {
            return None;
        }
        self.next_write = now + self.interval;
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
