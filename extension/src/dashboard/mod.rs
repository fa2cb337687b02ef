//! `liftwatch dashboard`: a CloudWatch dashboard of every metric liftwatch publishes for
//! one or more functions, and recommended alarms. `catalogue` is the one list of metrics,
//! `body` turns it into the dashboard JSON (pure), `alarms` into alarm specifications and
//! `PutMetricAlarm` calls; `apply` here saves the dashboard with `PutDashboard`. The
//! command line around it is `crate::cli::dashboard`.

pub mod alarms;
pub mod body;
pub mod catalogue;
pub mod custom;

use aws_sdk_cloudwatch::Client;

/// Functions one dashboard can hold: the widest widget draws 6 lines per function, and a
/// widget takes at most 100 metrics and expressions.
pub const MAX_FUNCTIONS: usize = 10;

/// What a dashboard (and its alarms) are generated for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The functions (the `FunctionName` dimension values), in the order given.
    pub functions: Vec<String>,
    /// The CloudWatch namespace the extension publishes to (`LIFTWATCH_NAMESPACE`).
    pub namespace: String,
    /// The region the widgets read from.
    pub region: String,
    /// The dashboard's name.
    pub name: String,
    /// The handlers' own metrics to graph too (`--metric`), in the order given.
    pub custom: Vec<custom::CustomMetric>,
}

/// Why a dashboard could not be generated or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// An argument CloudWatch would refuse.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `PutDashboard` or `PutMetricAlarm` failed.
    #[error("{operation} {name} failed")]
    Api {
        /// The API operation.
        operation: &'static str,
        /// The dashboard's or alarm's name.
        name: String,
        /// The SDK's error.
        #[source]
        source: Box<aws_sdk_cloudwatch::Error>,
    },
}

impl Spec {
    /// Validates the arguments; `name` defaults to `liftwatch-` and the function names.
    pub fn new(
        functions: Vec<String>,
        namespace: String,
        region: String,
        name: Option<String>,
    ) -> Result<Spec, DashboardError> {
        let invalid = |what, value: &str, reason| DashboardError::Invalid {
            what,
            value: value.to_owned(),
            reason,
        };
        if functions.is_empty() {
            return Err(invalid("functions", "", "give at least one --function"));
        }
        if functions.len() > MAX_FUNCTIONS {
            let reason = "at most 10 functions per dashboard";
            return Err(invalid("functions", &functions.join(","), reason));
        }
        for (i, function) in functions.iter().enumerate() {
            if let Some(reason) = function_problem(function) {
                return Err(invalid("function name", function, reason));
            }
            if functions[..i].contains(function) {
                return Err(invalid("function name", function, "given twice"));
            }
        }
        if let Some(reason) = namespace_problem(&namespace) {
            return Err(invalid("namespace", &namespace, reason));
        }
        let region_chars = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if region.is_empty() || !region.chars().all(region_chars) {
            return Err(invalid("region", &region, "like us-east-1"));
        }
        let name = name.unwrap_or_else(|| default_name(&functions));
        if let Some(reason) = dashboard_name_problem(&name) {
            return Err(invalid("dashboard name", &name, reason));
        }
        Ok(Spec {
            functions,
            namespace,
            region,
            name,
            custom: Vec::new(),
        })
    }

    /// Adds the custom metrics `NAME[:STATISTIC]` (see [`custom::CustomMetric::parse`]).
    pub fn with_custom_metrics(mut self, metrics: &[String]) -> Result<Spec, DashboardError> {
        for metric in metrics {
            let parsed =
                custom::CustomMetric::parse(metric).map_err(|reason| DashboardError::Invalid {
                    what: "metric",
                    value: metric.clone(),
                    reason,
                })?;
            if self.custom.contains(&parsed) {
                return Err(DashboardError::Invalid {
                    what: "metric",
                    value: metric.clone(),
                    reason: "given twice",
                });
            }
            self.custom.push(parsed);
        }
        Ok(self)
    }
}

