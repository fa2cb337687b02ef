//! Rate-limit decisions aggregated between flushes: per (rule, window) totals with bounded
//! per-key-class counters inside, handed to the statistics table writer and turned into the
//! `RateLimit*` CloudWatch series. Plain synchronous state: no I/O, no clock.
//!
//! Bounds between two flushes: at most [`MAX_RULE_WINDOWS`] (rule, window) entries (a
//! decision for a new one beyond that is dropped and counted, see
//! [`RateLimitAggregator::take_overflow`]) and [`MAX_KEY_CLASSES`] key classes per entry (a
//! decision for a new class beyond that still counts in the entry's totals, under the class
//! [`OTHER_CLASS`]). A decision without a key class counts in the totals only.

use std::collections::BTreeMap;

pub use super::batch::{RateLimitBatch, WindowDelta};

/// (rule, window) entries kept between two flushes.
pub const MAX_RULE_WINDOWS: usize = 1_024;
/// Key classes kept per (rule, window) entry between two flushes, [`OTHER_CLASS`] aside.
pub const MAX_KEY_CLASSES: usize = 64;
/// The class that collects decisions past [`MAX_KEY_CLASSES`] or with an unusable name.
pub const OTHER_CLASS: &str = "other";
/// Longest rule name accepted (it becomes a key and a CloudWatch dimension value).
pub const MAX_RULE_LEN: usize = 256;
/// Longest key class name kept as is; longer ones count under [`OTHER_CLASS`].
pub const MAX_KEY_CLASS_LEN: usize = 64;

/// What the limiter decided: the wire protocol's own type.
pub use liftwatch::protocol::Outcome;

/// One rate-limit decision, as the pipeline maps it from a handler event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The rule's name.
    pub rule: String,
    /// The caller's key class (never the raw key), if the rule classes its keys.
    pub key_class: Option<String>,
    /// What was decided.
    pub outcome: Outcome,
    /// The window's length in seconds.
    pub window_seconds: u32,
    /// The window's start, in seconds since the Unix epoch.
    pub window_start: u64,
}

/// Decision counters: the SDK's own type (readers of the table sum the same struct).
pub use liftwatch::stats::Counts;

/// A (rule, window) entry's identity: one item in the statistics table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowKey {
    /// The rule's name.
    pub rule: String,
    /// The window's start, in seconds since the Unix epoch.
    pub window_start: u64,
    /// The window's length in seconds.
    pub window_seconds: u32,
}

impl WindowKey {
    /// The window's end, in seconds since the Unix epoch.
    pub fn window_end(&self) -> u64 {
        self.window_start
            .saturating_add(u64::from(self.window_seconds))
    }
}

#[derive(Debug, Default)]
struct Entry {
    totals: Counts,
    classes: BTreeMap<String, Counts>,
}

/// Aggregates decisions between flushes, within fixed bounds.
#[derive(Debug, Default)]
pub struct RateLimitAggregator {
    windows: BTreeMap<WindowKey, Entry>,
    overflow: u64,
    invalid: u64,
}

