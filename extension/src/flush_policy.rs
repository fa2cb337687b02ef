//! Flush strategy: when the extension publishes what it has aggregated.
//!
//! `end` flushes after every invocation before calling `/next`; `periodic:<secs>` flushes
//! on a timer that runs only while the sandbox is thawed, overlapping the handler;
//! `adaptive` behaves as `end` until invocations arrive faster than about one a minute,
//! then as periodic. Pure decision logic: the caller passes the clock in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The interval `adaptive` uses once traffic is busy, and the backup timer in `end` mode.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(20);
/// Traffic counts as busy when this many invocations started within [`BUSY_WINDOW`].
const BUSY_INVOCATIONS: usize = 3;
const BUSY_WINDOW: Duration = Duration::from_secs(60);

/// The configured strategy (`LIFTWATCH_FLUSH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushMode {
    /// Flush at the end of every invocation.
    End,
    /// Flush at most every interval, overlapping invocations.
    Periodic(Duration),
    /// `End` for sparse traffic, `Periodic(DEFAULT_INTERVAL)` for busy traffic.
    #[default]
    Adaptive,
}

impl FlushMode {
    /// Parses `end`, `periodic:<secs>` (1–3600) or `adaptive`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "end" => Some(FlushMode::End),
            "adaptive" => Some(FlushMode::Adaptive),
            other => {
                let secs: u64 = other.strip_prefix("periodic:")?.trim().parse().ok()?;
                (1..=3600)
                    .contains(&secs)
                    .then(|| FlushMode::Periodic(Duration::from_secs(secs)))
            }
        }
    }

    /// The timer interval: how often a thawed sandbox flushes without being asked.
    pub fn interval(self) -> Duration {
        match self {
            FlushMode::Periodic(interval) => interval,
            FlushMode::End | FlushMode::Adaptive => DEFAULT_INTERVAL,
        }
    }
}

/// Decides, per invocation, whether the extension waits for the invocation's end and
/// flushes before calling `/next`.
#[derive(Debug, Clone)]
pub struct FlushPolicy {
    mode: FlushMode,
    recent_starts: VecDeque<Instant>,
}

impl FlushPolicy {
    pub fn new(mode: FlushMode) -> Self {
        FlushPolicy {
            mode,
            recent_starts: VecDeque::with_capacity(BUSY_INVOCATIONS),
        }
    }

    /// Records an INVOKE at `now`; true when this invocation should be flushed at its end.
    pub fn flush_at_end(&mut self, now: Instant) -> bool {
        match self.mode {
            FlushMode::End => true,
            FlushMode::Periodic(_) => false,
            FlushMode::Adaptive => {
                if self.recent_starts.len() == BUSY_INVOCATIONS {
                    self.recent_starts.pop_front();
                }
                self.recent_starts.push_back(now);
                !self.busy(now)
            }
        }
    }

    fn busy(&self, now: Instant) -> bool {
        self.recent_starts.len() == BUSY_INVOCATIONS
            && self
                .recent_starts
                .front()
                .is_some_and(|first| now.duration_since(*first) <= BUSY_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        let table = [
            ("end", Some(FlushMode::End)),
            ("adaptive", Some(FlushMode::Adaptive)),
            (
                " periodic:10 ",
                Some(FlushMode::Periodic(Duration::from_secs(10))),
            ),
            (
                "periodic:3600",
                Some(FlushMode::Periodic(Duration::from_secs(3600))),
            ),
            ("periodic:0", None),
            ("periodic:3601", None),
            ("periodic:", None),
            ("periodic:1.5", None),
            ("END", None),
            ("", None),
        ];
        for (raw, expected) in table {
            assert_eq!(FlushMode::parse(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn end_and_periodic_are_fixed() {
        let now = Instant::now();
        let mut end = FlushPolicy::new(FlushMode::End);
        let mut periodic = FlushPolicy::new(FlushMode::Periodic(Duration::from_secs(5)));
        for i in 0..10 {
            let t = now + Duration::from_millis(i * 10);
            assert!(end.flush_at_end(t));
            assert!(!periodic.flush_at_end(t));
        }
        assert_eq!(
            FlushMode::Periodic(Duration::from_secs(5)).interval(),
            Duration::from_secs(5)
        );
        assert_eq!(FlushMode::End.interval(), DEFAULT_INTERVAL);
    }

    #[test]
    fn adaptive_switches_to_periodic_when_busy_and_back_when_sparse() {
        let t0 = Instant::now();
        let mut policy = FlushPolicy::new(FlushMode::Adaptive);
        let secs = |s: u64| t0 + Duration::from_secs(s);
        assert!(
            policy.flush_at_end(secs(0)),
            "first invocation flushes at its end"
        );
        assert!(policy.flush_at_end(secs(10)));
        assert!(
            !policy.flush_at_end(secs(20)),
            "three within a minute: periodic"
        );
        assert!(!policy.flush_at_end(secs(30)));
        assert!(policy.flush_at_end(secs(200)), "a long gap: back to end");
        assert!(policy.flush_at_end(secs(300)));
        assert!(
            policy.flush_at_end(secs(400)),
            "one every 100 s stays at end"
        );
    }
}
