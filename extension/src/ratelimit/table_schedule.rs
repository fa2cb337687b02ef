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
//!
//! A circuit breaker keeps a table that does not answer off the response path: after a
//! write that delivered nothing, the next due writes run in a task of their own (one at a
//! time, [`RETRY_BUDGET`] each) while decisions keep aggregating here; the first retry
//! that delivers closes the breaker. At SHUTDOWN the retry in flight is awaited within the
//! deadline and everything left is written once more; what a retry cut off at the deadline
//! carried is counted as dropped.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::aggregate::{Decision, RateLimitAggregator};
use super::store::{RateLimitWriter, WriteReport};

/// How long one write off the response path may take.
pub const RETRY_BUDGET: Duration = Duration::from_secs(2);

/// The least time between two writes to the statistics table.
pub const TABLE_INTERVAL: Duration = Duration::from_secs(60);
/// Windows up to this long are written once complete; longer ones every interval.
pub const MAX_OPEN_SECONDS: u32 = 300;

/// Decisions waiting for the table, and the writer that puts them there.
#[derive(Debug)]
pub struct TableSchedule {
    aggregator: RateLimitAggregator,
    /// `None` while a retry has it.
    writer: Option<RateLimitWriter>,
    interval: Duration,
    next_write: Instant,
    /// The last write delivered nothing: due writes run off the response path.
    open: bool,
    retry: Option<Retry>,
    /// The updates the retry in flight carries.
    retrying: usize,
}

type Retry = JoinHandle<(RateLimitWriter, WriteReport)>;

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
            writer: Some(writer),
            interval,
            next_write: Instant::now() + interval.mul_f64(phase.clamp(0.0, 1.0)),
            open: false,
            retry: None,
            retrying: 0,
        }
    }

    /// After a SnapStart restore every copy holds the snapshot's phase: each draws its own.
    fn new_phase(&mut self) {
        self.next_write = Instant::now() + self.interval.mul_f64(liftwatch::random::fraction());
    }

    /// After a SnapStart restore (see [`RateLimitWriter::restored`]): the writer's ids
    /// before and after (none while a retry has the writer, which a restore, right after
    /// the snapshot's first flushes, does not meet).
    pub fn restored(&mut self) -> Option<(String, String)> {
        self.new_phase();
        let writer = self.writer.as_mut()?;
        let before = writer.sandbox_id().to_owned();
        writer.restored();
        Some((before, writer.sandbox_id().to_owned()))
    }

    /// Whether due writes run off the response path.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Counts a decision for the table; false when the table's aggregator dropped it.
    pub fn record(&mut self, decision: Decision) -> bool {
        self.aggregator.record(decision)
    }

    /// Writes what is due: everything when `force` (SHUTDOWN), else, once the next write
    /// is due, the windows complete at `now_unix`. `None` when nothing was written. With
    /// the breaker open (and no `force`) the write starts off the response path, and its
    /// report comes from a later call; a finished retry's report is returned first.
    pub async fn write_due(
        &mut self,
        force: bool,
        now_unix: u64,
        deadline: Instant,
    ) -> Option<WriteReport> {
        if let Some(report) = self.collect_retry(force, deadline).await {
            if !force {
                return Some(report);
            }
            let mut last = self
                .write_now(true, now_unix, deadline)
                .await
                .unwrap_or_default();
            last.applied += report.applied;
            last.already_applied += report.already_applied;
            last.dropped += report.dropped;
            last.error = last.error.or(report.error);
            return Some(last);
        }
        self.write_now(force, now_unix, deadline).await
    }

    async fn write_now(
        &mut self,
        force: bool,
        now_unix: u64,
        deadline: Instant,
    ) -> Option<WriteReport> {
        let now = Instant::now();
        if !force && now < self.next_write {
            return None;
        }
        let Some(mut writer) = self.writer.take() else {
            // A retry has the writer: later. At SHUTDOWN it is gone (cut off at the
            // deadline), and what is left here has no way to the table: counted.
            let left = if force {
                self.aggregator.flush().windows.len()
            } else {
                0
            };
            return (left > 0).then(|| WriteReport {
                dropped: left,
                ..WriteReport::default()
            });
        };
        self.next_write = now + self.interval;
        let batch = if force {
            self.aggregator.flush()
        } else {
            self.aggregator.flush_completed(now_unix, MAX_OPEN_SECONDS)
        };
        if batch.is_empty() && writer.kept() == 0 {
            self.writer = Some(writer);
            return None;
        }
        if self.open && !force {
            self.retrying = writer.kept() + batch.windows.len();
            self.retry = Some(tokio::spawn(async move {
                let report = writer.write(batch, Instant::now() + RETRY_BUDGET).await;
                (writer, report)
            }));
            return None;
        }
        let report = writer.write(batch, deadline).await;
        self.writer = Some(writer);
        self.open = delivered_nothing(&report);
        Some(report)
    }

    /// The retry's writer back and its report: when it has finished, or (with `force`)
    /// once it finishes by `deadline`; a retry cut off there drops what it carried.
    async fn collect_retry(&mut self, force: bool, deadline: Instant) -> Option<WriteReport> {
        let mut retry = self.retry.take()?;
        if !force && !retry.is_finished() {
            self.retry = Some(retry);
            return None;
        }
        let outcome = tokio::time::timeout_at(deadline.into(), &mut retry).await;
        match outcome {
            Ok(Ok((writer, report))) => {
                self.writer = Some(writer);
                self.open = delivered_nothing(&report);
                Some(report)
            }
            // Timed out (aborted here) or panicked: the writer and its updates are gone.
            Ok(Err(_)) | Err(_) => {
                retry.abort();
                Some(WriteReport {
                    dropped: std::mem::take(&mut self.retrying),
                    ..WriteReport::default()
                })
            }
        }
    }
}

