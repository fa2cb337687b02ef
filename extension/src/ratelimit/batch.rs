//! What a rate-limit flush hands on: the (rule, window) deltas the statistics table writer
//! turns into updates, and the per-rule `RateLimit*` CloudWatch series built from them.

use std::collections::BTreeMap;

use liftwatch::{Resolution, Unit};

use super::aggregate::{Counts, WindowKey};
use crate::metrics::Series;

/// The counts one (rule, window) gathered since the last flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowDelta {
    /// Which rule and window.
    pub key: WindowKey,
    /// Every decision of the entry, key classes or not.
    pub totals: Counts,
    /// Per key class, sorted by name.
    pub classes: BTreeMap<String, Counts>,
}

/// What one flush hands on: every (rule, window) delta, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitBatch {
    /// The deltas, sorted by (rule, window start, window length).
    pub windows: Vec<WindowDelta>,
}

impl RateLimitBatch {
    /// True when no decision was recorded.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Per rule totals summed over windows and key classes, sorted by rule.
    pub fn rule_totals(&self) -> BTreeMap<&str, Counts> {
        let mut rules: BTreeMap<&str, Counts> = BTreeMap::new();
        for window in &self.windows {
            rules
                .entry(window.key.rule.as_str())
                .or_default()
                .merge(&window.totals);
        }
        rules
    }

    /// `RateLimitRequests`, `RateLimitAllowed`, `RateLimitBlocked`, `RateLimitErrors`
    /// (Count, dimensions `FunctionName` and `Rule`) per rule into `out`; zeros included,
    /// so an alarm on `RateLimitBlocked` sees 0 rather than missing data while in use.
    pub fn series_into(&self, function: &str, out: &mut Vec<Series>) {
        for (rule, counts) in self.rule_totals() {
            let all = [
                ("RateLimitRequests", counts.requests),
                ("RateLimitAllowed", counts.allowed),
                ("RateLimitBlocked", counts.blocked),
                ("RateLimitErrors", counts.errors),
            ];
            for (name, value) in all {
                out.push(Series {
                    name: name.to_owned(),
                    unit: Unit::Count,
                    resolution: Resolution::Standard,
                    dimensions: vec![
                        ("FunctionName".to_owned(), function.to_owned()),
                        ("Rule".to_owned(), rule.to_owned()),
                    ],
                    values: vec![value as f64],
                    counts: Vec::new(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::aggregate::tests::decision;
    use crate::ratelimit::aggregate::{Outcome, RateLimitAggregator};

    #[test]
    fn series_sum_each_rule_over_windows_and_classes() {
        let mut agg = RateLimitAggregator::new();
        agg.record(decision("login", Some("a"), Outcome::Allowed, 0));
        agg.record(decision("login", Some("b"), Outcome::Blocked, 60));
        agg.record(decision("login", None, Outcome::Blocked, 120));
        agg.record(decision("api", None, Outcome::Error, 0));
        let mut out = Vec::new();
        agg.flush().series_into("fn", &mut out);
        let got: Vec<(&str, &str, f64)> = out
            .iter()
            .map(|s| (s.dimensions[1].1.as_str(), s.name.as_str(), s.values[0]))
            .collect();
        assert_eq!(
            got,
            [
                ("api", "RateLimitRequests", 1.0),
                ("api", "RateLimitAllowed", 0.0),
                ("api", "RateLimitBlocked", 0.0),
                ("api", "RateLimitErrors", 1.0),
                ("login", "RateLimitRequests", 3.0),
                ("login", "RateLimitAllowed", 1.0),
                ("login", "RateLimitBlocked", 2.0),
                ("login", "RateLimitErrors", 0.0),
            ]
        );
        assert!(out.iter().all(|s| s.unit == Unit::Count
            && s.dimensions[0] == ("FunctionName".to_owned(), "fn".to_owned())));
    }
}