impl RateLimitAggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `decision`. False when it was dropped: a new (rule, window) past
    /// [`MAX_RULE_WINDOWS`] (counted in [`Self::take_overflow`]) or an invalid rule name or
    /// window length (counted in [`Self::take_invalid`]).
    pub fn record(&mut self, decision: Decision) -> bool {
        let Decision {
            rule,
            key_class,
            outcome,
            window_seconds,
            window_start,
        } = decision;
        if rule.is_empty() || rule.len() > MAX_RULE_LEN || window_seconds == 0 {
            self.invalid += 1;
            return false;
        }
        let key = WindowKey {
            rule,
            window_start,
            window_seconds,
        };
        let full = self.windows.len() >= MAX_RULE_WINDOWS;
        let entry = match self.windows.get_mut(&key) {
            Some(entry) => entry,
            None if full => {
                self.overflow += 1;
                return false;
            }
            None => self.windows.entry(key).or_default(),
        };
        entry.totals.add(outcome);
        if let Some(class) = key_class {
            let usable = !class.is_empty() && class.len() <= MAX_KEY_CLASS_LEN;
            let known = usable && entry.classes.contains_key(class.as_str());
            let name = if known || (usable && !class_slots_full(&entry.classes)) {
                class
            } else {
                OTHER_CLASS.to_owned()
            };
            entry.classes.entry(name).or_default().add(outcome);
        }
        true
    }

    /// The deltas since the last flush; the aggregator starts over empty.
    pub fn flush(&mut self) -> RateLimitBatch {
        into_batch(std::mem::take(&mut self.windows))
    }

    /// The deltas of the windows that ended by `now_unix`, and of every window longer than
    /// `max_open_seconds` (written while open so their totals do not wait hours); the
    /// other open windows stay for a later flush. Writing a short window once, when it is
    /// complete, makes one table write per rule and window per sandbox.
    pub fn flush_completed(&mut self, now_unix: u64, max_open_seconds: u32) -> RateLimitBatch {
        let (due, open): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.windows)
            .into_iter()
            .partition(|(key, _)| {
                key.window_end() <= now_unix || key.window_seconds > max_open_seconds
            });
        self.windows = open;
        into_batch(due)
    }

    /// Decisions dropped because [`MAX_RULE_WINDOWS`] entries were in use, since the last call.
    pub fn take_overflow(&mut self) -> u64 {
        std::mem::take(&mut self.overflow)
    }

    /// Decisions dropped for an empty or too long rule name or a zero window, since the
    /// last call.
    pub fn take_invalid(&mut self) -> u64 {
        std::mem::take(&mut self.invalid)
    }
}

/// The flushed windows as deltas, in key order.
fn into_batch(windows: BTreeMap<WindowKey, Entry>) -> RateLimitBatch {
    let windows = windows
        .into_iter()
        .map(|(key, entry)| WindowDelta {
            key,
            totals: entry.totals,
            classes: entry.classes,
        })
        .collect();
    RateLimitBatch { windows }
}

