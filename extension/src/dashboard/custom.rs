//! `--metric NAME[:STATISTIC]`: a handler's own metric on the dashboard, one graph per
//! metric with one line per function, drawn by a search expression that matches the
//! metric with `FunctionName` whatever other dimensions the handler gave it.

use liftwatch::protocol::names;

/// The statistics CloudWatch graphs take by name; percentiles are `pNN` or `pNN.N…`.
const STATISTICS: [&str; 5] = ["Sum", "Average", "Minimum", "Maximum", "SampleCount"];

/// A custom metric to graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMetric {
    /// The metric name, as the handler sends it.
    pub name: String,
    /// The statistic drawn (`Sum` unless given).
    pub statistic: String,
}

impl CustomMetric {
    /// Parses `NAME` or `NAME:STATISTIC` (e.g. `Greetings`, `HandlerLatency:p99`). The name
    /// follows the protocol's rules, may not be one of liftwatch's own (those are already
    /// on the dashboard) and may not hold a double quote (the search expression's
    /// delimiter) or a colon.
    pub fn parse(spec: &str) -> Result<Self, &'static str> {
        let (name, statistic) = spec.split_once(':').unwrap_or((spec, "Sum"));
        if names::blank(name) || names::longer_than(name, names::MAX_NAME_CHARS) {
            return Err("a metric name is 1 to 255 characters");
        }
        if names::has_control(name) || name.contains('"') || name.contains('\'') {
            return Err("a metric name has no control characters or quotes");
        }
        if names::is_reserved_metric_name(name) {
            return Err("a liftwatch metric, already on the dashboard");
        }
        if !is_statistic(statistic) {
            return Err("the statistic is Sum, Average, Minimum, Maximum, SampleCount or pNN");
        }
        Ok(CustomMetric {
            name: name.to_owned(),
            statistic: statistic.to_owned(),
        })
    }

    /// The argument that gives this metric again: `NAME`, or `NAME:STATISTIC`.
    pub fn argument(&self) -> String {
        if self.statistic == "Sum" {
            self.name.clone()
        } else {
            format!("{}:{}", self.name, self.statistic)
        }
    }
}

/// `Sum`, `Average`, …, or a percentile `p0`–`p100` with an optional fraction.
fn is_statistic(statistic: &str) -> bool {
    if STATISTICS.contains(&statistic) {
        return true;
    }
    statistic
        .strip_prefix('p')
        .and_then(|p| {
            p.parse::<f64>()
                .ok()
                .filter(|_| !p.starts_with('.') && !p.ends_with('.'))
        })
        .is_some_and(|p| (0.0..=100.0).contains(&p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    #[test]
    fn parses_a_name_and_an_optional_statistic() {
        let parsed = |s| CustomMetric::parse(s).map(|m| (m.name, m.statistic));
        assert_eq!(parsed("Greetings"), Ok(("Greetings".into(), "Sum".into())));
        assert_eq!(
            parsed("HandlerLatency:p99"),
            Ok(("HandlerLatency".into(), "p99".into()))
        );
        assert_eq!(parsed("Size:p99.9"), Ok(("Size".into(), "p99.9".into())));
        assert_eq!(
            parsed("Queue depth:Maximum"),
            Ok(("Queue depth".into(), "Maximum".into()))
        );
        for bad in [
            "",
            " ",
            "Invocations",
            "Errors:Sum",
            "a\"b",
            "x:Median",
            "x:p101",
            "x:p",
            "x:p9.",
            "a:b:c",
        ] {
            assert!(CustomMetric::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            CustomMetric::parse("Latency:p99")
                .unwrap_or_else(|e| panic!("{e}"))
                .argument(),
            "Latency:p99"
        );
        assert_eq!(
            CustomMetric::parse("Greetings")
                .unwrap_or_else(|e| panic!("{e}"))
                .argument(),
            "Greetings"
        );
    }
}