/// `liftwatch-` and the function names joined by `-`, cut to CloudWatch's 255 characters.
fn default_name(functions: &[String]) -> String {
    let mut name = format!("liftwatch-{}", functions.join("-"));
    name.truncate(255);
    name
}

/// Lambda function names: 1–64 letters, digits, hyphens and underscores.
fn function_problem(function: &str) -> Option<&'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if function.is_empty() || function.len() > 64 {
        Some("1 to 64 characters")
    } else if !function.chars().all(allowed) {
        Some("only letters, digits, '-' and '_' (the function's name, not its ARN)")
    } else {
        None
    }
}

/// What the extension accepts, within CloudWatch's character set (letters, digits and
/// `.-_/#:` and space), which also keeps search expressions free of quotes.
fn namespace_problem(namespace: &str) -> Option<&'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    crate::emf::namespace_problem(namespace).or_else(|| {
        (!namespace.chars().all(allowed))
            .then_some("only letters, digits, spaces and . - _ / # : are allowed")
    })
}

/// Dashboard names: 1–255 letters, digits, hyphens and underscores.
fn dashboard_name_problem(name: &str) -> Option<&'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 255 {
        Some("1 to 255 characters")
    } else if !name.chars().all(allowed) {
        Some("only letters, digits, '-' and '_'")
    } else {
        None
    }
}

/// What `PutDashboard` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The dashboard's name.
    pub name: String,
    /// `DashboardValidationMessages`, as `data path: message`.
    pub messages: Vec<String>,
}

/// Saves the dashboard (`PutDashboard` creates or replaces it).
pub async fn apply(client: &Client, spec: &Spec) -> Result<Applied, DashboardError> {
    let output = client
        .put_dashboard()
        .dashboard_name(&spec.name)
        .dashboard_body(body::body(spec).to_string())
        .send()
        .await
        .map_err(|e| DashboardError::Api {
            operation: "PutDashboard",
            name: spec.name.clone(),
            source: Box::new(e.into()),
        })?;
    let messages = output
        .dashboard_validation_messages()
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m.data_path().unwrap_or("(body)"),
                m.message().unwrap_or("")
            )
        })
        .collect();
    Ok(Applied {
        name: spec.name.clone(),
        messages,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(
        functions: &[&str],
        namespace: &str,
        name: Option<&str>,
    ) -> Result<Spec, DashboardError> {
        Spec::new(
            functions.iter().map(|f| (*f).to_owned()).collect(),
            namespace.to_owned(),
            "eu-west-1".to_owned(),
            name.map(str::to_owned),
        )
    }

    #[test]
    fn a_spec_names_its_dashboard_after_the_functions() {
        let s = spec(&["orders", "payments"], "Liftwatch", None).unwrap();
        assert_eq!(s.name, "liftwatch-orders-payments");
        let s = spec(&["orders"], "Shop/Prod", Some("ops")).unwrap();
        assert_eq!(
            (s.name.as_str(), s.namespace.as_str()),
            ("ops", "Shop/Prod")
        );
        let many: Vec<String> = (0..MAX_FUNCTIONS).map(|i| format!("{i:0>60}")).collect();
        let s = Spec::new(many, "N".into(), "us-east-1".into(), None).unwrap();
        assert_eq!(s.name.len(), 255);
    }

    #[test]
    fn refuses_what_cloudwatch_or_lambda_would() {
        let refused = [
            spec(&[], "Liftwatch", None),
            spec(&["a", "a"], "Liftwatch", None),
            spec(
                &["arn:aws:lambda:us-east-1:1:function:f"],
                "Liftwatch",
                None,
            ),
            spec(&["f"], "AWS/Lambda", None),
            spec(&["f"], "it's", None),
            spec(&["f"], "", None),
            spec(&["f"], "Liftwatch", Some("my dashboard")),
            spec(&["f"; MAX_FUNCTIONS + 1], "Liftwatch", None),
        ];
        for result in refused {
            assert!(
                matches!(result, Err(DashboardError::Invalid { .. })),
                "{result:?}"
            );
        }
        let region = Spec::new(vec!["f".into()], "N".into(), "EU West".into(), None);
        assert!(region.is_err());
    }
}
