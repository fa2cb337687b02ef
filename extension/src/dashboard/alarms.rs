//! Recommended alarms per function, named `liftwatch-<function>-<what>`: the pure
//! specifications (`recommended`) and the `PutMetricAlarm` calls that create or replace
//! them (`put`). Every alarm fires on `GreaterThanThreshold` over 5-minute periods, treats
//! missing data as not breaching (an idle function is healthy) and has no actions: attach
//! an SNS topic in the console or with `aws cloudwatch put-metric-alarm`.
//!
//! - `errors`: `Errors` Sum > 0 in one period: any invocation that did not succeed.
//! - `timeouts`: `Timeouts` Sum > 0 in one period.
//! - `memory`: `MemoryUtilization` Maximum > 90 % in one period: an invocation came close
//!   to the memory size, the step before `OutOfMemory`.
//! - `ratelimit-blocked-ratio`: `RateLimitBlocked / RateLimitRequests` over every rule
//!   above 10 % for three periods in a row (15 minutes): sustained refusals, not a burst. The
//!   rules are not known in advance and alarms cannot use SEARCH, so both sums are Metrics
//!   Insights queries over the `{FunctionName, Rule}` schema inside a metric math alarm.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDataQuery, Statistic};

use super::catalogue::{self, BLOCKED_RATIO, FUNCTION_DIMENSION, Ratio};
use super::{DashboardError, Spec};

/// The period every alarm evaluates, in seconds.
pub const PERIOD_SECONDS: i32 = 300;
/// `MemoryUtilization` above this (percent) raises the memory alarm.
pub const MEMORY_THRESHOLD_PERCENT: f64 = 90.0;
/// A blocked ratio above this (percent) for three periods raises the rate-limit alarm.
pub const BLOCKED_RATIO_THRESHOLD_PERCENT: f64 = 10.0;
/// What missing data counts as.
pub const TREAT_MISSING_DATA: &str = "notBreaching";

/// What an alarm watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Watched {
    /// One catalogue metric of the function, with a plain statistic.
    Metric {
        /// The metric's name.
        name: &'static str,
        /// `Sum`, `Maximum`, ...
        statistic: &'static str,
    },
    /// A catalogue ratio in percent, summed over the metrics' other dimensions.
    Ratio(Ratio),
}

/// One alarm to create.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    /// `liftwatch-<function>-<what>`.
    pub name: String,
    /// Why it fires, for people.
    pub description: String,
    /// The function (the `FunctionName` dimension value).
    pub function: String,
    /// The namespace the extension publishes to.
    pub namespace: String,
    /// What it watches.
    pub watched: Watched,
    /// Fires above this.
    pub threshold: f64,
    /// Periods evaluated.
    pub evaluation_periods: i32,
    /// Of those, how many must breach.
    pub datapoints_to_alarm: i32,
}

/// (name suffix, watched, threshold, periods evaluated, breaching periods, description)
type Recommendation = (&'static str, Watched, f64, i32, i32, &'static str);

#[rustfmt::skip]
fn recommendations() -> [Recommendation; 4] {
    let metric = |name, statistic| Watched::Metric { name, statistic };
    [
        ("errors", metric("Errors", "Sum"), 0.0, 1, 1,
         "an invocation did not succeed (error, failure or timeout) within 5 minutes"),
        ("timeouts", metric("Timeouts", "Sum"), 0.0, 1, 1,
         "an invocation timed out within 5 minutes"),
        ("memory", metric("MemoryUtilization", "Maximum"), MEMORY_THRESHOLD_PERCENT, 1, 1,
         "an invocation used more than 90% of the memory size within 5 minutes"),
        ("ratelimit-blocked-ratio", Watched::Ratio(BLOCKED_RATIO), BLOCKED_RATIO_THRESHOLD_PERCENT,
         3, 3, "more than 10% of rate-limit decisions (all rules) were blocked for 15 minutes"),
    ]
}

/// The thresholds above zero of the alarms on one metric, by metric name (the dashboard
/// draws them).
pub fn metric_thresholds() -> Vec<(&'static str, f64)> {
    recommendations()
        .into_iter()
        .filter_map(|(_, watched, threshold, ..)| match watched {
            Watched::Metric { name, .. } if threshold > 0.0 => Some((name, threshold)),
            _ => None,
        })
        .collect()
}

/// The recommended alarms of every function of `spec`, function by function.
pub fn recommended(spec: &Spec) -> Vec<AlarmSpec> {
    let mut alarms = Vec::new();
    for function in &spec.functions {
        for (suffix, watched, threshold, periods, breaching, why) in recommendations() {
            alarms.push(AlarmSpec {
                name: format!("liftwatch-{function}-{suffix}"),
                description: format!(
                    "{function}: {why}. Created by `liftwatch dashboard --alarms`."
                ),
                function: function.clone(),
                namespace: spec.namespace.clone(),
                watched,
                threshold,
                evaluation_periods: periods,
                datapoints_to_alarm: breaching,
            });
        }
    }
    alarms
}

/// A Metrics Insights query summing `metric` over every series of the function whose
/// dimensions are `FunctionName` and the metric's own.
pub fn insights_sum(namespace: &str, function: &str, metric: &str) -> String {
    let mut schema = vec![format!("\"{namespace}\""), FUNCTION_DIMENSION.to_owned()];
    if let Some(entry) = catalogue::get(metric) {
        schema.extend(entry.dimensions.iter().map(|d| (*d).to_owned()));
    }
    format!(
        "SELECT SUM({metric}) FROM SCHEMA({}) WHERE {FUNCTION_DIMENSION} = '{function}'",
        schema.join(", ")
    )
}

