//! When this sandbox next tries to publish `ActiveConnections`: plain state, no I/O, no
//! clock of its own.
//!
//! The holder of the fleet lease publishes every interval and renews the lease as it
//! does. Another sandbox learns from its refused attempt when the lease runs out and sleeps
//! until then (plus a jitter, so that waiting sandboxes do not all try at once): with the
//! lease [`LEASE_INTERVALS`] intervals long, each of them looks about once per lease, not
//! once per interval, and looks with a read: only the holder writes, once per interval.

use std::time::{Duration, Instant};

/// The lease's length, in intervals: how long the fleet goes without `ActiveConnections`
/// when its holder stops (frozen for good or reaped without SHUTDOWN), and how many times
/// fewer lease attempts the other sandboxes make.
pub const LEASE_INTERVALS: u32 = 3;

/// What one attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// This sandbox holds the lease and read the count.
    Published(u64),
    /// Another sandbox holds the lease until this Unix time in milliseconds (unknown when
    /// the store did not say).
    HeldElsewhere(Option<u64>),
    /// The lease or the count could not be read or written.
    Failed,
}

/// The next attempt's time.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    next: Instant,
    in_flight: bool,
    holder: bool,
    elsewhere: bool,
}

impl Schedule {
    /// A schedule whose first attempt is due at `now`. That attempt reads the lease before
    /// it writes, like the attempts of a sandbox that knows another holds it: a fleet
    /// scaling out (up to 1,000 new sandboxes every 10 s per function) costs reads of one
    /// item, not conditional writes that nearly all fail (`docs/SCALING.md`).
    pub fn new(interval: Duration, now: Instant) -> Self {
        Schedule {
            interval,
            next: now,
            in_flight: false,
            holder: false,
            elsewhere: true,
        }
    }

    /// The lease's length.
    pub fn lease(&self) -> Duration {
        self.interval * LEASE_INTERVALS
    }

    /// True when an attempt should start at `now` (none is running and one is due).
    pub fn due(&self, now: Instant) -> bool {
        !self.in_flight && now >= self.next
    }

    /// True while an attempt runs.
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Notes that an attempt started.
    pub fn started(&mut self) {
        self.in_flight = true;
    }

    /// True when this sandbox held the lease at its last attempt.
    pub fn holder(&self) -> bool {
        self.holder
    }

    /// True before the first attempt and when the last attempt found the lease held by
    /// another sandbox: the next one first reads the lease (a cheap, eventually consistent
    /// `GetItem`) and writes only when it has run out.
    pub fn peek(&self) -> bool {
        self.elsewhere
    }

    /// Notes how an attempt ended at `now` (`now_ms` on the wall clock the lease uses);
    /// `jitter` is a random fraction of an interval for a sandbox that waits for the lease.
    pub fn finished(&mut self, attempt: Attempt, now: Instant, now_ms: u64, jitter: Duration) {
        self.in_flight = false;
        self.holder = matches!(attempt, Attempt::Published(_));
        self.elsewhere = matches!(attempt, Attempt::HeldElsewhere(_));
        let wait = match attempt {
            Attempt::Published(_) => self.interval,
            // Throttled or unreachable: the sandboxes that failed together retry apart.
            Attempt::Failed => self.interval + jitter,
            Attempt::HeldElsewhere(Some(until_ms)) => {
                let left = Duration::from_millis(until_ms.saturating_sub(now_ms));
                left.clamp(self.interval, self.lease()) + jitter
            }
            Attempt::HeldElsewhere(None) => self.interval + jitter,
        };
        self.next = now + wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_holder_publishes_every_interval() {
        let start = Instant::now();
        let mut schedule = Schedule::new(MINUTE, start);
        assert!(schedule.due(start));
        schedule.started();
        assert!(!schedule.due(start + MINUTE * 5), "one attempt at a time");
        schedule.finished(Attempt::Published(7), start, 0, Duration::ZERO);
        assert!(schedule.holder());
        assert!(!schedule.due(start + MINUTE - Duration::from_millis(1)));
        assert!(schedule.due(start + MINUTE));
    }

    #[test]
    fn a_waiting_sandbox_sleeps_until_the_lease_runs_out_within_bounds() {
        let start = Instant::now();
        let now_ms = 1_000_000;
        let jitter = Duration::from_secs(5);
        let mut schedule = Schedule::new(MINUTE, start);
        schedule.started();
        schedule.finished(
            Attempt::HeldElsewhere(Some(now_ms + 150_000)),
            start,
            now_ms,
            jitter,
        );
        assert!(!schedule.holder());
        assert!(schedule.peek(), "the next attempt reads before it writes");
        assert!(!schedule.due(start + Duration::from_secs(154)));
        assert!(schedule.due(start + Duration::from_secs(155)));
        // A lease that claims to run for an hour is trusted for one lease length only.
        schedule.started();
        schedule.finished(
            Attempt::HeldElsewhere(Some(now_ms + 3_600_000)),
            start,
            now_ms,
            jitter,
        );
        assert!(schedule.due(start + MINUTE * LEASE_INTERVALS + jitter));
        // An expired one: try again after an interval, not at once.
        schedule.started();
        schedule.finished(
            Attempt::HeldElsewhere(Some(now_ms - 1)),
            start,
            now_ms,
            Duration::ZERO,
        );
        assert!(!schedule.due(start + MINUTE - Duration::from_millis(1)));
    }

    #[test]
    fn a_failure_retries_after_an_interval_and_its_jitter() {
        let start = Instant::now();
        let jitter = Duration::from_secs(9);
        let mut schedule = Schedule::new(MINUTE, start);
        schedule.started();
        schedule.finished(Attempt::Failed, start, 0, jitter);
        assert!(!schedule.holder());
        assert!(!schedule.due(start + MINUTE + jitter - Duration::from_millis(1)));
        assert!(schedule.due(start + MINUTE + jitter));
    }

    #[test]
    fn a_cold_start_reads_the_lease_before_it_writes() {
        let start = Instant::now();
        let mut schedule = Schedule::new(MINUTE, start);
        assert!(schedule.due(start), "the first attempt is at once");
        assert!(schedule.peek());
        schedule.started();
        schedule.finished(Attempt::Published(3), start, 0, Duration::ZERO);
        assert!(!schedule.peek(), "the holder renews with a write");
    }
}