/// True when a new named class would pass [`MAX_KEY_CLASSES`] (`other` not counted).
fn class_slots_full(classes: &BTreeMap<String, Counts>) -> bool {
    let named = classes.len() - usize::from(classes.contains_key(OTHER_CLASS));
    named >= MAX_KEY_CLASSES
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A decision in the 60 s window starting at `start` (also used by `batch`'s tests).
    pub(in crate::ratelimit) fn decision(
        rule: &str,
        class: Option<&str>,
        outcome: Outcome,
        start: u64,
    ) -> Decision {
        Decision {
            rule: rule.to_owned(),
            key_class: class.map(str::to_owned),
            outcome,
            window_seconds: 60,
            window_start: start,
        }
    }

    #[test]
    fn flush_completed_leaves_open_short_windows_for_later() {
        let mut agg = RateLimitAggregator::new();
        // 60 s windows starting at 0 and 60 (decision() builds 60 s windows), and a day window.
        assert!(agg.record(decision("a", None, Outcome::Allowed, 0)));
        assert!(agg.record(decision("a", None, Outcome::Blocked, 60)));
        let mut day = decision("b", None, Outcome::Allowed, 0);
        day.window_seconds = 86_400;
        assert!(agg.record(day));
        let due = agg.flush_completed(90, 300);
        let starts: Vec<(&str, u64)> = due
            .windows
            .iter()
            .map(|w| (w.key.rule.as_str(), w.key.window_start))
            .collect();
        assert_eq!(
            starts,
            [("a", 0), ("b", 0)],
            "the complete window and the long one"
        );
        let rest = agg.flush();
        assert_eq!(rest.windows.len(), 1);
        assert_eq!(rest.windows[0].key.window_start, 60);
        assert_eq!(rest.windows[0].totals.blocked, 1);
    }

    #[test]
    fn decisions_are_counted_per_rule_window_and_key_class() {
        let mut agg = RateLimitAggregator::new();
        assert!(agg.record(decision("login", Some("free"), Outcome::Allowed, 0)));
        assert!(agg.record(decision("login", Some("free"), Outcome::Blocked, 0)));
        assert!(agg.record(decision("login", Some("paid"), Outcome::Error, 0)));
        assert!(agg.record(decision("login", None, Outcome::Allowed, 0)));
        assert!(agg.record(decision("login", Some("free"), Outcome::Allowed, 60)));
        assert!(agg.record(decision("api", None, Outcome::Blocked, 0)));
        let batch = agg.flush();
        let keys: Vec<(&str, u64)> = batch
            .windows
            .iter()
            .map(|w| (w.key.rule.as_str(), w.key.window_start))
            .collect();
        assert_eq!(keys, [("api", 0), ("login", 0), ("login", 60)]);
        let login = &batch.windows[1];
        let totals = Counts {
            requests: 4,
            allowed: 2,
            blocked: 1,
            errors: 1,
        };
        assert_eq!(login.totals, totals);
        assert_eq!(
            login.classes["free"],
            Counts {
                requests: 2,
                allowed: 1,
                blocked: 1,
                errors: 0
            }
        );
        assert_eq!(
            login.classes["paid"],
            Counts {
                requests: 1,
                allowed: 0,
                blocked: 0,
                errors: 1
            }
        );
        assert_eq!(login.classes.len(), 2, "no class, no class counter");
        assert!(agg.flush().is_empty(), "a flush resets");
    }

    #[test]
    fn key_classes_past_the_bound_count_under_other_and_in_the_totals() {
        let mut agg = RateLimitAggregator::new();
        for i in 0..MAX_KEY_CLASSES + 10 {
            assert!(agg.record(decision("r", Some(&format!("c{i}")), Outcome::Allowed, 0)));
        }
        // A known class keeps counting as itself once the bound is reached.
        assert!(agg.record(decision("r", Some("c0"), Outcome::Blocked, 0)));
        assert!(agg.record(decision(
            "r",
            Some(&"x".repeat(MAX_KEY_CLASS_LEN + 1)),
            Outcome::Allowed,
            0
        )));
        assert!(agg.record(decision("r", Some(""), Outcome::Allowed, 0)));
        let batch = agg.flush();
        let window = &batch.windows[0];
        assert_eq!(window.classes.len(), MAX_KEY_CLASSES + 1);
        assert_eq!(window.classes[OTHER_CLASS].requests, 12);
        assert_eq!(window.classes["c0"].requests, 2);
        assert_eq!(window.totals.requests, MAX_KEY_CLASSES as u64 + 13);
        let class_sum: u64 = window.classes.values().map(|c| c.requests).sum();
        assert_eq!(class_sum, window.totals.requests);
        assert_eq!(agg.take_overflow(), 0);
    }

    #[test]
    fn rule_windows_past_the_bound_are_dropped_and_counted_until_the_flush() {
        let mut agg = RateLimitAggregator::new();
        for i in 0..MAX_RULE_WINDOWS as u64 {
            assert!(agg.record(decision("r", None, Outcome::Allowed, i * 60)));
        }
        assert!(!agg.record(decision("r", None, Outcome::Allowed, u64::MAX)));
        assert!(!agg.record(decision("other-rule", None, Outcome::Allowed, 0)));
        assert!(
            agg.record(decision("r", None, Outcome::Blocked, 0)),
            "known entries still count"
        );
        assert_eq!(agg.take_overflow(), 2);
        assert_eq!(agg.take_overflow(), 0, "taken");
        assert_eq!(agg.flush().windows.len(), MAX_RULE_WINDOWS);
        assert!(
            agg.record(decision("other-rule", None, Outcome::Allowed, 0)),
            "room again"
        );
    }

    #[test]
    fn invalid_rules_and_windows_are_dropped_and_counted() {
        let mut agg = RateLimitAggregator::new();
        assert!(!agg.record(decision("", None, Outcome::Allowed, 0)));
        assert!(!agg.record(decision(
            &"r".repeat(MAX_RULE_LEN + 1),
            None,
            Outcome::Allowed,
            0
        )));
        let zero = Decision {
            window_seconds: 0,
            ..decision("r", None, Outcome::Allowed, 0)
        };
        assert!(!agg.record(zero));
        assert_eq!(agg.take_invalid(), 3);
        assert!(agg.flush().is_empty());
    }
}
