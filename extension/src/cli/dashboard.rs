//! `liftwatch dashboard`: prints the CloudWatch dashboard body for some functions, or
//! saves it (`--apply`) and creates the recommended alarms (`--alarms`) through
//! `crate::dashboard`, with region, credentials and endpoint (`AWS_ENDPOINT_URL*`) from
//! the environment.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::retry::RetryConfig;

use super::{ArgsError, CliError};
use crate::aws::ClientOptions;
use crate::config::Config;
use crate::dashboard::{self, Spec, alarms, body};

/// The subcommand's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// `--function`, in order, at least one.
    pub functions: Vec<String>,
    /// `--namespace` (default: `LIFTWATCH_NAMESPACE`, then `Liftwatch`).
    pub namespace: Option<String>,
    /// `--region` (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, then `us-east-1`).
    pub region: Option<String>,
    /// `--name` (default: `liftwatch-` and the function names).
    pub name: Option<String>,
    /// `--apply`: save the dashboard with `PutDashboard`.
    pub apply: bool,
    /// `--alarms`: create the recommended alarms with `PutMetricAlarm`.
    pub alarms: bool,
    /// `--metric NAME[:STATISTIC]`, repeatable: a handler's own metric to graph too.
    pub metrics: Vec<String>,
}

impl Args {
    /// Parses `--function F [--function F ...] [--namespace NS] [--region R] [--name N]
    /// [--metric NAME[:STATISTIC] ...] [--apply] [--alarms]`.
    pub fn parse(args: &[String]) -> Result<Self, ArgsError> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let mut value = || {
                rest.next()
                    .cloned()
                    .ok_or_else(|| ArgsError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--function" => parsed.functions.push(value()?),
                "--namespace" => parsed.namespace = Some(value()?),
                "--region" => parsed.region = Some(value()?),
                "--name" => parsed.name = Some(value()?),
                "--apply" => parsed.apply = true,
                "--alarms" => parsed.alarms = true,
                "--metric" => parsed.metrics.push(value()?),
                other => return Err(ArgsError::UnknownOption(other.to_owned())),
            }
        }
        if parsed.functions.is_empty() {
            return Err(ArgsError::Required("--function"));
        }
        Ok(parsed)
    }

    /// The validated dashboard specification; what was not given comes from `lookup` (the
    /// environment) as the extension reads it.
    pub fn spec(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<Spec, CliError> {
        let (config, _) = Config::from_lookup(|k| {
            if k == crate::config::vars::RUNTIME_API {
                Some("unused".to_owned())
            } else {
                lookup(k)
            }
        })
        .map_err(CliError::Config)?;
        Spec::new(
            self.functions.clone(),
            self.namespace.clone().unwrap_or(config.namespace),
            self.region.clone().unwrap_or(config.region),
            self.name.clone(),
        )
        .and_then(|spec| spec.with_custom_metrics(&self.metrics))
        .map_err(CliError::Spec)
    }
}

/// Runs the subcommand: the body as pretty JSON, or what `--apply` / `--alarms` did.
pub async fn run(args: &Args) -> Result<String, CliError> {
    let spec = args.spec(|k| std::env::var(k).ok())?;
    if !args.apply && !args.alarms {
        return serde_json::to_string_pretty(&body::body(&spec)).map_err(CliError::Render);
    }
    let client = client(&spec.region).await;
    execute(&client, args, &spec).await
}

/// `--apply` and `--alarms` with `client`: one line per dashboard, validation message and
/// alarm.
pub async fn execute(client: &Client, args: &Args, spec: &Spec) -> Result<String, CliError> {
    let mut lines = Vec::new();
    if args.apply {
        let applied = dashboard::apply(client, spec)
            .await
            .map_err(CliError::Apply)?;
        lines.push(format!(
            "dashboard {} saved in {} ({} widgets)",
            applied.name,
            spec.region,
            body::body(spec)["widgets"].as_array().map_or(0, Vec::len)
        ));
        lines.extend(
            applied
                .messages
                .iter()
                .map(|m| format!("  validation: {m}")),
        );
    }
    if args.alarms {
        let specs = alarms::recommended(spec);
        let created = alarms::put(client, &specs)
            .await
            .map_err(CliError::Alarms)?;
        for alarm in specs.iter().filter(|a| created.contains(&a.name)) {
            lines.push(format!("alarm {}: {}", alarm.name, alarms::summary(alarm)));
        }
    }
    Ok(lines.join("\n"))
}