/// A write that applied nothing, and had something to apply.
fn delivered_nothing(report: &WriteReport) -> bool {
    report.applied + report.already_applied == 0 && report.kept + report.dropped > 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use liftwatch::Outcome;
    use liftwatch_sandbox::proxy::silent::silent_server;

    use super::*;
    use crate::aws::ClientOptions;

    fn decision(window_start: u64) -> Decision {
        Decision {
            rule: "login".into(),
            key_class: None,
            outcome: Outcome::Allowed,
            window_seconds: 1,
            window_start,
        }
    }

    /// A table that never answers: the first write fails on the path and opens the
    /// breaker, the next goes off the path, and at SHUTDOWN both the retry cut off at the
    /// deadline and the window still waiting here are counted as dropped.
    #[tokio::test]
    async fn a_retry_cut_off_at_shutdown_and_what_it_left_behind_are_both_counted() {
        let (url, held) = silent_server().await.unwrap();
        let options = ClientOptions {
            region: "us-east-1".into(),
            endpoint: Some(url),
            credentials: Some(aws_sdk_cloudwatch::config::Credentials::new(
                "testing", "testing", None, None, "test",
            )),
        };
        let writer = RateLimitWriter::new("limits".into(), Duration::from_secs(3_600), options);
        let mut schedule = TableSchedule::with_phase(writer, Duration::ZERO, 0.0);
        let budget = || Instant::now() + Duration::from_millis(200);

        schedule.record(decision(100));
        let first = schedule.write_due(false, 1_000, budget()).await.unwrap();
        assert_eq!((first.applied, first.kept), (0, 1));
        assert!(schedule.is_open());

        schedule.record(decision(200));
        assert!(
            schedule.write_due(false, 1_000, budget()).await.is_none(),
            "the retry runs off the path"
        );
        schedule.record(decision(300));
        let last = schedule.write_due(true, 1_000, budget()).await.unwrap();
        assert_eq!(
            last.dropped, 3,
            "two the retry carried, one left here: {last:?}"
        );
        held.abort();
    }
}