/// The metric math of a ratio alarm: two Metrics Insights sums and the percentage, which
/// is what the alarm watches (0 while there are no requests).
pub fn ratio_queries(alarm: &AlarmSpec, ratio: &Ratio) -> Vec<MetricDataQuery> {
    let sum = |id: &str, metric: &str| {
        MetricDataQuery::builder()
            .id(id)
            .expression(insights_sum(&alarm.namespace, &alarm.function, metric))
            .label(metric)
            .period(PERIOD_SECONDS)
            .return_data(false)
            .build()
    };
    vec![
        sum("numerator", ratio.numerator),
        sum("denominator", ratio.denominator),
        MetricDataQuery::builder()
            .id("ratio")
            .expression("IF(denominator > 0, 100 * numerator / denominator, 0)")
            .label(ratio.title)
            .return_data(true)
            .build(),
    ]
}

/// The alarm's condition on one line, e.g. `Errors Sum > 0 in 1 of 1 5-minute periods`.
pub fn summary(alarm: &AlarmSpec) -> String {
    let watched = match &alarm.watched {
        Watched::Metric { name, statistic } => format!("{name} {statistic}"),
        Watched::Ratio(ratio) => format!(
            "100 * {} / {} (every rule, %)",
            ratio.numerator, ratio.denominator
        ),
    };
    format!(
        "{watched} > {} in {} of {} {}-minute periods",
        alarm.threshold,
        alarm.datapoints_to_alarm,
        alarm.evaluation_periods,
        PERIOD_SECONDS / 60
    )
}

/// Creates or replaces every alarm (`PutMetricAlarm` is an upsert), stopping at the
/// first refusal; returns the names created.
pub async fn put(client: &Client, alarms: &[AlarmSpec]) -> Result<Vec<String>, DashboardError> {
    let mut created = Vec::new();
    for alarm in alarms {
        let mut request = client
            .put_metric_alarm()
            .alarm_name(&alarm.name)
            .alarm_description(&alarm.description)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(alarm.threshold)
            .evaluation_periods(alarm.evaluation_periods)
            .datapoints_to_alarm(alarm.datapoints_to_alarm)
            .treat_missing_data(TREAT_MISSING_DATA);
        request = match &alarm.watched {
            Watched::Metric { name, statistic } => request
                .namespace(&alarm.namespace)
                .metric_name(*name)
                .dimensions(
                    Dimension::builder()
                        .name(FUNCTION_DIMENSION)
                        .value(&alarm.function)
                        .build(),
                )
                .statistic(Statistic::from(*statistic))
                .period(PERIOD_SECONDS),
            Watched::Ratio(ratio) => request.set_metrics(Some(ratio_queries(alarm, ratio))),
        };
        request.send().await.map_err(|e| DashboardError::Api {
            operation: "PutMetricAlarm",
            name: alarm.name.clone(),
            source: Box::new(e.into()),
        })?;
        created.push(alarm.name.clone());
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn spec() -> Spec {
        let functions = vec!["orders".to_owned(), "payments".to_owned()];
        Spec::new(functions, "Shop/Prod".into(), "eu-west-1".into(), None).unwrap()
    }

    #[test]
    fn four_alarms_per_function_named_after_it() {
        let alarms = recommended(&spec());
        let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "liftwatch-orders-errors",
                "liftwatch-orders-timeouts",
                "liftwatch-orders-memory",
                "liftwatch-orders-ratelimit-blocked-ratio",
                "liftwatch-payments-errors",
                "liftwatch-payments-timeouts",
                "liftwatch-payments-memory",
                "liftwatch-payments-ratelimit-blocked-ratio",
            ]
        );
        let memory = &alarms[2];
        assert_eq!((memory.threshold, memory.evaluation_periods), (90.0, 1));
        assert_eq!(alarms[7].function, "payments");
        assert_eq!(
            (alarms[3].threshold, alarms[3].datapoints_to_alarm),
            (10.0, 3)
        );
        assert_eq!(
            summary(&alarms[0]),
            "Errors Sum > 0 in 1 of 1 5-minute periods"
        );
    }

    #[test]
    fn alarms_watch_catalogued_metrics_with_their_statistics() {
        for alarm in recommended(&spec()) {
            if let Watched::Metric { name, statistic } = alarm.watched {
                let metric = catalogue::get(name).unwrap();
                assert!(metric.statistics.contains(&statistic), "{name}");
                assert!(
                    metric.dimensions.is_empty(),
                    "{name}: one series per function"
                );
            }
        }
    }

    #[test]
    fn the_ratio_is_metric_math_over_metrics_insights_sums() {
        let alarms = recommended(&spec());
        let Watched::Ratio(ratio) = &alarms[3].watched else {
            panic!("not a ratio: {:?}", alarms[3]);
        };
        let queries = ratio_queries(&alarms[3], ratio);
        assert_eq!(
            queries[0].expression(),
            Some(
                "SELECT SUM(RateLimitBlocked) FROM SCHEMA(\"Shop/Prod\", FunctionName, Rule) \
                 WHERE FunctionName = 'orders'"
            )
        );
        assert_eq!(
            queries
                .iter()
                .filter(|q| q.return_data() == Some(true))
                .count(),
            1
        );
        let ratio = queries.last().unwrap();
        assert_eq!(ratio.id(), Some("ratio"));
        assert!(
            ratio
                .expression()
                .unwrap()
                .contains("numerator / denominator")
        );
    }
}