/// A CloudWatch client from the environment, with the SDK's standard retries (a person
/// is waiting, no flush deadline).
async fn client(region: &str) -> Client {
    let options = ClientOptions {
        region: region.to_owned(),
        endpoint: None,
        credentials: None,
    };
    let shared = options.load_default_chain().await;
    let config = aws_sdk_cloudwatch::config::Builder::from(&shared)
        .retry_config(RetryConfig::standard())
        .build();
    Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_every_option_and_refuses_bad_ones() {
        let args = Args::parse(&strings(&[
            "--function",
            "a",
            "--function",
            "b",
            "--namespace",
            "Shop",
            "--region",
            "eu-west-1",
            "--name",
            "ops",
            "--apply",
            "--alarms",
            "--metric",
            "Greetings",
            "--metric",
            "HandlerLatency:p99",
        ]));
        assert_eq!(
            args,
            Ok(Args {
                functions: vec!["a".into(), "b".into()],
                namespace: Some("Shop".into()),
                region: Some("eu-west-1".into()),
                name: Some("ops".into()),
                apply: true,
                alarms: true,
                metrics: vec!["Greetings".into(), "HandlerLatency:p99".into()],
            })
        );
        let with_metrics = args.clone().unwrap().spec(|_| None).unwrap();
        assert_eq!(with_metrics.custom.len(), 2);
        assert_eq!(with_metrics.custom[1].statistic, "p99");
        let bad_metric = Args::parse(&strings(&["--function", "a", "--metric", "x:Median"]));
        assert!(matches!(
            bad_metric.unwrap().spec(|_| None),
            Err(CliError::Spec(_))
        ));
        let plain = Args::parse(&strings(&["--function", "a"])).unwrap();
        assert!(!plain.apply && !plain.alarms && plain.namespace.is_none());
        let required = Err(ArgsError::Required("--function"));
        assert_eq!(Args::parse(&strings(&[])), required);
        assert_eq!(Args::parse(&strings(&["--apply"])), required);
        assert_eq!(
            Args::parse(&strings(&["--function"])),
            Err(ArgsError::MissingValue("--function".into()))
        );
        assert_eq!(
            Args::parse(&strings(&["--function", "a", "--color", "red"])),
            Err(ArgsError::UnknownOption("--color".into()))
        );
    }

    #[test]
    fn what_is_not_given_comes_from_the_environment_as_the_extension_reads_it() {
        let args = Args::parse(&strings(&["--function", "a"])).unwrap();
        let env = |k: &str| match k {
            "LIFTWATCH_NAMESPACE" => Some("Shop".to_owned()),
            "AWS_DEFAULT_REGION" => Some("ap-south-1".to_owned()),
            _ => None,
        };
        let spec = args.spec(env).unwrap();
        assert_eq!(
            (
                spec.namespace.as_str(),
                spec.region.as_str(),
                spec.name.as_str()
            ),
            ("Shop", "ap-south-1", "liftwatch-a")
        );
        let spec = args.spec(|_| None).unwrap();
        assert_eq!(
            (spec.namespace.as_str(), spec.region.as_str()),
            ("Liftwatch", "us-east-1")
        );
        let bad = Args::parse(&strings(&["--function", "a", "--name", "a b"])).unwrap();
        let error = bad.spec(|_| None).unwrap_err();
        assert!(matches!(error, CliError::Spec(_)), "{error:?}");
        let error = liftwatch::error_chain(&error);
        assert!(error.contains("dashboard name"), "{error}");
    }
}
